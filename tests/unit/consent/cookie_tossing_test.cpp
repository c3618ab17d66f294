// Cookie tossing: a sibling subdomain (or a page under a longer Path) plants a consent cookie
// the browser sends alongside the visitor's own. Which one is the visitor's cannot be told.
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <boost/beast/http/fields.hpp>

#include "consent/cookie_filter.hpp"
#include "support/set_cookies.hpp"
#include "support/test_keys.hpp"
#include "support/test_policy.hpp"

namespace cg::consent {
namespace {

namespace http = boost::beast::http;
using cg::test::all_categories_policy;
using cg::test::cookie_values;
using cg::test::rule;

constexpr std::int64_t now = 1'800'000'000;

std::vector<cookie_rule> test_catalogue() {
    return {rule("PHPSESSID", category::necessary), rule("_ga", category::analytics),
            rule("_fbp", category::marketing)};
}

site_context plain_site() {
    return site_context{"demo", all_categories_policy(), "cg_consent", test_catalogue(),
                        cg::test::test_key_ring()};
}

site_context prefixed_site() {
    return site_context{"demo",
                        all_categories_policy(),
                        "cg_consent",
                        test_catalogue(),
                        cg::test::test_key_ring(),
                        /*host_prefix=*/true};
}

// The signed value of a consent cookie granting `granted`.
std::string signed_value(const site_context& site, category_set granted) {
    consent_state s;
    s.id = new_consent_id();
    s.granted = granted;
    s.policy_version = "7";
    s.issued = now - 10;
    return encode_consent(s, site.site(), site.keys());
}

TEST(CookieTossing, L3APlantedAcceptAllBesideTheVisitorsRejectDecidesNothing) {
    const auto site = plain_site();
    // The browser sends the longer-Path (planted) cookie first (RFC 6265 §5.4 step 2).
    const std::string planted = "cg_consent=" + signed_value(site, category_set::all());
    const std::string own = "cg_consent=" + signed_value(site, {category::necessary});
    http::fields req;
    req.insert(http::field::cookie, planted + "; _ga=GA1.1.42; PHPSESSID=abc; " + own);

    const auto v = filter_request_cookies(req, site, false, now);

    EXPECT_FALSE(v.state.has_value());
    EXPECT_TRUE(v.conflicting);
    EXPECT_EQ(v.granted, category_set{category::necessary});
    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc"});
    EXPECT_EQ(req["Consent-Categories"], "necessary");
}

TEST(CookieTossing, SeveralConsentCookiesConflictEvenWhenOnlyOneIsValid) {
    const auto site = plain_site();
    const std::string valid = "cg_consent=" + signed_value(site, category_set::all());
    const std::vector<std::string_view> one{valid};
    const std::string two = valid + "; cg_consent=garbage";
    const std::string same_twice = valid + "; " + valid;

    EXPECT_TRUE(site.read_visitor(one, false, false, now).state.has_value());
    EXPECT_FALSE(site.read_visitor(one, false, false, now).conflicting);
    for (const std::string& header : {two, same_twice}) {
        const auto v = site.read_visitor({header}, false, false, now);
        EXPECT_FALSE(v.state.has_value()) << header;
        EXPECT_TRUE(v.conflicting) << header;
    }
}

TEST(CookieTossing, ConsentCookiesInSeveralCookieHeadersAlsoConflict) {
    const auto site = plain_site();
    const std::string a = "cg_consent=" + signed_value(site, category_set::all());
    const std::string b = "cg_consent=" + signed_value(site, {category::necessary});

    const auto v = site.read_visitor({a, b}, false, false, now);

    EXPECT_FALSE(v.state.has_value());
    EXPECT_TRUE(v.conflicting);
}

TEST(CookieTossing, OneInvalidConsentCookieIsNoDecisionButNoConflict) {
    const auto site = plain_site();

    const auto v = site.read_visitor({"cg_consent=garbage"}, false, false, now);

    EXPECT_FALSE(v.state.has_value());
    EXPECT_FALSE(v.conflicting);
}

TEST(CookieTossing, OverHttpsWithTheHostPrefixOnlyTheHostCookieDecides) {
    const auto site = prefixed_site();
    const std::string own = "__Host-cg_consent=" + signed_value(site, {category::necessary});
    const std::string planted = "cg_consent=" + signed_value(site, category_set::all());
    http::fields req;
    req.insert(http::field::cookie, planted + "; _ga=1; " + own + "; PHPSESSID=abc");

    const auto v = filter_request_cookies(req, site, /*https=*/true, now);

    ASSERT_TRUE(v.state.has_value());
    EXPECT_FALSE(v.conflicting);
    EXPECT_EQ(v.granted, category_set{category::necessary});
    // Neither name reaches the upstream: both are the gateway's.
    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc"});
}

TEST(CookieTossing, OverHttpsWithTheHostPrefixAPlainConsentCookieAloneDecidesNothing) {
    const auto site = prefixed_site();
    const std::string planted = "cg_consent=" + signed_value(site, category_set::all());
    http::fields req;
    req.insert(http::field::cookie, planted + "; _ga=1");

    const auto v = filter_request_cookies(req, site, /*https=*/true, now);

    EXPECT_FALSE(v.state.has_value());
    EXPECT_FALSE(v.conflicting);
    EXPECT_TRUE(cookie_values(req).empty());
}

TEST(CookieTossing, OverPlainHttpThePlainNameDecidesEvenWithTheHostPrefix) {
    const auto site = prefixed_site();
    const std::string own =
        "cg_consent=" + signed_value(site, {category::necessary, category::analytics});
    http::fields req;
    req.insert(http::field::cookie, own + "; _ga=1; __Host-cg_consent=x");

    const auto v = filter_request_cookies(req, site, /*https=*/false, now);

    ASSERT_TRUE(v.state.has_value());
    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"_ga=1"});
}

TEST(CookieTossing, TwoHostPrefixedConsentCookiesConflict) {
    const auto site = prefixed_site();
    const std::string a = "__Host-cg_consent=" + signed_value(site, category_set::all());
    const std::string b = "__Host-cg_consent=" + signed_value(site, category_set::all());

    const auto v = site.read_visitor({a + "; " + b}, false, /*https=*/true, now);

    EXPECT_FALSE(v.state.has_value());
    EXPECT_TRUE(v.conflicting);
}

TEST(CookieTossing, ConsentCookieNameFollowsTheSchemeAndTheHostPrefixSetting) {
    EXPECT_EQ(prefixed_site().consent_cookie_name(true), "__Host-cg_consent");
    EXPECT_EQ(prefixed_site().consent_cookie_name(false), "cg_consent");
    EXPECT_EQ(plain_site().consent_cookie_name(true), "cg_consent");
    EXPECT_EQ(plain_site().consent_cookie_name(false), "cg_consent");
}

TEST(CookieTossing, BothConsentCookieNamesCountAsNecessary) {
    const auto site = prefixed_site();

    EXPECT_TRUE(site.allowed("cg_consent", category_set{category::necessary}));
    EXPECT_TRUE(site.allowed("__Host-cg_consent", category_set{category::necessary}));
}

}  // namespace
}  // namespace cg::consent
