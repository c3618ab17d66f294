#include "analytics/user_agent.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "analytics/visitor.hpp"

namespace {

using namespace std::string_view_literals;
using cg::analytics::device_class;
using cg::analytics::ua_cache;
using cg::analytics::ua_database;
using cg::analytics::ua_database_error;

// A small database in uap-core's format: replacements with $n, a case-insensitive device
// parser, and a regex RE2 refuses (a backreference).
constexpr std::string_view small_yaml = R"(
user_agent_parsers:
  - regex: '(Lynx)\((\d+)\)'
    family_replacement: 'Back($1)'
  - regex: '(Foo)Browser/(\d+)\.(\d+)'
    family_replacement: '$1 Browser '
    v2_replacement: '9'
  - regex: '(Bar)/(\d+)(?:\.(\d+)|)'
os_parsers:
  - regex: '(Windows NT) (\d+)\.(\d+)'
    os_replacement: 'Windows'
  - regex: 'CPU iPhone OS (\d+)_(\d+)'
    os_replacement: 'iOS'
    os_v1_replacement: '$1'
    os_v2_replacement: '$2'
device_parsers:
  - regex: 'ipad'
    regex_flag: 'i'
    device_replacement: 'iPad'
    brand_replacement: 'Apple'
    model_replacement: 'iPad'
  - regex: '(iPhone)'
    brand_replacement: 'Apple'
  - regex: '(\w+)\1'
)";

ua_database small() {
    return ua_database::from_yaml(small_yaml, "small.yaml");
}

TEST(UserAgent, FillsReplacementsAndCaptureGroupsTrimmed) {
    const auto db = small();
    EXPECT_EQ(db.skipped(), 1U);  // the backreference
    const auto a = db.parse("Mozilla/5.0 (Windows NT 10.0) FooBrowser/12.3");
    EXPECT_EQ(a.browser, "Foo Browser");  // "$1 Browser " trimmed
    EXPECT_EQ(a.browser_major, "12");
    EXPECT_EQ(a.browser_minor, "9");  // the replacement wins over the group
    EXPECT_EQ(a.os, "Windows");
    EXPECT_EQ(a.os_major, "10");
    EXPECT_EQ(a.os_minor, "0");
    EXPECT_EQ(a.device, "Other");
    EXPECT_EQ(a.kind, device_class::desktop);
    const auto b = db.parse("Bar/7");
    EXPECT_EQ(b.browser, "Bar");
    EXPECT_EQ(b.browser_major, "7");
    EXPECT_EQ(b.browser_minor, "");  // an optional group that did not take part
}

TEST(UserAgent, DeviceParsersHonourTheCaseFlagAndBrands) {
    const auto db = small();
    const auto pad = db.parse("Mozilla/5.0 (IPAD; CPU OS 17_0 like Mac OS X)");
    EXPECT_EQ(pad.device, "iPad");
    EXPECT_EQ(pad.brand, "Apple");
    EXPECT_EQ(pad.kind, device_class::tablet);
    const auto phone = db.parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)");
    EXPECT_EQ(phone.device, "iPhone");
    EXPECT_EQ(phone.model, "iPhone");  // no model_replacement: group 1
    EXPECT_EQ(phone.os, "iOS");
    EXPECT_EQ(phone.os_major, "17");
    EXPECT_EQ(phone.os_minor, "4");
    EXPECT_EQ(phone.kind, device_class::mobile);
}

TEST(UserAgent, NothingMatchedIsOtherAndHostileInputIsHarmless) {
    const auto db = small();
    const auto u = db.parse("");
    EXPECT_EQ(u.browser, "Other");
    EXPECT_EQ(u.os, "Other");
    EXPECT_EQ(u.device, "Other");
    std::string hostile(100'000, 'a');
    hostile += "\xff\xfe\0Bar/1"sv;
    EXPECT_EQ(db.parse(hostile).browser, "Other");  // read no further than 512 bytes
    EXPECT_EQ(db.parse("\xff\xfe Bar/1.\xc3").browser, "Bar");
}

TEST(UserAgent, BadDatabasesAreRefusedWithTheReason) {
    try {
        (void)ua_database::from_yaml("user_agent_parsers: [", "x.yaml");
        FAIL();
    } catch (const ua_database_error& e) {
        EXPECT_NE(std::string{e.what()}.find("x.yaml: not YAML"), std::string::npos);
    }
    try {
        (void)ua_database::from_yaml("user_agent_parsers: []\nos_parsers: []\n", "y.yaml");
        FAIL();
    } catch (const ua_database_error& e) {
        EXPECT_EQ(std::string{e.what()}, "y.yaml: no `device_parsers` list");
    }
    try {
        (void)ua_database::from_yaml(
            "user_agent_parsers: [{family_replacement: x}]\nos_parsers: []\ndevice_parsers: []\n",
            "z.yaml");
        FAIL();
    } catch (const ua_database_error& e) {
        EXPECT_EQ(std::string{e.what()}, "z.yaml: user_agent_parsers[0] has no `regex`");
    }
    EXPECT_THROW((void)ua_database::load("/nonexistent/regexes.yaml"), ua_database_error);
}

TEST(UserAgent, TheCacheKeepsTheMostRecentlyUsed) {
    const auto db = small();
    ua_cache cache{db, 2};
    EXPECT_EQ(cache.parse("Bar/1").browser, "Bar");
    EXPECT_EQ(cache.parse("Bar/2").digest, cg::analytics::digest_of("Bar/2"));
    EXPECT_EQ(cache.parse("Bar/1").digest, cg::analytics::digest_of("Bar/1"));  // most recent
    EXPECT_EQ(cache.parsed(), 2U);  // from the cache
    EXPECT_EQ(cache.parse("Bar/3").digest, cg::analytics::digest_of("Bar/3"));  // "Bar/2" goes
    EXPECT_EQ(cache.size(), 2U);
    EXPECT_EQ(cache.parse("Bar/1").os, "Other");
    EXPECT_EQ(cache.parsed(), 3U);  // "Bar/1" stayed
    EXPECT_EQ(cache.parse("Bar/2").digest, cg::analytics::digest_of("Bar/2"));
    EXPECT_EQ(cache.parsed(), 4U);  // "Bar/2" had gone
    EXPECT_EQ(cache.parse("Foo").kind, device_class::desktop);
}

// Debian's uap-core, which scripts/deps.sh installs: the real database on real browsers.
TEST(UserAgent, ReadsRealBrowsersAndBotsWithUapCore) {
    const std::filesystem::path file = "/usr/share/uap-core/regexes.yaml";
    if (!std::filesystem::exists(file)) {
        GTEST_SKIP() << file << " is absent (Debian package uap-core)";
    }
    const auto db = ua_database::load(file);
    EXPECT_GT(db.parsers(), 1000U);
    const auto chrome = db.parse(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36");
    EXPECT_EQ(chrome.browser, "Chrome");
    EXPECT_EQ(chrome.os, "Linux");
    EXPECT_EQ(chrome.kind, device_class::desktop);
    const auto iphone = db.parse(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.5 Mobile/15E148 Safari/604.1");
    EXPECT_EQ(iphone.browser, "Mobile Safari");
    EXPECT_EQ(iphone.os, "iOS");
    EXPECT_EQ(iphone.kind, device_class::mobile);
    const auto tablet = db.parse(
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36");
    EXPECT_EQ(tablet.os, "Android");
    EXPECT_EQ(tablet.kind, device_class::tablet);
    for (const char* bot :
         {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8.5.0",
          "python-requests/2.31.0", "Go-http-client/1.1",
          "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "HeadlessChrome/120.0.0.0 Safari/537.36"}) {
        EXPECT_EQ(db.parse(bot).kind, device_class::bot) << bot;
    }
}

}  // namespace
