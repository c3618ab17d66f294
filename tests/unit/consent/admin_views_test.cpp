#include "consent/admin_views.hpp"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_keys.hpp"
#include "support/test_policy.hpp"

namespace cg::consent {
namespace {

using json = nlohmann::json;
using cg::test::rule;

const std::string fffd = "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER

std::string label(std::string_view value) {
    std::string out;
    append_label_value(out, value);
    return out;
}

std::vector<std::unique_ptr<const site_context>> one_site() {
    auto p = cg::test::all_categories_policy();
    p.cookies.push_back(rule("session", category::necessary));
    std::vector<std::unique_ptr<const site_context>> sites;
    sites.push_back(std::make_unique<const site_context>(
        "demo", std::move(p), "cg_consent",
        std::vector<cookie_rule>{rule("_ga", category::analytics)}, cg::test::test_key_ring()));
    return sites;
}

TEST(AdminLabelValue, EscapesBackslashQuoteAndNewline) {
    EXPECT_EQ(label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(AdminLabelValue, KeepsWellFormedUtf8) {
    EXPECT_EQ(label("bl\xC3\xA5"
                    "b\xC3\xA6r \xE2\x82\xAC \xF0\x9F\x8D\xAA"),
              "bl\xC3\xA5"
              "b\xC3\xA6r \xE2\x82\xAC \xF0\x9F\x8D\xAA");
}

TEST(AdminLabelValue, ReplacesEveryByteThatIsNotPartOfWellFormedUtf8) {
    EXPECT_EQ(label("\xFFweird"), fffd + "weird");
    EXPECT_EQ(label("\xC0\xAF"), fffd + fffd) << "overlong '/'";
    EXPECT_EQ(label("\xED\xA0\x80"), fffd + fffd + fffd) << "a surrogate";
    EXPECT_EQ(label("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd) << "beyond U+10FFFF";
    EXPECT_EQ(label("x\xE2\x82"), "x" + fffd + fffd) << "cut short at the end";
    EXPECT_EQ(label("\xC3("), fffd + "(");
}

TEST(AdminLabelValue, ReplacesControlBytesOtherThanNewline) {
    EXPECT_EQ(label(std::string_view{"a\0b\rc\x7F", 6}), "a" + fffd + "b" + fffd + "c" + fffd);
}

TEST(AdminCookiesView, ReportsCookieNamesThatAreNotUtf8AsValidJson) {
    const auto sites = one_site();
    sites[0]->observations().unknown("\xFFweird");
    sites[0]->observations().dropped("\xFFweird");

    const auto a = cookies_view(sites);

    EXPECT_EQ(a.status, 200U);
    EXPECT_EQ(a.content_type, "application/json");
    const auto doc = json::parse(a.body, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << a.body;
    EXPECT_EQ(doc["demo"]["unknown_cookies_seen"], json({{fffd + "weird", 1}})) << a.body;
    EXPECT_EQ(doc["demo"]["set_cookie_dropped"], json({{fffd + "weird", 1}})) << a.body;
    EXPECT_EQ(doc["demo"]["policy_version"], "7");
    EXPECT_EQ(doc["demo"]["site_rules"][0]["name"], "session");
    EXPECT_EQ(doc["demo"]["catalogue_rules"], 1);
}

TEST(AdminMetricsText, LabelsOfDroppedCookiesAreEscapedAndValidUtf8) {
    const auto sites = one_site();
    sites[0]->observations().dropped("\xFFweird");
    sites[0]->observations().dropped("_ga");
    sites[0]->observations().dropped("_ga");
    store_status status;
    status.redis_up = true;
    status.stored = 3;
    status.refusing = true;
    status.revoked_ids = 7;

    const auto text = metrics_text(sites, status);

    EXPECT_NE(
        text.find("cg_set_cookie_dropped_total{site=\"demo\",cookie=\"" + fffd + "weird\"} 1\n"),
        std::string::npos)
        << text;
    EXPECT_NE(text.find("cg_set_cookie_dropped_total{site=\"demo\",cookie=\"_ga\"} 2\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find('\xFF'), std::string::npos);
    EXPECT_NE(text.find("cg_consent_events_total{outcome=\"stored\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("cg_redis_up 1\n"), std::string::npos);
    EXPECT_NE(text.find("cg_redis_slow 0\n"), std::string::npos);
    EXPECT_NE(text.find("cg_consent_refusing 1\n"), std::string::npos);
    EXPECT_NE(text.find("cg_consent_revoked_ids 7\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE cg_consent_journal_bytes gauge\n"), std::string::npos);
}

// Valid UTF-8 throughout (Unicode §3.9): what a JSON parser or a Prometheus scraper accepts.
bool is_utf8(std::string_view s) {
    std::string replaced;
    append_label_value(replaced, s);
    // append_label_value changes only what is not UTF-8, backslash, quote and control bytes.
    std::string expected;
    for (const char c : s) {
        if (c == '\\' || c == '"') {
            expected += '\\';
        }
        if (c == '\n') {
            expected += "\\n";
            continue;
        }
        expected += c;
    }
    return replaced == expected;
}

TEST(AdminCookiesView, StaysValidAfterAnUpstreamSetsANonUtf8CookieName) {
    const auto sites = one_site();
    const visitor_consent undecided;
    EXPECT_FALSE(sites[0]->keep_set_cookie("\xFF\xFEtrk\xC3=1; Max-Age=99", undecided));
    EXPECT_FALSE(sites[0]->keep_set_cookie("_ga=1; Max-Age=99", undecided));

    for (int attempt = 0; attempt < 2; ++attempt) {
        const auto a = cookies_view(sites);
        EXPECT_EQ(a.status, 200U);
        EXPECT_TRUE(is_utf8(a.body)) << a.body;
        const auto doc = json::parse(a.body, nullptr, false);
        ASSERT_TRUE(doc.is_object()) << a.body;
        EXPECT_EQ(doc["demo"]["unknown_cookies_seen"], json({{fffd + fffd + "trk" + fffd, 1}}));
        EXPECT_EQ(doc["demo"]["set_cookie_dropped"]["_ga"], 1);
    }
    const auto text = metrics_text(sites, store_status{});
    EXPECT_TRUE(is_utf8(text));
    EXPECT_NE(text.find("cookie=\"" + fffd + fffd + "trk" + fffd + "\"} 1\n"), std::string::npos)
        << text;
}

TEST(AdminCookiesView, NamesThatLookAlikeOnceReplacedShareOneKey) {
    const auto sites = one_site();
    sites[0]->observations().unknown("\xFFx");
    sites[0]->observations().unknown("\xFEx");
    sites[0]->observations().unknown("\xFEx");

    const auto a = cookies_view(sites);

    const auto doc = json::parse(a.body, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << a.body;
    EXPECT_EQ(doc["demo"]["unknown_cookies_seen"], json({{fffd + "x", 3}})) << a.body;
    EXPECT_EQ(a.body.find(fffd + "x\":"), a.body.rfind(fffd + "x\":")) << "one key, once";
}

TEST(AdminCookiesView, ShowsEvictionsAndTheNewestNamesFirst) {
    const auto sites = one_site();
    auto& o = sites[0]->observations();
    for (std::size_t i = 0; i <= cookie_observations::max_names; ++i) {
        o.unknown("junk" + std::to_string(i));
    }
    o.unknown("zz_tracker");

    const auto doc = json::parse(cookies_view(sites).body, nullptr, false);

    ASSERT_TRUE(doc.is_object());
    const auto& site = doc["demo"];
    EXPECT_EQ(site["unknown_cookies_evicted"], 2);
    EXPECT_EQ(site["set_cookie_dropped_evicted"], 0);
    EXPECT_TRUE(site["unknown_cookies_seen"].contains("zz_tracker"));
    EXPECT_FALSE(site["unknown_cookies_seen"].contains("junk0"));
    ASSERT_TRUE(site["unknown_cookies_recent"].is_array());
    EXPECT_EQ(site["unknown_cookies_recent"].size(), 100U);
    EXPECT_EQ(site["unknown_cookies_recent"][0]["name"], "zz_tracker");
    EXPECT_EQ(site["unknown_cookies_recent"][0]["count"], 1);
    EXPECT_EQ(site["unknown_cookies_recent"][1]["name"], "junk1000");
    const std::string seen = site["unknown_cookies_recent"][0]["last_seen"];
    EXPECT_EQ(seen.size(), 20U) << seen;  // 2026-12-02T01:03:21Z
    EXPECT_EQ(seen.back(), 'Z');
}

TEST(AdminMetricsText, CountsNamesForgottenByAFullInventory) {
    const auto sites = one_site();
    for (std::size_t i = 0; i < cookie_observations::max_names + 3; ++i) {
        sites[0]->observations().dropped("junk" + std::to_string(i));
    }

    const auto text = metrics_text(sites, store_status{});

    EXPECT_NE(text.find("# TYPE cg_cookie_inventory_evicted_total counter\n"), std::string::npos);
    EXPECT_NE(
        text.find("cg_cookie_inventory_evicted_total{site=\"demo\",inventory=\"dropped\"} 3\n"),
        std::string::npos)
        << text;
    EXPECT_NE(
        text.find("cg_cookie_inventory_evicted_total{site=\"demo\",inventory=\"unknown\"} 0\n"),
        std::string::npos);
}

}  // namespace
}  // namespace cg::consent
