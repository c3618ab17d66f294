// What a visitor's browser sees of consent through the real gateway binary (DESIGN §3 L1, L5,
// L6, L9; §5): which cookies reach the browser and the site before and after a decision, the
// consent cookie itself, withdrawal, and the refusal of forged or malformed decisions.
#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "consent_fixture.hpp"

namespace {

using cg::test::all_site_cookies;
using cg::test::consent_cookie;
using cg::test::consent_site;
using cg::test::decision;
using cg::test::http_request;
using cg::test::json_of;
using cg::test::seen_by_upstream;
using cg::test::set_cookie_names;
using cg::test::set_cookies;
using cg::test::set_cookies_named;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using json = nlohmann::json;

constexpr std::string_view consent_attributes =
    "; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly";

// The attributes of a Set-Cookie after its name=value.
std::string attributes_of(std::string_view set_cookie) {
    const auto semi = set_cookie.find(';');
    return semi == std::string_view::npos ? std::string{} : std::string{set_cookie.substr(semi)};
}

std::string with_consent(std::string_view consent, std::string_view others = all_site_cookies) {
    std::string out = "cg_consent=" + std::string{consent};
    if (!others.empty()) {
        out += "; " + std::string{others};
    }
    return out;
}

// Decides with `body` as a fresh visitor and returns the consent cookie value ("" on failure,
// with the test failed).
std::string decide(const consent_site& site, std::string_view body, std::string_view cookie = {}) {
    const auto r = site.send(decision(body, cookie));
    EXPECT_EQ(r.status, 200U) << r.ec.message() << r.body;
    const auto value = consent_cookie(r);
    EXPECT_TRUE(value.has_value()) << r.body;
    return value.value_or("");
}

// The recorded events of the consent that the answer `decided` set the cookie for (an empty
// array, with the test failed, when the record cannot be read).
json recorded_events(const consent_site& site, const cg::test::raw_response& decided) {
    const auto record =
        site.get("/_consent/record", "cg_consent=" + consent_cookie(decided).value_or(""));
    EXPECT_EQ(record.status, 200U) << record.body;
    return record.status == 200U ? json_of(record)["events"] : json::array();
}

// A Matcher for an expiring Set-Cookie of `name` that also contains `attribute`.
auto expiry(const std::string& name, const std::string& attribute) {
    return AllOf(StartsWith(name + "=;"), HasSubstr("Max-Age=0"), HasSubstr(attribute));
}

TEST(ConsentBeforeDecision, OnlyTheSessionCookieReachesTheVisitor) {
    consent_site site{{.redis = false}};

    const auto r = site.get("/cookies");

    ASSERT_EQ(r.status, 200U) << r.ec.message();
    EXPECT_THAT(set_cookie_names(r), ElementsAre("PHPSESSID"));
    EXPECT_THAT(set_cookies(r), ElementsAre("PHPSESSID=sess1; Path=/; HttpOnly"));
}

TEST(ConsentBeforeDecision, TheSiteSeesOnlyNecessaryCookiesWhateverTheBrowserSends) {
    consent_site site{{.redis = false}};

    const auto r = site.get("/cookies", all_site_cookies);

    ASSERT_EQ(r.status, 200U) << r.ec.message();
    const auto saw = seen_by_upstream(r);
    EXPECT_EQ(saw.cookie, "PHPSESSID=sess1");
    EXPECT_EQ(saw.categories, "necessary");
}

TEST(ConsentBeforeDecision, AConsentCategoriesHeaderFromTheBrowserIsReplaced) {
    consent_site site{{.redis = false}};

    const auto r = site.get("/cookies", {}, {{"Consent-Categories", "necessary, marketing"}});

    ASSERT_EQ(r.status, 200U) << r.ec.message();
    EXPECT_EQ(seen_by_upstream(r).categories, "necessary");
}

TEST(ConsentBeforeDecision, DroppedAndUnknownCookiesShowInMetricsAndTheCookieReport) {
    consent_site site{{.redis = false}};
    ASSERT_EQ(site.get("/cookies").status, 200U);

    const auto dropped = site.metric(R"(cg_set_cookie_dropped_total{site="a",cookie="_ga"})");
    const auto report = json_of(site.admin("/consent/cookies"));

    EXPECT_GE(dropped.value_or(0), 1.0);
    EXPECT_EQ(site.metric(R"(cg_set_cookie_dropped_total{site="a",cookie="PHPSESSID"})"),
              std::nullopt);
    ASSERT_TRUE(report.is_object()) << report;
    EXPECT_TRUE(report["a"]["unknown_cookies_seen"].contains("mystery")) << report;
    EXPECT_FALSE(report["a"]["unknown_cookies_seen"].contains("_ga")) << report;
    EXPECT_GE(report["a"]["set_cookie_dropped"].value("_fbp", 0), 1) << report;
}

TEST(ConsentDecision, AnalyticsConsentSetsTheSignedCookieWithoutSecureOverPlainHttp) {
    consent_site site;

    const auto r = site.send(decision(R"({"categories": ["analytics"]})"));

    ASSERT_EQ(r.status, 200U) << r.ec.message() << r.body;
    const auto cookies = set_cookies_named(r, "cg_consent");
    ASSERT_EQ(cookies.size(), 1U) << r.body;
    EXPECT_EQ(attributes_of(cookies[0]), consent_attributes);
    const auto body = json_of(r);
    EXPECT_EQ(body["granted"], json::array({"necessary", "analytics"})) << r.body;
    EXPECT_EQ(body["method"], "custom") << r.body;
    EXPECT_EQ(body["recorded"], "stored") << r.body;
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
}

// Issue 8 item 3: a __Host- cookie is host-only, Path=/ and Secure by the browser's own rules,
// so a sibling subdomain cannot plant one.
TEST(ConsentDecision, ConsentCookieIsHostPrefixedAndSecureWhenATrustedProxySaysHttps) {
    consent_site site{{.trusted_proxy = true}};

    const auto r = site.send(decision(R"({"categories": ["analytics"]})", {}, "https://site.test",
                                      {{"X-Forwarded-Proto", "https"}}));

    ASSERT_EQ(r.status, 200U) << r.ec.message() << r.body;
    EXPECT_THAT(set_cookies_named(r, "cg_consent"), IsEmpty());
    const auto cookies = set_cookies_named(r, "__Host-cg_consent");
    ASSERT_EQ(cookies.size(), 1U);
    EXPECT_EQ(attributes_of(cookies[0]), std::string{consent_attributes} + "; Secure");
}

TEST(ConsentDecision, ConsentCookieIsSecureUnderItsPlainNameWithoutHostPrefix) {
    consent_site site{{.trusted_proxy = true, .consent_settings = R"({"host_prefix": false})"}};

    const auto r = site.send(decision(R"({"categories": ["analytics"]})", {}, "https://site.test",
                                      {{"X-Forwarded-Proto", "https"}}));

    ASSERT_EQ(r.status, 200U) << r.ec.message() << r.body;
    const auto cookies = set_cookies_named(r, "cg_consent");
    ASSERT_EQ(cookies.size(), 1U);
    EXPECT_EQ(attributes_of(cookies[0]), std::string{consent_attributes} + "; Secure");
}

// Item 5, through the real binary and its config file.
TEST(ConsentDecision, TheConfiguredAddressLimitAnswers429WithRetryAfter) {
    consent_site site{
        {.redis = false, .consent_settings = R"({"rate_limits": {"per_address": 2}})"}};

    ASSERT_EQ(site.send(decision(R"({"action": "reject-all"})")).status, 200U);
    ASSERT_EQ(site.send(decision(R"({"action": "reject-all"})")).status, 200U);
    const auto r = site.send(decision(R"({"action": "reject-all"})"));

    ASSERT_EQ(r.status, 429U) << r.ec.message() << r.body;
    EXPECT_EQ(r.header("Retry-After"), "30");
    EXPECT_THAT(json_of(r).value("error", ""), HasSubstr("too many consent requests"));
    EXPECT_THAT(set_cookies_named(r, "cg_consent"), IsEmpty());
}

TEST(ConsentDecision, XForwardedProtoFromAnUntrustedClientDoesNotMakeTheCookieSecure) {
    consent_site site;

    const auto r = site.send(decision(R"({"categories": ["analytics"]})", {}, "http://site.test",
                                      {{"X-Forwarded-Proto", "https"}}));

    ASSERT_EQ(r.status, 200U) << r.ec.message() << r.body;
    const auto cookies = set_cookies_named(r, "cg_consent");
    ASSERT_EQ(cookies.size(), 1U);
    EXPECT_EQ(attributes_of(cookies[0]), consent_attributes);
}

TEST(ConsentDecision, AnalyticsConsentLetsAnalyticsCookiesThroughAndNothingElse) {
    consent_site site;
    const std::string consent = decide(site, R"({"categories": ["analytics"]})");

    const auto set = site.get("/cookies", with_consent(consent, {}));
    const auto sent = site.get("/cookies", with_consent(consent));

    ASSERT_EQ(set.status, 200U) << set.ec.message();
    EXPECT_THAT(set_cookie_names(set), ElementsAre("PHPSESSID", "_ga", "_ga_ABC123"));
    ASSERT_EQ(sent.status, 200U) << sent.ec.message();
    const auto saw = seen_by_upstream(sent);
    EXPECT_EQ(saw.cookie, "PHPSESSID=sess1; _ga=GA1.1.111.222; _ga_ABC123=GS1.1.333");
    EXPECT_EQ(saw.categories, "necessary, analytics");
}

TEST(ConsentDecision, AcceptAllLetsEveryCookieThroughIncludingUnknownOnes) {
    consent_site site;
    const std::string consent = decide(site, R"({"action": "accept-all"})");

    const auto r = site.get("/cookies", with_consent(consent));

    ASSERT_EQ(r.status, 200U) << r.ec.message();
    EXPECT_THAT(set_cookie_names(r),
                ElementsAre("PHPSESSID", "_ga", "_ga_ABC123", "_fbp", "mystery"));
    EXPECT_EQ(seen_by_upstream(r).cookie, all_site_cookies);
    EXPECT_EQ(seen_by_upstream(r).categories, "necessary, preferences, analytics, marketing");
}

TEST(ConsentWithdrawal, RejectAllAfterAcceptAllExpiresEveryCookieUnderEachPathAndDomain) {
    consent_site site;
    const std::string accepted = decide(site, R"({"action": "accept-all"})");
    ASSERT_EQ(site.get("/cookies", with_consent(accepted)).status, 200U);

    const auto r = site.send(decision(R"({"action": "reject-all"})", with_consent(accepted)));

    ASSERT_EQ(r.status, 200U) << r.ec.message() << r.body;
    EXPECT_EQ(json_of(r)["method"], "withdraw") << r.body;
    const auto all = set_cookies(r);
    EXPECT_THAT(all, Contains(expiry("_ga", "Path=/")));
    EXPECT_THAT(all, Contains(expiry("_ga_ABC123", "Path=/")));
    EXPECT_THAT(all, Contains(AllOf(expiry("_fbp", "Domain=site.test"), HasSubstr("Path=/"))));
    EXPECT_THAT(all, Contains(expiry("mystery", "Path=/shop")));
    EXPECT_THAT(set_cookies_named(r, "PHPSESSID"), IsEmpty());
    for (const auto& c : set_cookies(r)) {
        if (!c.starts_with("cg_consent=")) {
            EXPECT_THAT(c, HasSubstr("Max-Age=0")) << "only expiries besides the consent cookie";
        }
    }

    const auto withdrawn = consent_cookie(r).value_or("");
    const auto after = site.get("/cookies", with_consent(withdrawn));
    ASSERT_EQ(after.status, 200U) << after.ec.message();
    EXPECT_EQ(seen_by_upstream(after).cookie, "PHPSESSID=sess1");
    EXPECT_EQ(seen_by_upstream(after).categories, "necessary");
    EXPECT_THAT(set_cookie_names(after), ElementsAre("PHPSESSID"));
}

TEST(ConsentWithdrawal, AnEmptyCategoryListWithdrawsAnalyticsAndIsRecordedAsWithdraw) {
    consent_site site;
    const std::string analytics = decide(site, R"({"categories": ["analytics"]})");
    ASSERT_EQ(site.get("/cookies", with_consent(analytics)).status, 200U);

    const auto r = site.send(decision(R"({"categories": []})", with_consent(analytics)));

    ASSERT_EQ(r.status, 200U) << r.ec.message() << r.body;
    EXPECT_EQ(json_of(r)["method"], "withdraw") << r.body;
    EXPECT_THAT(set_cookies(r), Contains(expiry("_ga", "Path=/")));
    EXPECT_THAT(set_cookies(r), Contains(expiry("_ga_ABC123", "Path=/")));
    const auto events = recorded_events(site, r);
    ASSERT_EQ(events.size(), 2U) << events;
    EXPECT_EQ(events[0]["method"], "custom");
    EXPECT_EQ(events[1]["method"], "withdraw");
    EXPECT_EQ(events[1]["categories"], json::array({"necessary"}));
}

TEST(ConsentForgery, ADecisionFromAnotherOriginIsRefusedWithoutACookie) {
    consent_site site;

    const auto r = site.send(decision(R"({"action": "accept-all"})", {}, "http://evil.test"));

    EXPECT_EQ(r.status, 403U) << r.ec.message() << r.body;
    EXPECT_THAT(set_cookies(r), IsEmpty());
}

TEST(ConsentForgery, ADecisionWithoutOriginOrRefererIsRefused) {
    consent_site site;

    const auto r = site.send(decision(R"({"action": "accept-all"})", {}, {}));

    EXPECT_EQ(r.status, 403U) << r.ec.message() << r.body;
    EXPECT_THAT(set_cookies(r), IsEmpty());
}

TEST(ConsentForgery, ARefererFromThisSiteStandsInForAMissingOrigin) {
    consent_site site;

    const auto same = site.send(decision(R"({"action": "reject-all"})", {}, {},
                                         {{"Referer", "http://site.test/products"}}));
    const auto other = site.send(decision(R"({"action": "reject-all"})", {}, {},
                                          {{"Referer", "http://site.test.evil.test/"}}));

    EXPECT_EQ(same.status, 200U) << same.body;
    EXPECT_EQ(other.status, 403U) << other.body;
}

TEST(ConsentForgery, MalformedJsonAndUnknownCategoriesAre400WithAMessage) {
    consent_site site;

    const auto bad_json = site.send(decision(R"({"categories": [)"));
    const auto unknown = site.send(decision(R"({"categories": ["spying"]})"));

    EXPECT_EQ(bad_json.status, 400U) << bad_json.body;
    EXPECT_FALSE(json_of(bad_json).value("error", "").empty()) << bad_json.body;
    EXPECT_THAT(set_cookies(bad_json), IsEmpty());
    EXPECT_EQ(unknown.status, 400U) << unknown.body;
    EXPECT_THAT(json_of(unknown).value("error", ""), HasSubstr("unknown category \"spying\""));
    EXPECT_THAT(set_cookies(unknown), IsEmpty());
}

http_request form_post(std::string body, std::string origin = "http://site.test") {
    http_request r;
    r.method = "POST";
    r.target = "/_consent";
    r.fields = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Origin", origin}};
    r.body = std::move(body);
    return r;
}

TEST(ConsentForm, AFormPostIsAnsweredWith303BackToTheGivenPath) {
    consent_site site;

    const auto r =
        site.send(form_post("action=save&category=analytics&return_to=%2Fshop%2Fcart%3Fitem%3D1"));

    ASSERT_EQ(r.status, 303U) << r.ec.message() << r.body;
    EXPECT_EQ(r.header("Location"), "/shop/cart?item=1");
    const auto consent = consent_cookie(r);
    ASSERT_TRUE(consent.has_value());
    const auto state = json_of(site.get("/_consent/state", "cg_consent=" + *consent));
    EXPECT_EQ(state["granted"], json::array({"necessary", "analytics"})) << state;
}

TEST(ConsentForm, AReturnAddressOffTheSiteIsNotFollowed) {
    consent_site site;

    for (const std::string target :
         {"%2F%2Fevil.test%2Fx", "http%3A%2F%2Fevil.test%2F", "%2F%5Cevil.test", "evil"}) {
        const auto r = site.send(form_post("action=reject-all&return_to=" + target));

        EXPECT_EQ(r.status, 303U) << target << " " << r.body;
        EXPECT_EQ(r.header("Location"), "/") << target;
    }
}

TEST(ConsentForm, ACrossSiteFormPostIsRefused) {
    consent_site site;

    const auto r = site.send(form_post("action=accept-all", "http://evil.test"));

    EXPECT_EQ(r.status, 403U) << r.body;
    EXPECT_THAT(set_cookies(r), IsEmpty());
}

// Changes one character of the HMAC, in the middle: the last base64url character may carry
// only padding bits.
std::string tampered(std::string value) {
    const auto at = value.size() - 10;
    value[at] = value[at] == 'A' ? 'B' : 'A';
    return value;
}

TEST(ConsentTamper, ATamperedConsentCookieCountsAsNoDecision) {
    consent_site site;
    const std::string consent = decide(site, R"({"action": "accept-all"})");
    ASSERT_FALSE(consent.empty());

    const auto r = site.get("/cookies", with_consent(tampered(consent)));
    const auto state = json_of(site.get("/_consent/state", with_consent(tampered(consent), {})));

    ASSERT_EQ(r.status, 200U) << r.ec.message();
    EXPECT_THAT(set_cookie_names(r), ElementsAre("PHPSESSID"));
    EXPECT_EQ(seen_by_upstream(r).cookie, "PHPSESSID=sess1");
    EXPECT_EQ(seen_by_upstream(r).categories, "necessary");
    EXPECT_EQ(state["decided"], false) << state;
    EXPECT_EQ(state["granted"], json::array({"necessary"})) << state;
}

TEST(ConsentTamper, TheConsentCookieItselfNeverReachesTheSite) {
    consent_site site;
    const std::string consent = decide(site, R"({"action": "accept-all"})");

    const auto r = site.get("/cookies", with_consent(consent));

    EXPECT_THAT(seen_by_upstream(r).cookie, Not(HasSubstr("cg_consent")));
}

TEST(ConsentGpc, GpcWithoutADecisionRefusesMarketingAndLeavesTheRestUndecided) {
    consent_site site;

    const auto r = site.get("/_consent/state", {}, {{"Sec-GPC", "1"}});

    ASSERT_EQ(r.status, 200U) << r.ec.message();
    const auto state = json_of(r);
    EXPECT_EQ(state["gpc"], true) << r.body;
    EXPECT_EQ(state["decided"], false) << r.body;
    EXPECT_EQ(state["granted"], json::array({"necessary"})) << r.body;
    EXPECT_EQ(state["refused"], json::array({"marketing"})) << r.body;
    EXPECT_EQ(state["undecided"], json::array({"preferences", "analytics"})) << r.body;
}

TEST(ConsentGpc, TheGpcActionIsRecordedAsMethodGpcAndNeedsTheSignal) {
    consent_site site;

    const auto without = site.send(decision(R"({"action": "gpc"})"));
    const auto with =
        site.send(decision(R"({"action": "gpc"})", {}, "http://site.test", {{"Sec-GPC", "1"}}));

    EXPECT_EQ(without.status, 400U) << without.body;
    ASSERT_EQ(with.status, 200U) << with.body;
    EXPECT_EQ(json_of(with)["method"], "gpc") << with.body;
    const auto events = recorded_events(site, with);
    ASSERT_EQ(events.size(), 1U) << events;
    EXPECT_EQ(events[0]["method"], "gpc");
    EXPECT_EQ(events[0]["gpc"], true);
    EXPECT_EQ(events[0]["categories"], json::array({"necessary"}));
}

TEST(ConsentGpc, L9AcceptAllUnderGpcGrantsEverythingButMarketingWhichOnlyAnExplicitTickGrants) {
    consent_site site;

    const auto all = site.send(
        decision(R"({"action": "accept-all"})", {}, "http://site.test", {{"Sec-GPC", "1"}}));
    const auto ticked = site.send(decision(R"({"categories": ["analytics", "marketing"]})", {},
                                           "http://site.test", {{"Sec-GPC", "1"}}));

    ASSERT_EQ(all.status, 200U) << all.body;
    EXPECT_EQ(json_of(all)["granted"], json::array({"necessary", "preferences", "analytics"}))
        << all.body;
    EXPECT_EQ(json_of(all)["method"], "custom") << all.body;
    ASSERT_EQ(ticked.status, 200U) << ticked.body;
    EXPECT_EQ(json_of(ticked)["granted"], json::array({"necessary", "analytics", "marketing"}))
        << ticked.body;
}

}  // namespace
