#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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
    bool redis_up = false;             ///< the last command batch or ping succeeded
    std::uint64_t journal_bytes = 0;   ///< bytes of events waiting in the journal
    std::uint64_t journal_events = 0;  ///< events waiting in the journal (not yet confirmed)
    std::uint64_t stored = 0;          ///< events written to Redis since start (replays included)
    std::uint64_t journaled = 0;       ///< events that went to the journal since start
    std::uint64_t failed = 0;          ///< events that could not be recorded at all
    std::uint64_t replayed = 0;        ///< journal events confirmed by Redis since start
    std::uint64_t damaged = 0;         ///< journal lines found unreadable at open (skipped)
    /// The last Redis or journal problem in words (no personal data), "" when there has been
    /// none. Not cleared on recovery: redis_up and journal_events say whether it persists.
    std::string last_error;
};

/// The stored history of one consent id: its events, oldest first.
struct consent_history {
    std::vector<decision_event> events;
};

/// Proof of consent in Redis, with a zero-loss local journal (DESIGN §6, L7).
///
/// Owns one I/O thread (a redis::worker, common/) that talks to Redis (hiredis, pipelined
/// batches of up to 512 events) and the journal; callers never block: every call queues work
/// and returns, and the callback runs later on the store's thread (callers post back to their
/// own executor).
/// Callbacks must not call stop() or destroy the store; an exception thrown by a callback is
/// swallowed. The queue is bounded (100,000 operations): beyond that, and after stop(), a
/// call's callback runs at once on the calling thread with failed / nullopt / false.
///
/// Per event, atomically (one Lua script, everything passed as KEYS/ARGV): an idempotency
/// key per event id (`<prefix>event:<event id>`), the latest state in a hash per consent id
/// (`<prefix>consent:<site>:<consent id>`; history fields `event:<time ms>:<event id>` hold
/// the event JSON, `stream:<event id>` its audit stream id), an entry in the site's audit
/// stream (`<prefix>audit:<site>`, trimmed by age) and a count per decision kind
/// (`<prefix>counts:<site>`). Every key expires after the site's retention; history older
/// than the retention is pruned from the hash.
///
/// When Redis is down, answers with an error, or a batch exceeds command_timeout, events are
/// appended to the journal and fsync'd (once per batch) before their callbacks run, so an
/// acknowledged event is never lost; the journal is replayed (idempotently, by event id)
/// when Redis answers again and at start, then truncated. Reconnects back off from 100 ms to
/// 2 s. The store logs nothing itself: status() says what is wrong. It never sees IP
/// addresses, user agents or cookie values.
class store {
  public:
    /// Opens (creating, mode 0600) and locks the journal, and counts the events in it (a
    /// damaged line is counted in status().damaged). Throws std::runtime_error naming the
    /// path when it cannot, or when another store holds the journal. Does not connect yet.
    store(redis_config redis, journal_config journal);
    ~store();  ///< stop(): queued events are stored or journaled first
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    /// Starts the I/O thread: connects, replays the journal if Redis is up. Calls after the
    /// first (or after stop()) do nothing. Thread-safe.
    void start();
    /// Stops after finishing the queued work (queued events are stored, or journaled when
    /// Redis cannot take them; reads get nullopt/false when Redis is down). No reconnect or
    /// replay is attempted while stopping. Idempotent; thread-safe; not from a callback.
    void stop();

    /// Records `e`; `done` runs exactly once with where it went. `retention` is the site's
    /// (more than 0). An event that would not read back from the journal (an id, site,
    /// policy version or banner hash event_from_json refuses) is `failed` at once. Events
    /// queued before start() wait for it. Thread-safe.
    void record(decision_event e, std::chrono::seconds retention,
                std::function<void(record_outcome)> done);

    /// Reads the history of a consent id: the events in its Redis hash plus those of it still
    /// in the journal, oldest first (empty when nothing is stored). `done` gets nullopt when
    /// Redis cannot be asked. Thread-safe.
    void history(std::string site, std::string consent_id,
                 std::function<void(std::optional<consent_history>)> done);

    /// Erases everything stored about a consent id (hash, its audit stream entries, and any
    /// of its events still in the journal). `done(true)` once gone; false when Redis is
    /// unreachable or the journal cannot be rewritten (nothing is half-erased in a way that
    /// matters: retry is safe). Counts and the per-event idempotency keys (which hold no
    /// personal data) stay. Operations queued before it are done first. Thread-safe.
    void erase(std::string site, std::string consent_id, std::function<void(bool)> done);

    /// Counts of decisions per kind for `site` ("accept-all" -> n, ...); nullopt if Redis
    /// cannot be asked. Thread-safe.
    void counts(std::string site,
                std::function<void(std::optional<std::map<std::string, std::uint64_t>>)> done);

    /// A snapshot of the store's state. Thread-safe; never blocks on I/O.
    store_status status() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cg::consent
