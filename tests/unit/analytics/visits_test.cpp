#include "analytics/visits.hpp"

#include <gtest/gtest.h>

namespace {

using cg::analytics::aggregator;
using cg::analytics::dimension;
using cg::analytics::visit_table;
using cg::analytics::visitor_id;

visitor_id id_of(std::uint8_t n) {
    visitor_id id{};
    id[0] = n;
    id[15] = n;
    return id;
}

std::uint64_t figure(const aggregator& a, dimension d) {
    return a.count({0, 7, d, ""});
}

TEST(Visits, PageViewsWithin30MinutesAreOneVisit) {
    visit_table visits;
    aggregator a;
    EXPECT_TRUE(visits.touch(0, 7, id_of(1), 1000, a));
    EXPECT_FALSE(visits.touch(0, 7, id_of(1), 1000 + 1799, a));
    EXPECT_FALSE(visits.touch(0, 7, id_of(1), 1000 + 3000, a));  // 30 min after the last one
    EXPECT_TRUE(visits.touch(0, 7, id_of(2), 1000, a));
    EXPECT_EQ(figure(a, dimension::visits), 2U);
    EXPECT_EQ(figure(a, dimension::visits_ended), 0U);
    EXPECT_EQ(visits.size(), 2U);
}

TEST(Visits, AnEndedVisitIsFoldedIntoCountersAndForgotten) {
    visit_table visits;
    aggregator a;
    visits.touch(0, 7, id_of(1), 1000, a);
    visits.touch(0, 7, id_of(1), 1100, a);
    visits.touch(0, 7, id_of(1), 1250, a);
    visits.touch(0, 7, id_of(2), 1200, a);                 // a bounce
    EXPECT_TRUE(visits.touch(0, 7, id_of(1), 1250 + 1800, a));  // idle 30 min: a new visit
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

TEST(Visits, AFullTableEndsAVisitEarlyAndCountsIt) {
    visit_table visits{16};  // one per shard
    aggregator a;
    for (std::uint8_t i = 0; i < 64; ++i) {
        visits.touch(0, 7, id_of(i), 1000, a);
    }
    EXPECT_LE(visits.size(), 16U);
    EXPECT_EQ(visits.evicted(), 64U - visits.size());
    EXPECT_EQ(figure(a, dimension::visits), 64U);
    EXPECT_EQ(figure(a, dimension::visits_ended), visits.evicted());
}

}  // namespace
