// The analytics recorder and statistics reader against a real redis-server (issue 10): what
// the workers counted reaches Redis once, split traffic adds up to the whole, a Redis restart
// loses nothing held in memory, and after two days a day's HyperLogLogs become plain numbers
// while its day key is gone from the process.
#include <atomic>
#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analytics/recorder.hpp"
#include "analytics_fixture.hpp"
#include "support/eventually.hpp"
#include "support/redis_server.hpp"

namespace cg::analytics {
namespace {

using namespace std::chrono_literals;
using cg::test::eventually;
using cg::test::redis_server;

std::atomic<std::int64_t> test_now{1'796'169'600 + 12 * 3600};  // 2026-12-02 12:00 UTC

std::int64_t clock_now() {
    return test_now.load();
}

redis::redis_config config_for(const redis_server& r) {
    redis::redis_config c;
    c.socket = r.socket_path().string();
    return c;
}

std::vector<site_plan> demo_sites() {
    return {site_plan{"demo", true, site_calendar{"UTC"}, 30, 5}};
}

using testing::page;

flush_batch views(const std::vector<page>& pages) {
    return testing::views(pages, test_now.load());
}

nlohmann::json ask(stats_reader& reader, const std::string& report, const std::string& query) {
    return testing::ask(reader, report, query, test_now.load());
}

std::vector<page> six_on_jobs_one_on_rare() {
    std::vector<page> p;
    for (std::uint8_t v = 1; v <= 6; ++v) {
        p.push_back({"/jobs", v});
        p.push_back({"/jobs", v});
    }
    p.push_back({"/rare", 99});
    return p;
}

recorder_options fast() {
    recorder_options o;
    o.flush_interval = 50ms;
    o.now = clock_now;
    return o;
}

TEST(AnalyticsStore, WhatWasCountedReachesRedisOnceAndIsThresholded) {
    redis_server redis;
    auto keys = std::make_shared<day_keys>();
    recorder writer{config_for(redis), demo_sites(), keys, fast()};
    stats_reader reader{config_for(redis), demo_sites(), &writer};
    writer.start();
    reader.start();
    writer.submit(views(six_on_jobs_one_on_rare()));
    EXPECT_TRUE(eventually([&] { return writer.status().batches_written >= 1; }, 10s));
    const auto summary = ask(reader, "summary", "site=demo");
    EXPECT_EQ(summary["page_views"], 13);
    EXPECT_EQ(summary["visitors"], 7);
    const auto pages = ask(reader, "pages", "site=demo");
    ASSERT_EQ(pages["rows"].size(), 1U) << pages.dump();
    EXPECT_EQ(pages["rows"][0]["visitors"], 6);
    EXPECT_EQ(pages.dump().find("rare"), std::string::npos);  // C13: never named
    EXPECT_EQ(keys->size(), 1U);  // today's key, shared through Redis
    EXPECT_FALSE(redis.command({"GET", "cg:a:{demo:2026-12-02}:key"}).is_nil());
    // C6: the key lives until five minutes into the next day on the gateway's clock, whatever
    // Redis's clock says (this test's clock is not the machine's).
    const auto ttl = redis.command({"TTL", "cg:a:{demo:2026-12-02}:key"}).integer;
    EXPECT_GT(ttl, 12 * 3600);
    EXPECT_LE(ttl, 12 * 3600 + 300);
}

TEST(AnalyticsStore, TwoGatewaysFedHalvesGiveTheSameAggregatesAsOne) {
    redis_server one_redis;
    redis_server shared_redis;
    const auto all = six_on_jobs_one_on_rare();
    {
        recorder one{config_for(one_redis), demo_sites(), std::make_shared<day_keys>(), fast()};
        one.start();
        one.submit(views(all));
        EXPECT_TRUE(eventually([&] { return one.status().batches_written >= 1; }, 10s));
    }
    {
        recorder a{config_for(shared_redis), demo_sites(), std::make_shared<day_keys>(), fast()};
        recorder b{config_for(shared_redis), demo_sites(), std::make_shared<day_keys>(), fast()};
        a.start();
        b.start();
        const std::vector<page> first(all.begin(), all.begin() + 5);
        const std::vector<page> second(all.begin() + 5, all.end());
        a.submit(views(first));
        b.submit(views(second));
        EXPECT_TRUE(eventually(
            [&] { return a.status().batches_written >= 1 && b.status().batches_written >= 1; },
            10s));
    }
    stats_reader r1{config_for(one_redis), demo_sites()};
    stats_reader r2{config_for(shared_redis), demo_sites()};
    r1.start();
    r2.start();
    for (const auto* report : {"summary", "pages", "browsers", "countries", "timeseries"}) {
        auto x = ask(r1, report, "site=demo");
        auto y = ask(r2, report, "site=demo");
        x.erase("dropped");
        y.erase("dropped");
        EXPECT_EQ(x, y) << report;
    }
}

TEST(AnalyticsStore, RedisDownThenBackLosesNothingHeldInMemory) {
    redis_server redis;
    recorder writer{config_for(redis), demo_sites(), std::make_shared<day_keys>(), fast()};
    writer.start();
    redis.kill_hard();
    writer.submit(views(six_on_jobs_one_on_rare()));
    EXPECT_TRUE(eventually([&] { return !writer.status().redis_up; }, 10s));
    EXPECT_GT(writer.status().pending_counters, 0U);
    redis.restart();
    EXPECT_TRUE(eventually([&] { return writer.status().pending_counters == 0; }, 15s));
    stats_reader reader{config_for(redis), demo_sites()};
    reader.start();
    EXPECT_EQ(ask(reader, "summary", "site=demo")["page_views"], 13);
    EXPECT_EQ(writer.status().dropped, 0U);
}

TEST(AnalyticsStore, C6AfterTwoDaysTheHyperLogLogsAreNumbersAndTheDayKeyIsGone) {
    redis_server redis;
    auto keys = std::make_shared<day_keys>();
    recorder writer{config_for(redis), demo_sites(), keys, fast()};
    stats_reader reader{config_for(redis), demo_sites()};
    writer.start();
    reader.start();
    writer.submit(views(six_on_jobs_one_on_rare()));
    EXPECT_TRUE(eventually([&] { return writer.status().batches_written >= 1; }, 10s));
    const auto before = ask(reader, "pages", "site=demo&from=2026-12-02&to=2026-12-02");
    ASSERT_TRUE(keys->get(0, *parse_day("2026-12-02")));

    test_now += 3 * 86'400;  // 2026-12-05
    writer.nudge();
    EXPECT_TRUE(eventually([&] { return writer.status().folded_days >= 1; }, 10s));
    EXPECT_FALSE(keys->get(0, *parse_day("2026-12-02")));  // dropped from memory
    test_now += 86'400;  // the day after that: the day before's key is deleted from Redis
    writer.nudge();
    EXPECT_TRUE(eventually(
        [&] { return redis.command({"EXISTS", "cg:a:{demo:2026-12-05}:key"}).integer == 0; }, 10s));
    test_now -= 86'400;
    EXPECT_TRUE(redis.command({"EXISTS", "cg:a:{demo:2026-12-02}:u"}).integer == 0);
    EXPECT_TRUE(redis.command({"EXISTS", "cg:a:{demo:2026-12-02}:u:page:/jobs"}).integer == 0);
    EXPECT_EQ(redis.command({"HGET", "cg:a:{demo:2026-12-02}:f", "u"}).text, "7");
    // The same answer from the numbers as from the HyperLogLogs.
    EXPECT_EQ(ask(reader, "pages", "site=demo&from=2026-12-02&to=2026-12-02"), before);
    const auto summary = ask(reader, "summary", "site=demo&from=2026-12-02&to=2026-12-02");
    EXPECT_EQ(summary["visitors"], 7);
    EXPECT_GT(redis.command({"TTL", "cg:a:{demo:2026-12-02}:f"}).integer, 0);  // C7
    test_now -= 3 * 86'400;
}

}  // namespace
}  // namespace cg::analytics
