#include "analytics/calendar.hpp"

#include <gtest/gtest.h>

namespace {

using cg::analytics::format_day;
using cg::analytics::parse_day;
using cg::analytics::site_calendar;

TEST(Calendar, DaysRoundTripAndBadDatesAreRefused) {
    EXPECT_EQ(parse_day("1970-01-01"), 0);
    EXPECT_EQ(parse_day("2026-12-02"), 20'789);
    EXPECT_EQ(format_day(20'789), "2026-12-02");
    EXPECT_EQ(format_day(*parse_day("2024-02-29")), "2024-02-29");
    for (const char* bad : {"2026-02-30", "2026-13-01", "2026-1-01", "2026-12-2", "", "20261202",
                            "2026-12-02x", "1969-12-31", "2026/12/02", "２０２６-12-02"}) {
        EXPECT_FALSE(parse_day(bad)) << bad;
    }
}

TEST(Calendar, C10HoursAndDaysAreTheSitesEvenAcrossSummerTime) {
    const site_calendar oslo{"Europe/Oslo"};
    // 2026-03-29 00:30 UTC is 01:30 CET; 01:30 UTC is 03:30 CEST (the clocks went forward).
    EXPECT_EQ(oslo.at(1'774'744'200).hour, 1);
    EXPECT_EQ(oslo.at(1'774'747'800).hour, 3);
    // 2026-12-01 23:30 UTC is already 2 December in Oslo.
    const auto m = oslo.at(1'764'631'800 + 365 * 86'400);
    EXPECT_EQ(format_day(m.day), "2026-12-02");
    EXPECT_EQ(m.hour, 0);
    EXPECT_EQ(m.minute, 30);
    // The day starts at local midnight: 23:00 UTC the evening before in winter.
    EXPECT_EQ(oslo.start_of(*parse_day("2026-12-02")), 1'764'630'000 + 365 * 86'400);
    const site_calendar utc{"UTC"};
    EXPECT_EQ(utc.start_of(*parse_day("2026-12-02")), 1'764'633'600 + 365 * 86'400);
}

TEST(Calendar, AnUnknownZoneIsRefusedWithItsName) {
    try {
        site_calendar bad{"Europe/Atlantis"};
        FAIL() << "no exception";
    } catch (const cg::analytics::time_zone_error& e) {
        EXPECT_NE(std::string{e.what()}.find("\"Europe/Atlantis\""), std::string::npos);
    }
}

}  // namespace
