#include "analytics/calendar.hpp"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <chrono>
#include <cstdio>

namespace cg::analytics {

namespace {

const cctz::civil_day epoch_day{1970, 1, 1};

cctz::civil_day civil_of(day_number day) {
    return epoch_day + day;
}

}  // namespace

std::string format_day(day_number day) {
    const auto d = civil_of(day);
    char out[16];
    std::snprintf(out, sizeof out, "%04d-%02d-%02d", static_cast<int>(d.year()), d.month(),
                  d.day());
    return out;
}

std::optional<day_number> parse_day(std::string_view t) noexcept {
    if (t.size() != 10 || t[4] != '-' || t[7] != '-') {
        return std::nullopt;
    }
    int parts[3] = {0, 0, 0};
    const std::size_t starts[3] = {0, 5, 8};
    const std::size_t lengths[3] = {4, 2, 2};
    for (int p = 0; p < 3; ++p) {
        for (std::size_t i = starts[p]; i < starts[p] + lengths[p]; ++i) {
            if (t[i] < '0' || t[i] > '9') {
                return std::nullopt;
            }
            parts[p] = parts[p] * 10 + (t[i] - '0');
        }
    }
    if (parts[0] < 1970 || parts[1] < 1 || parts[1] > 12 || parts[2] < 1) {
        return std::nullopt;
    }
    const cctz::civil_day d{parts[0], parts[1], parts[2]};
    // cctz normalises 2026-02-30 to 2026-03-02: a real date is one that survives unchanged.
    if (d.year() != parts[0] || d.month() != parts[1] || d.day() != parts[2]) {
        return std::nullopt;
    }
    return static_cast<day_number>(d - epoch_day);
}

struct site_calendar::impl {
    cctz::time_zone zone;
};

site_calendar::site_calendar(const std::string& zone) : name_(zone), impl_(new impl) {
    if (!cctz::load_time_zone(zone, &impl_->zone)) {
        throw time_zone_error("unknown time zone \"" + zone +
                              "\" (an IANA name such as Europe/Oslo; is tzdata installed?)");
    }
}

site_calendar::~site_calendar() = default;

site_calendar::site_calendar(const site_calendar& o) : name_(o.name_), impl_(new impl(*o.impl_)) {}

site_calendar& site_calendar::operator=(const site_calendar& o) {
    if (this != &o) {
        name_ = o.name_;
        impl_ = std::make_unique<impl>(*o.impl_);
    }
    return *this;
}

local_moment site_calendar::at(std::int64_t unix_seconds) const {
    using namespace std::chrono;
    const auto tp = time_point<system_clock, seconds>{seconds{unix_seconds}};
    const cctz::civil_second cs = cctz::convert(tp, impl_->zone);
    local_moment m;
    m.day = static_cast<day_number>(cctz::civil_day(cs) - epoch_day);
    m.hour = static_cast<std::uint8_t>(cs.hour());
    m.minute = static_cast<std::uint16_t>(cs.hour() * 60 + cs.minute());
    return m;
}

std::int64_t site_calendar::start_of(day_number day) const {
    const auto d = civil_of(day);
    const auto tp = cctz::convert(cctz::civil_second(d), impl_->zone);
    return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

}  // namespace cg::analytics
