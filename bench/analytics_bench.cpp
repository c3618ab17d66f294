// Issue 10's microbenchmark: page views per second into one worker's in-memory aggregator
// (target >= 1,000,000 on one core), with a realistic spread of pages, referrers, campaigns,
// countries and browsers (dimensions already read: the tap parses them once per request, the
// User-Agent through its cache). Google Benchmark (Debian's libbenchmark-dev); run
// build-*/analytics/analytics_bench by hand, in a Release build.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "analytics/aggregator.hpp"

namespace {

using namespace cg::analytics;

struct sample {
    page_dimensions where;
    user_agent ua;
    std::string country;
    visitor_id visitor{};  // 1,024 visitors, a few page views each
};

std::vector<sample> samples() {
    static const char* browsers[] = {"Chrome", "Mobile Safari", "Firefox", "Edge",
                                     "Samsung Internet"};
    static const char* oses[] = {"Windows", "iOS", "Android", "Mac OS X", "Linux"};
    static const char* countries[] = {"NO", "SE", "DK", "DE", "GB", "US"};
    static const char* referrers[] = {"",           "",
                                      "",           "google.no",
                                      "google.com", "facebook.com",
                                      "finn.no",    "linkedin.com",
                                      "bing.com",   "vg.no"};
    std::vector<sample> out;
    for (int i = 0; i < 4096; ++i) {
        sample s;
        s.where.path = "/artikkel/" + std::to_string((i * 7919) % 300);
        s.where.referrer_host = referrers[i % 10];
        s.where.source = s.where.referrer_host.empty() ? channel::direct : channel::referral;
        if (i % 13 == 0) {
            s.where.utm_source = "nyhetsbrev";
            s.where.utm_medium = "email";
            s.where.utm_campaign = "uke-" + std::to_string(i % 52);
        }
        s.ua.browser = browsers[i % 5];
        s.ua.os = oses[(i / 5) % 5];
        s.ua.kind = i % 3 ? device_class::mobile : device_class::desktop;
        s.country = countries[i % 6];
        s.visitor[0] = static_cast<std::uint8_t>(i % 1024);
        s.visitor[1] = static_cast<std::uint8_t>((i % 1024) >> 8);
        out.push_back(std::move(s));
    }
    return out;
}

void page_views_into_the_aggregator(benchmark::State& state) {
    const auto all = samples();
    aggregator a;
    std::size_t i = 0;
    const day_number day = 20'424;
    unsigned hour = 9;
    std::int64_t minute = 29'411'100;
    for (auto _ : state) {
        const sample& s = all[i++ % all.size()];
        page_view v;
        v.site = static_cast<std::uint32_t>(i % 4);
        v.when = {day, static_cast<std::uint8_t>(hour), static_cast<std::uint16_t>(hour * 60)};
        v.minute = minute;
        v.where = &s.where;
        v.ua = &s.ua;
        v.country = s.country;
        v.visitor = &s.visitor;
        a.add(v);
        if (i % 1'000'000 == 0) {
            benchmark::DoNotOptimize(a.drain());  // a flush, every few seconds in production
            hour = (hour + 1) % 24;
            ++minute;
        }
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(page_views_into_the_aggregator);

}  // namespace

BENCHMARK_MAIN();
