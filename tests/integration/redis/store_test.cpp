#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "consent/revocations.hpp"
#include "consent/store.hpp"
#include "support/eventually.hpp"
#include "support/read_file.hpp"
#include "support/redis_server.hpp"
#include "support/tls.hpp"
#include "support/temp_dir.hpp"

namespace cg::consent {
namespace {

using namespace std::chrono_literals;
using cg::test::read_file;
using cg::test::redis_server;
using cg::test::redis_value;
using steady = std::chrono::steady_clock;

constexpr std::chrono::seconds retention{30LL * 24 * 3600};
constexpr std::int64_t retention_ms = 30LL * 24 * 3600 * 1000;
constexpr auto deadline = 15s;

std::uint16_t free_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a{ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}};
    return a.local_endpoint().port();
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

decision_event event(std::string consent_id, decision_kind kind = decision_kind::accept_all,
                     std::int64_t time_ms = now_ms(), std::string site = "shop.example") {
    decision_event e;
    e.event_id = new_event_id();
    e.consent_id = std::move(consent_id);
    e.site = std::move(site);
    e.time_ms = time_ms;
    e.granted =
        kind == decision_kind::accept_all ? category_set::all() : category_set{category::necessary};
    e.policy_version = "3";
    e.banner_hash = std::string(64, 'b');
    e.kind = kind;
    e.lang = language::nb;
    return e;
}

redis_config config_for(const std::filesystem::path& socket) {
    redis_config c;
    c.socket = socket.string();
    c.connect_timeout = 500ms;
    c.command_timeout = 2000ms;
    return c;
}

/// Polls `done` until it holds or the deadline passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds within = deadline) {
    return cg::test::eventually(done, within, 20ms);
}

/// Starts an asynchronous call and waits (bounded) for the value its callback gets.
template <class T>
std::optional<T> await_callback(const std::function<void(std::function<void(T)>)>& start) {
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    start([promise](T value) { promise->set_value(std::move(value)); });
    if (future.wait_for(deadline) != std::future_status::ready) {
        return std::nullopt;
    }
    return future.get();
}

std::optional<record_outcome> record(store& s, const decision_event& e) {
    return await_callback<record_outcome>(
        [&](std::function<void(record_outcome)> done) { s.record(e, retention, done); });
}

std::optional<std::optional<consent_history>> history(store& s, const std::string& consent_id,
                                                      const std::string& site = "shop.example") {
    return await_callback<std::optional<consent_history>>(
        [&](std::function<void(std::optional<consent_history>)> done) {
            s.history(site, consent_id, done);
        });
}

std::optional<bool> erase(store& s, const std::string& consent_id) {
    return await_callback<bool>(
        [&](std::function<void(bool)> done) {
            s.erase("shop.example", consent_id, std::chrono::days{365}, done);
        });
}

using count_map = std::map<std::string, std::uint64_t>;
std::optional<std::optional<count_map>> counts(store& s, const std::string& site) {
    return await_callback<std::optional<count_map>>(
        [&](std::function<void(std::optional<count_map>)> done) { s.counts(site, done); });
}

std::size_t line_count(const std::filesystem::path& p) {
    const auto text = read_file(p);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

/// A hash or stream entry's field/value pairs as a map.
std::map<std::string, std::string> as_map(const redis_value& v) {
    std::map<std::string, std::string> m;
    for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
        m[v.elements[i].text] = v.elements[i + 1].text;
    }
    return m;
}

/// The event_id field of every entry of a stream, in stream order.
std::vector<std::string> stream_event_ids(const redis_server& redis, const std::string& key) {
    std::vector<std::string> ids;
    const auto entries = redis.command({"XRANGE", key, "-", "+"});
    for (const auto& entry : entries.elements) {
        ids.push_back(as_map(entry.elements.at(1))["event_id"]);
    }
    return ids;
}

long long xlen(const redis_server& redis, const std::string& key = "cg:{c:shop.example}:audit") {
    return redis.command({"XLEN", key}).integer;
}

class Store : public ::testing::Test {
  protected:
    journal_config journal(std::uint64_t max_bytes = 256ULL * 1024 * 1024) const {
        return {dir_ / "journal.jsonl", max_bytes};
    }
    std::filesystem::path journal_path() const { return dir_ / "journal.jsonl"; }

    cg::test::temp_dir dir_{"cg-store"};
};

TEST_F(Store, RecordedEventLandsInHashStreamAndCountsWithRetention) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    const auto e = event("Consent0000000000000001");

    EXPECT_EQ(record(s, e), record_outcome::stored);

    const std::string hash = "cg:{c:shop.example}:consent:Consent0000000000000001";
    auto fields = as_map(redis.command({"HGETALL", hash}));
    EXPECT_EQ(fields["consent_id"], "Consent0000000000000001");
    EXPECT_EQ(fields["site"], "shop.example");
    EXPECT_EQ(fields["categories"], "necessary,preferences,analytics,marketing");
    EXPECT_EQ(fields["policy_version"], "3");
    EXPECT_EQ(fields["method"], "accept-all");
    EXPECT_EQ(fields["language"], "nb");
    EXPECT_EQ(fields["banner_hash"], std::string(64, 'b'));
    EXPECT_EQ(fields["time_ms"], std::to_string(e.time_ms));
    EXPECT_EQ(fields["last_event"], e.event_id);
    const auto stream = redis.command({"XRANGE", "cg:{c:shop.example}:audit", "-", "+"});
    ASSERT_EQ(stream.elements.size(), 1U);
    // The first decision is kept in the hash: "<time ms> <audit stream id> <event json>".
    EXPECT_EQ(fields["first"], std::to_string(e.time_ms) + " " +
                                   stream.elements[0].elements[0].text + " " + to_json(e));
    EXPECT_EQ(redis.command({"EXISTS", "cg:{c:shop.example}:history:Consent0000000000000001"}).integer,
              0);
    auto entry = as_map(stream.elements[0].elements[1]);
    EXPECT_EQ(entry["event_id"], e.event_id);
    EXPECT_EQ(entry["consent_id"], "Consent0000000000000001");
    EXPECT_EQ(entry["method"], "accept-all");
    EXPECT_EQ(entry["time_ms"], std::to_string(e.time_ms));
    EXPECT_EQ(entry["gpc"], "0");

    EXPECT_EQ(redis.command({"HGET", "cg:{c:shop.example}:counts", "accept-all"}).text, "1");

    for (const auto& key : {"cg:{c:shop.example}:event:" + e.event_id, hash,
                            std::string{"cg:{c:shop.example}:audit"},
                            std::string{"cg:{c:shop.example}:counts"}}) {
        const auto pttl = redis.command({"PTTL", key}).integer;
        EXPECT_GT(pttl, retention_ms - 60'000) << key;
        EXPECT_LE(pttl, retention_ms) << key;
        const auto ttl = redis.command({"TTL", key}).integer;
        EXPECT_NEAR(static_cast<double>(ttl), static_cast<double>(retention.count()), 60.0) << key;
    }
    const auto st = s.status();
    EXPECT_TRUE(st.redis_up);
    EXPECT_EQ(st.stored, 1U);
    EXPECT_EQ(st.journal_events, 0U);
    EXPECT_EQ(st.last_error, "");
    EXPECT_FALSE(st.redis_slow);
    EXPECT_FALSE(st.refusing);
}

TEST_F(Store, SameEventIdTwiceIsStoredOnce) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    const auto e = event("Consent0000000000000002");

    EXPECT_EQ(record(s, e), record_outcome::stored);
    EXPECT_EQ(record(s, e), record_outcome::stored);

    EXPECT_EQ(xlen(redis), 1);
    EXPECT_EQ(redis.command({"HGET", "cg:{c:shop.example}:counts", "accept-all"}).text, "1");
    const auto h = history(s, "Consent0000000000000002");
    ASSERT_TRUE(h && *h);
    EXPECT_EQ((*h)->events.size(), 1U);
}

TEST_F(Store, JournalsWhileRedisIsAbsentAndReplaysWhenItStarts) {
    cg::test::temp_dir redis_dir{"cg-redis"};
    store s{config_for(redis_dir / "redis.sock"), journal()};
    s.start();
    constexpr std::size_t n = 25;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < n; ++i) {
        const auto e = event("Consent0000000000000003");
        ids.push_back(e.event_id);
        EXPECT_EQ(record(s, e), record_outcome::journaled);
    }
    EXPECT_EQ(line_count(journal_path()), n);
    auto st = s.status();
    EXPECT_FALSE(st.redis_up);
    EXPECT_EQ(st.journal_events, n);
    EXPECT_EQ(st.journaled, n);
    EXPECT_NE(st.last_error.find("cannot connect"), std::string::npos) << st.last_error;

    redis_server redis{{.dir = redis_dir.path()}};

    EXPECT_TRUE(eventually([&] { return s.status().journal_events == 0; }));
    EXPECT_EQ(xlen(redis), static_cast<long long>(n));
    auto stored = stream_event_ids(redis, "cg:{c:shop.example}:audit");
    std::sort(stored.begin(), stored.end());
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(stored, ids);
    EXPECT_EQ(std::filesystem::file_size(journal_path()), 0U);
    st = s.status();
    EXPECT_TRUE(st.redis_up);
    EXPECT_EQ(st.replayed, n);
    EXPECT_EQ(st.journal_bytes, 0U);
}

TEST_F(Store, KillNineOfRedisMidwayLosesNoEvent) {
    redis_server redis{{.append_only = true, .fsync_always = true, .dir = {}}};
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    constexpr int total = 1000;
    std::vector<decision_event> events;
    for (int i = 0; i < total; ++i) {
        events.push_back(event("Consent" + std::to_string(1'000'000'000'000'000 + i)));
    }
    std::mutex m;
    std::condition_variable cv;
    int done = 0;
    std::atomic<int> failed{0};
    std::atomic<int> stored{0};
    std::atomic<int> journaled{0};
    std::thread producer([&] {
        for (int i = 0; i < total; ++i) {
            s.record(events[static_cast<std::size_t>(i)], retention, [&](record_outcome o) {
                if (o == record_outcome::failed) {
                    ++failed;
                } else if (o == record_outcome::stored) {
                    ++stored;
                } else {
                    ++journaled;
                }
                const std::lock_guard lock{m};
                ++done;
                cv.notify_all();
            });
            if (i % 5 == 4) {
                std::this_thread::sleep_for(1ms);
            }
        }
    });
    {
        std::unique_lock lock{m};
        EXPECT_TRUE(cv.wait_for(lock, deadline, [&] { return done >= 300; }));
    }
    redis.kill_hard();
    producer.join();
    {
        std::unique_lock lock{m};
        EXPECT_TRUE(cv.wait_for(lock, deadline, [&] { return done == total; }));
    }
    EXPECT_EQ(failed, 0);
    EXPECT_GT(journaled, 0) << "the kill came after the last record";
    EXPECT_GE(stored, 300);

    redis.restart();

    EXPECT_TRUE(eventually([&] { return s.status().journal_events == 0; }));
    EXPECT_EQ(xlen(redis), total);
    auto ids = stream_event_ids(redis, "cg:{c:shop.example}:audit");
    std::sort(ids.begin(), ids.end());
    std::vector<std::string> expected;
    for (const auto& e : events) {
        expected.push_back(e.event_id);
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(ids, expected);  // every event once, none twice
    EXPECT_EQ(redis.command({"HGET", "cg:{c:shop.example}:counts", "accept-all"}).text,
              std::to_string(total));
    EXPECT_EQ(s.status().failed, 0U);
}

TEST_F(Store, NewStoreReplaysTheJournalADestroyedStoreLeft) {
    cg::test::temp_dir redis_dir{"cg-redis"};
    std::vector<record_outcome> outcomes;
    {
        store s{config_for(redis_dir / "redis.sock"), journal()};
        s.start();
        for (int i = 0; i < 10; ++i) {
            // Not awaited: the destructor must journal whatever is still queued.
            s.record(event("Consent0000000000000005"), retention,
                     [&](record_outcome o) { outcomes.push_back(o); });
        }
    }
    EXPECT_EQ(outcomes, std::vector<record_outcome>(10, record_outcome::journaled));
    EXPECT_EQ(line_count(journal_path()), 10U);

    redis_server redis{{.dir = redis_dir.path()}};
    store next{config_for(redis.socket_path()), journal()};
    EXPECT_EQ(next.status().journal_events, 10U);
    next.start();

    EXPECT_TRUE(eventually([&] { return next.status().journal_events == 0; }));
    EXPECT_EQ(xlen(redis), 10);
    EXPECT_EQ(std::filesystem::file_size(journal_path()), 0U);
    EXPECT_EQ(next.status().replayed, 10U);
}

TEST_F(Store, StopBeforeStartJournalsQueuedEvents) {
    cg::test::temp_dir redis_dir{"cg-redis"};
    std::optional<record_outcome> outcome;
    {
        store s{config_for(redis_dir / "redis.sock"), journal()};
        s.record(event("Consent0000000000000006"), retention,
                 [&](record_outcome o) { outcome = o; });
    }
    EXPECT_EQ(outcome, record_outcome::journaled);
    EXPECT_EQ(line_count(journal_path()), 1U);
}

TEST_F(Store, FullJournalFailsWithAClearError) {
    cg::test::temp_dir redis_dir{"cg-redis"};
    store s{config_for(redis_dir / "redis.sock"), journal(1500)};
    s.start();
    int journaled = 0;
    int failed = 0;
    for (int i = 0; i < 10; ++i) {
        const auto o = record(s, event("Consent0000000000000007"));
        ASSERT_TRUE(o);
        (*o == record_outcome::failed ? failed : journaled) += 1;
        EXPECT_NE(*o, record_outcome::stored);
    }
    EXPECT_GE(journaled, 1);
    EXPECT_GE(failed, 1);
    EXPECT_LE(std::filesystem::file_size(journal_path()), 1500U);
    const auto st = s.status();
    EXPECT_EQ(st.failed, static_cast<std::uint64_t>(failed));
    EXPECT_EQ(st.last_error,
              "journal full (1500 bytes): consent events cannot be recorded until Redis is back");
    EXPECT_TRUE(st.refusing);
}

TEST_F(Store, RefusingLastsUntilRecordsAreTakenAgain) {
    cg::test::temp_dir redis_dir{"cg-redis"};
    store s{config_for(redis_dir / "redis.sock"), journal(1500)};
    s.start();
    EXPECT_FALSE(s.status().refusing);
    for (int i = 0; i < 10; ++i) {
        record(s, event("Consent0000000000000027"));
    }
    ASSERT_TRUE(s.status().refusing);
    // An invalid event is the caller's fault, not a loss of capacity: no change.
    auto invalid = event("Consent0000000000000027");
    invalid.event_id = "not an id";
    EXPECT_EQ(record(s, invalid), record_outcome::failed);
    EXPECT_TRUE(s.status().refusing);

    redis_server redis{{.dir = redis_dir.path()}};

    EXPECT_TRUE(eventually([&] { return !s.status().refusing; }));
    EXPECT_EQ(record(s, event("Consent0000000000000027")), record_outcome::stored);
    EXPECT_FALSE(s.status().refusing);
}

TEST_F(Store, DamagedLastJournalLineIsSkipped) {
    {
        std::ofstream out{journal_path(), std::ios::binary};
        for (int i = 0; i < 3; ++i) {
            out << retention.count() << ' ' << to_json(event("Consent0000000000000008")) << '\n';
        }
        out << retention.count() << R"( {"event_id":"0123456789ab)";  // cut short by a crash
    }
    cg::test::temp_dir redis_dir{"cg-redis"};
    {
        store s{config_for(redis_dir / "redis.sock"), journal()};
        const auto st = s.status();
        EXPECT_EQ(st.damaged, 1U);
        EXPECT_EQ(st.journal_events, 3U);
        EXPECT_NE(st.last_error.find("skipped 1 damaged line"), std::string::npos) << st.last_error;
        s.start();
        // Appended after the damaged line, not glued to it.
        EXPECT_EQ(record(s, event("Consent0000000000000008")), record_outcome::journaled);
    }

    redis_server redis{{.dir = redis_dir.path()}};
    store s{config_for(redis.socket_path()), journal()};
    EXPECT_EQ(s.status().damaged, 1U);
    EXPECT_EQ(s.status().journal_events, 4U);
    s.start();

    EXPECT_TRUE(eventually([&] { return s.status().journal_events == 0; }));
    EXPECT_EQ(xlen(redis), 4);
    EXPECT_EQ(std::filesystem::file_size(journal_path()), 0U);
}

TEST_F(Store, HistoryIsOldestFirstAndIncludesJournaledEvents) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    const auto t = now_ms();
    const auto first = event("Consent0000000000000009", decision_kind::accept_all, t - 3000);
    const auto last = event("Consent0000000000000009", decision_kind::withdraw, t - 1000);
    const auto middle = event("Consent0000000000000009", decision_kind::custom, t - 2000);
    const auto other = event("Consent0000000000000010", decision_kind::custom, t - 2000);
    EXPECT_EQ(record(s, first), record_outcome::stored);
    EXPECT_EQ(record(s, last), record_outcome::stored);
    EXPECT_EQ(record(s, other), record_outcome::stored);
    // A key of the wrong type makes the script refuse the site's events: they stay in the
    // journal while Redis is up.
    redis.command({"SET", "cg:{c:shop.example}:audit", "not a stream"});
    EXPECT_EQ(record(s, middle), record_outcome::journaled);
    EXPECT_NE(s.status().last_error.find("WRONGTYPE"), std::string::npos);

    const auto h = history(s, "Consent0000000000000009");
    ASSERT_TRUE(h && *h);
    std::vector<std::string> order;
    for (const auto& e : (*h)->events) {
        order.push_back(e.event_id);
    }
    EXPECT_EQ(order, (std::vector<std::string>{first.event_id, middle.event_id, last.event_id}));
    EXPECT_EQ((*h)->events[1].kind, decision_kind::custom);
    // The latest state is the newest event, not the last one stored.
    EXPECT_EQ(
        redis.command({"HGET", "cg:{c:shop.example}:consent:Consent0000000000000009", "method"}).text,
        "withdraw");

    redis.command({"DEL", "cg:{c:shop.example}:audit"});
    EXPECT_TRUE(eventually([&] { return s.status().journal_events == 0; }));
    const auto again = history(s, "Consent0000000000000009");
    ASSERT_TRUE(again && *again);
    EXPECT_EQ((*again)->events.size(), 3U);
    EXPECT_EQ(
        redis.command({"HGET", "cg:{c:shop.example}:consent:Consent0000000000000009", "method"}).text,
        "withdraw");

    const auto none = history(s, "Consent0000000000000099");
    ASSERT_TRUE(none && *none);
    EXPECT_TRUE((*none)->events.empty());
}

TEST_F(Store, EraseRemovesHashStreamEntriesAndJournaledEvents) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    const std::string gone = "Consent0000000000000011";
    const std::string kept = "Consent0000000000000012";
    EXPECT_EQ(record(s, event(gone)), record_outcome::stored);
    EXPECT_EQ(record(s, event(gone, decision_kind::withdraw)), record_outcome::stored);
    EXPECT_EQ(record(s, event(kept)), record_outcome::stored);
    redis.command({"SET", "cg:{c:shop.example}:counts", "not a hash"});
    EXPECT_EQ(record(s, event(gone)), record_outcome::journaled);
    const auto kept_journaled = event(kept);
    EXPECT_EQ(record(s, kept_journaled), record_outcome::journaled);
    EXPECT_EQ(xlen(redis), 3);

    EXPECT_EQ(erase(s, gone), true);

    EXPECT_EQ(redis.command({"EXISTS", "cg:{c:shop.example}:consent:" + gone}).integer, 0);
    EXPECT_EQ(xlen(redis), 1);
    const auto journal_text = read_file(journal_path());
    EXPECT_EQ(line_count(journal_path()), 1U);
    EXPECT_EQ(journal_text.find(gone), std::string::npos);
    EXPECT_NE(journal_text.find(kept_journaled.event_id), std::string::npos);
    const auto h = history(s, gone);
    ASSERT_TRUE(h && *h);
    EXPECT_TRUE((*h)->events.empty());

    redis.command({"DEL", "cg:{c:shop.example}:counts"});
    EXPECT_TRUE(eventually([&] { return s.status().journal_events == 0; }));
    EXPECT_EQ(xlen(redis), 2);
    EXPECT_EQ(redis.command({"EXISTS", "cg:{c:shop.example}:consent:" + gone}).integer, 0);
    EXPECT_EQ(erase(s, "Consent0000000000000098"), true);  // nothing stored: still fine
}

TEST_F(Store, CountsDecisionsPerKind) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    EXPECT_EQ(record(s, event("Consent0000000000000013")), record_outcome::stored);
    EXPECT_EQ(record(s, event("Consent0000000000000014")), record_outcome::stored);
    EXPECT_EQ(record(s, event("Consent0000000000000015", decision_kind::reject_all)),
              record_outcome::stored);
    EXPECT_EQ(
        record(s, event("Consent0000000000000016", decision_kind::gpc, now_ms(), "blog.example")),
        record_outcome::stored);

    EXPECT_EQ(counts(s, "shop.example"),
              (std::optional<count_map>{count_map{{"accept-all", 2}, {"reject-all", 1}}}));
    EXPECT_EQ(counts(s, "blog.example"), (std::optional<count_map>{count_map{{"gpc", 1}}}));
    EXPECT_EQ(counts(s, "none.example"), std::optional<count_map>{count_map{}});
}

TEST_F(Store, ReadsFailWhileRedisIsDown) {
    cg::test::temp_dir redis_dir{"cg-redis"};
    store s{config_for(redis_dir / "redis.sock"), journal()};
    s.start();
    const auto h = history(s, "Consent0000000000000017");
    ASSERT_TRUE(h);
    EXPECT_FALSE(*h);
    const auto c = counts(s, "shop.example");
    ASSERT_TRUE(c);
    EXPECT_FALSE(*c);
    EXPECT_EQ(erase(s, "Consent0000000000000017"), false);
}

TEST_F(Store, RefusedTcpConnectionIsJournaled) {
    redis_config config;
    config.host = "127.0.0.1";
    config.port = 1;  // nothing listens there
    config.connect_timeout = 500ms;
    store s{config, journal()};
    s.start();

    EXPECT_EQ(record(s, event("Consent0000000000000024")), record_outcome::journaled);

    const auto st = s.status();
    EXPECT_FALSE(st.redis_up);
    EXPECT_NE(st.last_error.find("redis 127.0.0.1:1: cannot connect"), std::string::npos)
        << st.last_error;
}

TEST_F(Store, SlowBatchIsJournaledWithinCommandTimeoutThenReplayed) {
    redis_server redis;
    auto config = config_for(redis.socket_path());
    config.command_timeout = 300ms;
    store s{config, journal()};
    s.start();
    EXPECT_EQ(record(s, event("Consent0000000000000018")), record_outcome::stored);

    // Scripts wait while writes are paused: the batch cannot finish in time.
    redis.command({"CLIENT", "PAUSE", "1500", "WRITE"});
    const auto started = steady::now();
    EXPECT_EQ(record(s, event("Consent0000000000000018")), record_outcome::journaled);
    EXPECT_LT(steady::now() - started, 1000ms);
    // Issue 8: slow, not unreachable.
    const auto st = s.status();
    EXPECT_TRUE(st.redis_slow);
    EXPECT_FALSE(st.refusing);
    EXPECT_NE(st.last_error.find(": slow: no reply within 300 ms (connection open)"),
              std::string::npos)
        << st.last_error;

    EXPECT_TRUE(eventually([&] { return s.status().journal_events == 0; }));
    EXPECT_EQ(xlen(redis), 2);
    EXPECT_TRUE(eventually([&] { return !s.status().redis_slow; }));
}

TEST_F(Store, ReloadsTheScriptAfterTheCacheIsFlushed) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    EXPECT_EQ(record(s, event("Consent0000000000000019")), record_outcome::stored);
    redis.command({"SCRIPT", "FLUSH"});
    EXPECT_EQ(record(s, event("Consent0000000000000019")), record_outcome::stored);
    redis.command({"SCRIPT", "FLUSH"});
    EXPECT_EQ(erase(s, "Consent0000000000000019"), true);
    EXPECT_EQ(xlen(redis), 0);
}

TEST_F(Store, AuthenticatesWithUsernameAndSelectsTheDatabase) {
    redis_server redis;
    redis.command({"ACL", "SETUSER", "gateway", "on", ">s3cret-pass", "~*", "&*", "+@all"});
    auto config = config_for(redis.socket_path());
    config.username = "gateway";
    config.password = "s3cret-pass";
    config.database = 3;
    config.key_prefix = "test:";
    store s{config, journal()};
    s.start();

    EXPECT_EQ(record(s, event("Consent0000000000000020")), record_outcome::stored);

    const auto in_db3 =
        redis.command({"EVAL", "redis.call('SELECT', 3) return redis.call('XLEN', KEYS[1])", "1",
                       "test:{c:shop.example}:audit"});
    EXPECT_EQ(in_db3.integer, 1);
    EXPECT_EQ(xlen(redis, "test:{c:shop.example}:audit"), 0);  // not in db 0
}

TEST_F(Store, WrongPasswordIsReportedWithoutThePassword) {
    redis_server redis;
    redis.command({"ACL", "SETUSER", "gateway", "on", ">right-pass", "~*", "&*", "+@all"});
    auto config = config_for(redis.socket_path());
    config.username = "gateway";
    config.password = "wrong-pass";
    store s{config, journal()};
    s.start();

    EXPECT_EQ(record(s, event("Consent0000000000000021")), record_outcome::journaled);

    const auto error = s.status().last_error;
    EXPECT_NE(error.find("AUTH refused"), std::string::npos) << error;
    EXPECT_EQ(error.find("wrong-pass"), std::string::npos) << error;
}

TEST_F(Store, InvalidEventFailsAtOnce) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    auto bad = event("Consent:with:colons");
    EXPECT_EQ(record(s, bad), record_outcome::failed);
    auto zero_retention = event("Consent0000000000000022");
    EXPECT_EQ(await_callback<record_outcome>([&](std::function<void(record_outcome)> done) {
                  s.record(zero_retention, std::chrono::seconds{0}, done);
              }),
              record_outcome::failed);
    EXPECT_EQ(xlen(redis), 0);
    EXPECT_EQ(s.status().failed, 2U);
}

TEST_F(Store, SecondStoreOnTheSameJournalIsRefused) {
    store first{config_for(dir_ / "none.sock"), journal()};
    try {
        store second{config_for(dir_ / "none.sock"), journal()};
        FAIL() << "two stores share one journal";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string{e.what()}.find("in use by another store"), std::string::npos)
            << e.what();
    }
}

TEST_F(Store, RecordAfterStopFailsAtOnce) {
    store s{config_for(dir_ / "none.sock"), journal()};
    s.start();
    s.stop();
    EXPECT_EQ(record(s, event("Consent0000000000000023")), record_outcome::failed);
    EXPECT_EQ(s.status().last_error, "consent store stopped");
}

/// Records `events` without waiting between them (they travel in batches) and waits, bounded,
/// until every callback has run. Returns how many were stored.
std::size_t record_all(store& s, const std::vector<decision_event>& events) {
    struct state {
        std::mutex m;
        std::condition_variable cv;
        std::size_t done = 0;
        std::size_t stored = 0;
    };
    auto st = std::make_shared<state>();
    for (const auto& e : events) {
        s.record(e, retention, [st](record_outcome o) {
            const std::lock_guard lock{st->m};
            ++st->done;
            st->stored += o == record_outcome::stored ? 1 : 0;
            st->cv.notify_all();
        });
    }
    std::unique_lock lock{st->m};
    st->cv.wait_for(lock, 60s, [&] { return st->done == events.size(); });
    return st->stored;
}

/// `n` decisions on one consent id, one millisecond apart, oldest first.
std::vector<decision_event> decisions(const std::string& consent_id, std::size_t n,
                                      std::int64_t first_ms = now_ms() - 600'000) {
    std::vector<decision_event> out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(event(consent_id,
                            i % 2 == 0 ? decision_kind::accept_all : decision_kind::reject_all,
                            first_ms + static_cast<std::int64_t>(i)));
    }
    return out;
}

/// A counter of `INFO commandstats` ("cmdstat_hkeys:calls=3,..." -> 3), 0 when absent.
long long command_calls(const redis_server& redis, const std::string& command) {
    const auto info = redis.command({"INFO", "commandstats"}).text;
    const auto at = info.find("cmdstat_" + command + ":calls=");
    if (at == std::string::npos) {
        return 0;
    }
    return std::stoll(info.substr(at + command.size() + 15));
}

std::vector<std::string> event_ids(const consent_history& h) {
    std::vector<std::string> ids;
    for (const auto& e : h.events) {
        ids.push_back(e.event_id);
    }
    return ids;
}

TEST_F(Store, HistoryKeepsTheFirstAndTheLatestAndCountsWhatWasFolded) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    const std::string id = "Consent0000000000000030";
    const auto all = decisions(id, history_cap + 50);
    ASSERT_EQ(record_all(s, all), all.size());

    const auto h = history(s, id);

    ASSERT_TRUE(h && *h);
    std::vector<std::string> expected{all.front().event_id};
    for (std::size_t i = all.size() - history_cap; i < all.size(); ++i) {
        expected.push_back(all[i].event_id);
    }
    EXPECT_EQ(event_ids(**h), expected);
    EXPECT_EQ((*h)->folded, 49U);
    // Nothing unreachable remains: every audit entry belongs to a kept event.
    EXPECT_EQ(xlen(redis), static_cast<long long>(history_cap + 1));
    EXPECT_EQ(redis.command({"LLEN", "cg:{c:shop.example}:history:" + id}).integer,
              static_cast<long long>(history_cap));
    EXPECT_EQ(counts(s, "shop.example"),
              (std::optional<count_map>{count_map{{"accept-all", 75}, {"reject-all", 75}}}));
    // The latest state is the last decision.
    EXPECT_EQ(redis.command({"HGET", "cg:{c:shop.example}:consent:" + id, "last_event"}).text,
              all.back().event_id);
}

TEST_F(Store, ADecisionDoesNotScanTheHistoryOfItsConsentId) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    const std::string id = "Consent0000000000000031";
    ASSERT_EQ(record_all(s, decisions(id, 300)), 300U);
    redis.command({"CONFIG", "RESETSTAT"});

    ASSERT_EQ(record_all(s, decisions(id, 20, now_ms())), 20U);

    // Issue 8 item 1: no command whose cost grows with the history, and a record whose size
    // does not grow with it either.
    for (const auto* scan : {"hkeys", "hgetall", "hvals", "lrange", "xrange", "scan"}) {
        EXPECT_EQ(command_calls(redis, scan), 0) << scan;
    }
    EXPECT_LE(redis.command({"HLEN", "cg:{c:shop.example}:consent:" + id}).integer, 16);
    EXPECT_EQ(redis.command({"LLEN", "cg:{c:shop.example}:history:" + id}).integer,
              static_cast<long long>(history_cap));
}

TEST_F(Store, RetentionPrunesTheHistoryAndItsAuditEntries) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    const std::string id = "Consent0000000000000032";
    const auto expired = now_ms() - retention_ms - 3'600'000;
    ASSERT_EQ(record_all(s, decisions(id, 10, expired)), 10U);

    const auto fresh = decisions(id, 10, now_ms());
    ASSERT_EQ(record_all(s, fresh), 10U);

    const auto h = history(s, id);
    ASSERT_TRUE(h && *h);
    std::vector<std::string> expected;
    for (const auto& e : fresh) {
        expected.push_back(e.event_id);
    }
    EXPECT_EQ(event_ids(**h), expected);
    EXPECT_EQ((*h)->folded, 0U);
    EXPECT_EQ(xlen(redis), 10);
}

TEST_F(Store, EraseRemovesAFoldedHistoryWithItsAuditEntriesAndRevokesTheId) {
    redis_server redis;
    auto revoked = std::make_shared<revocations>();
    store s{config_for(redis.socket_path()), journal(), revoked};
    s.start();
    const std::string gone = "Consent0000000000000033";
    const std::string kept = "Consent0000000000000034";
    ASSERT_EQ(record_all(s, decisions(gone, history_cap + 20)), history_cap + 20);
    EXPECT_EQ(record(s, event(kept)), record_outcome::stored);

    const auto erased = await_callback<bool>([&](std::function<void(bool)> done) {
        s.erase("shop.example", gone, std::chrono::hours{1}, done);
    });

    EXPECT_EQ(erased, true);
    EXPECT_TRUE(revoked->revoked(gone));  // at once, before any poll
    EXPECT_FALSE(revoked->revoked(kept));
    EXPECT_EQ(redis.command({"EXISTS", "cg:{c:shop.example}:consent:" + gone}).integer, 0);
    EXPECT_EQ(redis.command({"EXISTS", "cg:{c:shop.example}:history:" + gone}).integer, 0);
    EXPECT_EQ(stream_event_ids(redis, "cg:{c:shop.example}:audit"),
              std::vector<std::string>{(*history(s, kept))->events.at(0).event_id});
    const auto entries = redis.command({"XRANGE", "cg:revoked", "-", "+"});
    ASSERT_EQ(entries.elements.size(), 1U);
    auto entry = as_map(entries.elements[0].elements.at(1));
    EXPECT_EQ(entry["consent_id"], gone);
    EXPECT_EQ(entry["site"], "shop.example");
    EXPECT_NEAR(std::stod(entry["until"]), static_cast<double>(now_ms() / 1000 + 3600), 10.0);
}

// Redis Cluster readiness (issue 11): every key a decision, a history or an erasure writes for a
// site carries the site's hash tag, so each script touches one slot; only the global
// revocation stream, written by a command of its own, is elsewhere.
TEST_F(Store, EveryKeyOfASitesRecordsSharesOneHashTag) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    const std::string busy = "Consent0000000000000036";
    const std::string gone = "Consent0000000000000037";
    ASSERT_EQ(record_all(s, decisions(busy, history_cap + 5)), history_cap + 5);
    EXPECT_EQ(record(s, event(gone)), record_outcome::stored);
    EXPECT_EQ(erase(s, gone), true);

    const auto keys = redis.command({"KEYS", "*"});
    std::set<std::string> kinds;
    for (const auto& k : keys.elements) {
        const std::string& key = k.text;
        if (key == "cg:revoked") {
            continue;
        }
        const auto open = key.find('{');
        const auto close = key.find('}', open);
        ASSERT_NE(open, std::string::npos) << key;
        ASSERT_NE(close, std::string::npos) << key;
        EXPECT_EQ(key.substr(open + 1, close - open - 1), "c:shop.example") << key;
        const auto kind = key.substr(close + 2);
        kinds.insert(kind.substr(0, kind.find(':')));
    }
    EXPECT_EQ(kinds, (std::set<std::string>{"audit", "consent", "counts", "event", "history"}));
    EXPECT_EQ(redis.command({"XLEN", "cg:revoked"}).integer, 1);
}

TEST_F(Store, OtherStoresLearnOfAnErasureFromRedis) {
    redis_server redis;
    const auto until = std::to_string(now_ms() / 1000 + 3600);
    // A backlog larger than one poll's chunk, and one revocation whose cookies have expired.
    redis.command({"EVAL",
                   "for i = 1, tonumber(ARGV[1]) do redis.call('XADD', KEYS[1], '*', "
                   "'consent_id', 'Seeded' .. i, 'site', 'shop.example', 'until', ARGV[2]) end",
                   "1", "cg:revoked", "2500", until});
    redis.command({"XADD", "cg:revoked", "*", "consent_id", "Consent0000000000000035", "site",
                   "shop.example", "until", "1000"});
    auto mine = std::make_shared<revocations>();
    auto theirs = std::make_shared<revocations>();
    store a{config_for(redis.socket_path()), {dir_ / "a.jsonl", 1 << 20}, mine};
    store b{config_for(redis.socket_path()), {dir_ / "b.jsonl", 1 << 20}, theirs};
    a.start();
    b.start();
    EXPECT_TRUE(eventually([&] { return theirs->size() == 2500; }));
    EXPECT_TRUE(theirs->revoked("Seeded1"));
    EXPECT_TRUE(theirs->revoked("Seeded2500"));
    EXPECT_FALSE(theirs->revoked("Consent0000000000000035"));

    const std::string gone = "Consent0000000000000036";
    EXPECT_EQ(record(a, event(gone)), record_outcome::stored);
    EXPECT_EQ(await_callback<bool>([&](std::function<void(bool)> done) {
                  a.erase("shop.example", gone, std::chrono::hours{1}, done);
              }),
              true);

    EXPECT_TRUE(mine->revoked(gone));
    EXPECT_TRUE(eventually([&] { return theirs->revoked(gone); }, 5s));
}

TEST_F(Store, HistoryAnswersWhileALongRunOfDecisionsIsQueued) {
    redis_server redis;
    store s{config_for(redis.socket_path()), journal()};
    s.start();
    const std::string id = "Consent0000000000000037";
    ASSERT_EQ(record_all(s, decisions(id, 3)), 3U);
    ASSERT_TRUE(history(s, id));  // both connections are up

    constexpr std::size_t queued = 30'000;
    auto done = std::make_shared<std::atomic<std::size_t>>(0);
    for (std::size_t i = 0; i < queued; ++i) {
        s.record(event("Consent1" + std::string(14, '0') + std::to_string(1'000'000 + i)),
                 retention, [done](record_outcome) { done->fetch_add(1); });
    }
    std::atomic<std::size_t> done_when_answered{queued + 1};
    const auto h = await_callback<std::optional<consent_history>>(
        [&](std::function<void(std::optional<consent_history>)> cb) {
            s.history("shop.example", id, [&, cb](std::optional<consent_history> v) {
                done_when_answered = done->load();
                cb(std::move(v));
            });
        });

    ASSERT_TRUE(h && *h);
    EXPECT_EQ((*h)->events.size(), 3U);
    // Issue 8 item 6: the read did not wait for the queue of records to drain.
    EXPECT_LT(done_when_answered.load(), queued);
    EXPECT_TRUE(eventually([&] { return done->load() == queued; }, 60s));
}

// A redis-server with a TLS port and a certificate for "redis.test" from a test CA (its
// Unix socket stays plain, for the test's look-ups), and a store configuration that reaches
// it over TLS. `client_certificates`: Redis asks for one (tls-auth-clients yes).
struct tls_redis {
    explicit tls_redis(bool client_certificates) {
        const auto [cert, key] = ca.issue("redis", {"redis.test"});
        const auto port = free_port();
        redis_server::options o;
        o.extra_args = {"--tls-port",         std::to_string(port),
                        "--tls-cert-file",    cert.string(),
                        "--tls-key-file",     key.string(),
                        "--tls-ca-cert-file", ca.ca_file().string(),
                        "--tls-auth-clients", client_certificates ? "yes" : "no"};
        redis.emplace(o);
        config.host = "127.0.0.1";
        config.port = port;
        config.tls.enabled = true;
        config.tls.ca_file = ca.ca_file().string();
        config.tls.server_name = "redis.test";
        config.connect_timeout = 1000ms;
        config.command_timeout = 2000ms;
    }
    cg::test::temp_dir certs{"cg-redis-tls"};
    cg::test::test_ca ca{certs.path()};
    std::optional<redis_server> redis;
    redis_config config;
};

// TLS to Redis (issue 11): hiredis 0.14 has none, so the link speaks through a tunnel; the
// server's certificate is verified, and a name it does not carry is refused (the decision then
// goes to the journal, and the error says why).
TEST_F(Store, StoresOverTlsAndRefusesACertificateForAnotherName) {
    tls_redis t{false};
    auto& c = t.config;
    const auto& redis = *t.redis;
    {
        store s{c, journal()};
        s.start();
        EXPECT_EQ(record(s, event("Consent0000000000000040")), record_outcome::stored);
        // A pipelined batch larger than one TLS record and one socket-pair buffer.
        std::vector<decision_event> many;
        for (int i = 0; i < 300; ++i) {
            many.push_back(event("Consent" + std::to_string(1'000'000'000'000'000 + i)));
        }
        EXPECT_EQ(record_all(s, many), many.size());
        EXPECT_EQ(s.status().last_error, "");
    }
    EXPECT_EQ(xlen(redis), 301);

    c.tls.server_name = "other.test";
    store s{c, journal()};
    s.start();
    EXPECT_EQ(record(s, event("Consent0000000000000042")), record_outcome::journaled);
    const auto st = s.status();
    EXPECT_FALSE(st.redis_up);
    EXPECT_NE(st.last_error.find("certificate verify failed"), std::string::npos)
        << st.last_error;
    EXPECT_EQ(xlen(redis), 301);
}

// A Redis that wants client certificates (tls-auth-clients yes): redis.tls.cert_file/key_file.
TEST_F(Store, PresentsAClientCertificateWhenRedisAsksForOne) {
    tls_redis t{true};
    auto& c = t.config;
    const auto& redis = *t.redis;
    const auto [client_cert, client_key] = t.ca.issue("gateway", {"gateway.test"});
    {
        store s{c, journal()};  // no client certificate: Redis ends the handshake
        s.start();
        EXPECT_EQ(record(s, event("Consent0000000000000043")), record_outcome::journaled);
        EXPECT_FALSE(s.status().redis_up);
    }
    c.tls.cert_file = client_cert.string();
    c.tls.key_file = client_key.string();
    store s{c, journal()};
    s.start();
    EXPECT_EQ(record(s, event("Consent0000000000000044")), record_outcome::stored);
    // The first store's journaled decision is replayed by this one.
    EXPECT_TRUE(eventually([&] { return xlen(redis) == 2; })) << xlen(redis);
}

}  // namespace
}  // namespace cg::consent
