#include "consent/store.hpp"

#include <pthread.h>
#include <signal.h>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <variant>

#include "category_names.hpp"
#include "journal.hpp"
#include "redis_link.hpp"

namespace cg::consent {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Events per pipelined batch (records and replays alike).
constexpr std::size_t max_batch = 512;
/// Operations waiting for the store thread; beyond this a call fails at once (STYLE §5: a
/// bound on every queue). At a few hundred bytes each this is tens of MB at most.
constexpr std::size_t queue_limit = 100'000;
constexpr clock::duration first_backoff = milliseconds{100};
constexpr clock::duration max_backoff = milliseconds{2000};
/// An idle connection is checked this often, so status().redis_up does not go stale.
constexpr clock::duration ping_interval = milliseconds{1000};
/// Retention is capped at 100 years: keeps retention in milliseconds far from overflow.
constexpr std::int64_t max_retention_s = 100LL * 366 * 24 * 3600;

// One event, atomically (DESIGN §6, L7). Everything comes in as KEYS/ARGV; nothing is
// spliced into the script text. The script does not call TIME: the clock comes from ARGV,
// so what the script does depends on its arguments only (deterministic for AOF and
// replicas).
//   KEYS: 1 event (idempotency) key, 2 consent hash, 3 audit stream, 4 counts hash
//   ARGV: 1 retention ms, 2 oldest time kept (ms), 3 event json, 4 history field, 5 event id,
//         6 consent id, 7 site, 8 time ms, 9 categories, 10 policy version, 11 method,
//         12 language, 13 banner hash, 14 gpc
// Returns 1 when stored, 0 when the event id was stored before (an idempotent replay).
constexpr std::string_view record_script = R"lua(
local kinds = {'string', 'hash', 'stream', 'hash'}
for i = 2, 4 do
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
    'banner_hash', ARGV[13], 'gpc', ARGV[14], 'time_ms', ARGV[8], 'last_event', ARGV[5],
    ARGV[4], ARGV[3], 'stream:' .. ARGV[5], id)
else
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[3], 'stream:' .. ARGV[5], id)
end
redis.call('HINCRBY', KEYS[4], ARGV[11], 1)
-- A new consent has no history to prune (most decisions are a new visitor's first).
local cutoff = tonumber(ARGV[2])
if latest then
  for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
    local at, old = string.match(f, '^event:(%d+):(.+)$')
    if at and tonumber(at) < cutoff then
      local sid = redis.call('HGET', KEYS[2], 'stream:' .. old)
      if sid then
        redis.pcall('XDEL', KEYS[3], sid)
      end
      redis.call('HDEL', KEYS[2], f, 'stream:' .. old)
    end
  end
end
for i = 2, 4 do
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 1
)lua";

// Erasure (L11): the consent's audit entries (their ids are in the hash) and the hash.
//   KEYS: 1 consent hash, 2 audit stream. Returns the number of stream entries deleted.
constexpr std::string_view erase_script = R"lua(
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then
  return 0
end
if t ~= 'hash' then
  return redis.error_reply('WRONGTYPE key ' .. KEYS[1] .. ' holds a ' .. t)
end
local n = 0
if redis.call('TYPE', KEYS[2])['ok'] == 'stream' then
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 7) == 'stream:' then
      local r = redis.pcall('XDEL', KEYS[2], fields[i + 1])
      if type(r) == 'number' then
        n = n + r
      end
    end
  end
end
redis.call('DEL', KEYS[1])
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
    std::function<void(bool)> done;
};
struct counts_op {
    std::string site;
    std::function<void(std::optional<std::map<std::string, std::uint64_t>>)> done;
};
using operation = std::variant<record_op, history_op, erase_op, counts_op>;

/// Runs a caller's callback. An exception from it must not end the store thread (every
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

/// "event:<time ms, 15 digits>:<event id>": history fields sort by time as text.
std::string history_field(const decision_event& e) {
    std::array<char, 32> digits{};
    std::snprintf(digits.data(), digits.size(), "%015lld", static_cast<long long>(e.time_ms));
    return "event:" + std::string{digits.data()} + ":" + e.event_id;
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

/// Errors that say this server cannot take writes now, whatever the command: reconnecting
/// (after a backoff) is the way out, e.g. to the new master after a failover.
bool server_state_error(std::string_view text) noexcept {
    return starts_with(text, "LOADING") || starts_with(text, "READONLY") ||
           starts_with(text, "MASTERDOWN") || starts_with(text, "NOREPLICAS");
}

/// One event on its way to Redis: the script's arguments, owned.
struct event_call {
    std::array<std::string, 4> keys;
    std::array<std::string, 14> args;
};

/// An event to send: from record() or from a journal line.
struct event_ref {
    const decision_event* event = nullptr;
    const std::string* json = nullptr;
    std::chrono::seconds retention{0};
};

void block_sigpipe() noexcept {
    // hiredis writes with write(2): a server that went away would raise SIGPIPE and end the
    // whole process. Blocked in this thread only, the write fails with EPIPE instead.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace

struct store::impl {
    impl(redis_config redis, journal_config j)
        : config_(redis), link_(std::move(redis)), journal_(j.path, j.max_bytes) {
        status_.journal_bytes = journal_.size();
        status_.journal_events = journal_.entries();
        status_.damaged = journal_.damaged_at_open();
        if (status_.damaged > 0) {
            status_.last_error = "journal " + journal_.path().string() + ": skipped " +
                                 std::to_string(status_.damaged) +
                                 " damaged line(s) (e.g. half-written in a crash); they are "
                                 "not replayed";
        }
    }

    // --- shared with the callers' threads (mutex_) ---
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<operation> queue_;
    bool started_ = false;
    bool stopping_ = false;
    std::mutex join_mutex_;
    std::thread thread_;

    mutable std::mutex status_mutex_;
    store_status status_;

    // --- the store thread's own ---
    redis_config config_;
    redis_link link_;
    journal journal_;
    std::string record_sha_;
    std::string erase_sha_;
    clock::time_point next_connect_{};
    clock::duration backoff_ = first_backoff;
    clock::time_point next_replay_{};
    clock::duration replay_backoff_ = first_backoff;
    clock::time_point last_ok_{};
    std::uint64_t replay_pos_ = 0;      ///< journal bytes before this are confirmed
    std::uint64_t replay_entries_ = 0;  ///< valid entries before replay_pos_

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

    // ------------------------------------------------------------------ thread loop

    void run() {
        block_sigpipe();
        try_connect();
        for (;;) {
            std::vector<operation> work;
            bool stopping = false;
            {
                std::unique_lock lock{mutex_};
                wake_.wait_until(lock, next_wake(),
                                 [this] { return !queue_.empty() || stopping_; });
                stopping = stopping_;
                take_work(work);
            }
            if (work.empty() && stopping) {
                break;
            }
            if (!work.empty() && !link_.connected()) {
                // Redis is down: journal these now rather than after a connect attempt, which
                // can take connect_timeout against an unresponsive host.
                process(work);
                work.clear();
            }
            if (!stopping) {
                maintain();
            }
            if (!work.empty()) {
                process(work);
            }
            if (!stopping) {
                replay_step();
            }
        }
        link_.disconnect();
        update([](store_status& s) { s.redis_up = false; });
    }

    clock::time_point next_wake() const {
        const auto now = clock::now();
        if (!link_.connected()) {
            return next_connect_;
        }
        auto at = last_ok_ + ping_interval;
        if (replay_due()) {
            at = std::min(at, next_replay_);
        }
        return std::max(at, now);
    }

    /// A run of records (one batch) or one other operation, in queue order: an erase sees
    /// every record queued before it.
    void take_work(std::vector<operation>& work) {
        if (queue_.empty()) {
            return;
        }
        if (!std::holds_alternative<record_op>(queue_.front())) {
            work.push_back(std::move(queue_.front()));
            queue_.pop_front();
            return;
        }
        while (!queue_.empty() && work.size() < max_batch &&
               std::holds_alternative<record_op>(queue_.front())) {
            work.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
    }

    void maintain() {
        const auto now = clock::now();
        if (!link_.connected()) {
            if (now >= next_connect_) {
                try_connect();
            }
            return;
        }
        if (now - last_ok_ >= ping_interval) {
            std::string error;
            const std::vector<redis_command> ping{{"PING"}};
            const auto replies = link_.pipeline(ping, now + config_.command_timeout, error);
            if (!error.empty()) {
                connection_lost(error);
            } else if (is_error(*replies.front())) {
                const auto text = reply_text(*replies.front());
                if (server_state_error(text)) {
                    connection_lost(std::string{text});
                }
            } else {
                mark_ok();
            }
        }
    }

    // ------------------------------------------------------------------ connection

    void try_connect() {
        auto error = link_.connect();
        if (error.empty()) {
            error = load_scripts(clock::now() + config_.command_timeout);
        }
        if (!error.empty()) {
            link_.disconnect();
            schedule_reconnect(error);
            return;
        }
        backoff_ = first_backoff;
        replay_backoff_ = first_backoff;
        next_replay_ = clock::now();
        mark_ok();
    }

    /// SCRIPT LOAD both scripts (after every connect, and on NOSCRIPT: a restarted or
    /// failed-over server has an empty script cache). Returns "" or the error.
    std::string load_scripts(clock::time_point deadline) {
        const std::vector<redis_command> load{{"SCRIPT", "LOAD", record_script},
                                              {"SCRIPT", "LOAD", erase_script}};
        std::string error;
        const auto replies = link_.pipeline(load, deadline, error);
        if (!error.empty()) {
            return "redis " + link_.where() + ": " + error;
        }
        for (const auto& r : replies) {
            if (r->type != REDIS_REPLY_STRING || reply_text(*r).size() != 40) {
                link_.disconnect();
                return "redis " + link_.where() +
                       ": SCRIPT LOAD failed: " + std::string{reply_text(*r)};
            }
        }
        record_sha_ = std::string{reply_text(*replies[0])};
        erase_sha_ = std::string{reply_text(*replies[1])};
        return {};
    }

    void schedule_reconnect(const std::string& error) {
        next_connect_ = clock::now() + backoff_;
        backoff_ = std::min(backoff_ * 2, max_backoff);
        update([&](store_status& s) {
            s.redis_up = false;
            s.last_error = error;
        });
    }

    void connection_lost(const std::string& error) {
        link_.disconnect();
        schedule_reconnect(starts_with(error, "redis ") ? error
                                                        : "redis " + link_.where() + ": " + error);
    }

    void mark_ok() {
        last_ok_ = clock::now();
        update([](store_status& s) { s.redis_up = true; });
    }

    /// One command with its reply; nullopt (and the connection dropped) when it could not
    /// be sent or answered in time.
    std::optional<reply_ptr> command(const redis_command& cmd) {
        if (!link_.connected()) {
            return std::nullopt;
        }
        std::string error;
        auto replies = link_.pipeline({cmd}, clock::now() + config_.command_timeout, error);
        if (!error.empty()) {
            connection_lost(error);
            return std::nullopt;
        }
        mark_ok();
        return std::move(replies.front());
    }

    // ------------------------------------------------------------------ events

    event_call make_call(const event_ref& r, std::int64_t now_ms) const {
        const auto& e = *r.event;
        const std::int64_t retention_ms = std::min(r.retention.count(), max_retention_s) * 1000;
        const auto& p = config_.key_prefix;
        event_call c;
        c.keys = {p + "event:" + e.event_id, p + "consent:" + e.site + ":" + e.consent_id,
                  p + "audit:" + e.site, p + "counts:" + e.site};
        c.args = {std::to_string(retention_ms),
                  std::to_string(std::max<std::int64_t>(0, now_ms - retention_ms)),
                  *r.json,
                  history_field(e),
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
        redis_command cmd{"EVALSHA", record_sha_, "4"};
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
    std::vector<bool> send_events(const std::vector<event_ref>& refs) {
        std::vector<bool> confirmed(refs.size(), false);
        if (!link_.connected() || refs.empty()) {
            return confirmed;
        }
        const auto deadline = clock::now() + config_.command_timeout;
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
            const auto replies = link_.pipeline(cmds, deadline, error);
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
                    state_error = state_error || server_state_error(script_error);
                }
            }
            if (!error.empty()) {
                connection_lost(error);
                return confirmed;
            }
            pending = std::move(noscript);
            if (!pending.empty() && round == 0) {
                if (auto e = load_scripts(deadline); !e.empty()) {
                    connection_lost(e);
                    return confirmed;
                }
            }
        }
        if (!pending.empty() && script_error.empty()) {
            script_error = "NOSCRIPT after SCRIPT LOAD";
        }
        if (!script_error.empty()) {
            const auto text = "redis " + link_.where() + ": consent script failed: " + script_error;
            if (state_error) {
                connection_lost(text);
            } else {
                mark_ok();
                update([&](store_status& s) { s.last_error = text; });
            }
        } else {
            mark_ok();
        }
        return confirmed;
    }

    void process(std::vector<operation>& work) {
        if (std::holds_alternative<record_op>(work.front())) {
            process_records(work);
            return;
        }
        std::visit(
            [this](auto& op) {
                using T = std::decay_t<decltype(op)>;
                if constexpr (std::is_same_v<T, history_op>) {
                    do_history(op);
                } else if constexpr (std::is_same_v<T, erase_op>) {
                    do_erase(op);
                } else if constexpr (std::is_same_v<T, counts_op>) {
                    do_counts(op);
                }
            },
            work.front());
    }

    void process_records(std::vector<operation>& work) {
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
        const auto confirmed = send_events(refs);

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
            appended = journal_.append(lines);
            for (std::size_t k = 0; k < appended.appended; ++k) {
                outcome[line_index[k]] = record_outcome::journaled;
            }
        }
        const auto failed = invalid + (lines.size() - appended.appended);
        update([&](store_status& s) {
            s.stored += stored;
            s.journaled += appended.appended;
            s.failed += failed;
            if (!appended.error.empty()) {
                s.last_error = appended.error;
            } else if (invalid > 0) {
                s.last_error = "refused " + std::to_string(invalid) +
                               " invalid consent event(s) (bad id, site, policy version, "
                               "banner hash or retention)";
            }
        });
        refresh_journal_status();
        for (std::size_t i = 0; i < n; ++i) {
            call(std::get<record_op>(work[i]).done, outcome[i]);
        }
    }

    // ------------------------------------------------------------------ replay

    void replay_step() {
        if (!link_.connected() || !replay_due() || clock::now() < next_replay_) {
            return;
        }
        auto chunk = journal_.read(replay_pos_, max_batch);
        if (!chunk.error.empty()) {
            replay_failed(chunk.error);
            return;
        }
        std::vector<event_ref> refs;
        refs.reserve(chunk.entries.size());
        for (const auto& entry : chunk.entries) {
            refs.push_back({&entry.event, &entry.json, entry.retention});
        }
        const auto confirmed = send_events(refs);
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
            replay_failed({});
        }
        replay_entries_ += prefix;
        update([&](store_status& s) {
            s.replayed += prefix;
            s.stored += prefix;
        });
        if (replay_pos_ >= journal_.size()) {
            if (auto error = journal_.clear(); !error.empty()) {
                update([&](store_status& s) { s.last_error = error; });
            } else {
                replay_pos_ = 0;
                replay_entries_ = 0;
            }
        }
        refresh_journal_status();
    }

    void replay_failed(const std::string& error) {
        next_replay_ = clock::now() + replay_backoff_;
        replay_backoff_ = std::min(replay_backoff_ * 2, max_backoff);
        if (!error.empty()) {
            update([&](store_status& s) { s.last_error = error; });
        }
    }

    // ------------------------------------------------------------------ reads and erasure

    std::string hash_key(const std::string& site, const std::string& consent_id) const {
        return config_.key_prefix + "consent:" + site + ":" + consent_id;
    }

    void do_history(history_op& op) {
        const auto key = hash_key(op.site, op.consent_id);
        auto reply = command({"HGETALL", key});
        if (!reply || (*reply)->type != REDIS_REPLY_ARRAY) {
            call(op.done, std::nullopt);
            return;
        }
        // Events with the same millisecond keep the order they arrived in: Redis's audit
        // stream ids grow strictly, and what is still in the journal came after them.
        std::vector<std::pair<decision_event, arrival>> found;
        std::map<std::string, arrival, std::less<>> stream_ids;
        std::set<std::string> seen;
        const auto& r = **reply;
        for (std::size_t i = 0; i + 1 < r.elements; i += 2) {
            const auto field = reply_text(*r.element[i]);
            if (starts_with(field, "stream:")) {
                stream_ids.emplace(field.substr(7), stream_arrival(reply_text(*r.element[i + 1])));
                continue;
            }
            if (!starts_with(field, "event:")) {
                continue;
            }
            // Redis content is untrusted too (STYLE §4): what does not parse is left out.
            auto e = event_from_json(reply_text(*r.element[i + 1]));
            if (e && e->site == op.site && e->consent_id == op.consent_id &&
                seen.insert(e->event_id).second) {
                found.emplace_back(std::move(*e), arrival{});
            }
        }
        for (auto& [e, at] : found) {
            if (const auto it = stream_ids.find(e.event_id); it != stream_ids.end()) {
                at = it->second;
            }
        }
        // Events still in the journal are part of what the gateway holds (L11).
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
        std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
            return std::tie(a.first.time_ms, a.second) < std::tie(b.first.time_ms, b.second);
        });
        consent_history h;
        h.events.reserve(found.size());
        for (auto& f : found) {
            h.events.push_back(std::move(f.first));
        }
        call(op.done, std::optional<consent_history>{std::move(h)});
    }

    void do_erase(erase_op& op) {
        const auto key = hash_key(op.site, op.consent_id);
        const auto audit = config_.key_prefix + "audit:" + op.site;
        std::optional<reply_ptr> reply;
        for (int round = 0; round < 2; ++round) {
            reply = command({"EVALSHA", erase_sha_, "2", key, audit});
            if (!reply || !is_error(**reply) || !starts_with(reply_text(**reply), "NOSCRIPT") ||
                round == 1) {
                break;
            }
            if (auto e = load_scripts(clock::now() + config_.command_timeout); !e.empty()) {
                connection_lost(e);
                reply.reset();
            }
        }
        if (!reply || (*reply)->type != REDIS_REPLY_INTEGER) {
            if (reply) {
                const auto text = "redis " + link_.where() +
                                  ": erase failed: " + std::string{reply_text(**reply)};
                update([&](store_status& s) { s.last_error = text; });
            }
            call(op.done, false);
            return;
        }
        std::uint64_t removed = 0;
        const auto error = journal_.rewrite_without(
            [&](const journal_entry& e) {
                return e.event.site == op.site && e.event.consent_id == op.consent_id;
            },
            removed);
        if (removed > 0) {
            // Offsets changed; start the replay over (already confirmed events are no-ops).
            replay_pos_ = 0;
            replay_entries_ = 0;
            next_replay_ = clock::now();
        }
        refresh_journal_status();
        if (!error.empty()) {
            update([&](store_status& s) { s.last_error = error; });
            call(op.done, false);
            return;
        }
        call(op.done, true);
    }

    void do_counts(counts_op& op) {
        auto reply = command({"HGETALL", config_.key_prefix + "counts:" + op.site});
        if (!reply || (*reply)->type != REDIS_REPLY_ARRAY) {
            call(op.done, std::nullopt);
            return;
        }
        std::map<std::string, std::uint64_t> counts;
        const auto& r = **reply;
        for (std::size_t i = 0; i + 1 < r.elements; i += 2) {
            const auto value = reply_text(*r.element[i + 1]);
            std::uint64_t n = 0;
            const auto* end = value.data() + value.size();
            const auto [ptr, ec] = std::from_chars(value.data(), end, n);
            if (ec == std::errc{} && ptr == end && !value.empty()) {
                counts[std::string{reply_text(*r.element[i])}] = n;
            }
        }
        call(op.done, std::optional{std::move(counts)});
    }

    // ------------------------------------------------------------------ callers' side

    /// Queues `op` (moved from only on success); false with `why` when the store is
    /// stopping or the queue is full.
    template <class Op>
    bool enqueue(Op& op, std::string& why) {
        {
            const std::lock_guard lock{mutex_};
            if (stopping_) {
                why = "consent store stopped";
                return false;
            }
            if (queue_.size() >= queue_limit) {
                why = "consent store queue full (" + std::to_string(queue_limit) +
                      " operations waiting)";
                return false;
            }
            queue_.emplace_back(std::move(op));
        }
        wake_.notify_one();
        return true;
    }
};

store::store(redis_config redis, journal_config journal)
    : impl_(std::make_unique<impl>(std::move(redis), std::move(journal))) {}

store::~store() {
    stop();
}

void store::start() {
    const std::lock_guard lock{impl_->mutex_};
    if (impl_->started_ || impl_->stopping_) {
        return;
    }
    impl_->started_ = true;
    impl_->thread_ = std::thread([this] { impl_->run(); });
}

void store::stop() {
    const std::lock_guard join_lock{impl_->join_mutex_};
    {
        const std::lock_guard lock{impl_->mutex_};
        impl_->stopping_ = true;
        if (!impl_->started_ && !impl_->queue_.empty()) {
            // Never started but holding events: one pass of the thread stores or journals
            // them, so nothing queued is dropped.
            impl_->started_ = true;
            impl_->thread_ = std::thread([this] { impl_->run(); });
        }
    }
    impl_->wake_.notify_all();
    if (impl_->thread_.joinable() && impl_->thread_.get_id() != std::this_thread::get_id()) {
        impl_->thread_.join();
    }
}

void store::record(decision_event e, std::chrono::seconds retention,
                   std::function<void(record_outcome)> done) {
    record_op op{std::move(e), retention, std::move(done)};
    std::string why;
    if (!impl_->enqueue(op, why)) {
        impl_->update([&](store_status& s) {
            ++s.failed;
            s.last_error = why;
        });
        call(op.done, record_outcome::failed);
    }
}

void store::history(std::string site, std::string consent_id,
                    std::function<void(std::optional<consent_history>)> done) {
    history_op op{std::move(site), std::move(consent_id), std::move(done)};
    std::string why;
    if (!impl_->enqueue(op, why)) {
        call(op.done, std::nullopt);
    }
}

void store::erase(std::string site, std::string consent_id, std::function<void(bool)> done) {
    erase_op op{std::move(site), std::move(consent_id), std::move(done)};
    std::string why;
    if (!impl_->enqueue(op, why)) {
        call(op.done, false);
    }
}

void store::counts(std::string site,
                   std::function<void(std::optional<std::map<std::string, std::uint64_t>>)> done) {
    counts_op op{std::move(site), std::move(done)};
    std::string why;
    if (!impl_->enqueue(op, why)) {
        call(op.done, std::nullopt);
    }
}

store_status store::status() const {
    const std::lock_guard lock{impl_->status_mutex_};
    return impl_->status_;
}

}  // namespace cg::consent
