#include <cstdint>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "consent/cookie.hpp"

namespace {

using cg::consent::parse_cookie_date;

TEST(CookieDate, ParsesTheRfc6265ExampleDates) {
    EXPECT_EQ(parse_cookie_date("Wed, 09 Jun 2021 10:18:14 GMT"), 1623233894);
    EXPECT_EQ(parse_cookie_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
}

TEST(CookieDate, ParsesRfc850AndAsctimeForms) {
    EXPECT_EQ(parse_cookie_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_cookie_date("Sun Nov  6 08:49:37 1994"), 784111777);
    EXPECT_EQ(parse_cookie_date("Sun, 06-Nov-1994 08:49:37 GMT"), 784111777);
}

TEST(CookieDate, ParsesTheUnixEpoch) {
    EXPECT_EQ(parse_cookie_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
}

TEST(CookieDate, MapsTwoDigitYearsPerSection511) {
    EXPECT_EQ(parse_cookie_date("01 Jan 70 00:00:00"), 0);
    EXPECT_EQ(parse_cookie_date("31 Dec 99 23:59:59"), 946684799);
    EXPECT_EQ(parse_cookie_date("01 Jan 00 00:00:00"), 946684800);
    EXPECT_EQ(parse_cookie_date("01 Jan 69 00:00:00"), 3124224000);
}

TEST(CookieDate, AcceptsTheEdgesOfTheValidRange) {
    EXPECT_EQ(parse_cookie_date("Mon, 01 Jan 1601 00:00:00 GMT"), -11644473600);
    EXPECT_EQ(parse_cookie_date("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799);
    EXPECT_EQ(parse_cookie_date("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
    EXPECT_EQ(parse_cookie_date("Tue, 19 Jan 2038 03:14:08 GMT"), 2147483648);
}

TEST(CookieDate, RejectsValuesOutOfRange) {
    EXPECT_EQ(parse_cookie_date("Wed, 09 Jun 2021 24:00:00 GMT"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("Wed, 09 Jun 2021 10:60:00 GMT"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("Wed, 09 Jun 2021 10:18:60 GMT"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("Wed, 00 Jun 2021 10:18:14 GMT"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("Wed, 32 Jun 2021 10:18:14 GMT"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("Sun, 31 Dec 1600 23:59:59 GMT"), std::nullopt);
}

TEST(CookieDate, RejectsDatesThatDoNotExist) {
    EXPECT_EQ(parse_cookie_date("29 Feb 2001 00:00:00"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("29 Feb 1900 00:00:00"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("31 Apr 2021 00:00:00"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("31 Jun 2021 00:00:00"), std::nullopt);
}

TEST(CookieDate, FailsWhenAPartIsMissing) {
    EXPECT_EQ(parse_cookie_date(""), std::nullopt);
    EXPECT_EQ(parse_cookie_date(" ,;-/ "), std::nullopt);
    EXPECT_EQ(parse_cookie_date("Wed, 09 Jun 2021 GMT"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("Wed, Jun 2021 10:18:14 GMT"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("Wed, 09 2021 10:18:14 GMT"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("Wed, 09 Jun 10:18:14 GMT"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("tomorrow"), std::nullopt);
}

TEST(CookieDate, AcceptsTokensInAnyOrderWithAnyDelimiters) {
    EXPECT_EQ(parse_cookie_date("10:18:14 2021 Jun 09"), 1623233894);
    EXPECT_EQ(parse_cookie_date("Jun/09\\2021@10:18:14"), 1623233894);
    EXPECT_EQ(parse_cookie_date("\t09-jUN-2021{10:18:14}"), 1623233894);
}

TEST(CookieDate, TakesTheFirstTokenOfEachKind) {
    EXPECT_EQ(parse_cookie_date("Wed, 09 Jun 2021 10:18:14 11:22:33 GMT"), 1623233894);
    // "12" is a second day-of-month candidate but the day is already set, so it is the year.
    EXPECT_EQ(parse_cookie_date("09 12 Jun 10:18:14"), parse_cookie_date("09 Jun 2012 10:18:14"));
    // An out-of-range first time is not replaced by a later valid one.
    EXPECT_EQ(parse_cookie_date("09 Jun 2021 91:22:33 10:18:14"), std::nullopt);
}

TEST(CookieDate, MatchesMonthsByCaseInsensitivePrefix) {
    EXPECT_EQ(parse_cookie_date("09 JUNE 2021 10:18:14"), 1623233894);
    EXPECT_EQ(parse_cookie_date("09 junk 2021 10:18:14"), 1623233894);
    EXPECT_EQ(parse_cookie_date("09 ju 2021 10:18:14"), std::nullopt);
}

TEST(CookieDate, AcceptsShortTimeFieldsAndTrailingText) {
    EXPECT_EQ(parse_cookie_date("09 Jun 2021 1:2:3"), parse_cookie_date("09 Jun 2021 01:02:03"));
    EXPECT_EQ(parse_cookie_date("09 Jun 2021 10:18:14GMT+0200"), 1623233894);
    EXPECT_EQ(parse_cookie_date("09th Jun 2021AD 10:18:14"), 1623233894);
}

TEST(CookieDate, RejectsTooManyDigits) {
    EXPECT_EQ(parse_cookie_date("009 Jun 2021 10:18:14"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("09 Jun 20211 10:18:14"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("09 Jun 2021 100:18:14"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("09 Jun 2021 10:18:145"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("09 Jun 2021 10:18:99999999999999999999"), std::nullopt);
    EXPECT_EQ(parse_cookie_date("99999999999999999999 Jun 2021 10:18:14"), std::nullopt);
}

TEST(CookieDate, TreatsControlAndHighBytesAsTokenCharacters) {
    // %x00-08, %x0A-1F and %x7F-FF are non-delimiters: they end a number, not a token.
    using namespace std::string_literals;
    EXPECT_EQ(parse_cookie_date("09\x01 Jun 2021 10:18:14"), 1623233894);
    EXPECT_EQ(parse_cookie_date("09 Jun 2021 10:18:14\0garbage"s), 1623233894);
    EXPECT_EQ(parse_cookie_date("\x01"
                                "09 Jun 2021 10:18:14"),
              std::nullopt);
    EXPECT_EQ(parse_cookie_date("09 Jun\xff 2021 10:18:14"), 1623233894);
}

TEST(CookieDate, HandlesHugeInputs) {
    const std::string junk(100 * 1024, 'x');
    EXPECT_EQ(parse_cookie_date(junk), std::nullopt);
    EXPECT_EQ(parse_cookie_date(junk + " Wed, 09 Jun 2021 10:18:14 GMT"), 1623233894);
    EXPECT_EQ(parse_cookie_date(std::string(100 * 1024, '9')), std::nullopt);
    EXPECT_EQ(parse_cookie_date(std::string(100 * 1024, ',')), std::nullopt);
    std::string many_tokens;
    for (int i = 0; i < 10000; ++i) {
        many_tokens += "GMT ";
    }
    EXPECT_EQ(parse_cookie_date(many_tokens + "09 Jun 2021 10:18:14"), 1623233894);
}

}  // namespace
