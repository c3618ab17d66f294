#include <gtest/gtest.h>

#include "analytics/stats.hpp"

namespace {

using cg::analytics::day_breakdown;
using cg::analytics::day_row;
using cg::analytics::threshold;

day_breakdown day(std::vector<day_row> rows, std::optional<std::uint64_t> under = std::nullopt) {
    return {std::move(rows), under};
}

TEST(Threshold, C13NoRowUnderKIsNamed) {
    const auto t = threshold({day({{"/", 9, 20}, {"/jobb/1", 4, 4}, {"/om", 5, 6}})}, 5);
    ASSERT_EQ(t.rows.size(), 2U);
    EXPECT_EQ(t.rows[0].name, "/");
    EXPECT_EQ(t.rows[1].name, "/om");
    EXPECT_FALSE(t.other);  // one row of 4: "(other)" is under k too
}

TEST(Threshold, OtherIsShownOnlyWhenItsOwnVisitorsReachK) {
    const std::vector<day_row> rows{{"/", 9, 20}, {"/a", 3, 3}, {"/b", 2, 5}, {"/c", 4, 4}};
    // The union of /a, /b, /c: 6 distinct visitors.
    auto t = threshold({day(rows, 6)}, 5);
    ASSERT_TRUE(t.other);
    EXPECT_EQ(t.other->visitors, 6U);
    EXPECT_EQ(t.other->count, 12U);
    // The same visitor behind all three: 4 < k, no "(other)" at all.
    t = threshold({day(rows, 4)}, 5);
    EXPECT_FALSE(t.other);
    // Union unknown: the largest row (4) stands in, a lower bound: not shown.
    t = threshold({day(rows)}, 5);
    EXPECT_FALSE(t.other);
}

TEST(Threshold, C13SuppressOnTheDailyGrainBeforeSumming) {
    // /a has 3 visitors on each of two days: 6 over the range, but never 5 on one day.
    const auto d1 = day({{"/", 10, 10}, {"/a", 3, 3}}, 3);
    const auto d2 = day({{"/", 10, 10}, {"/a", 3, 3}}, 3);
    const auto both = threshold({d1, d2}, 5);
    ASSERT_EQ(both.rows.size(), 1U);
    EXPECT_EQ(both.rows[0].name, "/");
    EXPECT_FALSE(both.other);
    // A differencing attack: range [d1, d2] minus range [d1] says nothing about /a.
    const auto first = threshold({d1}, 5);
    EXPECT_EQ(both.rows[0].visitors - first.rows[0].visitors, 10U);
    for (const auto& r : both.rows) {
        EXPECT_NE(r.name, "/a");
    }
}

TEST(Threshold, RowsAreSortedByVisitorsThenCountThenName) {
    const auto t = threshold({day({{"b", 5, 5}, {"a", 5, 5}, {"c", 6, 1}, {"d", 5, 9}})}, 5);
    ASSERT_EQ(t.rows.size(), 4U);
    EXPECT_EQ(t.rows[0].name, "c");
    EXPECT_EQ(t.rows[1].name, "d");
    EXPECT_EQ(t.rows[2].name, "a");
    EXPECT_EQ(t.rows[3].name, "b");
}

}  // namespace
