#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "consent/cookie.hpp"

namespace {

using cg::consent::expiring_set_cookie;
using cg::consent::parse_cookie_header;
using cg::consent::parse_set_cookie;
using namespace std::string_literals;
using namespace std::string_view_literals;

using pairs = std::vector<std::pair<std::string_view, std::string_view>>;

pairs parse(std::string_view header) {
    pairs out;
    for (const auto& p : parse_cookie_header(header)) {
        out.emplace_back(p.name, p.value);
    }
    return out;
}

bool views_into(std::string_view part, std::string_view whole) {
    const std::less_equal<const char*> le;
    return le(whole.data(), part.data()) &&
           le(part.data() + part.size(), whole.data() + whole.size());
}

TEST(CookieHeader, ParsesTheRfc6265Examples) {
    EXPECT_EQ(parse("SID=31d4d96e407aad42"), (pairs{{"SID", "31d4d96e407aad42"}}));
    EXPECT_EQ(parse("SID=31d4d96e407aad42; lang=en-US"),
              (pairs{{"SID", "31d4d96e407aad42"}, {"lang", "en-US"}}));
}

TEST(CookieHeader, SkipsEmptyPieces) {
    EXPECT_EQ(parse(""), pairs{});
    EXPECT_EQ(parse(";"), pairs{});
    EXPECT_EQ(parse(";;;"), pairs{});
    EXPECT_EQ(parse(" ; \t; "), pairs{});
    EXPECT_EQ(parse(";a=1;;b=2;"), (pairs{{"a", "1"}, {"b", "2"}}));
}

TEST(CookieHeader, TrimsSpacesAndTabs) {
    EXPECT_EQ(parse("  a = 1 ;\tb\t=\t2\t"), (pairs{{"a", "1"}, {"b", "2"}}));
    EXPECT_EQ(parse("a=1;b=2"), (pairs{{"a", "1"}, {"b", "2"}}));
    EXPECT_EQ(parse("a=x y"), (pairs{{"a", "x y"}}));
}

TEST(CookieHeader, KeepsAPieceWithoutEqualsAsANamelessValue) {
    EXPECT_EQ(parse("foo"), (pairs{{"", "foo"}}));
    EXPECT_EQ(parse("a=1; foo ; b=2"), (pairs{{"a", "1"}, {"", "foo"}, {"b", "2"}}));
    EXPECT_EQ(parse("=bar"), (pairs{{"", "bar"}}));
}

TEST(CookieHeader, SplitsAtTheFirstEquals) {
    EXPECT_EQ(parse("token=YWJj=="), (pairs{{"token", "YWJj=="}}));
    EXPECT_EQ(parse("a==b"), (pairs{{"a", "=b"}}));
    EXPECT_EQ(parse("prefs=lang=nb&theme=dark"), (pairs{{"prefs", "lang=nb&theme=dark"}}));
    EXPECT_EQ(parse("empty="), (pairs{{"empty", ""}}));
}

TEST(CookieHeader, KeepsQuotesAsSent) {
    EXPECT_EQ(parse("a=\"x y\"; b=\"\""), (pairs{{"a", "\"x y\""}, {"b", "\"\""}}));
    EXPECT_EQ(parse("a=\"x;y\""), (pairs{{"a", "\"x"}, {"", "y\""}}));
}

TEST(CookieHeader, TreatsCommasAsData) {
    EXPECT_EQ(parse("a=1, b=2"), (pairs{{"a", "1, b=2"}}));
}

TEST(CookieHeader, KeepsDuplicateNamesInOrder) {
    // §5.4: a browser sends the longest path first; the same name may come several times.
    EXPECT_EQ(parse("id=deep; id=root"), (pairs{{"id", "deep"}, {"id", "root"}}));
}

TEST(CookieHeader, KeepsPrefixedNames) {
    EXPECT_EQ(parse("__Secure-ID=1; __Host-SID=2"),
              (pairs{{"__Secure-ID", "1"}, {"__Host-SID", "2"}}));
}

TEST(CookieHeader, KeepsControlCharactersAndNulBytesAsData) {
    const std::string header = "a\0b=c\x01\0d; e=\x7f"s;
    EXPECT_EQ(parse(header), (pairs{{"a\0b"sv, "c\x01\0d"sv}, {"e", "\x7f"}}));
}

TEST(CookieHeader, HandlesAHundredKilobyteValue) {
    const std::string value(100 * 1024, 'v');
    const std::string header = "a=1; big=" + value + "; z=2";
    const auto got = parse_cookie_header(header);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[1].value.size(), value.size());
    EXPECT_EQ(got[2].name, "z");
}

TEST(CookieHeader, HandlesManyPairsAndSeparators) {
    std::string header;
    for (int i = 0; i < 10000; ++i) {
        header += "c" + std::to_string(i) + "=" + std::to_string(i) + ";;  ";
    }
    const auto got = parse_cookie_header(header);
    ASSERT_EQ(got.size(), 10000u);
    EXPECT_EQ(got.back().name, "c9999");
    EXPECT_EQ(got.back().value, "9999");
    EXPECT_TRUE(parse_cookie_header(std::string(100 * 1024, ';')).empty());
}

TEST(CookieHeader, ReturnsViewsIntoTheHeader) {
    const std::string header = "SID=31d4d96e407aad42; lang=en-US; bare";
    for (const auto& p : parse_cookie_header(header)) {
        EXPECT_TRUE(views_into(p.name, header));
        EXPECT_TRUE(views_into(p.value, header));
    }
}

TEST(ExpiringSetCookie, BuildsTheMinimalDeletion) {
    EXPECT_EQ(expiring_set_cookie("_ga", "", "", false),
              "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax");
}

TEST(ExpiringSetCookie, AddsPathDomainAndSecure) {
    EXPECT_EQ(expiring_set_cookie("__Secure-id", "/", "example.com", true),
              "__Secure-id=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; "
              "Domain=example.com; Secure");
    EXPECT_EQ(expiring_set_cookie("_fbp", "/shop", "", false),
              "_fbp=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/shop; SameSite=Lax");
}

TEST(ExpiringSetCookie, IsReadByTheSetCookieParserAsAnExpiredCookie) {
    const std::string header = expiring_set_cookie("__Host-sid", "/", "", true);
    const auto c = parse_set_cookie(header);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "__Host-sid");
    EXPECT_EQ(c->value, "");
    EXPECT_EQ(c->max_age, 0);
    EXPECT_EQ(c->expires, 0);
    EXPECT_EQ(c->path, "/");
    EXPECT_FALSE(c->domain);
    EXPECT_TRUE(c->secure);
}

}  // namespace
