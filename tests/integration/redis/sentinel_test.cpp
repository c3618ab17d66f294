// Redis Sentinel (issue 11): real redis-server processes on loopback — a master, a replica and
// three sentinels. The consent store finds the master through the sentinels, and when the
// master is killed with SIGKILL while decisions flow, it follows the failover: every
// acknowledged record ends up in the new master (redis.min_replicas makes the store wait for
// a replica before it counts a record as stored; the journal covers the rest). The analytics
// recorder likewise: every page view handed to it is counted once in the new master.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <hiredis/hiredis.h>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "analytics/recorder.hpp"
#include "analytics_fixture.hpp"
#include "consent/store.hpp"
#include "redis/link.hpp"
#include "support/child_process.hpp"
#include "support/eventually.hpp"
#include "support/temp_dir.hpp"

namespace cg::consent {
namespace {

using namespace std::chrono_literals;
using cg::test::child_process;
using steady = std::chrono::steady_clock;

constexpr std::string_view master_name = "cgmaster";
// The sentinels ask for a password (requirepass): the gateway's sentinel_password.
constexpr std::string_view sentinel_password = "sentinel-secret-1";

std::uint16_t free_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a{ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}};
    return a.local_endpoint().port();
}

redis_config at(std::uint16_t port) {
    redis_config c;
    c.host = "127.0.0.1";
    c.port = port;
    c.connect_timeout = 300ms;
    c.command_timeout = 1000ms;
    return c;
}

redis_config sentinel_at(std::uint16_t port) {
    auto c = at(port);
    c.password = sentinel_password;
    return c;
}

/// One command on a fresh connection; nullptr when the server cannot be reached.
redis::reply_ptr ask(const redis_config& where, const redis::redis_command& command) {
    redis::redis_link link{where};
    if (!link.connect().empty()) {
        return nullptr;
    }
    std::string error;
    auto replies = link.pipeline({command}, steady::now() + 1s, error);
    return replies.size() == 1 ? std::move(replies[0]) : nullptr;
}

std::size_t array_size(const redis::reply_ptr& r) {
    return r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
}

/// A master, its replica and three sentinels (quorum 2, a master is down after 1 s), each
/// in a directory of its own under one temp dir.
class sentinel_setup {
  public:
    sentinel_setup() {
        master_port = free_port();
        replica_port = free_port();
        master_.emplace("redis-server", server_args(master_port, {}), dir("master"), "master");
        replica_.emplace("redis-server",
                         server_args(replica_port, {"--replicaof", "127.0.0.1",
                                                    std::to_string(master_port)}),
                         dir("replica"), "replica");
        for (int i = 0; i < 3; ++i) {
            const auto port = free_port();
            sentinel_ports.push_back(port);
            const auto d = dir("sentinel" + std::to_string(i));
            const auto conf = d / "sentinel.conf";
            write(conf, "port " + std::to_string(port) +
                            "\nbind 127.0.0.1\n"
                            "requirepass " + std::string{sentinel_password} +
                            "\nsentinel sentinel-pass " + std::string{sentinel_password} +
                            "\nsentinel monitor " + std::string{master_name} + " 127.0.0.1 " +
                            std::to_string(master_port) + " 2\n"
                            "sentinel down-after-milliseconds " + std::string{master_name} +
                            " 1000\nsentinel failover-timeout " + std::string{master_name} +
                            " 3000\n");
            sentinels_.push_back(std::make_unique<child_process>(
                "redis-server", std::vector<std::string>{conf.string(), "--sentinel"}, d,
                "sentinel"));
        }
    }

    /// True once the replica is in sync with the master and every sentinel knows the replica
    /// and the two other sentinels (they find each other through the master within seconds).
    bool ready() {
        return cg::test::eventually(
            [&] {
                const auto role = ask(at(master_port), {"ROLE"});
                if (!role || role->elements < 3 || role->element[2]->elements != 1) {
                    return false;  // the replica is not online yet
                }
                for (const auto port : sentinel_ports) {
                    const auto s = sentinel_at(port);
                    if (array_size(ask(s, {"SENTINEL", "replicas", master_name})) != 1 ||
                        array_size(ask(s, {"SENTINEL", "sentinels", master_name})) != 2) {
                        return false;
                    }
                }
                return true;
            },
            30s, 100ms);
    }

    /// The store's view: the sentinels, the master's name, and a replica per record.
    redis_config store_config() const {
        redis_config c;
        for (const auto port : sentinel_ports) {
            c.sentinels.push_back({"127.0.0.1", port});
        }
        c.master_name = master_name;
        c.sentinel_password = sentinel_password;
        c.min_replicas = 1;
        c.connect_timeout = 300ms;
        c.command_timeout = 1000ms;
        return c;
    }

    void kill_master() { master_->signal(SIGKILL); }

    std::uint16_t master_port = 0;
    std::uint16_t replica_port = 0;
    std::vector<std::uint16_t> sentinel_ports;

  private:
    static std::vector<std::string> server_args(std::uint16_t port, std::vector<std::string> more) {
        // No 5 s wait before a replica's first sync (repl-diskless-sync-delay).
        std::vector<std::string> args{"--port",       std::to_string(port), "--bind",
                                      "127.0.0.1",    "--save",             "",
                                      "--appendonly", "no",                 "--repl-diskless-sync-delay",
                                      "0"};
        args.insert(args.end(), more.begin(), more.end());
        return args;
    }
    std::filesystem::path dir(const std::string& name) const {
        const auto d = root_.path() / name;
        std::filesystem::create_directories(d);
        return d;
    }
    static void write(const std::filesystem::path& file, const std::string& text) {
        std::FILE* f = std::fopen(file.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs(text.c_str(), f);
        std::fclose(f);
    }

    cg::test::temp_dir root_{"cg-sentinel"};
    std::optional<child_process> master_;
    std::optional<child_process> replica_;
    std::vector<std::unique_ptr<child_process>> sentinels_;
};

decision_event event(int i) {
    decision_event e;
    e.event_id = new_event_id();
    e.consent_id = "Consent" + std::to_string(2'000'000'000'000'000 + i);
    e.site = "shop.example";
    e.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    e.granted = category_set::all();
    e.policy_version = "3";
    e.banner_hash = std::string(64, 'b');
    e.kind = decision_kind::accept_all;
    e.lang = language::nb;
    return e;
}

TEST(Sentinel, DecisionsFollowAFailoverAfterKillNineAndNoAcknowledgedRecordIsLost) {
    sentinel_setup redis;
    ASSERT_TRUE(redis.ready()) << "the sentinels did not find each other and the replica";
    // The sentinels want their password: without it they name no master.
    const auto refused = ask(at(redis.sentinel_ports[0]),
                             {"SENTINEL", "get-master-addr-by-name", master_name});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->type, REDIS_REPLY_ERROR);
    cg::test::temp_dir dir{"cg-sentinel-store"};
    store s{redis.store_config(), {dir.path() / "journal.jsonl", 64ULL * 1024 * 1024}};
    s.start();

    constexpr int total = 600;
    std::vector<decision_event> events;
    for (int i = 0; i < total; ++i) {
        events.push_back(event(i));
    }
    std::mutex m;
    std::condition_variable cv;
    int done = 0;
    std::atomic<int> failed{0};
    std::atomic<int> journaled{0};
    std::thread producer([&] {
        // About 3 s of decisions: before, during and after the failover.
        for (int i = 0; i < total; ++i) {
            s.record(events[static_cast<std::size_t>(i)], std::chrono::hours{24},
                     [&](record_outcome o) {
                         failed += o == record_outcome::failed ? 1 : 0;
                         journaled += o == record_outcome::journaled ? 1 : 0;
                         const std::lock_guard lock{m};
                         ++done;
                         cv.notify_all();
                     });
            std::this_thread::sleep_for(5ms);
        }
    });
    {
        std::unique_lock lock{m};
        EXPECT_TRUE(cv.wait_for(lock, 20s, [&] { return done >= 100; }));
    }
    redis.kill_master();
    producer.join();
    {
        std::unique_lock lock{m};
        EXPECT_TRUE(cv.wait_for(lock, 30s, [&] { return done == total; }));
    }
    EXPECT_EQ(failed, 0);
    EXPECT_GT(journaled, 0) << "the kill came after the last record";

    // The sentinels promote the replica; the store finds it and replays its journal there.
    EXPECT_TRUE(cg::test::eventually(
        [&] {
            const auto st = s.status();
            return st.redis_up && st.journal_events == 0;
        },
        30s, 50ms))
        << s.status().last_error;
    const auto master = ask(sentinel_at(redis.sentinel_ports[0]),
                            {"SENTINEL", "get-master-addr-by-name", master_name});
    ASSERT_EQ(array_size(master), 2U);
    EXPECT_EQ(std::string(master->element[1]->str), std::to_string(redis.replica_port));

    const auto entries = ask(at(redis.replica_port), {"XRANGE", "cg:{c:shop.example}:audit", "-", "+"});
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < array_size(entries); ++i) {
        const redisReply* fields = entries->element[i]->element[1];
        for (std::size_t k = 0; k + 1 < fields->elements; k += 2) {
            if (std::string_view{fields->element[k]->str} == "event_id") {
                ids.emplace_back(fields->element[k + 1]->str);
            }
        }
    }
    std::sort(ids.begin(), ids.end());
    std::vector<std::string> expected;
    for (const auto& e : events) {
        expected.push_back(e.event_id);
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(ids.size(), expected.size());
    EXPECT_EQ(ids, expected);  // every acknowledged decision once, none twice
    s.stop();
}

// Page views keep flowing through a failover: with min_replicas a batch counts as written only
// once a replica has it (WAIT), and a batch retried on the new master is applied once (its
// batch id), so the totals there are exact: nothing lost, nothing twice.
TEST(Sentinel, AnalyticsTotalsAreExactAfterAFailoverUnderKillNine) {
    sentinel_setup redis;
    ASSERT_TRUE(redis.ready()) << "the sentinels did not find each other and the replica";
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    const std::vector<analytics::site_plan> sites{
        analytics::site_plan{"demo", true, analytics::site_calendar{"UTC"}, 30, 5}};
    analytics::recorder_options fast;
    fast.flush_interval = 50ms;
    analytics::recorder writer{redis.store_config(), sites,
                               std::make_shared<analytics::day_keys>(), fast};
    writer.start();

    // 150 batches of two page views by one visitor each, every 20 ms (about 3 s): the master
    // is killed after 50.
    constexpr int batches = 150;
    for (int i = 0; i < batches; ++i) {
        const auto visitor = static_cast<std::uint8_t>(i);
        writer.submit(analytics::testing::views({{"/jobs", visitor}, {"/jobs", visitor}}, now));
        if (i == 50) {
            redis.kill_master();
        }
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(cg::test::eventually(
        [&] {
            const auto st = writer.status();
            return st.redis_up && st.pending_counters == 0;
        },
        30s, 50ms))
        << writer.status().write_failures << " failed writes";
    EXPECT_GT(writer.status().write_failures, 0U) << "the kill came after the last batch";
    writer.stop();

    analytics::stats_reader reader{redis.store_config(), sites};
    reader.start();
    const auto summary = analytics::testing::ask(reader, "summary", "site=demo", now);
    EXPECT_EQ(summary["page_views"], 2 * batches) << summary.dump();
    // Ids 0-149, added with PFADD (idempotent): the HyperLogLog's estimate, within 1 %.
    EXPECT_NEAR(summary["visitors"].get<double>(), 150.0, 1.5) << summary.dump();
    const auto master = ask(sentinel_at(redis.sentinel_ports[0]),
                            {"SENTINEL", "get-master-addr-by-name", master_name});
    ASSERT_EQ(array_size(master), 2U);
    EXPECT_EQ(std::string(master->element[1]->str), std::to_string(redis.replica_port));
}

}  // namespace
}  // namespace cg::consent
