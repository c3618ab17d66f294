#include "analytics/aggregator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace {

using cg::analytics::aggregator;
using cg::analytics::channel;
using cg::analytics::count_key;
using cg::analytics::device_class;
using cg::analytics::dimension;
using cg::analytics::page_dimensions;
using cg::analytics::page_view;
using cg::analytics::user_agent;

constexpr cg::analytics::day_number day = 20'424;  // 2025-12-02
constexpr std::int64_t hour = day * 24 + 9;        // 09:00 that day

struct visit {
    page_dimensions where;
    user_agent ua;
};

visit make(std::string path, std::string referrer, channel c, std::string browser) {
    visit v;
    v.where.path = std::move(path);
    v.where.referrer_host = std::move(referrer);
    v.where.source = c;
    v.ua.browser = std::move(browser);
    v.ua.os = "Android";
    v.ua.kind = device_class::mobile;
    return v;
}

page_view view_of(const visit& v, std::uint32_t site = 0, bool anonymous = false,
                  const cg::analytics::visitor_id* who = nullptr) {
    page_view p;
    p.site = site;
    p.when = {day, 9, 9 * 60};
    p.minute = 1'764'666'000 / 60;
    p.anonymous = anonymous;
    p.where = &v.where;
    p.ua = &v.ua;
    p.country = "NO";
    p.visitor = who;
    return p;
}

cg::analytics::visitor_id id_of(std::uint8_t n) {
    cg::analytics::visitor_id id{};
    id[0] = n;
    id[15] = n;
    return id;
}

TEST(Aggregator, CountsTotalsAndEachBreakdown) {
    aggregator a;
    const visit google = make("/jobb/:id", "google.no", channel::organic_search, "Chrome");
    const visit direct = make("/", "", channel::direct, "Firefox");
    a.add(view_of(google));
    a.add(view_of(google));
    a.add(view_of(direct));
    EXPECT_EQ(a.count({0, hour, dimension::total, ""}), 3U);
    EXPECT_EQ(a.count({0, day, dimension::page, "/jobb/:id"}), 2U);
    EXPECT_EQ(a.count({0, day, dimension::page, "/"}), 1U);
    EXPECT_EQ(a.count({0, hour, dimension::page_hour, "/jobb/:id"}), 2U);  // C10: per hour
    EXPECT_EQ(a.count({0, day, dimension::referrer, "google.no"}), 2U);
    EXPECT_EQ(a.count({0, day, dimension::channel, "organic search"}), 2U);
    EXPECT_EQ(a.count({0, day, dimension::channel, "direct"}), 1U);
    EXPECT_EQ(a.count({0, day, dimension::browser, "Chrome"}), 2U);
    EXPECT_EQ(a.count({0, day, dimension::device, "mobile"}), 3U);
    EXPECT_EQ(a.count({0, day, dimension::country, "NO"}), 3U);
    EXPECT_EQ(a.count({0, day, dimension::referrer, ""}), 0U);  // no referrer: no row
    EXPECT_EQ(a.count({1, hour, dimension::total, ""}), 0U);    // another site
}

TEST(Aggregator, C8AnAnonymousViewCountsInTheTotalsOnly) {
    aggregator a;
    const visit v = make("/secret", "google.no", channel::organic_search, "Chrome");
    a.add(view_of(v, 0, true));
    EXPECT_EQ(a.count({0, hour, dimension::total, ""}), 1U);
    EXPECT_EQ(a.count({0, hour, dimension::anonymous, ""}), 1U);
    EXPECT_EQ(a.keys(), 2U);  // nothing about its page, referrer or browser
    const auto who = id_of(7);
    a.add(view_of(v, 0, true, &who));  // even with an id: no unique-visitor figure
    EXPECT_EQ(a.unique_ids({0, day, dimension::visitors, ""}), 0U);
    EXPECT_TRUE(a.drain().uniques.empty());
}

TEST(Aggregator, UniqueVisitorsPerDayHourAndRow) {
    aggregator a;
    const visit home = make("/", "google.no", channel::organic_search, "Chrome");
    const visit jobs = make("/jobb/:id", "", channel::direct, "Chrome");
    const auto anna = id_of(1);
    const auto ola = id_of(2);
    a.add(view_of(home, 0, false, &anna));
    a.add(view_of(jobs, 0, false, &anna));
    a.add(view_of(jobs, 0, false, &anna));
    a.add(view_of(jobs, 0, false, &ola));
    EXPECT_EQ(a.unique_ids({0, day, dimension::visitors, ""}), 2U);
    EXPECT_EQ(a.unique_ids({0, hour, dimension::visitors_hour, ""}), 2U);
    EXPECT_EQ(a.unique_ids({0, day, dimension::page, "/jobb/:id"}), 2U);
    EXPECT_EQ(a.unique_ids({0, day, dimension::page, "/"}), 1U);
    EXPECT_EQ(a.unique_ids({0, day, dimension::referrer, "google.no"}), 1U);
    EXPECT_EQ(a.count({0, day, dimension::page, "/jobb/:id"}), 3U);
    // The drained ids are what Redis's HyperLogLogs get: every visitor of a row, each once.
    const auto batch = a.drain();
    for (const auto& [key, ids] : batch.uniques) {
        EXPECT_EQ(std::set(ids.begin(), ids.end()).size(), ids.size()) << key.value;
    }
    const auto distinct = [&](const cg::analytics::count_key& k) {
        std::set<cg::analytics::visitor_id> ids;
        for (const auto& [key, list] : batch.uniques) {
            if (key == k) {
                ids.insert(list.begin(), list.end());
            }
        }
        return ids;
    };
    EXPECT_EQ(distinct({0, day, dimension::visitors, ""}),
              (std::set<cg::analytics::visitor_id>{anna, ola}));
    EXPECT_EQ(distinct({0, hour, dimension::visitors_hour, ""}).size(), 2U);
    EXPECT_EQ(distinct({0, day, dimension::page, "/jobb/:id"}).size(), 2U);
    EXPECT_EQ(distinct({0, day, dimension::page, "/"}),
              (std::set<cg::analytics::visitor_id>{anna}));
    EXPECT_EQ(distinct({0, day, dimension::referrer, "google.no"}).size(), 1U);
    EXPECT_TRUE(a.empty());
}

// Ids reach a row in any order: a visitor who comes back after others (a visit past what it
// remembers of its rows, a second visit) adds the same id again, apart from the first. A drain
// hands each of the row's visitors over exactly once, in the order they first came.
TEST(Aggregator, ADrainGivesEachVisitorOnceHoweverItsIdsCame) {
    aggregator a;
    const visit home = make("/", "", channel::direct, "Chrome");
    std::vector<cg::analytics::visitor_id> ids;
    for (int i = 0; i < 1000; ++i) {
        cg::analytics::visitor_id id{};
        id[3] = static_cast<std::uint8_t>(i);       // only a few bytes differ, as in the
        id[9] = static_cast<std::uint8_t>(i >> 8);  // tests' ids: the set must not rely on
        ids.push_back(id);                          // random-looking bits
    }
    for (int round = 0; round < 3; ++round) {
        for (const auto& id : ids) {
            a.add(view_of(home, 0, false, &id));
        }
    }
    const auto batch = a.drain();
    bool found = false;
    for (const auto& [key, list] : batch.uniques) {
        if (key == count_key{0, day, dimension::visitors, ""}) {
            EXPECT_EQ(list, ids);  // each once, first-come order
            found = true;
        }
    }
    EXPECT_TRUE(found);
}

TEST(Aggregator, EntryRowsCountVisitsNotPageViews) {
    aggregator a;
    const visit home = make("/", "", channel::direct, "Chrome");
    const auto anna = id_of(1);
    auto p = view_of(home, 0, false, &anna);
    p.entry = true;
    a.add(p);
    EXPECT_EQ(a.count({0, day, dimension::entry, "/"}), 0U);  // the visit table counts it
    EXPECT_EQ(a.unique_ids({0, day, dimension::entry, "/"}), 1U);
    a.add_count(0, day, dimension::entry, "/", 1);
    EXPECT_EQ(a.count({0, day, dimension::entry, "/"}), 1U);
}

TEST(Aggregator, DimensionNamesRoundTrip) {
    for (int d = 0; d <= static_cast<int>(dimension::visitors_minute); ++d) {
        const auto dim = static_cast<dimension>(d);
        EXPECT_EQ(cg::analytics::dimension_named(name_of(dim)), dim);
    }
    EXPECT_FALSE(cg::analytics::dimension_named("nope"));
}

TEST(Aggregator, HalvesMergedEqualTheWhole) {
    std::vector<visit> visits;
    for (int i = 0; i < 200; ++i) {
        visits.push_back(make("/p" + std::to_string(i % 17), i % 3 ? "finn.no" : "",
                              i % 3 ? channel::referral : channel::direct,
                              i % 2 ? "Chrome" : "Safari"));
    }
    aggregator whole;
    aggregator first;
    aggregator second;
    for (std::size_t i = 0; i < visits.size(); ++i) {
        whole.add(view_of(visits[i], static_cast<std::uint32_t>(i % 2)));
        (i % 5 < 2 ? first : second).add(view_of(visits[i], static_cast<std::uint32_t>(i % 2)));
    }
    second.merge(first.drain());
    EXPECT_EQ(first.keys(), 0U);
    auto a = whole.drain().counts;
    auto b = second.drain().counts;
    const auto order = [](const auto& x, const auto& y) {
        return std::tie(x.first.site, x.first.period, x.first.what, x.first.value) <
               std::tie(y.first.site, y.first.period, y.first.what, y.first.value);
    };
    std::sort(a.begin(), a.end(), order);
    std::sort(b.begin(), b.end(), order);
    EXPECT_EQ(a, b);
    EXPECT_EQ(whole.keys(), 0U);  // drained
}

TEST(Aggregator, PastItsBoundBreakdownsAreDroppedAndCountedTotalsNever) {
    aggregator a{12};
    for (int i = 0; i < 50; ++i) {
        const visit v = make("/p" + std::to_string(i), "", channel::direct, "Chrome");
        a.add(view_of(v));
    }
    EXPECT_EQ(a.count({0, hour, dimension::total, ""}), 50U);
    EXPECT_LE(a.keys(), 13U);  // the bound, plus the total that is always kept
    EXPECT_GT(a.dropped(), 0U);
    EXPECT_EQ(a.count({0, day, dimension::browser, "Chrome"}), 50U);  // an existing counter
}

}  // namespace
