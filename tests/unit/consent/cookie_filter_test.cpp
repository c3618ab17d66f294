#include "consent/cookie_filter.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/fields.hpp>

#include "support/set_cookies.hpp"
#include "support/test_keys.hpp"
#include "support/test_policy.hpp"

namespace cg::consent {
namespace {

namespace http = boost::beast::http;
using cg::test::all_categories_policy;
using cg::test::rule;
using cg::test::set_cookie_names;

std::vector<cookie_rule> test_catalogue() {
    return {rule("PHPSESSID", category::necessary), rule("_ga", category::analytics),
            rule("_ga_*", category::analytics), rule("_fbp", category::marketing),
            rule("lang", category::preferences)};
}

const auto keys = cg::test::test_key_ring();

site_context demo_site(site_policy p = all_categories_policy()) {
    return site_context{"demo", std::move(p), "cg_consent", test_catalogue(), keys};
}

constexpr std::int64_t now = 1'800'000'000;

std::string consent_cookie(const site_context& site, category_set granted) {
    consent_state s;
    s.id = new_consent_id();
    s.granted = granted;
    s.policy_version = "7";
    s.issued = now - 10;
    return "cg_consent=" + encode_consent(s, site.site(), site.keys());
}

std::vector<std::string> cookie_values(const http::fields& f) {
    std::vector<std::string> values;
    for (const auto& field : f) {
        if (field.name() == http::field::cookie) {
            values.emplace_back(field.value());
        }
    }
    return values;
}

http::fields upstream_response() {
    http::fields res;
    res.insert(http::field::set_cookie, "PHPSESSID=abc; Path=/; HttpOnly");
    res.insert(http::field::content_type, "text/html");
    res.insert(http::field::set_cookie, "_ga=GA1.1.42; Max-Age=63072000; Path=/");
    res.insert(http::field::set_cookie, "_ga_ABC123=GS1.1; Expires=Wed, 21 Oct 2037 07:28:00 GMT");
    res.insert(http::field::set_cookie, "_fbp=fb.1.2; Path=/; Domain=.example.no");
    res.insert(http::field::set_cookie, "mystery=1");
    return res;
}

TEST(SetCookieFilter, BeforeConsentOnlyNecessaryCookiesPass) {
    const auto site = demo_site();
    auto res = upstream_response();

    filter_set_cookies(res, site, category_set{category::necessary});

    EXPECT_EQ(set_cookie_names(res), std::vector<std::string>{"PHPSESSID"});
    EXPECT_EQ(res[http::field::content_type], "text/html");
}

TEST(SetCookieFilter, AnalyticsConsentLetsGoogleAnalyticsCookiesThrough) {
    const auto site = demo_site();
    auto res = upstream_response();

    filter_set_cookies(res, site, {category::necessary, category::analytics});

    EXPECT_EQ(set_cookie_names(res), (std::vector<std::string>{"PHPSESSID", "_ga", "_ga_ABC123"}));
}

TEST(SetCookieFilter, UnknownCookiesNeedEveryCategory) {
    const auto site = demo_site();
    auto res = upstream_response();

    filter_set_cookies(res, site, category_set::all());

    EXPECT_EQ(set_cookie_names(res).size(), 5U);
}

TEST(SetCookieFilter, UnknownCookiesCanBeBlockedForGood) {
    auto p = all_categories_policy();
    p.unknown = unknown_cookies::never;
    const auto site = demo_site(p);
    auto res = upstream_response();

    filter_set_cookies(res, site, category_set::all());

    EXPECT_EQ(set_cookie_names(res).size(), 4U);
}

TEST(SetCookieFilter, CountsDropsAndUnknownNamesButNoValues) {
    const auto site = demo_site();
    auto res = upstream_response();
    filter_set_cookies(res, site, category_set{category::necessary});
    auto again = upstream_response();
    filter_set_cookies(again, site, category_set{category::necessary});

    const auto dropped = site.observations().dropped_counts();
    const cookie_observations::counts expected{
        {"_fbp", 2}, {"_ga", 2}, {"_ga_ABC123", 2}, {"mystery", 2}};
    EXPECT_EQ(dropped, expected);
    EXPECT_EQ(site.observations().unknown_counts(), (cookie_observations::counts{{"mystery", 2}}));
    const auto variants = site.observations().variants("_fbp");
    ASSERT_EQ(variants.size(), 1U);
    EXPECT_EQ(variants[0], (std::pair<std::string, std::string>{"/", "example.no"}));
}

TEST(SetCookieFilter, UpstreamCannotSetTheConsentCookie) {
    const auto site = demo_site();
    http::fields res;
    res.insert(http::field::set_cookie, "cg_consent=forged; Path=/");

    filter_set_cookies(res, site, category_set::all());

    EXPECT_TRUE(set_cookie_names(res).empty());
}

TEST(SetCookieFilter, DeletionsAlwaysPass) {
    const auto site = demo_site();
    http::fields res;
    res.insert(http::field::set_cookie, "_ga=; Max-Age=0; Path=/");
    res.insert(http::field::set_cookie, "_fbp=; Expires=Thu, 01 Jan 1970 00:00:00 GMT");

    filter_set_cookies(res, site, category_set{category::necessary});

    EXPECT_EQ(set_cookie_names(res), (std::vector<std::string>{"_ga", "_fbp"}));
}

TEST(SetCookieFilter, UnparsableSetCookieIsDropped) {
    const auto site = demo_site();
    http::fields res;
    res.insert(http::field::set_cookie, "no equals sign here");

    filter_set_cookies(res, site, category_set::all());

    EXPECT_TRUE(set_cookie_names(res).empty());
}

TEST(CookieFilter, WithoutConsentTheUpstreamSeesOnlyNecessaryCookies) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie, "PHPSESSID=abc; _ga=GA1.1.42; _fbp=fb.1; mystery=1");

    const auto v = filter_request_cookies(req, site, now);

    EXPECT_FALSE(v.state.has_value());
    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc"});
    EXPECT_EQ(req["Consent-Categories"], "necessary");
}

TEST(CookieFilter, ConsentCookieGrantsItsCategoriesAndIsNotForwarded) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie,
               "PHPSESSID=abc; _ga=GA1.1.42; " +
                   consent_cookie(site, {category::necessary, category::analytics}) +
                   "; _fbp=fb.1");

    const auto v = filter_request_cookies(req, site, now);

    ASSERT_TRUE(v.state.has_value());
    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc; _ga=GA1.1.42"});
    EXPECT_EQ(req["Consent-Categories"], "necessary, analytics");
}

TEST(CookieFilter, TamperedConsentCookieGrantsNothing) {
    const auto site = demo_site();
    auto cookie = consent_cookie(site, {category::necessary});
    cookie.back() = cookie.back() == 'A' ? 'B' : 'A';
    http::fields req;
    req.insert(http::field::cookie, cookie + "; _ga=1");

    const auto v = filter_request_cookies(req, site, now);

    EXPECT_FALSE(v.state.has_value());
    EXPECT_TRUE(cookie_values(req).empty());
}

TEST(CookieFilter, UntouchedHeaderKeepsItsBytes) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie, "PHPSESSID=abc;  PHPSESSID=def");

    filter_request_cookies(req, site, now);

    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc;  PHPSESSID=def"});
}

TEST(CookieFilter, ClientCannotForgeConsentCategories) {
    const auto site = demo_site();
    http::fields req;
    req.set("Consent-Categories", "necessary, analytics, marketing");

    filter_request_cookies(req, site, now);

    EXPECT_EQ(req["Consent-Categories"], "necessary");
}

TEST(CookieFilter, EverySeveralCookieHeaderIsFiltered) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie, "_ga=1");
    req.insert(http::field::host, "demo.test");
    req.insert(http::field::cookie, "PHPSESSID=abc; _fbp=2");

    filter_request_cookies(req, site, now);

    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc"});
}

TEST(CookieFilter, ConsentCookieInALaterHeaderCountsAndHeadersAreMerged) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie, "_ga=GA1.1.42; _fbp=fb.1");
    req.insert(http::field::cookie,
               consent_cookie(site, {category::necessary, category::analytics}));

    const auto v = filter_request_cookies(req, site, now);

    EXPECT_TRUE(v.state.has_value());
    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"_ga=GA1.1.42"});
}

TEST(CookieFilter, GpcIsNotedWithoutGrantingAnything) {
    const auto site = demo_site();
    http::fields req;
    req.set("Sec-GPC", "1");

    const auto v = filter_request_cookies(req, site, now);

    EXPECT_TRUE(v.gpc);
    EXPECT_EQ(v.granted, category_set{category::necessary});
}

TEST(CookieFilter, GpcNameIsCaseInsensitiveAndOnlyOneMeansYes) {
    const auto site = demo_site();
    http::fields lower;
    lower.insert("sec-gpc", "1");
    http::fields zero;
    zero.insert("Sec-GPC", "0");
    zero.insert("Sec-GPC", "1");  // the first one counts

    EXPECT_TRUE(filter_request_cookies(lower, site, now).gpc);
    EXPECT_FALSE(filter_request_cookies(zero, site, now).gpc);
}

TEST(SiteContext, RememberedVerificationsStillExpire) {
    const auto site = demo_site();
    const auto cookie = consent_cookie(site, {category::necessary, category::analytics});
    const std::vector<std::string_view> headers{cookie};

    EXPECT_TRUE(site.read_visitor(headers, false, now).state.has_value());
    EXPECT_TRUE(site.read_visitor(headers, false, now).state.has_value());  // remembered
    EXPECT_FALSE(site.read_visitor(headers, false, now + 400 * 86400).state.has_value());
}

TEST(SiteContext, RememberedVerificationsAreNotSharedWithASiteWithOtherKeys) {
    std::string cookie;
    {
        const auto first = demo_site();
        cookie = consent_cookie(first, category_set::all());
        ASSERT_TRUE(first.read_visitor({cookie}, false, now).state.has_value());
    }
    // Likely at the same address as `first`, with other keys: the cookie is worth nothing.
    const site_context second{"demo", all_categories_policy(), "cg_consent", test_catalogue(),
                              cg::test::other_key_ring()};
    EXPECT_FALSE(second.read_visitor({cookie}, false, now).state.has_value());
}

TEST(SiteContext, RememberedClassificationsBelongToTheirSite) {
    const auto plain = demo_site();
    auto p = all_categories_policy();
    auto own = rule("_ga_ABC123", category::marketing);  // the site's rule beats the catalogue's
    p.cookies.push_back(own);
    const auto strict = demo_site(p);
    const category_set analytics{category::necessary, category::analytics};

    for (int round = 0; round < 2; ++round) {  // the second round answers from memory
        EXPECT_TRUE(plain.allowed("_ga_ABC123", analytics));
        EXPECT_FALSE(strict.allowed("_ga_ABC123", analytics));
        EXPECT_TRUE(strict.keep_set_cookie("_ga_XYZ=1", analytics));
        EXPECT_FALSE(strict.keep_set_cookie("_ga_ABC123=1", analytics));
    }
    const std::string long_name(200, 'q');  // not remembered, still classified (unknown)
    EXPECT_FALSE(plain.allowed(long_name, analytics));
    EXPECT_TRUE(plain.allowed(long_name, category_set::all()));
}

TEST(SiteContext, BannerHashChangesWithTheTextsAndThePolicyVersion) {
    const auto a = demo_site();
    auto p = all_categories_policy();
    p.categories[2].texts[0].description = "We count visits.";
    const auto b = demo_site(p);
    auto q = all_categories_policy();
    q.policy_version = "8";
    const auto c = demo_site(q);

    EXPECT_EQ(a.banner_hash(language::nb).size(), 64U);
    EXPECT_NE(a.banner_hash(language::nb), b.banner_hash(language::nb));
    EXPECT_EQ(a.banner_hash(language::en), b.banner_hash(language::en));
    EXPECT_NE(a.banner_hash(language::nb), c.banner_hash(language::nb));
}

}  // namespace
}  // namespace cg::consent
