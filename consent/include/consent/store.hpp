#pragma once
#include <chrono>
#include <cstddef>
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
    bool redis_up = false;  ///< the last command batch or ping succeeded
    /// The last batch got no reply within command_timeout on an open connection: Redis is
    /// slow rather than down (last_error then says "slow: no reply within N ms (connection
    /// open)"). The connection is dropped all the same, so redis_up is false until the
    /// reconnect; events still go to the journal, as when it is down. Cleared once an exchange
    /// is answered in time.
    bool redis_slow = false;
    /// The last record attempt of a valid event ended `failed` (neither Redis nor the journal
    /// took it, or the queue was full or stopped) and no record has succeeded since (nor has
    /// a journal replay: Redis taking events back frees the journal). For readiness: while
    /// true, decisions are being lost. Invalid events do not set it.
    bool refusing = false;
    std::uint64_t journal_bytes = 0;   ///< bytes of events waiting in the journal
    std::uint64_t journal_events = 0;  ///< events waiting in the journal (not yet confirmed)
    std::uint64_t stored = 0;          ///< events written to Redis since start (replays included)
    std::uint64_t journaled = 0;       ///< events that went to the journal since start
    std::uint64_t failed = 0;          ///< events that could not be recorded at all
    std::uint64_t replayed = 0;        ///< journal events confirmed by Redis since start
    std::uint64_t damaged = 0;         ///< journal lines found unreadable at open (skipped)
    std::uint64_t revoked_ids = 0;     ///< erased consent ids mirrored in memory (revocations)
    /// The last Redis or journal problem in words (no personal data), "" when there has been
    /// none. Not cleared on recovery: redis_up and journal_events say whether it persists.
    std::string last_error;
};

/// How many decisions the store keeps per consent id besides the first: the latest ones.
inline constexpr std::size_t history_cap = 100;

/// The stored history of one consent id: its events, oldest first.
///
/// What proof remains after folding: a consent id that made more than history_cap + 1
/// decisions keeps its FIRST decision, its latest history_cap decisions (each with its audit
/// stream entry), and `folded`, the number of decisions dropped in between; the dropped ones
/// also leave the site's audit stream (so an erasure finds everything kept). The per-kind
/// counts still include them, and their per-event idempotency keys (no personal data) stay
/// until the retention ends. The latest decision, which is what the cookie says, is always
/// kept in full.
struct consent_history {
    /// The first decision, the latest history_cap ones (fewer once retention pruned some),
    /// and this id's events still in the journal; oldest first (by time, then arrival).
    std::vector<decision_event> events;
    /// Decisions dropped between the first and the latest history_cap (the cap, not
    /// retention: events older than the retention are simply gone).
    std::uint64_t folded = 0;
};

class revocations;

/// Proof of consent in Redis, with a zero-loss local journal (DESIGN §6, L7).
///
/// Owns two I/O threads (redis::worker, common/), each with its own Redis connection, so
/// reads never wait behind the write path (issue 8 item 6):
/// - the writer: records (pipelined batches of up to 512 events), erasures and the journal
///   replay, in queue order;
/// - the reader: history() and counts(), and the poll of the revocation stream.
/// Callers never block: every call queues work and returns, and the callback runs later on
/// one of the store's threads (callers post back to their own executor). A history read sees
/// every record whose callback has run; records still queued may be missing from it.
/// The journal is shared by both threads under one mutex (the reader only reads it, from
/// start to end, for history()); the writer holds it for an append's fsync at most.
/// Callbacks must not call stop() or destroy the store; an exception thrown by a callback is
/// swallowed. The queues are bounded (100,000 writes, 10,000 reads): beyond that, and after
/// stop(), a call's callback runs at once on the calling thread with failed / nullopt / false.
///
/// Per event, atomically (one Lua script, everything passed as KEYS/ARGV, no TIME), at a cost
/// in Redis that does not depend on how many decisions the consent id made before (no scan):
/// - an idempotency key per event id (`<prefix>event:<event id>`);
/// - the latest state in a hash per consent id (`<prefix>consent:<site>:<consent id>`), which
///   also holds `first` (the first decision) and `folded` (decisions dropped by the cap);
/// - the history in a list (`<prefix>history:<site>:<consent id>`), appended to (RPUSH):
///   items are `<time ms> <audit stream id> <event json>`; beyond history_cap the oldest item
///   is popped, its audit entry deleted (XDEL) and `folded` incremented;
/// - an entry in the site's audit stream (`<prefix>audit:<site>`, trimmed by age);
/// - a count per decision kind (`<prefix>counts:<site>`).
/// Every key expires after the site's retention (refreshed on each decision); items older than
/// the retention are pruned from the list head, a few per decision at most (the key's TTL does
/// the rest).
///
/// Erasure deletes the hash, the list and their audit entries (at most history_cap + 1) and
/// appends to the revocation stream `<prefix>revoked` (consent_id, site, until; trimmed to
/// 400 days), in one script. With a `revocations` set the store marks erased ids at once and
/// polls that stream (about once a second, 1,000 entries per call; the whole stream, in
/// chunks, after the first connect) so every gateway sharing the Redis learns of every
/// erasure; it forgets expired ids about once a minute.
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
    /// `revoked`, when given, is kept up to date with erased consent ids (see above).
    store(redis_config redis, journal_config journal,
          std::shared_ptr<revocations> revoked = nullptr);
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

    /// Reads the history of a consent id (see consent_history: bounded by history_cap + 1
    /// plus what is in the journal): the events in Redis plus those of it still in the
    /// journal, oldest first (empty when nothing is stored). Runs on the reader: a long queue
    /// of records does not delay it. `done` gets nullopt when Redis cannot be asked.
    /// Thread-safe.
    void history(std::string site, std::string consent_id,
                 std::function<void(std::optional<consent_history>)> done);

    /// Erases everything stored about a consent id (hash, history list, their audit stream
    /// entries, and any of its events still in the journal) and revokes it: in the same
    /// script an entry goes to the revocation stream saying every cookie carrying the id is
    /// void until now + `revoke_for` (the site's cookie lifetime), and the local revocations
    /// set (if any) gets it at once. `done(true)` once gone; false when Redis is unreachable
    /// or the journal cannot be rewritten (nothing is half-erased in a way that matters:
    /// retry is safe). Counts and the per-event idempotency keys (which hold no personal
    /// data) stay. Operations queued before it on the writer are done first. Thread-safe.
    void erase(std::string site, std::string consent_id, std::chrono::seconds revoke_for,
               std::function<void(bool)> done);

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
