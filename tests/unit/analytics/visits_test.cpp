#include "analytics/visits.hpp"

#include <gtest/gtest.h>

namespace {

using cg::analytics::aggregator;
using cg::analytics::dimension;
using cg::analytics::visit_table;
using cg::analytics::visitor_hasher;
using cg::analytics::visitor_source;

const visitor_hasher& hasher() {
    static const visitor_hasher h{cg::analytics::day_key{7}};
    return h;
}

// Visitor `n`: an address of its own, the same User-Agent as everyone.
visitor_source who_is(std::uint32_t n, std::uint64_t key_generation = 1) {
    return {&hasher(), key_generation, "site", boost::asio::ip::address_v4{0x0A000000U + n},
            cg::analytics::digest_of("Mozilla/5.0")};
}

std::uint64_t figure(const aggregator& a, dimension d) {
    return a.count({0, 7, d, ""});
}

// A page view of `path` on day 7 at `now`; the answer as touch() gives it.
cg::analytics::visit_step view(visit_table& visits, std::uint32_t who, std::int64_t now,
                               aggregator& a, std::string_view path = "/",
                               std::uint64_t key_generation = 1) {
    cg::analytics::page_rows rows;
    const std::array<std::string_view, cg::analytics::unique_rows.size()> values{
        path, {}, {}, "direct", {}, {}, {}, {}, "desktop", "Firefox", "Linux"};
    for (std::size_t i = 0; i < values.size(); ++i) {
        rows.set(i, values[i]);
    }
    const auto when = cg::analytics::local_moment{7, static_cast<std::uint8_t>(now / 3600 % 24),
                                                  static_cast<std::uint16_t>(now / 60 % 1440)};
    const visitor_source source = who_is(who, key_generation);
    return visits.touch(visits.key_of(0, when.day, source), 0, when, now / 60, source, now, rows,
                        nullptr, a);
}

TEST(Visits, PageViewsWithin30MinutesAreOneVisit) {
    visit_table visits;
    aggregator a;
    EXPECT_TRUE(view(visits, 1, 1000, a).started);
    EXPECT_FALSE(view(visits, 1, 1000 + 1799, a).started);
    EXPECT_FALSE(view(visits, 1, 1000 + 3000, a).started);  // 30 min after the last one
    EXPECT_TRUE(view(visits, 2, 1000, a).started);
    EXPECT_EQ(figure(a, dimension::visits), 2U);
    EXPECT_EQ(figure(a, dimension::visits_ended), 0U);
    EXPECT_EQ(visits.size(), 2U);
}

TEST(Visits, AVisitKeepsTheIdItStartedWithAndANewDayKeyStartsANewOne) {
    visit_table visits;
    aggregator a;
    const auto first = view(visits, 1, 1000, a);
    EXPECT_EQ(first.id, hasher()("site", who_is(1).address, who_is(1).user_agent));
    EXPECT_EQ(view(visits, 1, 1100, a).id, first.id);
    EXPECT_NE(view(visits, 2, 1100, a).id, first.id);
    const auto rekeyed = view(visits, 1, 1200, a, "/", 2);  // the day key was replaced
    EXPECT_TRUE(rekeyed.started);
    EXPECT_EQ(figure(a, dimension::visits), 3U);
}

TEST(Visits, AnEndedVisitIsFoldedIntoCountersAndForgotten) {
    visit_table visits;
    aggregator a;
    view(visits, 1, 1000, a);
    view(visits, 1, 1100, a);
    view(visits, 1, 1250, a);
    view(visits, 2, 1200, a);                 // a bounce
    EXPECT_TRUE(view(visits, 1, 1250 + 1800, a).started);  // idle 30 min: a new visit
    visits.sweep(1200 + 1800, a);                          // the bounce ends
    EXPECT_EQ(figure(a, dimension::visits), 3U);
    EXPECT_EQ(figure(a, dimension::visits_ended), 2U);
    EXPECT_EQ(figure(a, dimension::bounces), 1U);
    EXPECT_EQ(figure(a, dimension::visit_pages), 4U);
    EXPECT_EQ(figure(a, dimension::visit_seconds), 250U);
    EXPECT_EQ(visits.size(), 1U);
    visits.sweep(0, a, /*all=*/true);  // shutdown: every visit ends
    EXPECT_EQ(visits.size(), 0U);
    EXPECT_EQ(figure(a, dimension::visits_ended), 3U);
}

TEST(Visits, VisitsThatEndLeaveTheOthersFindable) {
    // Thousands of visits grow every shard several times; ending half of them moves others
    // into the freed places, and each of those must still be found as the visit it is.
    visit_table visits;
    aggregator a;
    constexpr std::uint32_t n = 3000;
    for (std::uint32_t i = 0; i < n; ++i) {
        ASSERT_TRUE(view(visits, i, 1000, a).started);
    }
    for (std::uint32_t i = 1; i < n; i += 2) {
        ASSERT_FALSE(view(visits, i, 2000, a).started) << i;
    }
    visits.sweep(1000 + 1800, a);  // the even ones were idle for 30 minutes
    EXPECT_EQ(visits.size(), n / 2);
    EXPECT_EQ(figure(a, dimension::visits_ended), n / 2);
    for (std::uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(view(visits, i, 2100, a).started, i % 2 == 0) << i;
    }
    EXPECT_EQ(figure(a, dimension::visits), n + n / 2);
    EXPECT_EQ(visits.size(), n);
    visits.sweep(0, a, /*all=*/true);
    EXPECT_EQ(visits.size(), 0U);
    EXPECT_EQ(figure(a, dimension::visits_ended), n + n / 2);
}

TEST(Visits, AFullTableEndsAVisitEarlyAndCountsIt) {
    visit_table visits{16};  // one per shard
    aggregator a;
    for (std::uint8_t i = 0; i < 64; ++i) {
        view(visits, i, 1000, a);
    }
    EXPECT_LE(visits.size(), 16U);
    EXPECT_EQ(visits.evicted(), 64U - visits.size());
    EXPECT_EQ(figure(a, dimension::visits), 64U);
    EXPECT_EQ(figure(a, dimension::visits_ended), visits.evicted());
}

TEST(Visits, AVisitAddsItsVisitorToARowOnceAndNewHoursAndPagesAgain) {
    using cg::analytics::remember_day;
    using cg::analytics::remember_hour;
    using cg::analytics::remember_minute;
    visit_table visits;
    aggregator a;
    const auto first = view(visits, 1, 39'000, a, "/");
    EXPECT_TRUE(first.started);
    EXPECT_NE(first.remember & remember_day, 0U);
    EXPECT_NE(first.remember & 1U, 0U);         // the page row
    EXPECT_NE(first.remember & (1U << 8), 0U);  // the device row
    const auto again = view(visits, 1, 39'010, a, "/");  // same page, minute, hour
    EXPECT_EQ(again.remember, 0U);
    const auto other_page = view(visits, 1, 39'070, a, "/jobb");  // a new page and minute
    EXPECT_EQ(other_page.remember, 1U | remember_minute);
    const auto next_hour = view(visits, 1, 39'700, a, "/jobb");
    EXPECT_EQ(next_hour.remember, remember_hour | remember_minute);
}

}  // namespace
