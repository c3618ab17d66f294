#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "consent/config.hpp"
#include "consent/decision_event.hpp"

namespace cg::consent {

/// Where a recorded event ended up.
enum class record_outcome {
    stored,     ///< in Redis (durable as far as Redis' persistence settings go)
    journaled,  ///< Redis unreachable or slow: fsync'd to the local journal, replayed later
    failed,     ///< neither: Redis down and the journal full or unwritable. Not recorded.
};

/// What the store can say about itself (for /readyz and /metrics). A snapshot.
struct store_status {
    bool redis_up = false;            ///< the last command batch or ping succeeded
    std::uint64_t journal_bytes = 0;  ///< bytes of events waiting in the journal
    std::uint64_t journal_events = 0;
    std::uint64_t stored = 0;     ///< events written to Redis since start (replays included)
    std::uint64_t journaled = 0;  ///< events that went to the journal since start
    std::uint64_t failed = 0;     ///< events that could not be recorded at all
    std::uint64_t replayed = 0;   ///< journal events confirmed by Redis since start
    std::string last_error;       ///< the last Redis or journal problem, "" when none
};

/// The stored history of one consent id: its events, oldest first.
struct consent_history {
    std::vector<decision_event> events;
};

/// Proof of consent in Redis, with a zero-loss local journal (DESIGN §6, L7).
///
/// Owns one I/O thread that talks to Redis (hiredis, pipelined batches) and the journal;
/// callers never block: every call queues work and returns, and the callback runs later on
/// the store's thread (callers post back to their own executor). Per event, atomically
/// (one Lua script): an idempotency key per event id, the latest state in a hash per consent
/// id (`<prefix>consent:<site>:<consent id>`, history included), an entry in the site's
/// audit stream (`<prefix>audit:<site>`, trimmed by age) and a count per decision kind
/// (`<prefix>counts:<site>`). Every key expires after the site's retention.
///
/// When Redis is down or a batch exceeds command_timeout, events are appended to the journal
/// and fsync'd before their callbacks run, so an acknowledged event is never lost; the
/// journal is replayed (idempotently, by event id) when Redis answers again and at start.
class store {
  public:
    /// Opens (creating) the journal; throws std::runtime_error naming the path when it
    /// cannot. Does not connect yet.
    store(redis_config redis, journal_config journal);
    ~store();  ///< stops the thread; queued events go to the journal first
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    /// Starts the I/O thread: connects, replays the journal if Redis is up.
    void start();
    /// Stops after finishing the queued work (queued events are stored or journaled).
    void stop();

    /// Records `e`; `done` runs exactly once with where it went. `retention` is the site's.
    void record(decision_event e, std::chrono::seconds retention,
                std::function<void(record_outcome)> done);

    /// Reads the history of a consent id. `done` gets nullopt when Redis cannot be asked.
    void history(std::string site, std::string consent_id,
                 std::function<void(std::optional<consent_history>)> done);

    /// Erases everything stored about a consent id (hash, its audit stream entries, and any
    /// of its events still in the journal). `done(true)` once gone; false when Redis is
    /// unreachable (nothing is half-erased in a way that matters: retry is safe).
    void erase(std::string site, std::string consent_id, std::function<void(bool)> done);

    /// Counts of decisions per kind for `site` ("accept-all" -> n, ...); nullopt if Redis
    /// cannot be asked.
    void counts(std::string site,
                std::function<void(std::optional<std::map<std::string, std::uint64_t>>)> done);

    store_status status() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cg::consent
