// Reloading the configuration on SIGHUP (issue 11): the real binary under a bounded loopback
// load, its file rewritten and signalled; nothing may fail, and each change must show.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/system/system_error.hpp>

#include "gateway_process.hpp"
#include "support/prometheus.hpp"
#include "support/raw_client.hpp"
#include "support/test_upstream.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::gateway_process;
using cg::test::raw_client;
using cg::test::temp_dir;
using cg::test::test_upstream;
using ::testing::HasSubstr;
using steady = std::chrono::steady_clock;

/// A configuration with one site on 127.0.0.1:`upstream_port`. What the reloads alternate:
/// the upstream and whether the cookie `mystery` is a necessary one (set before any consent)
/// or unknown (held back until "accept all"). `listen_port`: what the gateway listens on (a
/// change needs a restart); `extra`: more top-level members, e.g. a broken one.
std::string config_for(std::uint16_t upstream_port, bool mystery_necessary,
                       std::uint16_t listen_port = 0, std::string_view extra = "") {
    const std::string rule =
        mystery_necessary
            ? R"({"name": "mystery", "category": "necessary", "provider": "Site AS",
                 "purpose": "Keeps the shop's basket.", "lifetime": "session",
                 "justification": "The basket cannot work without remembering its contents."})"
            : R"({"name": "visitor_pref", "category": "preferences", "provider": "Site AS",
                 "purpose": "Remembers the text size.", "lifetime": "1 year"})";
    return R"({
  "listen": {"address": "127.0.0.1", "port": )" +
           std::to_string(listen_port) + R"(},
  "admin": {"address": "127.0.0.1", "port": 0},
  "workers": 2,
  "log": {"level": "info", "access": false},
  "consent": {"keys": [")" +
           std::string{cg::test::test_consent_key} + R"("],
              "journal": {"path": "consent-journal.jsonl"}},
  "redis": {"socket": "redis.sock"},)" +
           std::string{extra} + R"(
  "sites": [
    {"name": "a", "hosts": [")" +
           std::string{cg::test::site_host} +
           R"("], "preserve_host": false,
     "upstream": "http://127.0.0.1:)" +
           std::to_string(upstream_port) + R"(",
     "analytics": {"enabled": false},
     "consent": {"cookies": [)" +
           rule + R"(]}}
  ]
}
)";
}

std::string get(std::string_view target) {
    return "GET " + std::string{target} + " HTTP/1.1\r\nHost: " +
           std::string{cg::test::site_host} + "\r\n\r\n";
}

/// Which upstream answered /echo: the gateway sends it its own Host (preserve_host false).
bool answered_by(const cg::test::raw_response& r, std::uint16_t port) {
    return r.status == 200 &&
           r.body.find("127.0.0.1:" + std::to_string(port)) != std::string::npos;
}

bool sets_mystery(const cg::test::raw_response& r) {
    return std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
        return h.first == "Set-Cookie" && h.second.starts_with("mystery=");
    });
}

/// Keep-alive clients sending GET /echo in a loop (bounded in count and time), each
/// reconnecting every 50 requests, counting answers that are not 200.
class load {
  public:
    load(std::uint16_t port, unsigned clients) {
        for (unsigned i = 0; i < clients; ++i) {
            threads_.emplace_back([this, port] { run(port); });
        }
    }
    ~load() { stop(); }
    load(const load&) = delete;
    load& operator=(const load&) = delete;

    void stop() {
        stop_ = true;
        for (auto& t : threads_) {
            if (t.joinable()) {
                t.join();
            }
        }
    }
    std::uint64_t ok() const { return ok_.load(); }
    std::uint64_t failed() const { return failed_.load(); }
    std::string first_failure() const {
        const std::lock_guard lock(mutex_);
        return first_failure_;
    }

  private:
    void fail(std::string what) {
        failed_.fetch_add(1);
        const std::lock_guard lock(mutex_);
        if (first_failure_.empty()) {
            first_failure_ = std::move(what);
        }
    }

    void run(std::uint16_t port) {
        constexpr std::uint64_t max_requests = 200000;
        const auto until = steady::now() + 60s;
        std::unique_ptr<raw_client> c;
        for (std::uint64_t n = 0; !stop_ && n < max_requests && steady::now() < until; ++n) {
            try {
                if (!c || n % 50 == 0) {
                    c = std::make_unique<raw_client>(port);
                }
            } catch (const boost::system::system_error& e) {
                fail(std::string{"connect: "} + e.what());
                c.reset();
                continue;
            }
            if (const auto ec = c->send(get("/echo"), 2s)) {
                fail("send: " + ec.message());
                c.reset();
                continue;
            }
            const auto r = c->read_response(5s);
            if (r.ec || r.status != 200) {
                fail("answer " + std::to_string(r.status) + " " + r.ec.message());
                c.reset();
                continue;
            }
            ok_.fetch_add(1);
            if (!r.keep_alive) {
                c.reset();
            }
        }
    }

    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> ok_{0};
    std::atomic<std::uint64_t> failed_{0};
    mutable std::mutex mutex_;
    std::string first_failure_;
    std::vector<std::thread> threads_;
};

// Sends SIGHUP and waits until /metrics shows reload outcome number `applied`+`refused`.
void reload(gateway_process& g, double applied, double refused) {
    ASSERT_TRUE(g.child().signal(SIGHUP));
    EXPECT_EQ(cg::test::await_metric(g.admin_port(), R"(cg_config_reloads_total{outcome="applied"})",
                                     applied, 5s),
              applied)
        << g.output();
    EXPECT_EQ(cg::test::await_metric(g.admin_port(), R"(cg_config_reloads_total{outcome="refused"})",
                                     refused, 5s),
              refused)
        << g.output();
}

TEST(Reload, TwentyReloadsUnderLoadFailNoRequestAndEachChangeShowsAtOnce) {
    test_upstream first;
    test_upstream second;
    temp_dir dir{"cg-reload"};
    const auto file = dir.path() / "gateway.json";
    gateway_process gateway{dir, config_for(first.port(), false)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    const auto port = gateway.proxy_port();
    // An open keep-alive connection follows the reloads too (a request at a time).
    raw_client kept{port};

    load traffic{port, 3};
    for (int i = 1; i <= 20; ++i) {
        const bool odd = i % 2 == 1;
        const std::uint16_t upstream = odd ? second.port() : first.port();
        cg::test::write_file(file, config_for(upstream, odd));
        reload(gateway, i, 0);
        EXPECT_EQ(cg::test::metric(cg::test::http_get(gateway.admin_port(), "localhost",
                                                      "/metrics").body,
                                   "cg_config_generation"),
                  i + 1);
        const auto fresh = cg::test::http_get(port, cg::test::site_host, "/echo");
        EXPECT_TRUE(answered_by(fresh, upstream)) << "reload " << i << ":\n" << fresh.body;
        ASSERT_FALSE(kept.send(get("/echo")));
        const auto on_kept = kept.read_response();
        EXPECT_TRUE(answered_by(on_kept, upstream)) << "reload " << i;
        const auto cookies = cg::test::http_get(port, cg::test::site_host, "/cookies");
        EXPECT_EQ(cookies.status, 200U);
        EXPECT_EQ(sets_mystery(cookies), odd) << "reload " << i;
    }
    std::this_thread::sleep_for(200ms);  // traffic after the last reload too
    traffic.stop();

    EXPECT_EQ(traffic.failed(), 0U) << traffic.first_failure();
    EXPECT_GT(traffic.ok(), 200U);
    EXPECT_EQ(cg::test::metric(cg::test::http_get(gateway.admin_port(), "localhost", "/metrics")
                                   .body,
                               "cg_config_last_reload_ok"),
              1);
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
    EXPECT_THAT(gateway.child().stdout_text(), HasSubstr("\"generation\":21"));
}

TEST(Reload, ARequestInFlightFinishesOnTheConfigurationItStartedWith) {
    test_upstream first;
    test_upstream second;
    temp_dir dir{"cg-reload"};
    gateway_process gateway{dir, config_for(first.port(), false)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    raw_client slow{gateway.proxy_port()};
    ASSERT_FALSE(slow.send(get("/sleep/800")));
    std::this_thread::sleep_for(200ms);

    cg::test::write_file(dir.path() / "gateway.json", config_for(second.port(), false));
    reload(gateway, 1, 0);
    const auto after = cg::test::http_get(gateway.proxy_port(), cg::test::site_host, "/echo");
    EXPECT_TRUE(answered_by(after, second.port())) << after.body;
    const auto r = slow.read_response(5s);
    EXPECT_EQ(r.status, 200U) << r.ec.message();
    EXPECT_EQ(r.body, "slept");
    // The same connection's next request uses the new configuration.
    ASSERT_FALSE(slow.send(get("/echo")));
    EXPECT_TRUE(answered_by(slow.read_response(), second.port()));
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

TEST(Reload, ABrokenOrRestartOnlyChangeIsRefusedLoggedAndTheRunningConfigurationKept) {
    test_upstream first;
    test_upstream second;
    temp_dir dir{"cg-reload"};
    const auto file = dir.path() / "gateway.json";
    gateway_process gateway{dir, config_for(first.port(), false)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    const auto served_by_first = [&] {
        return answered_by(cg::test::http_get(gateway.proxy_port(), cg::test::site_host, "/echo"),
                           first.port());
    };

    // Does not validate: the problems are logged as --check-config prints them.
    cg::test::write_file(file,
                         config_for(second.port(), false, 0, R"( "shutdown_timeout_ms": -4,)"));
    reload(gateway, 0, 1);
    EXPECT_TRUE(served_by_first());
    EXPECT_TRUE(gateway.child().wait_for_stdout("/shutdown_timeout_ms", 2s)) << gateway.output();
    EXPECT_THAT(gateway.child().stdout_text(), HasSubstr("reload refused"));

    // Validates, but moves the listener: only a restart can.
    cg::test::write_file(file, config_for(second.port(), false, 1));
    reload(gateway, 0, 2);
    EXPECT_TRUE(served_by_first());
    EXPECT_TRUE(gateway.child().wait_for_stdout("/listen: changed; this takes a restart", 2s))
        << gateway.output();
    const auto metrics = cg::test::http_get(gateway.admin_port(), "localhost", "/metrics").body;
    EXPECT_EQ(cg::test::metric(metrics, "cg_config_last_reload_ok"), 0);
    EXPECT_EQ(cg::test::metric(metrics, "cg_config_generation"), 1);

    // A good one after the bad ones is applied.
    cg::test::write_file(file, config_for(second.port(), false));
    reload(gateway, 1, 2);
    EXPECT_FALSE(served_by_first());
    EXPECT_EQ(cg::test::metric(cg::test::http_get(gateway.admin_port(), "localhost", "/metrics")
                                   .body,
                               "cg_config_last_reload_ok"),
              1);
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

}  // namespace
