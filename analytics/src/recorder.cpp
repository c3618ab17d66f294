#include "analytics/recorder.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <cstring>

#include <hiredis/hiredis.h>
#include <openssl/rand.h>

#include "redis/worker.hpp"
#include "store_keys.hpp"

namespace cg::analytics {

namespace {

using clock = std::chrono::steady_clock;

std::int64_t system_now() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

// Applies one batch of one site-day at most once (KEYS[1], remembered two days), adds its
// counters and, unless the day is already folded (KEYS[2] has `folded`), its visitor ids, and
// sets every key it touched to expire in ARGV[1] seconds.
//   ARGV: seconds to live, marker seconds, then groups: "h" key-index n (field count)*n,
//                                                 "u" key-index n id*n
constexpr std::string_view apply_script = R"lua(
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return 0 end
local folded = redis.call('HEXISTS', KEYS[2], 'folded') == 1
local i = 3
while i <= #ARGV do
  local kind, k, n = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])
  if kind == 'h' then
    for j = i + 3, i + 2 + 2 * n, 2 do redis.call('HINCRBY', k, ARGV[j], ARGV[j + 1]) end
    i = i + 3 + 2 * n
  else
    if not folded then redis.call('PFADD', k, unpack(ARGV, i + 3, i + 2 + n)) end
    i = i + 3 + n
  end
  redis.call('EXPIRE', k, ARGV[1])
end
return 1
)lua";

constexpr std::size_t max_chunk_args = 4000;  // Lua's unpack and one reply time stay small
constexpr std::size_t max_group_ids = 1000;
constexpr std::int64_t marker_seconds = 2 * 86400;
constexpr std::int64_t max_key_seconds = 25 * 3600;  // C6 and the issue: at most 25 hours
constexpr std::array<dimension, 11> breakdowns{
    dimension::page,       dimension::entry,        dimension::referrer, dimension::channel,
    dimension::utm_source, dimension::utm_medium,   dimension::utm_campaign,
    dimension::country,    dimension::device,       dimension::browser,  dimension::os};

std::string random_hex(std::size_t bytes) {
    std::array<unsigned char, 32> b{};
    RAND_bytes(b.data(), static_cast<int>(bytes));
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes; ++i) {
        out += hex[b[i] >> 4];
        out += hex[b[i] & 15];
    }
    return out;
}

std::optional<long long> integer_of(const redisReply* r) {
    if (r != nullptr && r->type == REDIS_REPLY_INTEGER) {
        return r->integer;
    }
    return std::nullopt;
}


/// Seconds from `n` until `at`, at least one: expiries go to Redis as a time to live counted on
/// the gateway's clock, so a Redis host whose clock is off cannot stretch a day key's 25 hours.
std::string seconds_until(std::int64_t at, std::int64_t n) {
    return std::to_string(std::max<std::int64_t>(1, at - n));
}

}  // namespace

struct recorder::impl final : redis::worker<int>::handler {
    /// A batch for one site-day as its script call (scripted) or plain commands.
    struct chunk {
        bool scripted = true;
        std::vector<std::vector<std::string>> commands;
        std::int64_t expire_at = 0;  ///< when its keys expire; made a time to live when sent
        std::size_t ttl_arg = 0;     ///< where in the script call that time to live goes
    };

    impl(redis::redis_config redis, std::vector<site_plan> s, std::shared_ptr<day_keys> k,
         recorder_options o)
        : prefix(redis.key_prefix),
          sites(std::move(s)),
          keys(std::move(k)),
          options(o),
          incoming(o.max_keys, o.max_ids),
          worker(std::move(redis), worker_opts(), *this) {
        // A key of our own from the start, so no page view waits for Redis to get an id; the
        // first exchange with Redis offers it to the other gateways (SET NX) or takes theirs.
        const std::int64_t n = now();
        for (std::uint32_t i = 0; i < sites.size(); ++i) {
            if (sites[i].enabled && !keys->get(i, sites[i].calendar.at(n).day)) {
                day_key fresh{};
                RAND_bytes(fresh.data(), static_cast<int>(fresh.size()));
                keys->set(i, sites[i].calendar.at(n).day, fresh);
                local.insert({i, sites[i].calendar.at(n).day});
            }
        }
        unshared.store(local.size(), std::memory_order_relaxed);
    }

    static redis::worker_options worker_opts() {
        redis::worker_options w;
        w.queue_limit = 64;
        return w;
    }

    std::int64_t now() const { return options.now != nullptr ? options.now() : system_now(); }

    // --- the worker's thread ---------------------------------------------------------------

    std::string on_connect(redis::session& s) override {
        auto r = s.command({"SCRIPT", "LOAD", apply_script});
        if (!r) {
            return "SCRIPT LOAD got no reply";
        }
        if ((*r)->type != REDIS_REPLY_STRING) {
            return "SCRIPT LOAD failed: " + std::string{redis::reply_text(**r)};
        }
        sha.assign((*r)->str, (*r)->len);
        return {};
    }

    void process(std::span<int> run, redis::session& s) override {
        static_cast<void>(run);
        tick(s, true);
    }

    void background(redis::session& s) override { tick(s, false); }

    clock::time_point background_due() const override { return next_tick; }

    void tick(redis::session& s, bool forced) {
        const auto t = clock::now();
        if (!forced && t < next_tick) {
            return;
        }
        next_tick = t + options.flush_interval;
        const std::int64_t n = now();
        maintain_keys(s, n);
        write_pending(s);
        if (forced || t >= next_fold) {
            next_fold = t + std::chrono::seconds(60);
            fold_old_days(s, n);
        }
        up.store(s.connected(), std::memory_order_relaxed);
    }

    // Counters and ids into script calls, one site-day (and at most max_chunk_args) each.
    void cut(flush_batch& b) {
        dropped.fetch_add(b.dropped, std::memory_order_relaxed);
        struct day_groups {
            std::map<std::string, std::vector<std::pair<std::string, std::uint64_t>>> hashes;
            std::map<std::string, std::vector<visitor_id>*> hlls;
        };
        std::map<std::pair<std::uint32_t, day_number>, day_groups> by_day;
        for (auto& [key, count] : b.counts) {
            auto [suffix, field] = detail::counter_place(key);
            by_day[{key.site, key.day()}].hashes[suffix].emplace_back(std::move(field), count);
        }
        for (auto& [key, ids] : b.uniques) {
            if (key.site >= sites.size()) {
                continue;
            }
            if (key.what == dimension::visitors_minute) {
                const auto k = detail::realtime_key(prefix, sites[key.site].name, key.period);
                chunk c;
                c.scripted = false;
                std::vector<std::string> pf{"PFADD", k};
                for (const auto& id : ids) {
                    pf.emplace_back(reinterpret_cast<const char*>(id.data()), id.size());
                }
                c.commands.push_back(std::move(pf));
                c.commands.push_back({"EXPIRE", k, "600"});
                inflight.push_back(std::move(c));
                continue;
            }
            by_day[{key.site, key.day()}].hlls[detail::unique_place(key)] = &ids;
        }
        for (auto& [where, groups] : by_day) {
            if (where.first >= sites.size()) {
                continue;
            }
            const site_plan& site = sites[where.first];
            const std::string base = detail::day_base(prefix, site.name, where.second);
            const std::int64_t expire_at =
                site.calendar.start_of(where.second) +
                (static_cast<std::int64_t>(site.retention_days) + 1) * 86400;
            std::vector<std::string> keys_part;
            std::vector<std::string> args_part;
            const auto start_chunk = [&] {
                keys_part = {base + ":b:" + random_hex(16), base + ":f"};
                args_part = {"", std::to_string(marker_seconds)};
            };
            const auto finish_chunk = [&] {
                if (args_part.size() <= 2) {
                    return;
                }
                chunk c;
                c.expire_at = expire_at;
                c.ttl_arg = 3 + keys_part.size();
                std::vector<std::string> cmd{"EVALSHA", sha, std::to_string(keys_part.size())};
                cmd.insert(cmd.end(), keys_part.begin(), keys_part.end());
                cmd.insert(cmd.end(), args_part.begin(), args_part.end());
                c.commands.push_back(std::move(cmd));
                c.commands.push_back({"ZADD", detail::unfolded_key(prefix), "NX",
                                      std::to_string(where.second),
                                      format_day(where.second) + " " + site.name});
                inflight.push_back(std::move(c));
            };
            start_chunk();
            for (auto& [suffix, fields] : groups.hashes) {
                std::size_t i = 0;
                while (i < fields.size()) {
                    if (args_part.size() > max_chunk_args) {
                        finish_chunk();
                        start_chunk();
                    }
                    const std::size_t n = std::min(fields.size() - i, max_group_ids);
                    keys_part.push_back(base + suffix);
                    args_part.insert(args_part.end(),
                                     {"h", std::to_string(keys_part.size()), std::to_string(n)});
                    for (std::size_t j = i; j < i + n; ++j) {
                        args_part.push_back(fields[j].first);
                        args_part.push_back(std::to_string(fields[j].second));
                    }
                    i += n;
                }
            }
            for (auto& [suffix, ids] : groups.hlls) {
                std::size_t i = 0;
                while (i < ids->size()) {
                    if (args_part.size() > max_chunk_args) {
                        finish_chunk();
                        start_chunk();
                    }
                    const std::size_t n = std::min(ids->size() - i, max_group_ids);
                    keys_part.push_back(base + suffix);
                    args_part.insert(args_part.end(),
                                     {"u", std::to_string(keys_part.size()), std::to_string(n)});
                    for (std::size_t j = i; j < i + n; ++j) {
                        args_part.emplace_back(reinterpret_cast<const char*>((*ids)[j].data()),
                                               (*ids)[j].size());
                    }
                    i += n;
                }
            }
            finish_chunk();
        }
    }

    // redis.min_replicas: a batch counts as written once replicated, so a failover cannot
    // lose it (the consent store does the same for its records).
    static bool replicated(redis::session& s) {
        std::string error;
        const bool ok = s.replicated(error);
        if (!ok && error.empty()) {
            s.report("redis " + s.where() + ": fewer than " +
                     std::to_string(s.config().min_replicas) +
                     " replicas confirmed an analytics batch in time (WAIT); it is retried");
        }
        return ok;
    }

    void write_pending(redis::session& s) {
        if (inflight.empty() && s.connected()) {
            // Under the lock until the chunks exist, so status() never sees the counts in
            // neither place.
            const std::lock_guard lock{mutex};
            flush_batch b = incoming.drain();
            cut(b);
            pending.store(inflight.size(), std::memory_order_relaxed);
        }
        while (!inflight.empty() && s.connected()) {
            // The script's SHA is known only after a connect: chunks cut before carry "".
            const std::int64_t n = now();
            const std::size_t take = std::min<std::size_t>(inflight.size(), 32);
            detail::command_list cmds;
            std::vector<std::size_t> first_command;
            for (std::size_t i = 0; i < take; ++i) {
                first_command.push_back(cmds.views.size());
                for (auto c : inflight[i].commands) {
                    if (inflight[i].scripted && c[0] == "EVALSHA") {
                        c[1] = sha;
                        c[inflight[i].ttl_arg] = seconds_until(inflight[i].expire_at, n);
                    }
                    cmds.add(std::move(c));
                }
            }
            std::string error;
            const auto replies = s.pipeline(cmds.views, s.deadline(), error);
            std::size_t done = 0;
            bool stop = replies.size() < cmds.views.size();
            for (std::size_t i = 0; i < take; ++i) {
                const std::size_t at = first_command[i];
                if (at >= replies.size()) {
                    break;
                }
                const redisReply* r = replies[at].get();
                if (redis::is_error(*r)) {
                    const auto text = redis::reply_text(*r);
                    if (text.starts_with("NOSCRIPT") || redis::is_server_state_error(text)) {
                        s.lost("analytics batch: " + std::string{text});
                    } else {
                        s.report("analytics batch refused: " + std::string{text});
                    }
                    stop = true;
                    break;
                }
                ++done;
            }
            if (done > 0 && s.config().min_replicas > 0 && !replicated(s)) {
                done = 0;  // kept: a retry is idempotent (batch ids), also on a new master
                stop = true;
            }
            inflight.erase(inflight.begin(),
                           inflight.begin() + static_cast<std::ptrdiff_t>(done));
            written.fetch_add(done, std::memory_order_relaxed);
            if (stop) {
                failures.fetch_add(1, std::memory_order_relaxed);
                break;
            }
        }
        pending.store(inflight.size(), std::memory_order_relaxed);
    }

    void maintain_keys(redis::session& s, std::int64_t n) {
        for (std::uint32_t i = 0; i < sites.size(); ++i) {
            const site_plan& site = sites[i];
            if (!site.enabled) {
                continue;
            }
            const day_number today = site.calendar.at(n).day;
            // C6: yesterday's key goes from memory now and from Redis five minutes into the
            // day (it expires then anyway; the grace is for gateways whose clocks lag a little).
            keys->drop_before(i, today);
            if (s.connected() && n - site.calendar.start_of(today) >= 300 &&
                deleted_key_day[i] < today - 1) {
                const std::string old =
                    detail::day_base(prefix, site.name, today - 1) + ":key";
                if (s.command({"UNLINK", old})) {
                    deleted_key_day[i] = today - 1;
                }
            }
            std::erase_if(local, [&](const auto& e) {
                return e.first == i && e.second < today;
            });
            std::vector<day_number> days{today};
            if (site.calendar.start_of(today + 1) - n <= 3600) {
                days.push_back(today + 1);
            }
            for (const day_number d : days) {
                ensure_key(s, i, d, n);
            }
        }
        unshared.store(local.size(), std::memory_order_relaxed);
    }

    void ensure_key(redis::session& s, std::uint32_t site, day_number d, std::int64_t n) {
        const auto have = keys->get(site, d);
        const bool made_here = local.contains({site, d});
        if (have && !made_here) {
            return;
        }
        day_key candidate{};
        if (have) {
            candidate = *have;
        } else {
            RAND_bytes(candidate.data(), static_cast<int>(candidate.size()));
        }
        if (!s.connected()) {
            if (!have) {
                keys->set(site, d, candidate);
                local.insert({site, d});
                local_keys.fetch_add(1, std::memory_order_relaxed);
            }
            return;
        }
        const std::string name = detail::day_base(prefix, sites[site].name, d) + ":key";
        const std::int64_t at =
            std::min(sites[site].calendar.start_of(d + 1) + 300, n + max_key_seconds);
        const std::string value(reinterpret_cast<const char*>(candidate.data()),
                                candidate.size());
        const std::string ttl = seconds_until(at, n);
        std::string error;
        const auto replies = s.pipeline(
            {{"SET", name, value, "NX", "EX", ttl}, {"GET", name}}, s.deadline(), error);
        if (replies.size() == 2 && replies[1]->type == REDIS_REPLY_STRING &&
            replies[1]->len == candidate.size()) {
            day_key shared{};
            std::memcpy(shared.data(), replies[1]->str, shared.size());
            keys->set(site, d, shared);
            local.erase({site, d});
        } else if (!have) {
            keys->set(site, d, candidate);
            local.insert({site, d});
            local_keys.fetch_add(1, std::memory_order_relaxed);
        }
    }

    void fold_old_days(redis::session& s, std::int64_t n) {
        if (!s.connected()) {
            return;
        }
        // Any site's "two days ago" is at most the UTC day before yesterday plus one.
        const day_number latest = static_cast<day_number>(n / 86400) - 1;
        auto r = s.command({"ZRANGE", detail::unfolded_key(prefix), "-inf",
                            std::to_string(latest), "BYSCORE", "LIMIT", "0", "16"});
        if (!r || (*r)->type != REDIS_REPLY_ARRAY) {
            return;
        }
        std::vector<std::string> members;
        for (std::size_t i = 0; i < (*r)->elements; ++i) {
            const redisReply* e = (*r)->element[i];
            if (e->type == REDIS_REPLY_STRING) {
                members.emplace_back(e->str, e->len);
            }
        }
        for (const auto& m : members) {
            const auto day = parse_day(std::string_view{m}.substr(0, 10));
            const std::string name = m.size() > 11 ? m.substr(11) : std::string{};
            const auto it = std::find_if(sites.begin(), sites.end(),
                                         [&](const site_plan& p) { return p.name == name; });
            if (!day || it == sites.end()) {
                s.command({"ZREM", detail::unfolded_key(prefix), m});  // not ours to fold
                continue;
            }
            if (*day > it->calendar.at(n).day - 2) {
                continue;  // this site's day is not two days old yet
            }
            if (!fold_day(s, *it, *day, n)) {
                return;
            }
            s.command({"ZREM", detail::unfolded_key(prefix), m});
            folded.fetch_add(1, std::memory_order_relaxed);
        }
    }

    // Turns one site-day's HyperLogLogs into numbers and deletes them: the site's figures go
    // to the `:f` hash, each breakdown becomes one string `:r:DIM` of "count visitors length
    // value" lines (one GET for a report instead of two hashes per day), and its `:d:DIM` hash goes.
    bool fold_day(redis::session& s, const site_plan& site, day_number day, std::int64_t n) {
        const std::string base = detail::day_base(prefix, site.name, day);
        std::string error;
        auto done = s.command({"HEXISTS", base + ":f", "folded"});
        if (!done) {
            return false;
        }
        if (integer_of(done->get()).value_or(0) == 1) {
            return true;
        }
        detail::command_list listing;
        for (const auto d : breakdowns) {
            listing.add({"HGETALL", base + ":d:" + std::string{name_of(d)}});
        }
        const auto lists = s.pipeline(listing.views, s.deadline(), error);
        if (lists.size() < listing.views.size()) {
            return false;
        }
        struct row {
            std::string key;  // its HyperLogLog
            std::string value;
            std::string count;
            long long visitors = 0;
        };
        std::vector<std::string> site_hlls{base + ":u"};
        for (unsigned h = 0; h < 24; ++h) {
            site_hlls.push_back(base + ":uh:" + detail::two_digits(h));
        }
        std::vector<std::vector<row>> rows(breakdowns.size());
        detail::command_list pf;
        for (const auto& k : site_hlls) {
            pf.add({"PFCOUNT", k});
        }
        for (std::size_t d = 0; d < breakdowns.size(); ++d) {
            const redisReply* l = lists[d].get();
            if (l->type != REDIS_REPLY_ARRAY) {
                continue;
            }
            const std::string dim{name_of(breakdowns[d])};
            for (std::size_t i = 0; i + 1 < l->elements; i += 2) {
                const redisReply* k = l->element[i];
                const redisReply* v = l->element[i + 1];
                if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
                    continue;
                }
                row r{base + ":u:" + dim + ":" + std::string(k->str, k->len),
                      std::string(k->str, k->len), std::string(v->str, v->len), 0};
                pf.add({"PFCOUNT", r.key});
                rows[d].push_back(std::move(r));
            }
        }
        // PFCOUNT of every HyperLogLog, in pipelines of at most 1,000.
        std::vector<long long> counts;
        for (std::size_t from = 0; from < pf.owned.size(); from += 1000) {
            const std::size_t to = std::min(pf.owned.size(), from + 1000);
            const std::vector<redis::redis_command> part(
                pf.views.begin() + static_cast<std::ptrdiff_t>(from),
                pf.views.begin() + static_cast<std::ptrdiff_t>(to));
            const auto got = s.pipeline(part, s.deadline(), error);
            if (got.size() < part.size()) {
                return false;
            }
            for (const auto& g : got) {
                counts.push_back(integer_of(g.get()).value_or(0));
            }
        }
        std::vector<std::string> hset{"HSET", base + ":f", "folded", "1", "k",
                                      std::to_string(site.k)};
        for (std::size_t i = 0; i < site_hlls.size(); ++i) {
            if (counts[i] > 0) {
                hset.push_back(i == 0 ? std::string{"u"} : "uh:" + detail::two_digits(
                                                                        static_cast<unsigned>(i - 1)));
                hset.push_back(std::to_string(counts[i]));
            }
        }
        std::size_t next = site_hlls.size();
        std::vector<std::string> tables;
        for (std::size_t d = 0; d < breakdowns.size(); ++d) {
            std::string blob;
            std::vector<std::string> union_cmd{"PFCOUNT"};
            for (auto& r : rows[d]) {
                r.visitors = counts[next++];
                // "COUNT VISITORS LENGTH VALUE\n": the length, because a decoded campaign name
                // may hold any byte.
                blob.append(r.count).append(" ").append(std::to_string(r.visitors)).append(" ");
                blob.append(std::to_string(r.value.size())).append(" ").append(r.value).append("\n");
                if (r.visitors < static_cast<long long>(site.k)) {
                    union_cmd.push_back(r.key);
                }
            }
            tables.push_back(std::move(blob));
            // The union of the rows under k: how many visitors "(other)" had that day.
            if (union_cmd.size() > 1) {
                detail::command_list one;
                one.add(std::move(union_cmd));
                const auto got = s.pipeline(one.views, s.deadline(), error);
                if (got.empty()) {
                    return false;
                }
                hset.push_back("other:" + std::string{name_of(breakdowns[d])});
                hset.push_back(std::to_string(integer_of(got[0].get()).value_or(0)));
            }
        }
        const std::string ttl = seconds_until(
            site.calendar.start_of(day) +
                (static_cast<std::int64_t>(site.retention_days) + 1) * 86400,
            n);
        detail::command_list tx;
        tx.add({"MULTI"});
        tx.add(std::move(hset));
        tx.add({"EXPIRE", base + ":f", ttl});
        std::vector<std::string> gone = site_hlls;
        for (std::size_t d = 0; d < breakdowns.size(); ++d) {
            const std::string dim{name_of(breakdowns[d])};
            if (!tables[d].empty()) {
                tx.add({"SET", base + ":r:" + dim, tables[d], "EX", ttl});
            }
            gone.push_back(base + ":d:" + dim);
            for (const auto& r : rows[d]) {
                gone.push_back(r.key);
            }
        }
        for (std::size_t from = 0; from < gone.size(); from += 1000) {
            std::vector<std::string> del{"UNLINK"};
            del.insert(del.end(), gone.begin() + static_cast<std::ptrdiff_t>(from),
                       gone.begin() + static_cast<std::ptrdiff_t>(std::min(gone.size(), from + 1000)));
            tx.add(std::move(del));
        }
        tx.add({"EXEC"});
        const auto got = s.pipeline(tx.views, s.deadline(), error);
        return got.size() == tx.views.size() && got.back()->type == REDIS_REPLY_ARRAY;
    }

    const std::string prefix;
    const std::vector<site_plan> sites;
    const std::shared_ptr<day_keys> keys;
    const recorder_options options;

    mutable std::mutex mutex;
    aggregator incoming;  // guarded by mutex

    // the worker thread's own
    std::deque<chunk> inflight;
    std::set<std::pair<std::uint32_t, day_number>> local;  // day keys made here
    std::vector<day_number> deleted_key_day = std::vector<day_number>(sites.size(), 0);
    std::string sha;
    clock::time_point next_tick{};
    clock::time_point next_fold{};

    std::atomic<bool> up{false};
    std::atomic<std::uint64_t> written{0};
    std::atomic<std::uint64_t> failures{0};
    std::atomic<std::uint64_t> pending{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> folded{0};
    std::atomic<std::uint64_t> local_keys{0};
    std::atomic<std::uint64_t> unshared{0};

    redis::worker<int> worker;  // last: its thread stops before the members above go
};

recorder::recorder(redis::redis_config redis, std::vector<site_plan> sites,
                   std::shared_ptr<day_keys> keys, recorder_options options)
    : impl_(std::make_unique<impl>(std::move(redis), std::move(sites), std::move(keys),
                                   options)) {}

recorder::~recorder() {
    stop();
}

void recorder::start() {
    impl_->worker.start();
}

void recorder::stop() {
    nudge();
    impl_->worker.stop();
}

void recorder::submit(flush_batch&& batch) {
    if (batch.empty()) {
        return;
    }
    {
        const std::lock_guard lock{impl_->mutex};
        impl_->incoming.merge(std::move(batch));
    }
}

void recorder::nudge() {
    int wake = 0;
    impl_->worker.submit(wake);
}

recorder_status recorder::status() const {
    recorder_status s;
    s.redis_up = impl_->worker.status().up;
    s.batches_written = impl_->written.load(std::memory_order_relaxed);
    s.write_failures = impl_->failures.load(std::memory_order_relaxed);
    {
        const std::lock_guard lock{impl_->mutex};
        s.dropped = impl_->dropped.load(std::memory_order_relaxed) + impl_->incoming.dropped();
        s.pending_counters =
            impl_->pending.load(std::memory_order_relaxed) + impl_->incoming.keys();
    }
    s.folded_days = impl_->folded.load(std::memory_order_relaxed);
    s.local_keys = impl_->local_keys.load(std::memory_order_relaxed);
    s.unshared_keys = impl_->unshared.load(std::memory_order_relaxed);
    return s;
}

const std::vector<site_plan>& recorder::sites() const noexcept {
    return impl_->sites;
}

}  // namespace cg::analytics
