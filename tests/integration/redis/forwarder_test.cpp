// The analytics forwarder against a real redis-server and a local HTTP sink (issue 10,
// "Storing and forwarding"): a closed day arrives once, as thresholded aggregates only (C4),
// with the documented Idempotency-Key; failures and timeouts are retried with the same key;
// progress in Redis survives a restart and keeps two gateways from sending a day twice.
// Nothing leaves 127.0.0.1.
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "analytics/aggregator.hpp"
#include "analytics/forwarder.hpp"
#include "analytics/recorder.hpp"
#include "analytics/stats.hpp"
#include "analytics/visitor.hpp"
#include "support/eventually.hpp"
#include "support/redis_server.hpp"

namespace cg::analytics {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using cg::test::eventually;
using cg::test::redis_server;

constexpr auto use_ec = net::as_tuple(net::use_awaitable);

constexpr std::int64_t dec_02 = 1'796'169'600;  // 2026-12-02 00:00 UTC
std::atomic<std::int64_t> test_now{dec_02 + 12 * 3600};

std::int64_t clock_now() {
    return test_now.load();
}

// printf 'warehouse\ndemo\n2026-12-02' | sha256sum
constexpr std::string_view dec_02_key =
    "34bbb9f0d4d8985c107fa4c150acbb14d91c0d8eea13b83935ac1c6a90bade0b";

/// What the sink saw of one request.
struct received {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  ///< lower-case names
    std::string body;
};

/// A tiny HTTP/1.1 receiver on 127.0.0.1 (port 0) that records every request and answers 200,
/// or 503 for the next fail_next(n), or nothing at all for the next hang_next(n).
class http_sink {
  public:
    http_sink() : acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
        net::co_spawn(ioc_, accept(), net::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~http_sink() {
        ioc_.stop();
        thread_.join();
    }
    http_sink(const http_sink&) = delete;
    http_sink& operator=(const http_sink&) = delete;

    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
               "/ingest?src=cg";
    }
    void fail_next(int n) { fail_.store(n); }
    void hang_next(int n) { hang_.store(n); }
    std::vector<received> requests() const {
        const std::lock_guard lock{mutex_};
        return seen_;
    }
    std::size_t count() const {
        const std::lock_guard lock{mutex_};
        return seen_.size();
    }

  private:
    net::awaitable<void> accept() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(use_ec);
            if (ec) {
                co_return;
            }
            net::co_spawn(ioc_, serve(std::move(socket)), net::detached);
        }
    }

    net::awaitable<void> serve(tcp::socket socket) {
        beast::tcp_stream stream{std::move(socket)};
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        stream.expires_after(10s);
        const auto [ec, n] = co_await http::async_read(stream, buffer, req, use_ec);
        static_cast<void>(n);
        if (ec) {
            co_return;
        }
        received r{std::string{req.method_string()}, std::string{req.target()}, {}, req.body()};
        for (const auto& f : req) {
            std::string name{f.name_string()};
            for (auto& c : name) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            r.headers[name] = std::string{f.value()};
        }
        {
            const std::lock_guard lock{mutex_};
            seen_.push_back(std::move(r));
        }
        if (hang_.fetch_sub(1) > 0) {
            const auto ex = co_await net::this_coro::executor;
            net::steady_timer forever{ex, 30s};
            co_await forever.async_wait(use_ec);
            co_return;
        }
        const bool fail = fail_.fetch_sub(1) > 0;
        http::response<http::string_body> res{
            fail ? http::status::service_unavailable : http::status::ok, 11};
        res.body() = fail ? "busy" : "ok";
        res.keep_alive(false);
        res.prepare_payload();
        co_await http::async_write(stream, res, use_ec);
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    net::io_context ioc_;
    tcp::acceptor acceptor_;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<received> seen_;
    std::atomic<int> fail_{0};
    std::atomic<int> hang_{0};
};

redis::redis_config config_for(const redis_server& r) {
    redis::redis_config c;
    c.socket = r.socket_path().string();
    return c;
}

std::vector<site_plan> demo_sites() {
    return {site_plan{"demo", true, site_calendar{"UTC"}, 30, 5}};
}

// Six visitors on /a and one on /rare, on the test clock's day.
flush_batch six_on_a_one_on_rare() {
    aggregator a;
    const site_calendar utc{"UTC"};
    user_agent ua;
    ua.browser = "Firefox";
    ua.os = "Linux";
    ua.kind = device_class::desktop;
    for (std::uint8_t v = 1; v <= 7; ++v) {
        page_dimensions where;
        where.path = v <= 6 ? "/a" : "/rare";
        visitor_id id{};
        id[0] = v;
        page_view view;
        view.when = utc.at(test_now.load());
        view.minute = test_now.load() / 60;
        view.where = &where;
        view.ua = &ua;
        view.country = "NO";
        view.visitor = &id;
        a.add(view);
    }
    return a.drain();
}

forward_target sink_target(const http_sink& sink, std::chrono::milliseconds timeout = 5s) {
    forward_target t;
    t.name = "warehouse";
    t.url = sink.url();
    t.headers = {{"Authorization", "Bearer test-token"}};
    t.timeout = timeout;
    return t;
}

forwarder_options fast() {
    forwarder_options o;
    o.now = clock_now;
    o.first_backoff = 20ms;
    o.max_backoff = 80ms;
    o.check_interval = 50ms;
    return o;
}

/// Redis with one day (2026-12-02) of page views recorded, and a reader over it.
bool set_clock(std::int64_t t) {
    test_now = t;
    return true;
}

struct fixture {
    bool clock_set = set_clock(dec_02 + 12 * 3600);  // first: the recorder reads it when made
    redis_server redis;
    recorder writer{config_for(redis), demo_sites(), std::make_shared<day_keys>(), [] {
                        recorder_options o;
                        o.flush_interval = 50ms;
                        o.now = clock_now;
                        return o;
                    }()};
    stats_reader reader{config_for(redis), demo_sites()};

    fixture() {
        writer.start();
        reader.start();
        writer.submit(six_on_a_one_on_rare());
        EXPECT_TRUE(eventually([&] { return writer.status().batches_written >= 1; }, 10s));
        // 2026-12-03 00:30: the day is over, but not yet by the grace hour.
        test_now = dec_02 + 86'400 + 1800;
    }

    std::string progress() const {
        return redis.command({"HGET", "cg:a:fwd", "warehouse demo"}).text;
    }
};

TEST(Forwarder, SendsAClosedDayOnceAsThresholdedAggregates) {
    fixture f;
    http_sink sink;
    forwarder fwd{config_for(f.redis), demo_sites(), {sink_target(sink)}, f.reader, fast()};
    fwd.start();
    std::this_thread::sleep_for(300ms);  // several checks within the grace hour
    EXPECT_EQ(sink.count(), 0U);
    EXPECT_EQ(fwd.status().pending_days, 0U);

    test_now = dec_02 + 86'400 + 3600;  // 2026-12-03 01:00: closed
    fwd.nudge();
    ASSERT_TRUE(eventually([&] { return fwd.status().delivered == 1; }, 10s));
    ASSERT_EQ(sink.count(), 1U);
    auto req = sink.requests().front();
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.target, "/ingest?src=cg");
    EXPECT_EQ(req.headers["content-type"], "application/json");
    EXPECT_EQ(req.headers["user-agent"], "consent-gateway");
    EXPECT_EQ(req.headers["authorization"], "Bearer test-token");
    EXPECT_EQ(req.headers["idempotency-key"], dec_02_key);
    EXPECT_EQ(req.body.find("rare"), std::string::npos) << req.body;  // C4, C13
    const auto doc = nlohmann::json::parse(req.body, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << req.body;
    EXPECT_EQ(doc["schema"], "consent-gateway.analytics.day/1");
    EXPECT_EQ(doc["site"], "demo");
    EXPECT_EQ(doc["date"], "2026-12-02");
    EXPECT_EQ(doc["time_zone"], "UTC");
    EXPECT_EQ(doc["k"], 5);
    EXPECT_EQ(doc["summary"]["visitors"], 7);
    EXPECT_EQ(doc["summary"]["page_views"], 7);
    EXPECT_FALSE(doc["summary"].contains("previous"));
    EXPECT_EQ(doc["timeseries"].size(), 24U);
    ASSERT_EQ(doc["pages"]["rows"].size(), 1U) << req.body;
    EXPECT_EQ(doc["pages"]["rows"][0]["name"], "/a");
    EXPECT_EQ(doc["pages"]["rows"][0]["visitors"], 6);
    EXPECT_TRUE(doc["pages"]["other"].is_null());  // one visitor under k: not even "(other)"
    EXPECT_EQ(doc["countries"]["rows"][0]["visitors"], 7);
    EXPECT_TRUE(doc["consent"].contains("shown"));
    EXPECT_EQ(f.progress(), "2026-12-02");
    EXPECT_EQ(fwd.status().pending_days, 0U);

    fwd.nudge();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(sink.count(), 1U);  // delivered: never again
    EXPECT_EQ(fwd.status().failures, 0U);
}

TEST(Forwarder, RetriesWithTheSameKeyUntilTheSinkAccepts) {
    fixture f;
    http_sink sink;
    sink.fail_next(3);
    test_now = dec_02 + 86'400 + 3600;
    forwarder fwd{config_for(f.redis), demo_sites(), {sink_target(sink)}, f.reader, fast()};
    fwd.start();
    ASSERT_TRUE(eventually([&] { return fwd.status().delivered == 1; }, 10s));
    const auto seen = sink.requests();
    ASSERT_EQ(seen.size(), 4U);
    for (const auto& r : seen) {
        EXPECT_EQ(r.headers.at("idempotency-key"), dec_02_key);
        EXPECT_EQ(r.body, seen.front().body);
    }
    const auto s = fwd.status();
    EXPECT_EQ(s.failures, 3U);
    EXPECT_EQ(s.rejected, 0U);
    EXPECT_EQ(s.last_error, "warehouse: demo 2026-12-02: HTTP 503");
    EXPECT_EQ(s.last_error.find("test-token"), std::string::npos);
    EXPECT_EQ(f.progress(), "2026-12-02");
}

TEST(Forwarder, ASinkThatNeverAnswersTimesOutAndIsRetried) {
    fixture f;
    http_sink sink;
    sink.hang_next(1);
    test_now = dec_02 + 86'400 + 3600;
    forwarder fwd{config_for(f.redis), demo_sites(), {sink_target(sink, 300ms)}, f.reader, fast()};
    fwd.start();
    ASSERT_TRUE(eventually([&] { return fwd.status().delivered == 1; }, 10s));
    EXPECT_EQ(sink.count(), 2U);
    EXPECT_EQ(fwd.status().failures, 1U);
    EXPECT_EQ(fwd.status().last_error, "warehouse: demo 2026-12-02: no answer within 300 ms");
}

TEST(Forwarder, DeliveredDaysAreNotSentAgainAfterARestart) {
    fixture f;
    http_sink sink;
    test_now = dec_02 + 86'400 + 3600;
    {
        forwarder fwd{config_for(f.redis), demo_sites(), {sink_target(sink)}, f.reader, fast()};
        fwd.start();
        ASSERT_TRUE(eventually([&] { return fwd.status().delivered == 1; }, 10s));
    }
    forwarder again{config_for(f.redis), demo_sites(), {sink_target(sink)}, f.reader, fast()};
    again.start();
    again.nudge();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(sink.count(), 1U);
    EXPECT_EQ(again.status().delivered, 0U);

    test_now = dec_02 + 2 * 86'400 + 3600;  // 2026-12-04 01:00: the 3rd is closed too
    again.nudge();
    ASSERT_TRUE(eventually([&] { return again.status().delivered == 1; }, 10s));
    ASSERT_EQ(sink.count(), 2U);
    EXPECT_EQ(nlohmann::json::parse(sink.requests()[1].body)["date"], "2026-12-03");
    EXPECT_EQ(f.progress(), "2026-12-03");
}

TEST(Forwarder, TwoGatewaysOnOneRedisSendADayOnce) {
    fixture f;
    http_sink sink;
    test_now = dec_02 + 86'400 + 3600;
    forwarder a{config_for(f.redis), demo_sites(), {sink_target(sink)}, f.reader, fast()};
    forwarder b{config_for(f.redis), demo_sites(), {sink_target(sink)}, f.reader, fast()};
    a.start();
    b.start();
    ASSERT_TRUE(eventually([&] { return a.status().delivered + b.status().delivered >= 1; }, 10s));
    a.nudge();
    b.nudge();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(sink.count(), 1U);
    EXPECT_EQ(a.status().delivered + b.status().delivered, 1U);
}

TEST(Forwarder, HttpsToAPlainHttpSinkFailsTheHandshakeAndSendsNothing) {
    fixture f;
    http_sink sink;
    test_now = dec_02 + 86'400 + 3600;
    auto target = sink_target(sink, 1s);
    target.url.replace(0, 4, "https");
    forwarder fwd{config_for(f.redis), demo_sites(), {target}, f.reader, fast()};
    fwd.start();
    ASSERT_TRUE(eventually([&] { return fwd.status().failures >= 2; }, 10s));
    EXPECT_EQ(fwd.status().delivered, 0U);
    EXPECT_EQ(fwd.status().pending_days, 1U);
    EXPECT_TRUE(fwd.status().last_error.starts_with("warehouse: demo 2026-12-02: "))
        << fwd.status().last_error;
    EXPECT_EQ(sink.count(), 0U);  // not one byte of the batch in clear text
    EXPECT_TRUE(f.redis.command({"HGET", "cg:a:fwd", "warehouse demo"}).is_nil());
}

}  // namespace
}  // namespace cg::analytics
