#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "consent/cookie.hpp"

namespace {

using cg::consent::is_deletion;
using cg::consent::parse_set_cookie;
using namespace std::string_literals;
using namespace std::string_view_literals;

// True when `part` is a view into `whole` (not a copy that merely compares equal).
bool views_into(std::string_view part, std::string_view whole) {
    const std::less_equal<const char*> le;
    return le(whole.data(), part.data()) &&
           le(part.data() + part.size(), whole.data() + whole.size());
}

TEST(SetCookie, ParsesTheRfc6265Section31Examples) {
    auto c = parse_set_cookie("SID=31d4d96e407aad42");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "SID");
    EXPECT_EQ(c->value, "31d4d96e407aad42");
    EXPECT_FALSE(c->path);
    EXPECT_FALSE(c->domain);
    EXPECT_FALSE(c->secure);
    EXPECT_FALSE(c->http_only);

    c = parse_set_cookie("SID=31d4d96e407aad42; Path=/; Domain=example.com");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->path, "/");
    EXPECT_EQ(c->domain, "example.com");

    c = parse_set_cookie("lang=en-US; Path=/; Domain=example.com");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "lang");
    EXPECT_EQ(c->value, "en-US");

    c = parse_set_cookie("SID=31d4d96e407aad42; Path=/; Secure; HttpOnly");
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->secure);
    EXPECT_TRUE(c->http_only);

    c = parse_set_cookie("lang=en-US; Expires=Wed, 09 Jun 2021 10:18:14 GMT");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->value, "en-US");
    EXPECT_EQ(c->expires, 1623233894);

    c = parse_set_cookie("lang=; Expires=Sun, 06 Nov 1994 08:49:37 GMT");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "lang");
    EXPECT_EQ(c->value, "");
    EXPECT_EQ(c->expires, 784111777);
}

TEST(SetCookie, IgnoresAHeaderWithoutEquals) {
    EXPECT_FALSE(parse_set_cookie(""));
    EXPECT_FALSE(parse_set_cookie(";"));
    EXPECT_FALSE(parse_set_cookie(";;;;"));
    EXPECT_FALSE(parse_set_cookie("foo"));
    EXPECT_FALSE(parse_set_cookie("foo; Path=/; a=b"));
    EXPECT_FALSE(parse_set_cookie("foo;bar=baz"));
}

TEST(SetCookie, IgnoresAnEmptyName) {
    EXPECT_FALSE(parse_set_cookie("="));
    EXPECT_FALSE(parse_set_cookie("=bar"));
    EXPECT_FALSE(parse_set_cookie(" =bar"));
    EXPECT_FALSE(parse_set_cookie("\t=bar; Path=/"));
    EXPECT_FALSE(parse_set_cookie("===a=bar"));
}

TEST(SetCookie, TrimsSpacesAndTabsAroundNameAndValue) {
    const auto c = parse_set_cookie("\tfoo\t=\tbar\t \t;\tttt");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "foo");
    EXPECT_EQ(c->value, "bar");
    const auto inner = parse_set_cookie("foo bar = baz qux ");
    ASSERT_TRUE(inner);
    EXPECT_EQ(inner->name, "foo bar");
    EXPECT_EQ(inner->value, "baz qux");
}

TEST(SetCookie, SplitsAtTheFirstEquals) {
    const auto c = parse_set_cookie("  A=== BC  ;foo;;;   bar");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "A");
    EXPECT_EQ(c->value, "== BC");
}

TEST(SetCookie, KeepsQuotesInValuesLikeBrowsers) {
    auto c = parse_set_cookie("foo=\"bar\"");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->value, "\"bar\"");
    c = parse_set_cookie("foo=\"  bar \"");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->value, "\"  bar \"");
    // A quoted ';' still ends the value: quotes carry no meaning in §5.2.
    c = parse_set_cookie("foo=\"bar;baz\"; Secure");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->value, "\"bar");
    EXPECT_TRUE(c->secure);
}

TEST(SetCookie, TreatsCommasAsData) {
    const auto c = parse_set_cookie("foo=bar, baz=qux");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "foo");
    EXPECT_EQ(c->value, "bar, baz=qux");
}

TEST(SetCookie, MatchesAttributeNamesCaseInsensitively) {
    const auto c = parse_set_cookie(
        "a=b; SECURE; hTtPoNlY; PATH=/x; DoMaIn=Example.COM; MAX-AGE=5; samesite=Strict; "
        "EXPIRES=Wed, 09 Jun 2021 10:18:14 GMT");
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->secure);
    EXPECT_TRUE(c->http_only);
    EXPECT_EQ(c->path, "/x");
    EXPECT_EQ(c->domain, "Example.COM");
    EXPECT_EQ(c->max_age, 5);
    EXPECT_EQ(c->same_site, "Strict");
    EXPECT_EQ(c->expires, 1623233894);
}

TEST(SetCookie, ReadsExpiresWithCommasAndOddSpacing) {
    auto c = parse_set_cookie("a=b;Expires=Wed,  09-Jun-2021   10:18:14 GMT ;Path=/");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->expires, 1623233894);
    EXPECT_EQ(c->path, "/");
    c = parse_set_cookie("a=b; expires = \tWednesday, 09-Jun-21 10:18:14 GMT\t");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->expires, 1623233894);
    // A comma-joined second cookie ends up inside the date, where it is ignored.
    c = parse_set_cookie("foo=bar; Expires=Wed 09 Jun 2021 10:18:14 GMT, baz=qux");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->expires, 1623233894);
}

TEST(SetCookie, IgnoresAnUnparsableExpires) {
    auto c = parse_set_cookie("a=b; Expires=soon");
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->expires);
    c = parse_set_cookie("a=b; Expires=Wed, 09 Jun 2021 10:18:14 GMT; Expires=never; Expires=");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->expires, 1623233894);
}

TEST(SetCookie, LetsTheLastValidMaxAgeWin) {
    auto c = parse_set_cookie("a=b; Max-Age=10; Max-Age=20; max-age=30");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->max_age, 30);
    c = parse_set_cookie("a=b; Max-Age=10; Max-Age=2.5; Max-Age=+5; Max-Age=; Max-Age=-");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->max_age, 10);
}

TEST(SetCookie, ReadsMaxAgePerSection522) {
    const auto max_age = [](std::string_view header) { return parse_set_cookie(header)->max_age; };
    EXPECT_EQ(max_age("a=b; Max-Age=0"), 0);
    EXPECT_EQ(max_age("a=b; Max-Age=-1"), -1);
    EXPECT_EQ(max_age("a=b; Max-Age=-0"), 0);
    EXPECT_EQ(max_age("a=b; Max-Age=007"), 7);
    EXPECT_EQ(max_age("a=b; Max-Age= 60 "), 60);
    EXPECT_EQ(max_age("a=b; Max-Age=50,399"), std::nullopt);
    EXPECT_EQ(max_age("a=b; Max-Age=6 0"), std::nullopt);
    EXPECT_EQ(max_age("a=b; Max-Age=0x10"), std::nullopt);
    EXPECT_EQ(max_age("a=b; Max-Age=--1"), std::nullopt);
    EXPECT_EQ(max_age("a=b; Max-Age"), std::nullopt);
}

TEST(SetCookie, ClampsMaxAgeThatOverflows) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    EXPECT_EQ(parse_set_cookie("a=b; Max-Age=9223372036854775807")->max_age, max);
    EXPECT_EQ(parse_set_cookie("a=b; Max-Age=9223372036854775808")->max_age, max);
    EXPECT_EQ(parse_set_cookie("a=b; Max-Age=" + std::string(1000, '9'))->max_age, max);
    EXPECT_EQ(parse_set_cookie("a=b; Max-Age=-" + std::string(1000, '9'))->max_age, -max);
    EXPECT_EQ(parse_set_cookie("a=b; Max-Age=" + std::string(1000, '9') + "x")->max_age,
              std::nullopt);
}

TEST(SetCookie, KeepsBothExpiresAndMaxAge) {
    // §5.3 step 3 gives Max-Age precedence; that choice is the caller's, so both are kept.
    const auto c = parse_set_cookie("a=b; Max-Age=60; Expires=Sun, 06 Nov 1994 08:49:37 GMT");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->max_age, 60);
    EXPECT_EQ(c->expires, 784111777);
}

TEST(SetCookie, RemovesOneLeadingDotFromDomain) {
    EXPECT_EQ(parse_set_cookie("a=b; Domain=.example.com")->domain, "example.com");
    EXPECT_EQ(parse_set_cookie("a=b; Domain=..example.com")->domain, ".example.com");
    EXPECT_EQ(parse_set_cookie("a=b; domain=  .example.com ")->domain, "example.com");
    EXPECT_EQ(parse_set_cookie("a=b; Domain=.")->domain, "");
}

TEST(SetCookie, IgnoresAnEmptyDomain) {
    EXPECT_EQ(parse_set_cookie("a=b; Domain=")->domain, std::nullopt);
    EXPECT_EQ(parse_set_cookie("a=b; Domain")->domain, std::nullopt);
    EXPECT_EQ(parse_set_cookie("a=b; Domain=example.com; Domain=")->domain, "example.com");
    EXPECT_EQ(parse_set_cookie("a=b; Domain=example.com; Domain=other.test")->domain, "other.test");
}

TEST(SetCookie, ResetsPathToDefaultUnlessItStartsWithSlash) {
    EXPECT_EQ(parse_set_cookie("a=b; Path=/docs/web")->path, "/docs/web");
    EXPECT_EQ(parse_set_cookie("a=b; Path=docs")->path, std::nullopt);
    EXPECT_EQ(parse_set_cookie("a=b; Path=\"/docs\"")->path, std::nullopt);
    EXPECT_EQ(parse_set_cookie("a=b; Path=/docs; Path=")->path, std::nullopt);
    EXPECT_EQ(parse_set_cookie("a=b; Path=; Path=/docs")->path, "/docs");
    EXPECT_EQ(parse_set_cookie("a=b; \tpath\t=\t/docs\t")->path, "/docs");
}

TEST(SetCookie, SetsSecureAndHttpOnlyWhateverTheirValue) {
    const auto c = parse_set_cookie("a=b; Secure=no; HttpOnly=false");
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->secure);
    EXPECT_TRUE(c->http_only);
    EXPECT_FALSE(parse_set_cookie("a=b; \"Secure\"")->secure);
    EXPECT_FALSE(parse_set_cookie("a=b; Secure qux")->secure);
    EXPECT_FALSE(parse_set_cookie("a=b; Securely")->secure);
}

TEST(SetCookie, KeepsSameSiteAsSent) {
    EXPECT_EQ(parse_set_cookie("a=b; SameSite=Lax")->same_site, "Lax");
    EXPECT_EQ(parse_set_cookie("a=b; SameSite=None; Secure")->same_site, "None");
    EXPECT_EQ(parse_set_cookie("a=b; samesite=bogus")->same_site, "bogus");
    EXPECT_EQ(parse_set_cookie("a=b; SameSite")->same_site, "");
    EXPECT_EQ(parse_set_cookie("a=b")->same_site, std::nullopt);
}

TEST(SetCookie, IgnoresUnknownAttributes) {
    const auto c =
        parse_set_cookie("foo=bar; version=1; customvalue=\"1000 or more\"; Priority=High");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "foo");
    EXPECT_EQ(c->value, "bar");
    EXPECT_FALSE(c->path);
    EXPECT_FALSE(c->secure);
}

TEST(SetCookie, ParsesPrefixedNamesLikeAnyOther) {
    auto c = parse_set_cookie("__Secure-ID=123; Secure; Domain=example.com");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "__Secure-ID");
    EXPECT_TRUE(c->secure);
    c = parse_set_cookie("__Host-ID=123; Secure; Path=/");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "__Host-ID");
    EXPECT_EQ(c->path, "/");
    EXPECT_FALSE(c->domain);
}

TEST(SetCookie, KeepsControlCharactersAndNulBytesAsData) {
    // RFC 6265 §5.2 does not reject them; names are compared exactly, so "_ga\0x" is not "_ga".
    const std::string header = "_ga\0x=v\x01\x7f\0z; Path=/\r"s;
    const auto c = parse_set_cookie(header);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "_ga\0x"sv);
    EXPECT_EQ(c->value, "v\x01\x7f\0z"sv);
    EXPECT_EQ(c->path, "/\r"sv);
}

TEST(SetCookie, HandlesAHundredKilobyteValue) {
    const std::string value(100 * 1024, 'v');
    const std::string header = "big=" + value + "; Path=/";
    const auto c = parse_set_cookie(header);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->value.size(), value.size());
    EXPECT_EQ(c->path, "/");
}

TEST(SetCookie, HandlesManyAttributes) {
    std::string header = "a=b";
    for (int i = 0; i < 10000; ++i) {
        header += "; x=y; Max-Age=" + std::to_string(i);
    }
    header += std::string(10000, ';');
    const auto c = parse_set_cookie(header);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->max_age, 9999);
}

TEST(SetCookie, ReturnsViewsIntoTheHeader) {
    const std::string header =
        "n=v; Domain=.example.com; Path=/p; SameSite=Lax; Expires=Sun, 06 Nov 1994 08:49:37 GMT";
    const auto c = parse_set_cookie(header);
    ASSERT_TRUE(c);
    EXPECT_TRUE(views_into(c->name, header));
    EXPECT_TRUE(views_into(c->value, header));
    EXPECT_TRUE(views_into(*c->domain, header));
    EXPECT_TRUE(views_into(*c->path, header));
    EXPECT_TRUE(views_into(*c->same_site, header));

    const std::string bare = "n=; SameSite";
    const auto e = parse_set_cookie(bare);
    ASSERT_TRUE(e);
    EXPECT_TRUE(views_into(e->value, bare));
    EXPECT_TRUE(views_into(*e->same_site, bare));
}

TEST(IsDeletion, AcceptsTheDeletionsSitesSend) {
    EXPECT_TRUE(is_deletion("_ga=; Max-Age=0"));
    EXPECT_TRUE(is_deletion("_ga=; Max-Age=-1; Path=/"));
    EXPECT_TRUE(is_deletion("_ga=deleted; max-age=-0; Domain=.example.no"));
    EXPECT_TRUE(is_deletion("_ga=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
    EXPECT_TRUE(is_deletion("_ga=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; Max-Age=0"));
    EXPECT_TRUE(is_deletion("lang=; Expires=Sun, 06 Nov 1994 08:49:37 GMT"));  // RFC 6265 §3.1
    EXPECT_TRUE(is_deletion("_ga=; Max-Age=0; Max-Age=-5"));
    EXPECT_TRUE(is_deletion("_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
    EXPECT_TRUE(is_deletion("_ga=; Max-Age=0; Expires=1 Jan 1970 00:00:00"));
}

TEST(IsDeletion, RefusesAMaxAgeThatChromiumReadsDifferently) {
    // RFC 6265 §5.2.2 ignores "+31536000" so Max-Age=0 wins; Chromium reads the last
    // Max-Age as 31536000 and keeps the cookie for a year.
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=0; Max-Age=+31536000"));
    // The RFC ignores "+999" and expires by the date; Chromium keeps it for 999 seconds.
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=+999; Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=0; Max-Age=abc"));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=0; Max-Age="));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=0; Max-Age"));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=-0x10"));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=\"0\""));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=-" + std::string(30, '9')));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=" + std::string(2000, '0')));
}

TEST(IsDeletion, RefusesWhatStoresUnderAnyReading) {
    EXPECT_FALSE(is_deletion("_ga=1"));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=60"));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=60; Max-Age=0; Max-Age=1"));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=0; Expires=Wed, 21 Oct 2037 07:28:00 GMT"));
    EXPECT_FALSE(is_deletion("_ga=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT"));
    EXPECT_FALSE(is_deletion("_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=soon"));
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=0; Expires=soon"));
    EXPECT_FALSE(is_deletion("no equals; Max-Age=0"));
    EXPECT_FALSE(is_deletion("=1; Max-Age=0"));
}

TEST(IsDeletion, NeedsTheUsualDateShapeWithoutMaxAge) {
    // Lenient §5.1.1 forms that browsers' own date parsers may not read alike.
    EXPECT_FALSE(is_deletion("_ga=1; Expires=1 Jan 1970 00:00:00"));
    EXPECT_FALSE(is_deletion("_ga=1; Expires=Thursday, 01-Jan-70 00:00:00 GMT"));
    EXPECT_FALSE(is_deletion("_ga=1; Expires=Thu, 01 Jan-1970 00:00:00 GMT"));
    EXPECT_FALSE(is_deletion("_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 UTC"));
}

TEST(IsDeletion, RefusesControlBytesThatBrowsersCutTheLineAt) {
    EXPECT_FALSE(is_deletion("_ga=1; Max-Age=0\r"));
    EXPECT_FALSE(is_deletion("_ga=1\0; Max-Age=0"s));
    EXPECT_FALSE(is_deletion("_ga=1\n; Max-Age=0"));
    EXPECT_TRUE(is_deletion("_ga=1;\tMax-Age=0"));
}

}  // namespace
