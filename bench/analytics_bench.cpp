// Issue 10's microbenchmarks (Google Benchmark, Debian's libbenchmark-dev; run
// build-*/analytics/analytics_bench by hand, in a Release build):
// - page views per second into one worker's in-memory aggregator (target >= 1,000,000 on one
//   core), with a realistic spread of pages, referrers, campaigns, countries and browsers
//   (dimensions already read);
// - the whole tap per page view (classify, User-Agent cache, calendar, dimensions, visitor id,
//   visit table, aggregator), with the traffic bench/analytics_tap.sh sends: 3,000 visitors of
//   50 User-Agents over 200 paths. It needs /usr/share/uap-core/regexes.yaml; the country
//   database is CG_BENCH_MMDB if set. Under `valgrind --tool=callgrind` it gives the steadiest
//   figure: instructions per page view.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "analytics/aggregator.hpp"
#include "analytics/tap.hpp"

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

struct request {
    std::string ua, target, referer;
    boost::asio::ip::address address;
};

std::vector<request> requests() {
    std::vector<std::string> uas;
    for (int v = 124; v <= 131; ++v) {
        const std::string chrome = std::to_string(v) + ".0.0.0";
        uas.push_back("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                      "Gecko) Chrome/" + chrome + " Safari/537.36");
        uas.push_back("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/" + chrome + " Mobile Safari/537.36");
        uas.push_back("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, "
                      "like Gecko) Chrome/" + chrome + " Safari/537.36");
        uas.push_back("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:" + std::to_string(v) +
                      ".0) Gecko/20100101 Firefox/" + std::to_string(v) + ".0");
        uas.push_back("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Version/18." + std::to_string(v % 4) +
                      " Mobile/15E148 Safari/604.1");
        uas.push_back("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like "
                      "Gecko) SamsungBrowser/2" + std::to_string(v % 7) +
                      ".0 Chrome/" + chrome + " Mobile Safari/537.36");
    }
    static const char* referers[] = {"https://www.google.com/", "https://www.google.no/",
                                     "https://www.bing.com/",   "https://duckduckgo.com/",
                                     "https://www.facebook.com/", "https://l.facebook.com/",
                                     "https://www.linkedin.com/", "https://t.co/abc",
                                     "https://www.vg.no/nyheter", "https://news.ycombinator.com/"};
    std::vector<request> out;
    std::uint32_t seed = 12345;
    const auto next = [&] { return seed = seed * 1103515245U + 12345U; };
    for (int i = 0; i < 9000; ++i) {
        const std::uint32_t visitor = (next() >> 8) % 3000;
        request r;
        r.ua = uas[visitor % uas.size()];
        r.address = boost::asio::ip::address_v4{0x51000000U + visitor * 7919U};  // 81.x.x.x
        r.target = "/artikkel/" + std::to_string((next() >> 8) % 200);
        if ((next() >> 8) % 12 == 0) {
            r.target += "?utm_source=nyhetsbrev&utm_medium=email&utm_campaign=uke-48&fbclid=IwAR0";
        }
        r.referer = referers[(next() >> 8) % 10];
        out.push_back(std::move(r));
    }
    return out;
}

// state.range(0): bytes of other memory written between a request's look and its answer (0:
// none). A proxied page moves its body (30 KiB in bench/analytics_tap.sh) through the worker
// twice, which pushes the tap's tables out of the nearest caches: this is how they are found in
// production. As in the gateway, the tap looks at the request first (tap::look) and counts
// its answer after the page.
void page_views_through_the_tap(benchmark::State& state) {
    std::vector<char> other(static_cast<std::size_t>(state.range(0)));
    const std::filesystem::path regexes = "/usr/share/uap-core/regexes.yaml";
    if (!std::filesystem::exists(regexes)) {
        state.SkipWithError("needs /usr/share/uap-core/regexes.yaml (Debian's uap-core)");
        return;
    }
    shared_analytics shared;
    site_plan plan;
    plan.name = "bench";
    plan.calendar = site_calendar{"Europe/Oslo"};
    shared.sites.push_back(plan);
    shared.user_agents = std::make_unique<lazy_ua_database>(regexes);
    for (int i = 0; i < 600 && shared.user_agents->get() == nullptr; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (const char* mmdb = std::getenv("CG_BENCH_MMDB"); mmdb != nullptr && *mmdb != 0) {
        shared.countries = std::make_unique<country_database>(mmdb);
    }
    const std::int64_t now0 = 1'796'000'000;
    shared.keys->set(0, shared.sites[0].calendar.at(now0).day, day_key{1, 2, 3});
    tap t{shared};
    site_settings settings;
    const std::vector<std::string> own_hosts{"bench.example"};
    // What the gateway passes as the settings' owner; here they are locals that outlive
    // every drain, so any object will do.
    const auto owner = std::make_shared<const int>(0);
    const auto all = requests();
    std::size_t i = 0;
    exchange e;
    e.facts.method = "GET";
    e.facts.status = 200;
    e.facts.content_type = "text/html; charset=utf-8";
    e.facts.sec_fetch_dest = "document";
    e.facts.accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    e.facts.accept_language = "nb-NO,nb;q=0.9,en;q=0.8";
    request_look look;
    for (auto _ : state) {
        const request& r = all[i % all.size()];
        e.user_agent = r.ua;
        e.target = r.target;
        e.referer = r.referer;
        e.visitor = r.address;
        e.now = now0 + static_cast<std::int64_t>(i / 10'000);  // 10,000 page views a second
        e.look = nullptr;
        t.look(e, look);
        if (!other.empty()) {  // timed too: subtract other_memory_only's time
            std::memset(other.data(), static_cast<int>(i), other.size());
            benchmark::ClobberMemory();
        }
        e.look = &look;
        benchmark::DoNotOptimize(t.count(owner, 0, settings, own_hosts, e));
        if (++i % 10'000 == 0) {
            benchmark::DoNotOptimize(t.drain());  // the flusher's drain, once a second
        }
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(page_views_through_the_tap)->Arg(0)->Arg(64 << 10);

// The other memory alone, to subtract.
void other_memory_only(benchmark::State& state) {
    std::vector<char> other(static_cast<std::size_t>(state.range(0)));
    std::size_t i = 0;
    for (auto _ : state) {
        std::memset(other.data(), static_cast<int>(++i), other.size());
        benchmark::ClobberMemory();
    }
}
BENCHMARK(other_memory_only)->Arg(64 << 10);

}  // namespace

BENCHMARK_MAIN();
