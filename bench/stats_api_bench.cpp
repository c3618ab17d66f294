// Issue 10's API benchmark: how long the statistics API takes to answer a 30-day query for a
// site with 1 million page views a day (target: < 100 ms). Starts its own redis-server and
// fills it the way the gateway does: the two newest days through the real recorder (1 million
// page views each, 150,000 visitors, HyperLogLogs and all), the 28 older ones as the fold
// leaves them (plain numbers). Then times each report over the 30 days through stats_reader,
// as /stats/api does. Not a test; run build-*/tests/integration/redis/stats_api_bench by hand
// (a Release build).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "analytics/aggregator.hpp"
#include "analytics/recorder.hpp"
#include "analytics/stats.hpp"
#include "support/redis_server.hpp"

using namespace cg::analytics;
using namespace std::chrono;

namespace {

std::atomic<std::int64_t> bench_now{1'796'169'600 + 20 * 3600};  // 2026-12-02 20:00 UTC
std::int64_t clock_now() {
    return bench_now.load();
}

constexpr std::size_t pages = 2000, referrers = 300, campaigns = 50, countries = 60,
                      browsers = 30, oses = 20;
constexpr std::size_t views_per_day = 1'000'000;
constexpr std::size_t visitors_per_day = 150'000;

// A skewed pick (a few rows get most of the traffic, as on real sites).
std::size_t pick(std::uint64_t& seed, std::size_t n) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = static_cast<double>(seed >> 11) / 9007199254740992.0;
    return std::min(n - 1, static_cast<std::size_t>(static_cast<double>(n) * u * u * u));
}

void fill_recent_day(recorder& writer, day_number day) {
    const site_calendar utc{"UTC"};
    std::uint64_t seed = static_cast<std::uint64_t>(day);
    std::vector<page_dimensions> where(4096);
    std::vector<user_agent> uas(64);
    for (std::size_t i = 0; i < where.size(); ++i) {
        where[i].path = "/artikkel/" + std::to_string(pick(seed, pages));
        const auto r = pick(seed, referrers + 1);
        where[i].referrer_host = r == 0 ? "" : "ref" + std::to_string(r) + ".example";
        where[i].source = r == 0 ? channel::direct : channel::referral;
        if (i % 10 == 0) {
            where[i].utm_campaign = "kampanje-" + std::to_string(pick(seed, campaigns));
        }
    }
    for (std::size_t i = 0; i < uas.size(); ++i) {
        uas[i].browser = "Browser " + std::to_string(i % browsers);
        uas[i].os = "OS " + std::to_string(i % oses);
        uas[i].kind = i % 3 == 0 ? device_class::mobile : device_class::desktop;
    }
    std::vector<std::string> country_names;
    for (std::size_t c = 0; c < countries; ++c) {
        country_names.push_back(std::string{static_cast<char>('A' + c / 26),
                                            static_cast<char>('A' + c % 26)});
    }
    aggregator a{2'000'000, 8'000'000};
    for (std::size_t v = 0; v < views_per_day; ++v) {
        visitor_id id{};
        const std::uint64_t who = (v * 2654435761ULL) % visitors_per_day;
        std::memcpy(id.data(), &who, sizeof who);
        id[15] = static_cast<std::uint8_t>(day);
        page_view pv;
        pv.when = {day, static_cast<std::uint8_t>(v * 24 / views_per_day),
                   static_cast<std::uint16_t>(v * 1440 / views_per_day)};
        pv.minute = utc.start_of(day) / 60 + static_cast<std::int64_t>(v * 1440 / views_per_day);
        pv.where = &where[pick(seed, where.size())];
        pv.ua = &uas[who % uas.size()];
        pv.country = country_names[pick(seed, countries)];
        pv.visitor = &id;
        a.add(pv);
        if (v % 100'000 == 99'999) {
            writer.submit(a.drain());
            while (writer.status().pending_counters > 0) {
                std::this_thread::sleep_for(milliseconds(20));
            }
        }
    }
}

// A folded day as recorder's fold leaves it: counts in :t and :d:DIM, visitors in :f.
void fill_folded_day(const cg::test::redis_server& redis, day_number day) {
    const std::string base = "cg:a:{demo:" + format_day(day) + "}";
    std::uint64_t seed = static_cast<std::uint64_t>(day) * 77;
    std::vector<std::string> t{"HSET", base + ":t"};
    for (int h = 0; h < 24; ++h) {
        t.push_back("pv:" + std::string(h < 10 ? "0" : "") + std::to_string(h));
        t.push_back(std::to_string(views_per_day / 24));
    }
    for (const auto* f : {"visits", "visits_ended", "bounces", "visit_pages", "visit_seconds"}) {
        t.push_back(f);
        t.push_back(std::to_string(200'000 + pick(seed, 1000)));
    }
    redis.command(t);
    std::vector<std::string> f{"HSET", base + ":f", "folded", "1", "k", "5", "u",
                               std::to_string(visitors_per_day)};
    const auto dim = [&](const char* name, std::size_t n, const std::string& prefix) {
        std::string rows;
        for (std::size_t i = 0; i < n; ++i) {
            const std::string value = prefix + std::to_string(i);
            rows += std::to_string(views_per_day / (i + 2)) + " " +
                    std::to_string(visitors_per_day / (i + 2)) + " " +
                    std::to_string(value.size()) + " " + value + "\n";
        }
        redis.command({"SET", base + ":r:" + name, rows});
    };
    dim("page", pages, "/artikkel/");
    dim("entry", pages / 2, "/artikkel/");
    dim("referrer", referrers, "ref");
    dim("channel", 6, "channel ");
    dim("utm_campaign", campaigns, "kampanje-");
    dim("country", countries, "C");
    dim("device", 3, "device ");
    dim("browser", browsers, "Browser ");
    dim("os", oses, "OS ");
    redis.command(f);
}

double time_report(stats_reader& reader, const std::string& report, const std::string& query) {
    std::vector<double> ms;
    for (int run = 0; run < 7; ++run) {
        std::promise<stats_answer> p;
        auto fut = p.get_future();
        const auto t0 = steady_clock::now();
        reader.answer(report, query, bench_now.load(),
                      [&p](stats_answer a) { p.set_value(std::move(a)); });
        const auto a = fut.get();
        ms.push_back(duration<double, std::milli>(steady_clock::now() - t0).count());
        if (a.status != 200) {
            std::fprintf(stderr, "%s: %u %s\n", report.c_str(), a.status, a.body.c_str());
        }
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

}  // namespace

int main() {
    cg::test::redis_server redis;
    cg::redis::redis_config cfg;
    cfg.socket = redis.socket_path().string();
    cfg.command_timeout = milliseconds(30'000);
    const std::vector<site_plan> sites{site_plan{"demo", true, site_calendar{"UTC"}, 395, 5}};
    recorder_options o;
    o.flush_interval = milliseconds(50);
    o.now = clock_now;
    o.max_keys = 4'000'000;
    o.max_ids = 16'000'000;
    const day_number today = site_calendar{"UTC"}.at(bench_now.load()).day;
    const auto t0 = steady_clock::now();
    {
        recorder writer{cfg, sites, std::make_shared<day_keys>(), o};
        writer.start();
        fill_recent_day(writer, today - 1);
        fill_recent_day(writer, today);
    }
    for (day_number d = today - 29; d <= today - 2; ++d) {
        fill_folded_day(redis, d);
    }
    std::printf("filled 30 days (%.0f s); Redis used %s\n",
                duration<double>(steady_clock::now() - t0).count(),
                redis.command({"INFO", "memory"}).text.substr(
                    redis.command({"INFO", "memory"}).text.find("used_memory_human:") + 18, 8)
                    .c_str());
    stats_reader reader{cfg, sites};
    reader.start();
    const std::string range =
        "site=demo&from=" + format_day(today - 29) + "&to=" + format_day(today);
    std::printf("| report (30 days, 1M page views a day) | median of 7 |\n|---|---:|\n");
    for (const auto* report : {"summary", "timeseries", "pages", "entry-pages", "referrers",
                               "channels", "campaigns", "countries", "devices", "browsers", "os",
                               "consent"}) {
        std::printf("| %s | %.1f ms |\n", report, time_report(reader, report, range));
    }
    std::printf("| pages, today only | %.1f ms |\n",
                time_report(reader, "pages", "site=demo&from=" + format_day(today) +
                                                 "&to=" + format_day(today)));
    return 0;
}
