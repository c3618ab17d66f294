#include "consent/store.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <tuple>
#include <variant>

#include "category_names.hpp"
#include "consent/revocations.hpp"
#include "journal.hpp"
#include "redis/link.hpp"
#include "redis/worker.hpp"

namespace cg::consent {

namespace {

using clock = std::chrono::steady_clock;
using redis::is_error;
using redis::redis_command;
using redis::reply_ptr;
using redis::reply_text;
using std::chrono::milliseconds;

/// Events per pipelined batch (records and replays alike).
constexpr std::size_t max_batch = 512;
/// Operations waiting for the store thread; beyond this a call fails at once (STYLE §5: a
/// bound on every queue). At a few hundred bytes each this is tens of MB at most.
constexpr std::size_t queue_limit = 100'000;
/// Reconnects and replays back off from 100 ms to 2 s.
constexpr clock::duration first_backoff = milliseconds{100};
constexpr clock::duration max_backoff = milliseconds{2000};
/// An idle connection is checked this often, so status().redis_up does not go stale.
constexpr clock::duration ping_interval = milliseconds{1000};
/// Retention is capped at 100 years: keeps retention in milliseconds far from overflow.
constexpr std::int64_t max_retention_s = 100LL * 366 * 24 * 3600;

/// Reads waiting for the reader thread (history, counts: one round trip each).
constexpr std::size_t read_queue_limit = 10'000;
/// The revocation stream is polled this often, this many entries per call (bounded work
/// per wake-up; a backlog is worked off one chunk per wake-up, with reads in between).
constexpr clock::duration revocation_poll_interval = milliseconds{1000};
constexpr std::size_t revocation_chunk = 1000;
/// Expired revocations are forgotten this often.
constexpr clock::duration revocation_expire_interval = std::chrono::seconds{60};
/// Revocation stream entries older than this are trimmed: no consent cookie lives longer
/// (RFC 6265bis caps Max-Age at 400 days).
constexpr std::int64_t revocation_keep_ms = 400LL * 24 * 3600 * 1000;

redis::worker_options store_worker_options(std::size_t limit, std::size_t batch) {
    redis::worker_options o;
    o.queue_limit = limit;
    o.max_batch = batch;
    o.first_backoff = first_backoff;
    o.max_backoff = max_backoff;
    o.ping_interval = ping_interval;
    return o;
}

// One event, atomically (DESIGN §6, L7). Everything comes in as KEYS/ARGV; nothing is
// spliced into the script text. The script does not call TIME: the clock comes from ARGV,
// so what the script does depends on its arguments only (deterministic for AOF and
// replicas). Issue 8: its cost must not grow with the consent id's history, so there is no
// scan: the history is a list appended to, capped at ARGV[4] items besides the hash's
// `first`, and pruned for retention from its head a few items per call at most.
// History items are "<time ms> <audit stream id> <event json>".
//   KEYS: 1 event (idempotency) key, 2 consent hash, 3 audit stream, 4 counts hash,
//         5 history list
//   ARGV: 1 retention ms, 2 oldest time kept (ms), 3 event json, 4 history cap, 5 event id,
//         6 consent id, 7 site, 8 time ms, 9 categories, 10 policy version, 11 method,
//         12 language, 13 banner hash, 14 gpc
// Returns 1 when stored, 0 when the event id was stored before (an idempotent replay).
constexpr std::string_view record_script = R"lua(
local kinds = {'string', 'hash', 'stream', 'hash', 'list'}
for i = 2, 5 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= kinds[i] then
    return redis.error_reply('WRONGTYPE key ' .. KEYS[i] .. ' holds a ' .. t)
  end
end
local ttl = ARGV[1]
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ttl) then
  return 0
end
local id = redis.call('XADD', KEYS[3], 'MINID', '~', ARGV[2], '*',
  'event_id', ARGV[5], 'consent_id', ARGV[6], 'time_ms', ARGV[8], 'categories', ARGV[9],
  'method', ARGV[11], 'policy_version', ARGV[10], 'banner_hash', ARGV[13],
  'language', ARGV[12], 'gpc', ARGV[14])
local latest = redis.call('HGET', KEYS[2], 'time_ms')
if (not latest) or tonumber(latest) <= tonumber(ARGV[8]) then
  redis.call('HSET', KEYS[2], 'consent_id', ARGV[6], 'site', ARGV[7], 'categories', ARGV[9],
    'policy_version', ARGV[10], 'method', ARGV[11], 'language', ARGV[12],
    'banner_hash', ARGV[13], 'gpc', ARGV[14], 'time_ms', ARGV[8], 'last_event', ARGV[5])
end
redis.call('HINCRBY', KEYS[4], ARGV[11], 1)
local item = ARGV[8] .. ' ' .. id .. ' ' .. ARGV[3]
local cutoff = tonumber(ARGV[2])
local function item_time(it)
  return tonumber(string.match(it, '^(%d+) ')) or 0
end
local function forget(it)
  local sid = string.match(it, '^%d+ (%S+) ')
  if sid then
    redis.pcall('XDEL', KEYS[3], sid)
  end
end
local first = redis.call('HGET', KEYS[2], 'first')
if first and item_time(first) < cutoff then
  -- The first decision is past the retention: the oldest kept one takes its place.
  forget(first)
  first = redis.call('LPOP', KEYS[5])
  if first then
    redis.call('HSET', KEYS[2], 'first', first)
  else
    redis.call('HDEL', KEYS[2], 'first')
  end
end
if not first then
  redis.call('HSET', KEYS[2], 'first', item)
else
  local n = redis.call('RPUSH', KEYS[5], item)
  for _ = 1, 3 do
    local head = redis.call('LINDEX', KEYS[5], 0)
    if (not head) or item_time(head) >= cutoff then
      break
    end
    redis.call('LPOP', KEYS[5])
    forget(head)
    n = n - 1
  end
  local cap = tonumber(ARGV[4])
  for _ = 1, 4 do
    if n <= cap then
      break
    end
    forget(redis.call('LPOP', KEYS[5]))
    redis.call('HINCRBY', KEYS[2], 'folded', 1)
    n = n - 1
  end
end
for i = 2, 5 do
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 1
)lua";

// Erasure (L11): the consent's audit entries (their ids are in the hash's `first` and the
// history items: history_cap + 1 at most), the hash and the list, all in the site's slot. The
// entry in the revocation stream every gateway polls (issue 8) is a command of its own after it.
//   KEYS: 1 consent hash, 2 audit stream, 3 history list
// Returns the number of audit stream entries deleted.
constexpr std::string_view erase_script = R"lua(
local kinds = {'hash', 'stream', 'list'}
for i = 1, 3 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= kinds[i] then
    return redis.error_reply('WRONGTYPE key ' .. KEYS[i] .. ' holds a ' .. t)
  end
end
local items = redis.call('LRANGE', KEYS[3], 0, -1)
local first = redis.call('HGET', KEYS[1], 'first')
if first then
  table.insert(items, first)
end
local n = 0
for _, it in ipairs(items) do
  local sid = string.match(it, '^%d+ (%S+) ')
  if sid then
    local r = redis.pcall('XDEL', KEYS[2], sid)
    if type(r) == 'number' then
      n = n + r
    end
  end
end
redis.call('DEL', KEYS[1], KEYS[3])
return n
)lua";

struct record_op {
    decision_event event;
    std::chrono::seconds retention;
    std::function<void(record_outcome)> done;
};
struct history_op {
    std::string site;
    std::string consent_id;
    std::function<void(std::optional<consent_history>)> done;
};
struct erase_op {
    std::string site;
    std::string consent_id;
    std::chrono::seconds revoke_for;
    std::function<void(bool)> done;
};
struct counts_op {
    std::string site;
    std::function<void(std::optional<std::map<std::string, std::uint64_t>>)> done;
};
/// The writer's work: what changes Redis or the journal, in queue order.
using operation = std::variant<record_op, erase_op>;
/// The reader's work: one round trip each, never behind a queue of records.
using read_operation = std::variant<history_op, counts_op>;

/// Runs a caller's callback. An exception from it must not end a store thread (every
/// later event would then be stranded), so it is swallowed.
template <class F, class... Args>
void call(const F& f, Args&&... args) noexcept {
    if (!f) {
        return;
    }
    try {
        f(std::forward<Args>(args)...);
    } catch (...) {  // NOLINT(bugprone-empty-catch): documented in store.hpp
    }
}

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Where an event stands in arrival order: its audit stream id "<ms>-<seq>" as two numbers;
/// events still in the journal rank after every stream id, in journal order.
using arrival = std::pair<std::uint64_t, std::uint64_t>;
constexpr std::uint64_t journal_rank = std::numeric_limits<std::uint64_t>::max();

arrival stream_arrival(std::string_view id) noexcept {
    arrival a{};
    const auto dash = id.find('-');
    const auto ms = id.substr(0, dash);
    std::from_chars(ms.data(), ms.data() + ms.size(), a.first);
    if (dash != std::string_view::npos) {
        const auto seq = id.substr(dash + 1);
        std::from_chars(seq.data(), seq.data() + seq.size(), a.second);
    }
    return a;
}

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.substr(0, prefix.size()) == prefix;
}

/// A history item "<time ms> <audit stream id> <event json>" (see record_script), split.
struct history_item {
    std::string_view stream_id;
    std::string_view json;
};

/// Splits a history item; nullopt when it is not one (Redis content is untrusted, STYLE §4).
std::optional<history_item> split_item(std::string_view item) noexcept {
    const auto a = item.find(' ');
    if (a == std::string_view::npos) {
        return std::nullopt;
    }
    const auto b = item.find(' ', a + 1);
    if (b == std::string_view::npos) {
        return std::nullopt;
    }
    return history_item{item.substr(a + 1, b - a - 1), item.substr(b + 1)};
}

/// A decimal integer reply or bulk string; nullopt otherwise.
std::optional<std::int64_t> integer_of(const redisReply& r) noexcept {
    if (r.type == REDIS_REPLY_INTEGER) {
        return r.integer;
    }
    const auto text = reply_text(r);
    std::int64_t n = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (r.type != REDIS_REPLY_STRING || text.empty() || ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return n;
}

/// One event on its way to Redis: the script's arguments, owned.
struct event_call {
    std::array<std::string, 5> keys;
    std::array<std::string, 14> args;
};

/// An event to send: from record() or from a journal line.
struct event_ref {
    const decision_event* event = nullptr;
    const std::string* json = nullptr;
    std::chrono::seconds retention{0};
};

}  // namespace

// The Redis threads, their queues, reconnects and ping are redis::worker's (common/); the
// store adds what is consent's own: the scripts, the keys, the journal and its replay, the
// revocation poll.
struct store::impl final : redis::worker<operation>::handler {
    /// The reader thread's handler (a second handler type: its hooks would clash with the
    /// writer's in one class).
    struct reader final : redis::worker<read_operation>::handler {
        explicit reader(impl& owner) noexcept : owner_(owner) {}
        void process(std::span<read_operation> run, redis::session& s) override {
            for (auto& op : run) {
                std::visit(
                    [this, &s](auto& o) {
                        using T = std::decay_t<decltype(o)>;
                        if constexpr (std::is_same_v<T, history_op>) {
                            owner_.do_history(o, s);
                        } else {
                            owner_.do_counts(o, s);
                        }
                    },
                    op);
            }
        }
        void background(redis::session& s) override { owner_.poll_revocations(s); }
        clock::time_point background_due() const override { return owner_.revocations_due(); }

        impl& owner_;
    };

    impl(redis_config redis_cfg, journal_config j, std::shared_ptr<revocations> revoked)
        : key_prefix_(redis_cfg.key_prefix),
          min_replicas_(redis_cfg.min_replicas),
          revoked_(std::move(revoked)),
          journal_(j.path, j.max_bytes),
          reader_handler_(*this),
          reader_(redis_cfg, store_worker_options(read_queue_limit, 1), reader_handler_),
          worker_(std::move(redis_cfg), store_worker_options(queue_limit, max_batch), *this) {
        status_.journal_bytes = journal_.size();
        status_.journal_events = journal_.entries();
        status_.damaged = journal_.damaged_at_open();
        if (status_.damaged > 0) {
            worker_.report("journal " + journal_.path().string() + ": skipped " +
                           std::to_string(status_.damaged) +
                           " damaged line(s) (e.g. half-written in a crash); they are "
                           "not replayed");
        }
    }
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;
    ~impl() override { stop(); }

    void start() {
        reader_.start();
        worker_.start();
    }

    void stop() {
        worker_.stop();
        reader_.stop();
    }

    // --- shared with the callers' threads (status_mutex_) ---
    /// The store's counters and journal figures; redis_up and last_error are the workers'.
    mutable std::mutex status_mutex_;
    store_status status_;

    // --- set at construction ---
    const std::string key_prefix_;
    const unsigned min_replicas_;  ///< redis.min_replicas (WAIT), 0: none
    const std::shared_ptr<revocations> revoked_;

    // --- the journal: changed by the writer under journal_mutex_, read by the reader ---
    std::mutex journal_mutex_;
    journal journal_;

    // --- the writer thread's own ---
    std::string record_sha_;
    std::string erase_sha_;
    clock::time_point next_replay_{};
    clock::duration replay_backoff_ = first_backoff;
    std::uint64_t replay_pos_ = 0;      ///< journal bytes before this are confirmed
    std::uint64_t replay_entries_ = 0;  ///< valid entries before replay_pos_

    // --- the reader thread's own ---
    std::string revoked_after_;  ///< last revocation stream id seen ("" = none yet)
    clock::time_point next_revocation_poll_{};
    clock::time_point next_revocation_expire_{};

    /// Last: their threads use everything above, so they stop before it goes.
    reader reader_handler_;
    redis::worker<read_operation> reader_;
    redis::worker<operation> worker_;

    template <class F>
    void update(F&& f) {
        const std::lock_guard lock{status_mutex_};
        f(status_);
    }

    void refresh_journal_status() {
        const auto bytes = journal_.size() - std::min(journal_.size(), replay_pos_);
        const auto events = journal_.entries() - std::min(journal_.entries(), replay_entries_);
        update([&](store_status& s) {
            s.journal_bytes = bytes;
            s.journal_events = events;
        });
    }

    bool replay_due() const { return journal_.size() > replay_pos_; }

    // ------------------------------------------------------------------ writer hooks

    /// A run of records (one batch) or one erasure, in queue order: an erase sees every
    /// record queued before it.
    bool joins(const operation& first, const operation& next) const override {
        return std::holds_alternative<record_op>(first) && std::holds_alternative<record_op>(next);
    }

    void process(std::span<operation> work, redis::session& s) override {
        if (std::holds_alternative<record_op>(work.front())) {
            process_records(work, s);
            return;
        }
        do_erase(std::get<erase_op>(work.front()), s);
    }

    std::string on_connect(redis::session& s) override {
        auto error = load_scripts(s, s.deadline());
        if (error.empty()) {
            replay_backoff_ = first_backoff;
            next_replay_ = clock::now();
        }
        return error;
    }

    void background(redis::session& s) override { replay_step(s); }

    clock::time_point background_due() const override {
        return replay_due() ? next_replay_ : clock::time_point::max();
    }

    // ------------------------------------------------------------------ scripts

    /// SCRIPT LOAD both scripts (after every connect, and on NOSCRIPT: a restarted or
    /// failed-over server has an empty script cache). Returns "" or the error; the
    /// connection is then given up (the session has done so already for a failed exchange).
    std::string load_scripts(redis::session& s, clock::time_point deadline) {
        const std::vector<redis_command> load{{"SCRIPT", "LOAD", record_script},
                                              {"SCRIPT", "LOAD", erase_script}};
        std::string error;
        const auto replies = s.pipeline(load, deadline, error);
        if (!error.empty()) {
            return "redis " + s.where() + ": " + error;
        }
        for (const auto& r : replies) {
            if (r->type != REDIS_REPLY_STRING || reply_text(*r).size() != 40) {
                auto text =
                    "redis " + s.where() + ": SCRIPT LOAD failed: " + std::string{reply_text(*r)};
                s.lost(text);
                return text;
            }
        }
        record_sha_ = std::string{reply_text(*replies[0])};
        erase_sha_ = std::string{reply_text(*replies[1])};
        return {};
    }

    // ------------------------------------------------------------------ events

    // Every key of a site's consent records carries the hash tag {c:SITE}: one decision's or
    // one erasure's script touches a single slot, so the data model moves to Redis Cluster
    // unchanged (README "The path to Redis Cluster"). Site names hold no braces.
    std::string site_key(const std::string& site, std::string_view what) const {
        std::string k = key_prefix_;
        k.append("{c:").append(site).append("}:").append(what);
        return k;
    }
    std::string hash_key(const std::string& site, const std::string& consent_id) const {
        return site_key(site, "consent:" + consent_id);
    }
    std::string list_key(const std::string& site, const std::string& consent_id) const {
        return site_key(site, "history:" + consent_id);
    }

    event_call make_call(const event_ref& r, std::int64_t now_ms) const {
        const auto& e = *r.event;
        const std::int64_t retention_ms = std::min(r.retention.count(), max_retention_s) * 1000;
        event_call c;
        c.keys = {site_key(e.site, "event:" + e.event_id), hash_key(e.site, e.consent_id),
                  site_key(e.site, "audit"), site_key(e.site, "counts"),
                  list_key(e.site, e.consent_id)};
        c.args = {std::to_string(retention_ms),
                  std::to_string(std::max<std::int64_t>(0, now_ms - retention_ms)),
                  *r.json,
                  std::to_string(history_cap),
                  e.event_id,
                  e.consent_id,
                  e.site,
                  std::to_string(e.time_ms),
                  category_names(e.granted, ","),
                  e.policy_version,
                  std::string{name_of(e.kind)},
                  std::string{name_of(e.lang)},
                  e.banner_hash,
                  e.gpc ? "1" : "0"};
        return c;
    }

    redis_command script_command(const event_call& c) const {
        redis_command cmd{"EVALSHA", record_sha_, "5"};
        for (const auto& k : c.keys) {
            cmd.emplace_back(k);
        }
        for (const auto& a : c.args) {
            cmd.emplace_back(a);
        }
        return cmd;
    }
    /// Runs the record script for each event in one pipeline within command_timeout.
    /// Returns which events Redis confirmed. Anything else (no reply, an error reply) is
    /// unconfirmed: the script may or may not have run, and a later replay is safe either
    /// way because the event id makes it idempotent.
    std::vector<bool> send_events(const std::vector<event_ref>& refs, redis::session& s) {
        std::vector<bool> confirmed(refs.size(), false);
        if (!s.connected() || refs.empty()) {
            return confirmed;
        }
        const auto deadline = s.deadline();
        const auto now_ms = unix_ms_now();
        std::vector<event_call> calls;
        calls.reserve(refs.size());
        for (const auto& r : refs) {
            calls.push_back(make_call(r, now_ms));
        }
        std::vector<std::size_t> pending(refs.size());
        for (std::size_t i = 0; i < pending.size(); ++i) {
            pending[i] = i;
        }
        std::string script_error;
        bool state_error = false;
        // A second round only for NOSCRIPT: the cache was flushed under us (restart,
        // failover, SCRIPT FLUSH); loading the script again fixes it.
        for (int round = 0; round < 2 && !pending.empty(); ++round) {
            std::vector<redis_command> cmds;
            cmds.reserve(pending.size());
            for (const auto i : pending) {
                cmds.push_back(script_command(calls[i]));
            }
            std::string error;
            const auto replies = s.pipeline(cmds, deadline, error);
            std::vector<std::size_t> noscript;
            for (std::size_t k = 0; k < replies.size(); ++k) {
                const auto& r = *replies[k];
                if (r.type == REDIS_REPLY_INTEGER) {
                    confirmed[pending[k]] = true;
                } else if (is_error(r) && starts_with(reply_text(r), "NOSCRIPT")) {
                    noscript.push_back(pending[k]);
                } else {
                    script_error = is_error(r) ? std::string{reply_text(r)}
                                               : std::string{"unexpected reply type"};
                    state_error = state_error || redis::is_server_state_error(script_error);
                }
            }
            if (!error.empty()) {
                return confirmed;  // the session dropped the connection and said why
            }
            pending = std::move(noscript);
            if (!pending.empty() && round == 0) {
                if (!load_scripts(s, deadline).empty()) {
                    return confirmed;
                }
            }
        }
        if (!pending.empty() && script_error.empty()) {
            script_error = "NOSCRIPT after SCRIPT LOAD";
        }
        if (min_replicas_ > 0 && std::find(confirmed.begin(), confirmed.end(), true) !=
                                     confirmed.end()) {
            confirm_replicated(s, confirmed);
        }
        if (!script_error.empty()) {
            const auto text = "redis " + s.where() + ": consent script failed: " + script_error;
            if (state_error) {
                s.lost(text);
            } else {
                s.report(text);
            }
        }
        return confirmed;
    }

    // redis.min_replicas: a record counts as stored once replicated (session::replicated), so
    // a failover cannot lose it. Else the batch stays unconfirmed and goes to (or stays in) the
    // journal, whose replay is idempotent.
    void confirm_replicated(redis::session& s, std::vector<bool>& confirmed) {
        std::string error;
        if (!s.replicated(error)) {
            std::fill(confirmed.begin(), confirmed.end(), false);
            if (error.empty()) {
                s.report("redis " + s.where() + ": fewer than " + std::to_string(min_replicas_) +
                         " replicas confirmed the consent records in time (WAIT); they stay in "
                         "the journal");
            }
        }
    }

    void process_records(std::span<operation> work, redis::session& s) {
        const auto n = work.size();
        std::vector<record_outcome> outcome(n, record_outcome::failed);
        std::vector<std::string> json(n);
        std::vector<event_ref> refs;
        std::vector<std::size_t> ref_index;
        std::size_t invalid = 0;
        for (std::size_t i = 0; i < n; ++i) {
            auto& op = std::get<record_op>(work[i]);
            // Only what replays from the journal may be accepted: an event the journal could
            // not read back would be lost the first time Redis is down.
            if (op.retention.count() <= 0 || !is_valid(op.event)) {
                ++invalid;
                continue;
            }
            json[i] = to_json(op.event);
            refs.push_back({&op.event, &json[i], op.retention});
            ref_index.push_back(i);
        }
        const auto confirmed = send_events(refs, s);

        std::vector<journal::line> lines;
        std::vector<std::size_t> line_index;
        std::uint64_t stored = 0;
        for (std::size_t k = 0; k < refs.size(); ++k) {
            if (confirmed[k]) {
                outcome[ref_index[k]] = record_outcome::stored;
                ++stored;
            } else {
                lines.push_back({refs[k].retention, *refs[k].json});
                line_index.push_back(ref_index[k]);
            }
        }
        journal::append_result appended;
        if (!lines.empty()) {
            const std::lock_guard lock{journal_mutex_};
            appended = journal_.append(lines);
            for (std::size_t k = 0; k < appended.appended; ++k) {
                outcome[line_index[k]] = record_outcome::journaled;
            }
        }
        const auto failed = invalid + (lines.size() - appended.appended);
        // Readiness (issue 8): the batch's last valid event says whether records are lost now.
        std::optional<bool> refusing;
        for (std::size_t i = n; i-- > 0 && !refusing;) {
            if (outcome[i] != record_outcome::failed) {
                refusing = false;
            } else if (!json[i].empty()) {
                refusing = true;
            }
        }
        update([&](store_status& st) {
            st.stored += stored;
            st.journaled += appended.appended;
            st.failed += failed;
            st.refusing = refusing.value_or(st.refusing);
        });
        if (!appended.error.empty()) {
            s.report(appended.error);
        } else if (invalid > 0) {
            s.report("refused " + std::to_string(invalid) +
                     " invalid consent event(s) (bad id, site, policy version, banner hash or "
                     "retention)");
        }
        refresh_journal_status();
        // DESIGN L7: the journal was fsync'd above, before any callback says "journaled".
        for (std::size_t i = 0; i < n; ++i) {
            call(std::get<record_op>(work[i]).done, outcome[i]);
        }
    }

    // ------------------------------------------------------------------ replay

    void replay_step(redis::session& s) {
        if (!s.connected() || !replay_due() || clock::now() < next_replay_) {
            return;
        }
        auto chunk = journal_.read(replay_pos_, max_batch);
        if (!chunk.error.empty()) {
            replay_failed(chunk.error, s);
            return;
        }
        std::vector<event_ref> refs;
        refs.reserve(chunk.entries.size());
        for (const auto& entry : chunk.entries) {
            refs.push_back({&entry.event, &entry.json, entry.retention});
        }
        const auto confirmed = send_events(refs, s);
        // Only a confirmed prefix moves the replay position; events confirmed after an
        // unconfirmed one are simply sent again later (idempotent).
        std::size_t prefix = 0;
        while (prefix < confirmed.size() && confirmed[prefix]) {
            ++prefix;
        }
        if (prefix == chunk.entries.size()) {
            replay_pos_ = chunk.next;
            replay_backoff_ = first_backoff;
        } else {
            if (prefix > 0) {
                replay_pos_ = chunk.entries[prefix - 1].end;
            }
            replay_failed({}, s);
        }
        replay_entries_ += prefix;
        update([&](store_status& st) {
            st.replayed += prefix;
            st.stored += prefix;
            // The journal has room again and Redis takes events: not refusing any more (or
            // readiness, withholding traffic, would wait for a record that cannot come).
            st.refusing = st.refusing && prefix == 0;
        });
        if (replay_pos_ >= journal_.size()) {
            std::string error;
            {
                const std::lock_guard lock{journal_mutex_};
                error = journal_.clear();
            }
            if (!error.empty()) {
                s.report(error);
            } else {
                replay_pos_ = 0;
                replay_entries_ = 0;
            }
        }
        refresh_journal_status();
    }

    void replay_failed(const std::string& error, redis::session& s) {
        next_replay_ = clock::now() + replay_backoff_;
        replay_backoff_ = std::min(replay_backoff_ * 2, max_backoff);
        if (!error.empty()) {
            s.report(error);
        }
    }

    // ------------------------------------------------------------------ erasure (writer)

    void do_erase(erase_op& op, redis::session& s) {
        const auto now_ms = unix_ms_now();
        const auto revoke_s = std::clamp<std::int64_t>(op.revoke_for.count(), 0, max_retention_s);
        const auto until = now_ms / 1000 + revoke_s;
        const auto key = hash_key(op.site, op.consent_id);
        const auto audit = site_key(op.site, "audit");
        const auto list = list_key(op.site, op.consent_id);
        const auto revoked_key = key_prefix_ + "revoked";
        const auto until_text = std::to_string(until);
        const auto min_id = std::to_string(std::max<std::int64_t>(0, now_ms - revocation_keep_ms));
        std::optional<reply_ptr> reply;
        for (int round = 0; round < 2; ++round) {
            reply = s.command({"EVALSHA", erase_sha_, "3", key, audit, list});
            if (!reply || !is_error(**reply) || !starts_with(reply_text(**reply), "NOSCRIPT") ||
                round == 1) {
                break;
            }
            if (!load_scripts(s, s.deadline()).empty()) {
                reply.reset();  // given up: the next round finds no connection
            }
        }
        if (!reply || (*reply)->type != REDIS_REPLY_INTEGER) {
            if (reply) {
                s.report("redis " + s.where() +
                         ": erase failed: " + std::string{reply_text(**reply)});
            }
            call(op.done, false);
            return;
        }
        // The revocation stream is global (another slot): its own command. Should it fail, the
        // erasure reports failure and a retry (the script finds nothing more) adds the entry.
        const auto added = s.command({"XADD", revoked_key, "MINID", "~", min_id, "*", "consent_id",
                                      op.consent_id, "site", op.site, "until", until_text});
        if (!added || is_error(**added)) {
            if (added) {
                s.report("redis " + s.where() + ": recording the revocation failed: " +
                         std::string{reply_text(**added)});
            }
            call(op.done, false);
            return;
        }
        // Issue 8: this gateway stops honouring the id at once; the others learn it from the
        // revocation stream within about a second.
        if (revoked_) {
            revoked_->add(op.consent_id, until);
        }
        std::uint64_t removed = 0;
        std::string error;
        {
            const std::lock_guard lock{journal_mutex_};
            error = journal_.rewrite_without(
                [&](const journal_entry& e) {
                    return e.event.site == op.site && e.event.consent_id == op.consent_id;
                },
                removed);
        }
        if (removed > 0) {
            // Offsets changed; start the replay over (already confirmed events are no-ops).
            replay_pos_ = 0;
            replay_entries_ = 0;
            next_replay_ = clock::now();
        }
        refresh_journal_status();
        if (!error.empty()) {
            s.report(error);
            call(op.done, false);
            return;
        }
        call(op.done, true);
    }

    // ------------------------------------------------------------------ reads (reader)

    void do_history(history_op& op, redis::session& s) {
        // One MULTI so the hash's `first` and the list are read at one instant (a decision
        // between them could otherwise move an item from one to the other). Both are bounded:
        // history_cap + 1 items at most.
        const auto key = hash_key(op.site, op.consent_id);
        const auto list = list_key(op.site, op.consent_id);
        const std::vector<redis_command> cmds{
            {"MULTI"}, {"HMGET", key, "first", "folded"}, {"LRANGE", list, "0", "-1"}, {"EXEC"}};
        std::string error;
        const auto replies = s.pipeline(cmds, s.deadline(), error);
        if (!error.empty() || replies.size() != cmds.size() ||
            replies[3]->type != REDIS_REPLY_ARRAY || replies[3]->elements != 2 ||
            replies[3]->element[0]->type != REDIS_REPLY_ARRAY ||
            replies[3]->element[0]->elements != 2 ||
            replies[3]->element[1]->type != REDIS_REPLY_ARRAY) {
            if (error.empty() && replies.size() == cmds.size()) {
                s.report("redis " + s.where() +
                         ": history read failed: " + std::string{reply_text(*replies[3])});
            }
            call(op.done, std::nullopt);
            return;
        }
        const auto& fields = *replies[3]->element[0];
        const auto& items = *replies[3]->element[1];

        consent_history h;
        if (const auto folded = integer_of(*fields.element[1]); folded && *folded > 0) {
            h.folded = static_cast<std::uint64_t>(*folded);
        }
        // Events with the same millisecond keep the order they arrived in: Redis's audit
        // stream ids grow strictly, and what is still in the journal came after them.
        std::vector<std::pair<decision_event, arrival>> found;
        std::set<std::string, std::less<>> seen;
        const auto take = [&](const redisReply& r) {
            const auto item = split_item(reply_text(r));
            if (!item) {
                return;
            }
            // Redis content is untrusted too (STYLE §4): what does not parse is left out.
            auto e = event_from_json(item->json);
            if (e && e->site == op.site && e->consent_id == op.consent_id &&
                seen.insert(e->event_id).second) {
                found.emplace_back(std::move(*e), stream_arrival(item->stream_id));
            }
        };
        take(*fields.element[0]);
        for (std::size_t i = 0; i < items.elements; ++i) {
            take(*items.element[i]);
        }
        // Events still in the journal are part of what the gateway holds (L11).
        {
            const std::lock_guard lock{journal_mutex_};
            std::uint64_t journal_order = 0;
            for (std::uint64_t at = 0;;) {
                auto chunk = journal_.read(at, 4096);
                for (auto& entry : chunk.entries) {
                    if (entry.event.site == op.site && entry.event.consent_id == op.consent_id &&
                        seen.insert(entry.event.event_id).second) {
                        found.emplace_back(std::move(entry.event),
                                           arrival{journal_rank, ++journal_order});
                    }
                }
                if (chunk.next == at || !chunk.error.empty()) {
                    break;
                }
                at = chunk.next;
            }
        }
        std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
            return std::tie(a.first.time_ms, a.second) < std::tie(b.first.time_ms, b.second);
        });
        h.events.reserve(found.size());
        for (auto& f : found) {
            h.events.push_back(std::move(f.first));
        }
        call(op.done, std::optional<consent_history>{std::move(h)});
    }

    void do_counts(counts_op& op, redis::session& s) {
        auto reply = s.command({"HGETALL", site_key(op.site, "counts")});
        if (!reply || (*reply)->type != REDIS_REPLY_ARRAY) {
            call(op.done, std::nullopt);
            return;
        }
        std::map<std::string, std::uint64_t> counts;
        const auto& r = **reply;
        for (std::size_t i = 0; i + 1 < r.elements; i += 2) {
            if (const auto n = integer_of(*r.element[i + 1]); n && *n >= 0) {
                counts[std::string{reply_text(*r.element[i])}] = static_cast<std::uint64_t>(*n);
            }
        }
        call(op.done, std::optional{std::move(counts)});
    }

    // ------------------------------------------------------------------ revocations (reader)

    /// When the reader's background work is next due. Called with the reader's queue locked:
    /// reads the reader thread's own state only.
    clock::time_point revocations_due() const {
        if (!revoked_) {
            return clock::time_point::max();
        }
        return std::min(next_revocation_poll_, next_revocation_expire_);
    }

    /// Reads the revocation stream on from the last id seen, one chunk per call (the whole
    /// stream, chunk by chunk, after the first connect), and forgets expired revocations
    /// about once a minute.
    void poll_revocations(redis::session& s) {
        if (!revoked_) {
            return;
        }
        const auto now = clock::now();
        const auto now_s = unix_ms_now() / 1000;
        if (now >= next_revocation_expire_) {
            revoked_->expire(now_s);
            next_revocation_expire_ = now + revocation_expire_interval;
        }
        if (!s.connected() || now < next_revocation_poll_) {
            return;
        }
        next_revocation_poll_ = now + revocation_poll_interval;
        const auto from = revoked_after_.empty() ? std::string{"-"} : "(" + revoked_after_;
        const auto count = std::to_string(revocation_chunk);
        auto reply = s.command({"XRANGE", key_prefix_ + "revoked", from, "+", "COUNT", count});
        if (!reply) {
            return;  // the session has reported it and will reconnect
        }
        const auto& r = **reply;
        if (r.type != REDIS_REPLY_ARRAY) {
            s.report("redis " + s.where() +
                     ": reading revocations failed: " + std::string{reply_text(r)});
            return;
        }
        for (std::size_t i = 0; i < r.elements; ++i) {
            const auto& entry = *r.element[i];
            if (entry.type != REDIS_REPLY_ARRAY || entry.elements != 2 ||
                entry.element[0]->type != REDIS_REPLY_STRING ||
                entry.element[1]->type != REDIS_REPLY_ARRAY) {
                continue;
            }
            revoked_after_ = std::string{reply_text(*entry.element[0])};
            const auto& fields = *entry.element[1];
            std::string_view id;
            std::optional<std::int64_t> until;
            for (std::size_t f = 0; f + 1 < fields.elements; f += 2) {
                const auto name = reply_text(*fields.element[f]);
                if (name == "consent_id") {
                    id = reply_text(*fields.element[f + 1]);
                } else if (name == "until") {
                    until = integer_of(*fields.element[f + 1]);
                }
            }
            if (!id.empty() && until && *until > now_s) {
                revoked_->add(id, *until);
            }
        }
        if (r.elements >= revocation_chunk) {
            next_revocation_poll_ = now;  // more waiting: the next chunk on the next wake-up
        }
    }
};

namespace {

/// Why a worker refused an operation, for status().last_error.
std::string refusal(redis::submit_result r, std::size_t limit) {
    if (r == redis::submit_result::stopped) {
        return "consent store stopped";
    }
    return "consent store queue full (" + std::to_string(limit) + " operations waiting)";
}

}  // namespace

store::store(redis_config redis, journal_config journal, std::shared_ptr<revocations> revoked)
    : impl_(std::make_unique<impl>(std::move(redis), std::move(journal), std::move(revoked))) {}

store::~store() {
    stop();
}

void store::start() {
    impl_->start();
}

void store::stop() {
    impl_->stop();
}

void store::record(decision_event e, std::chrono::seconds retention,
                   std::function<void(record_outcome)> done) {
    operation op{record_op{std::move(e), retention, std::move(done)}};
    const auto queued = impl_->worker_.submit(op);
    if (queued != redis::submit_result::queued) {
        impl_->update([](store_status& s) {
            ++s.failed;
            s.refusing = true;
        });
        impl_->worker_.report(refusal(queued, queue_limit));
        call(std::get<record_op>(op).done, record_outcome::failed);
    }
}

void store::history(std::string site, std::string consent_id,
                    std::function<void(std::optional<consent_history>)> done) {
    read_operation op{history_op{std::move(site), std::move(consent_id), std::move(done)}};
    if (impl_->reader_.submit(op) != redis::submit_result::queued) {
        call(std::get<history_op>(op).done, std::nullopt);
    }
}

void store::erase(std::string site, std::string consent_id, std::chrono::seconds revoke_for,
                  std::function<void(bool)> done) {
    operation op{erase_op{std::move(site), std::move(consent_id), revoke_for, std::move(done)}};
    if (impl_->worker_.submit(op) != redis::submit_result::queued) {
        call(std::get<erase_op>(op).done, false);
    }
}

void store::counts(std::string site,
                   std::function<void(std::optional<std::map<std::string, std::uint64_t>>)> done) {
    read_operation op{counts_op{std::move(site), std::move(done)}};
    if (impl_->reader_.submit(op) != redis::submit_result::queued) {
        call(std::get<counts_op>(op).done, std::nullopt);
    }
}

store_status store::status() const {
    store_status s;
    {
        const std::lock_guard lock{impl_->status_mutex_};
        s = impl_->status_;
    }
    auto w = impl_->worker_.status();
    s.redis_up = w.up;
    s.redis_slow = w.slow;
    s.last_error = std::move(w.last_error);
    if (s.last_error.empty()) {
        s.last_error = impl_->reader_.status().last_error;
    }
    if (impl_->revoked_) {
        s.revoked_ids = impl_->revoked_->size();
    }
    return s;
}

}  // namespace cg::consent
