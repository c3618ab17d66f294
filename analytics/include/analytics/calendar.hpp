#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cg::analytics {

/// A day as a number: days since 1970-01-01 in the proleptic Gregorian calendar. Local to
/// whichever time zone it was computed in.
using day_number = std::int32_t;

/// "2026-12-02" for a day number.
std::string format_day(day_number day);
/// The day number of "YYYY-MM-DD" (a real date, 1970-01-01 to 9999-12-31); nullopt otherwise.
/// Untrusted input; never throws.
std::optional<day_number> parse_day(std::string_view text) noexcept;

/// Where a moment falls in a site's time zone.
struct local_moment {
    day_number day = 0;
    std::uint8_t hour = 0;  ///< 0-23; in the hour repeated at a DST change both count as one
    std::uint16_t minute = 0;  ///< minute of the day, 0-1439
};

/// Thrown when a time zone name is not in the system's time-zone database.
class time_zone_error : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

/// A site's calendar (DESIGN C10: hours and days are the site's): an IANA time zone such as
/// "Europe/Oslo" from the system's tzdata, read with Google's cctz (DST rules included).
/// Immutable once built; thread-safe.
class site_calendar {
  public:
    /// Throws time_zone_error when `zone` is not known (tzdata missing or a wrong name).
    explicit site_calendar(const std::string& zone);
    ~site_calendar();
    site_calendar(const site_calendar&);
    site_calendar& operator=(const site_calendar&);

    const std::string& zone() const noexcept { return name_; }
    /// The local day, hour and minute of `unix_seconds`.
    local_moment at(std::int64_t unix_seconds) const;
    /// The Unix time at which local `day` starts (00:00, or the first moment after a gap).
    std::int64_t start_of(day_number day) const;

  private:
    struct impl;
    std::string name_;
    std::unique_ptr<impl> impl_;
};

}  // namespace cg::analytics
