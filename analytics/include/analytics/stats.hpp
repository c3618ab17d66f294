#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/recorder.hpp"
#include "redis/config.hpp"

namespace cg::analytics {

/// One row of a breakdown on one day: its name, unique visitors and count (page views, or
/// visits for entry pages).
struct day_row {
    std::string name;
    std::uint64_t visitors = 0;
    std::uint64_t count = 0;
};

/// A breakdown on one day: its rows, and how many distinct visitors the rows under k had
/// together (a HyperLogLog union, or the fold's number); nullopt when not known, in which
/// case the largest such row stands in (a lower bound, so "(other)" is shown less, never more).
struct day_breakdown {
    std::vector<day_row> rows;
    std::optional<std::uint64_t> under_k_visitors;
};

/// A breakdown over a range, thresholded.
struct thresholded {
    std::vector<day_row> rows;          ///< sorted: visitors, count, then name
    std::optional<day_row> other;       ///< "(other)", when it reached k on some day
};

/// DESIGN §5 and C13: a row is published for a day only when it had at least `k` unique
/// visitors that day; the rest of the day goes into "(other)", which is published for that
/// day only when its own visitors reach k; anything below that is left out of the breakdown
/// (site totals elsewhere stay exact). A range is the sum of its published days, so the
/// difference between two overlapping ranges shows nothing a single day would not. Pure.
thresholded threshold(const std::vector<day_breakdown>& days, unsigned k);

/// An answer of the statistics API (docs/stats-api.md).
struct stats_answer {
    unsigned status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::string body;
    std::string filename;  ///< for CSV: Content-Disposition's file name
};

/// Answers /stats/api/<report> from Redis on a thread of its own (a redis::worker): the admin
/// listener never blocks on Redis. Reads what the recorder wrote (analytics/src/store_keys.hpp)
/// and thresholds every breakdown. Thread-safe.
class stats_reader {
  public:
    stats_reader(redis::redis_config redis, std::vector<site_plan> sites,
                 const recorder* writer = nullptr);
    ~stats_reader();
    stats_reader(const stats_reader&) = delete;
    stats_reader& operator=(const stats_reader&) = delete;

    void start();
    void stop();

    /// Answers `report` with the query string `query` (untrusted) as of `now` (Unix seconds).
    /// `done` is called exactly once, on the reader's thread (or at once when it is busy or
    /// stopped: 503).
    void answer(std::string report, std::string query, std::int64_t now,
                std::function<void(stats_answer)> done);

    /// Builds the forwarder's batch for one day of the site at index `site`: one JSON document
    /// (schema "consent-gateway.analytics.day/1": site, date, time_zone, k, the day's summary,
    /// hourly time series, every breakdown with all its published rows and "(other)", and the
    /// day's consent figures). Only what the statistics API would publish for that day: every
    /// breakdown is thresholded with the site's k (DESIGN C4, C13). `done` is called exactly
    /// once, on the reader's thread (or at once when it is busy or stopped), with nullopt when
    /// Redis failed, the site is unknown or has analytics off.
    void day_batch(std::uint32_t site, day_number day,
                   std::function<void(std::optional<std::string>)> done);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cg::analytics
