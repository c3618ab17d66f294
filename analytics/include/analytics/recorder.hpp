#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "analytics/aggregator.hpp"
#include "analytics/calendar.hpp"
#include "analytics/visitor.hpp"
#include "redis/config.hpp"

namespace cg::analytics {

/// What the recorder and the statistics need to know of a site.
struct site_plan {
    std::string name;
    bool enabled = true;
    site_calendar calendar{"UTC"};
    unsigned retention_days = 395;  ///< every key expires this long after its day (C7)
    unsigned k = 5;                 ///< smallest group published (C13)
};

/// Tuning; the defaults are the gateway's.
struct recorder_options {
    std::chrono::milliseconds flush_interval{5000};
    /// Counters held while Redis is unreachable (beyond: breakdowns dropped, counted).
    std::size_t max_keys = 500'000;
    std::size_t max_ids = 4'000'000;  ///< visitor ids held likewise (16 bytes each)
    /// A clock for tests (Unix seconds); null: the system clock.
    std::int64_t (*now)() = nullptr;
};

/// A snapshot of the recorder for /metrics and the dashboard.
struct recorder_status {
    bool redis_up = false;
    std::uint64_t batches_written = 0;  ///< batches Redis applied
    std::uint64_t write_failures = 0;   ///< exchanges that failed (retried)
    std::uint64_t pending_counters = 0; ///< counters and batches waiting for Redis
    std::uint64_t dropped = 0;          ///< breakdown counts a bound dropped, since start
    std::uint64_t folded_days = 0;      ///< site-days whose HyperLogLogs were folded
    std::uint64_t local_keys = 0;       ///< day keys made here while Redis was unreachable
    std::uint64_t unshared_keys = 0;    ///< day keys in use not yet agreed with Redis
};

/// Moves what the workers counted into Redis, and keeps the day keys (DESIGN §4: analytics
/// flush in batches; the hot path does no I/O). On its own thread (a redis::worker), every
/// flush_interval it:
///  - writes the batches handed to it with submit(): one Lua script call per site-day and
///    batch (HINCRBY and PFADD, every key expiring at day + retention_days, sent as a time to
///    live counted on the gateway's clock), with a batch id Redis remembers for two days, so a
///    batch retried after a lost reply is applied once.
///    Increments are commutative: N gateways sharing one Redis add up to one gateway's totals.
///    Redis down: batches wait in bounded memory and are retried; what the bound drops is
///    counted (status().dropped);
///  - makes sure each site has today's day key (and, in the last hour of a day, tomorrow's):
///    SET NX with an expiry at the day's end (at most 25 hours), then GET, so every gateway
///    uses the same key; without Redis a key of its own, replaced by the shared one later.
///    Keys of past days are dropped from memory (day_keys::drop_before). Never logged;
///  - folds site-days older than two days: each HyperLogLog becomes a plain number in the
///    day's `:f` hash and is deleted, so nobody can test a candidate visitor against it.
/// Thread-safe: submit() and status() from any thread.
class recorder {
  public:
    recorder(redis::redis_config redis, std::vector<site_plan> sites,
             std::shared_ptr<day_keys> keys, recorder_options options = {});
    ~recorder();
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;

    void start();
    /// Writes what is pending (one try) and stops the thread.
    void stop();

    /// Hands over a worker's drained counts. Never blocks on Redis.
    void submit(flush_batch&& batch);
    /// Asks for a write, key check and fold now (tests, shutdown); returns at once.
    void nudge();

    [[nodiscard]] recorder_status status() const;
    [[nodiscard]] const std::vector<site_plan>& sites() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cg::analytics
