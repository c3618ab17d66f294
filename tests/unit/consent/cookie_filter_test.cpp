#include "consent/cookie_filter.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <boost/beast/http/fields.hpp>

#include "consent/revocations.hpp"
#include "support/set_cookies.hpp"
#include "support/test_keys.hpp"
#include "support/test_policy.hpp"

namespace cg::consent {
namespace {

namespace http = boost::beast::http;
using cg::test::all_categories_policy;
using cg::test::cookie_values;
using cg::test::rule;
using cg::test::set_cookie_names;

std::vector<cookie_rule> test_catalogue() {
    return {rule("PHPSESSID", category::necessary), rule("_ga", category::analytics),
            rule("_ga_*", category::analytics), rule("_fbp", category::marketing),
            rule("lang", category::preferences)};
}

const auto keys = cg::test::test_key_ring();

// A site that offers only the `necessary` category (no banner choice beyond "OK").
site_policy necessary_only_policy() {
    auto p = all_categories_policy();
    p.categories.resize(1);
    return p;
}

site_context demo_site(site_policy p = all_categories_policy()) {
    return site_context{"demo", std::move(p), "cg_consent", test_catalogue(), keys};
}

constexpr std::int64_t now = 1'800'000'000;

std::string consent_cookie(const site_context& site, category_set granted,
                           std::string id = new_consent_id()) {
    consent_state s;
    s.id = std::move(id);
    s.granted = granted;
    s.policy_version = "7";
    s.issued = now - 10;
    return "cg_consent=" + encode_consent(s, site.site(), site.keys());
}

// A visitor whose consent cookie granted `granted`.
visitor_consent decided(category_set granted) {
    visitor_consent v;
    v.state = consent_state{};
    v.state->granted = granted;
    v.granted = granted;
    return v;
}

// A visitor without a decision: necessary only.
visitor_consent undecided() {
    return visitor_consent{};
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

    filter_set_cookies(res, site, undecided());

    EXPECT_EQ(set_cookie_names(res), std::vector<std::string>{"PHPSESSID"});
    EXPECT_EQ(res[http::field::content_type], "text/html");
}

TEST(SetCookieFilter, AnalyticsConsentLetsGoogleAnalyticsCookiesThrough) {
    const auto site = demo_site();
    auto res = upstream_response();

    filter_set_cookies(res, site, decided({category::necessary, category::analytics}));

    EXPECT_EQ(set_cookie_names(res), (std::vector<std::string>{"PHPSESSID", "_ga", "_ga_ABC123"}));
}

TEST(SetCookieFilter, UnknownCookiesNeedEveryCategory) {
    const auto site = demo_site();
    auto res = upstream_response();

    filter_set_cookies(res, site, decided(category_set::all()));

    EXPECT_EQ(set_cookie_names(res).size(), 5U);
}

TEST(SetCookieFilter, UnknownCookiesCanBeBlockedForGood) {
    auto p = all_categories_policy();
    p.unknown = unknown_cookies::never;
    const auto site = demo_site(p);
    auto res = upstream_response();

    filter_set_cookies(res, site, decided(category_set::all()));

    EXPECT_EQ(set_cookie_names(res).size(), 4U);
}

TEST(SetCookieFilter, CountsDropsAndUnknownNamesButNoValues) {
    const auto site = demo_site();
    auto res = upstream_response();
    filter_set_cookies(res, site, undecided());
    auto again = upstream_response();
    filter_set_cookies(again, site, undecided());

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

    filter_set_cookies(res, site, decided(category_set::all()));

    EXPECT_TRUE(set_cookie_names(res).empty());
}

TEST(SetCookieFilter, DeletionsAlwaysPass) {
    const auto site = demo_site();
    http::fields res;
    res.insert(http::field::set_cookie, "_ga=; Max-Age=0; Path=/");
    res.insert(http::field::set_cookie, "_fbp=; Expires=Thu, 01 Jan 1970 00:00:00 GMT");

    filter_set_cookies(res, site, undecided());

    EXPECT_EQ(set_cookie_names(res), (std::vector<std::string>{"_ga", "_fbp"}));
}

TEST(SetCookieFilter, UnparsableSetCookieIsDropped) {
    const auto site = demo_site();
    http::fields res;
    res.insert(http::field::set_cookie, "no equals sign here");

    filter_set_cookies(res, site, decided(category_set::all()));

    EXPECT_TRUE(set_cookie_names(res).empty());
}

TEST(CookieFilter, WithoutConsentTheUpstreamSeesOnlyNecessaryCookies) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie, "PHPSESSID=abc; _ga=GA1.1.42; _fbp=fb.1; mystery=1");

    const auto v = filter_request_cookies(req, site, false, now);

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

    const auto v = filter_request_cookies(req, site, false, now);

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

    const auto v = filter_request_cookies(req, site, false, now);

    EXPECT_FALSE(v.state.has_value());
    EXPECT_TRUE(cookie_values(req).empty());
}

TEST(CookieFilter, UntouchedHeaderKeepsItsBytes) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie, "PHPSESSID=abc;  PHPSESSID=def");

    filter_request_cookies(req, site, false, now);

    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc;  PHPSESSID=def"});
}

TEST(CookieFilter, ClientCannotForgeConsentCategories) {
    const auto site = demo_site();
    http::fields req;
    req.set("Consent-Categories", "necessary, analytics, marketing");

    filter_request_cookies(req, site, false, now);

    EXPECT_EQ(req["Consent-Categories"], "necessary");
}

TEST(CookieFilter, EverySeveralCookieHeaderIsFiltered) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie, "_ga=1");
    req.insert(http::field::host, "demo.test");
    req.insert(http::field::cookie, "PHPSESSID=abc; _fbp=2");

    filter_request_cookies(req, site, false, now);

    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc"});
}

TEST(CookieFilter, ConsentCookieInALaterHeaderCountsAndHeadersAreMerged) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie, "_ga=GA1.1.42; _fbp=fb.1");
    req.insert(http::field::cookie,
               consent_cookie(site, {category::necessary, category::analytics}));

    const auto v = filter_request_cookies(req, site, false, now);

    EXPECT_TRUE(v.state.has_value());
    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"_ga=GA1.1.42"});
}

TEST(CookieFilter, GpcIsNotedWithoutGrantingAnything) {
    const auto site = demo_site();
    http::fields req;
    req.set("Sec-GPC", "1");

    const auto v = filter_request_cookies(req, site, false, now);

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

    EXPECT_TRUE(filter_request_cookies(lower, site, false, now).gpc);
    EXPECT_FALSE(filter_request_cookies(zero, site, false, now).gpc);
}

TEST(SiteContext, RememberedVerificationsStillExpire) {
    const auto site = demo_site();
    const auto cookie = consent_cookie(site, {category::necessary, category::analytics});
    const std::vector<std::string_view> headers{cookie};

    EXPECT_TRUE(site.read_visitor(headers, false, false, now).state.has_value());
    EXPECT_TRUE(site.read_visitor(headers, false, false, now).state.has_value());  // remembered
    EXPECT_FALSE(site.read_visitor(headers, false, false, now + 400 * 86400).state.has_value());
}

TEST(SiteContext, RememberedVerificationsAreNotSharedWithASiteWithOtherKeys) {
    std::string cookie;
    {
        const auto first = demo_site();
        cookie = consent_cookie(first, category_set::all());
        ASSERT_TRUE(first.read_visitor({cookie}, false, false, now).state.has_value());
    }
    // Likely at the same address as `first`, with other keys: the cookie is worth nothing.
    const site_context second{"demo", all_categories_policy(), "cg_consent", test_catalogue(),
                              cg::test::other_key_ring()};
    EXPECT_FALSE(second.read_visitor({cookie}, false, false, now).state.has_value());
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
        EXPECT_TRUE(strict.keep_set_cookie("_ga_XYZ=1", decided(analytics)));
        EXPECT_FALSE(strict.keep_set_cookie("_ga_ABC123=1", decided(analytics)));
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

TEST(SetCookieFilter, T6UnknownCookieNeverPassesOnANecessaryOnlySite) {
    const auto site = demo_site(necessary_only_policy());
    ASSERT_EQ(site.offered(), category_set{category::necessary});
    const std::string tracker = "zz_tracker=uid123; Max-Age=31536000";

    EXPECT_FALSE(site.keep_set_cookie(tracker, undecided()));
    EXPECT_FALSE(site.keep_set_cookie(tracker, decided({category::necessary})));
    EXPECT_FALSE(site.allowed("zz_tracker", category_set{category::necessary}));
    EXPECT_TRUE(site.keep_set_cookie("PHPSESSID=abc; Path=/", undecided()));
}

TEST(CookieFilter, T6UnknownCookieIsNotSentUpstreamOnANecessaryOnlySite) {
    const auto site = demo_site(necessary_only_policy());
    http::fields before;
    before.insert(http::field::cookie, "PHPSESSID=abc; zz_tracker=uid123");
    http::fields after;
    after.insert(http::field::cookie, "PHPSESSID=abc; zz_tracker=uid123; " +
                                          consent_cookie(site, {category::necessary}));

    filter_request_cookies(before, site, false, now);
    const auto v = filter_request_cookies(after, site, false, now);

    EXPECT_EQ(cookie_values(before), std::vector<std::string>{"PHPSESSID=abc"});
    ASSERT_TRUE(v.state.has_value());
    EXPECT_EQ(cookie_values(after), std::vector<std::string>{"PHPSESSID=abc"});
}

TEST(SetCookieFilter, L1UnknownCookieNeedsAnExplicitDecision) {
    const auto site = demo_site();
    visitor_consent claimed;  // every category, but no consent cookie behind it
    claimed.granted = category_set::all();

    EXPECT_FALSE(site.keep_set_cookie("mystery=1", claimed));
    EXPECT_FALSE(site.allowed("mystery", claimed));
    EXPECT_TRUE(site.keep_set_cookie("mystery=1", decided(category_set::all())));
    EXPECT_FALSE(
        site.keep_set_cookie("mystery=1", decided({category::necessary, category::analytics})));
}

TEST(SetCookieFilter, L1DeletionThatABrowserReadsAsAStoreIsDropped) {
    const auto site = demo_site();
    http::fields res;
    res.insert(http::field::set_cookie, "_ga=1; Max-Age=0; Max-Age=+31536000");
    res.insert(http::field::set_cookie,
               "_ga=1; Max-Age=+999; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    res.insert(http::field::set_cookie, "_fbp=1; Max-Age=0; Max-Age=abc");
    res.insert(http::field::set_cookie, "_fbp=1; Expires=1 Jan 1970 00:00:00");
    res.insert(http::field::set_cookie,
               "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/");

    filter_set_cookies(res, site, undecided());

    EXPECT_EQ(set_cookie_names(res), std::vector<std::string>{"_ga"});
    EXPECT_EQ(res[http::field::set_cookie],
              "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/");
}

TEST(SetCookieFilter, UpstreamCannotSetTheHostPrefixedConsentCookie) {
    constexpr bool host_prefix = true;
    const site_context site{
        "demo", all_categories_policy(), "cg_consent", test_catalogue(), keys, host_prefix};

    EXPECT_FALSE(site.keep_set_cookie("__Host-cg_consent=forged; Path=/; Secure",
                                      decided(category_set::all())));
    EXPECT_FALSE(site.keep_set_cookie("cg_consent=forged", decided(category_set::all())));
}

TEST(SetCookieFilter, NonUtf8CookieNameIsDroppedAndRememberedAsSent) {
    const auto site = demo_site();
    http::fields res;
    res.insert(http::field::set_cookie, "\xFFzz\xC3(=1; Max-Age=99");

    filter_set_cookies(res, site, undecided());

    EXPECT_TRUE(set_cookie_names(res).empty());
    EXPECT_EQ(site.observations().unknown_counts(),
              (cookie_observations::counts{{"\xFFzz\xC3(", 1}}));
    EXPECT_EQ(site.observations().dropped_counts(),
              (cookie_observations::counts{{"\xFFzz\xC3(", 1}}));
}

TEST(CookieFilter, NonUtf8CookieNameIsFilteredLikeAnyUnknownCookie) {
    const auto site = demo_site();
    http::fields req;
    req.insert(http::field::cookie, "\xFF\xFE=1; PHPSESSID=abc");

    filter_request_cookies(req, site, false, now);

    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc"});
}

TEST(SiteContext, ErasedConsentIdCountsAsNoDecisionAlsoWhenRemembered) {
    auto revoked = std::make_shared<revocations>();
    const site_context site{
        "demo", all_categories_policy(), "cg_consent", test_catalogue(), keys, false, revoked};
    const std::string id = new_consent_id();
    const auto cookie = consent_cookie(site, category_set::all(), id);
    const auto fresh = consent_cookie(site, category_set::all());
    const std::vector<std::string_view> headers{cookie};
    ASSERT_TRUE(site.read_visitor(headers, false, false, now).state.has_value());  // remembered

    ASSERT_TRUE(revoked->add(id, now + 86400));

    const auto v = site.read_visitor(headers, false, false, now);
    EXPECT_FALSE(v.state.has_value());
    EXPECT_EQ(v.granted, category_set{category::necessary});
    http::fields req;
    req.insert(http::field::cookie, cookie + "; _ga=1; PHPSESSID=abc");
    filter_request_cookies(req, site, false, now);
    EXPECT_EQ(cookie_values(req), std::vector<std::string>{"PHPSESSID=abc"});
    EXPECT_TRUE(site.read_visitor({fresh}, false, false, now).state.has_value());
}

TEST(SiteContext, ErasedConsentIdCountsAsNoDecisionWhenFirstSeen) {
    auto revoked = std::make_shared<revocations>();
    const site_context site{
        "demo", all_categories_policy(), "cg_consent", test_catalogue(), keys, false, revoked};
    const std::string id = new_consent_id();
    ASSERT_TRUE(revoked->add(id, now + 86400));
    const auto cookie = consent_cookie(site, category_set::all(), id);

    EXPECT_FALSE(site.read_visitor({cookie}, false, false, now).state.has_value());
    EXPECT_FALSE(site.read_visitor({cookie}, false, false, now).state.has_value());
}

TEST(CookieObservations, AFullInventoryForgetsTheLeastRecentlySeenNameAndCountsIt) {
    cookie_observations o;
    for (std::size_t i = 0; i < cookie_observations::max_names; ++i) {
        o.unknown("junk" + std::to_string(i));
    }
    o.unknown("junk0");  // seen again: now the most recent

    o.unknown("zz_tracker");

    const auto counts = o.unknown_counts();
    EXPECT_EQ(counts.size(), cookie_observations::max_names);
    const auto has = [&counts](std::string_view name) {
        return std::any_of(counts.begin(), counts.end(),
                           [name](const auto& c) { return c.first == name; });
    };
    EXPECT_TRUE(has("zz_tracker"));
    EXPECT_TRUE(has("junk0"));
    EXPECT_FALSE(has("junk1"));
    EXPECT_EQ(o.unknown_evicted(), 1U);
    const auto recent = o.recent_unknown();
    ASSERT_EQ(recent.size(), cookie_observations::max_names);
    EXPECT_EQ(recent[0].name, "zz_tracker");
    EXPECT_EQ(recent[0].count, 1U);
    EXPECT_GT(recent[0].last_seen, 1'700'000'000);
    EXPECT_EQ(recent[1].name, "junk0");
    EXPECT_EQ(recent[1].count, 2U);
}

TEST(CookieObservations, DroppedNamesAndVariantsKeepLearningWhenFull) {
    cookie_observations o;
    for (std::size_t i = 0; i <= cookie_observations::max_names; ++i) {
        o.dropped("junk" + std::to_string(i));
        o.variant("junk" + std::to_string(i), "/", "");
    }

    o.dropped("_fbp");
    o.variant("_fbp", "/", "example.no");

    EXPECT_EQ(o.dropped_evicted(), 2U);
    EXPECT_EQ(o.variants_evicted(), 2U);
    EXPECT_EQ(o.recent_dropped().front().name, "_fbp");
    EXPECT_EQ(o.variants("_fbp"),
              (std::vector<std::pair<std::string, std::string>>{{"/", "example.no"}}));
    EXPECT_TRUE(o.variants("junk0").empty());
}

TEST(CookieObservations, AVariantForgottenByEvictionIsLearntAgain) {
    cookie_observations o;
    o.variant("_fbp", "/", "example.no");  // remembered by this thread
    for (std::size_t i = 0; i < cookie_observations::max_names; ++i) {
        o.variant("junk" + std::to_string(i), "/", "");
    }
    ASSERT_TRUE(o.variants("_fbp").empty());

    o.variant("_fbp", "/", "example.no");

    EXPECT_EQ(o.variants("_fbp"),
              (std::vector<std::pair<std::string, std::string>>{{"/", "example.no"}}));
}

}  // namespace
}  // namespace cg::consent
