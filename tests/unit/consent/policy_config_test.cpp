#include "consent/config_reader.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cg::consent {
namespace {

using lines = std::vector<std::string>;
using json_config::member;
using namespace std::chrono_literals;

constexpr std::string_view site_pointer = "/sites/0/consent";

// The problems read_site_policy reports for `text`, read as a site's consent object.
lines site_problems(std::string_view text) {
    return json_config::problems_in(text, "t.json",
                                    [](json_config::reader& r, const nlohmann::json& v) {
                                        read_site_policy(r, v, std::string(site_pointer));
                                    });
}

// The single problem reported for `text`.
std::string site_problem(std::string_view text) {
    const auto found = site_problems(text);
    EXPECT_EQ(found.size(), 1U) << ::testing::PrintToString(found);
    return found.empty() ? std::string() : found.front();
}

// The policy read from `text`, which must have no problems.
site_policy policy(std::string_view text) {
    site_policy p;
    const auto found =
        json_config::problems_in(text, "t.json", [&](json_config::reader& r, const auto& v) {
            p = read_site_policy(r, v, std::string(site_pointer));
        });
    EXPECT_EQ(found, lines{});
    return p;
}

// What read_settings makes of a document with top-level `consent` and `redis` objects.
struct settings_result {
    settings value;
    lines problems;
};

settings_result read(std::string_view text, const std::filesystem::path& base_dir = "/etc/cg") {
    settings_result out;
    out.problems =
        json_config::problems_in(text, "t.json", [&](json_config::reader& r, const auto& doc) {
            out.value = read_settings(r, member(doc, "consent"), member(doc, "redis"), base_dir);
        });
    return out;
}

lines settings_problems(std::string_view text) {
    return read(text).problems;
}

settings read_ok(std::string_view text, const std::filesystem::path& base_dir = "/etc/cg") {
    auto r = read(text, base_dir);
    EXPECT_EQ(r.problems, lines{});
    return r.value;
}

std::vector<category> ids(const std::vector<category_info>& cs) {
    std::vector<category> out;
    for (const auto& c : cs) {
        out.push_back(c.id);
    }
    return out;
}

const category_text& text_of(const category_info& c, language l) {
    return c.texts[static_cast<std::size_t>(l)];
}

// A fresh directory for files the configuration refers to; removed after each test.
class ConsentSettingsFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        // The process id keeps parallel runs from several build trees apart.
        dir_ = std::filesystem::temp_directory_path() /
               ("cg_policy_config_test_" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    /// Written with mode 0600, as key files must be.
    std::filesystem::path write(const std::string& name, std::string_view content) {
        const auto path = dir_ / name;
        std::ofstream(path, std::ios::binary) << content;
        std::filesystem::permissions(
            path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        return path;
    }

    std::filesystem::path dir_;
};

const std::string key_a(40, 'a');
const std::string key_b(32, 'b');

// --- built-in categories ---------------------------------------------------------------------

TEST(DefaultCategories, OffersAllFourWithTextsInEveryLanguage) {
    const auto cs = default_categories();

    ASSERT_EQ(ids(cs), (std::vector<category>{category::necessary, category::preferences,
                                              category::analytics, category::marketing}));
    for (const auto& c : cs) {
        for (const auto l : all_languages) {
            EXPECT_FALSE(text_of(c, l).name.empty()) << name_of(c.id) << " " << name_of(l);
            EXPECT_GE(text_of(c, l).description.size(), 60U) << name_of(c.id) << name_of(l);
        }
    }
    EXPECT_EQ(text_of(cs[0], language::nb).name, "Nødvendige");
    EXPECT_EQ(text_of(cs[0], language::nn).name, "Naudsynte");
    EXPECT_EQ(text_of(cs[0], language::en).name, "Necessary");
    EXPECT_NE(text_of(cs[0], language::nb).description.find("kan ikke slås av"), std::string::npos);
}

// --- site policy -----------------------------------------------------------------------------

TEST(SitePolicyConfig, UsesDefaultsForAnEmptyObject) {
    const auto p = policy("{}");

    EXPECT_EQ(ids(p.categories), ids(default_categories()));
    EXPECT_EQ(p.offered(), category_set::all());
    EXPECT_EQ(p.policy_version, "1");
    EXPECT_EQ(p.lifetime, std::chrono::seconds(std::chrono::days(365)));
    EXPECT_EQ(p.retention, std::chrono::seconds(std::chrono::days(365)));
    EXPECT_EQ(p.default_language, language::nb);
    EXPECT_EQ(p.unknown, unknown_cookies::after_accept_all);
    EXPECT_TRUE(p.cookies.empty());
}

TEST(SitePolicyConfig, DefaultSitePolicyMatchesAnEmptyObject) {
    const auto p = default_site_policy();

    EXPECT_EQ(p.offered(), category_set::all());
    EXPECT_EQ(p.policy_version, "1");
    EXPECT_EQ(p.lifetime, std::chrono::seconds(std::chrono::days(365)));
}

TEST(SitePolicyConfig, ReadsEveryField) {
    const auto p = policy(R"({
      "policy_version": "2024-06.b_1",
      "lifetime_days": 180,
      "retention_days": 400,
      "default_language": "en",
      "unknown_cookies": "never",
      "categories": {"analytics": {}, "necessary": {}},
      "cookies": [
        {"name": "JSESSIONID", "category": "necessary", "provider": "the site itself",
         "purpose": "keeps you signed in", "lifetime": "session",
         "justification": "The login session cannot exist without it."},
        {"name": "_pk_id.*", "category": "analytics", "provider": "Matomo",
         "purpose": "counts visits", "lifetime": "13 months"}
      ]
    })");

    EXPECT_EQ(p.policy_version, "2024-06.b_1");
    EXPECT_EQ(p.lifetime, std::chrono::seconds(std::chrono::days(180)));
    EXPECT_EQ(p.retention, std::chrono::seconds(std::chrono::days(400)));
    EXPECT_EQ(p.default_language, language::en);
    EXPECT_EQ(p.unknown, unknown_cookies::never);
    EXPECT_EQ(ids(p.categories), (std::vector<category>{category::necessary, category::analytics}));
    ASSERT_EQ(p.cookies.size(), 2U);
    EXPECT_EQ(p.cookies[0].name, "JSESSIONID");
    EXPECT_EQ(p.cookies[0].cat, category::necessary);
    EXPECT_EQ(p.cookies[0].provider, "the site itself");
    EXPECT_EQ(p.cookies[0].purpose, "keeps you signed in");
    EXPECT_EQ(p.cookies[0].lifetime, "session");
    EXPECT_EQ(p.cookies[0].justification, "The login session cannot exist without it.");
    EXPECT_EQ(p.cookies[1].name, "_pk_id.*");
    EXPECT_TRUE(p.cookies[1].is_pattern());
    EXPECT_EQ(p.cookies[1].cat, category::analytics);
}

TEST(SitePolicyConfig, AlwaysOffersNecessaryInCanonicalOrder) {
    const auto p = policy(R"({"categories": {"marketing": {}, "analytics": {}}})");

    EXPECT_EQ(ids(p.categories), (std::vector<category>{category::necessary, category::analytics,
                                                        category::marketing}));
    EXPECT_EQ(policy(R"({"categories": {}})").offered(), category_set{category::necessary});
}

TEST(SitePolicyConfig, OverridesTextsPerLanguageAndField) {
    const auto p = policy(R"({"categories": {"analytics": {
        "en": {"name": "Measurement"},
        "nn": {"name": "Måling", "description": "Vi tel besøk."}}}})");

    const auto builtin = default_categories()[2];
    ASSERT_EQ(p.categories.size(), 2U);
    const auto& a = p.categories[1];
    EXPECT_EQ(text_of(a, language::en).name, "Measurement");
    EXPECT_EQ(text_of(a, language::en).description, text_of(builtin, language::en).description);
    EXPECT_EQ(text_of(a, language::nn).name, "Måling");
    EXPECT_EQ(text_of(a, language::nn).description, "Vi tel besøk.");
    EXPECT_EQ(text_of(a, language::nb).name, text_of(builtin, language::nb).name);
}

TEST(SitePolicyConfig, RejectsUnknownFields) {
    EXPECT_EQ(site_problem(R"({"lifetime": 30})"),
              "t.json: /sites/0/consent/lifetime: unknown field (allowed: policy_version, "
              "lifetime_days, retention_days, default_language, unknown_cookies, categories, "
              "cookies)");
    EXPECT_EQ(site_problem(R"(true)"), "t.json: /sites/0/consent: must be an object (got true)");
}

TEST(SitePolicyConfig, RejectsUnknownCategoriesListingTheAllowedOnes) {
    EXPECT_EQ(site_problem(R"({"categories": {"ads": {}, "analytics": {}}})"),
              "t.json: /sites/0/consent/categories/ads: unknown category (allowed: necessary, "
              "preferences, analytics, marketing)");
    EXPECT_EQ(site_problem(R"({"categories": ["analytics"]})"),
              "t.json: /sites/0/consent/categories: must be an object whose keys are category "
              "names (got [\"analytics\"])");
}

TEST(SitePolicyConfig, ValidatesCategoryTexts) {
    EXPECT_EQ(site_problems(R"({"categories": {"analytics": {
        "de": {}, "nb": {"title": "x", "name": " ", "description": 3}, "en": "Stats"}}})"),
              (lines{"t.json: /sites/0/consent/categories/analytics/de: unknown field (allowed: "
                     "nb, nn, en)",
                     "t.json: /sites/0/consent/categories/analytics/nb/title: unknown field "
                     "(allowed: name, description)",
                     "t.json: /sites/0/consent/categories/analytics/nb/name: must not be empty",
                     "t.json: /sites/0/consent/categories/analytics/nb/description: must be a "
                     "string (got 3)",
                     "t.json: /sites/0/consent/categories/analytics/en: must be an object (got "
                     "\"Stats\")"}));
}

TEST(SitePolicyConfig, ValidatesPolicyVersion) {
    EXPECT_EQ(site_problem(R"({"policy_version": "v 2"})"),
              "t.json: /sites/0/consent/policy_version: must be 1-32 letters, digits, '.', '_' "
              "or '-' (got \"v 2\")");
    EXPECT_EQ(site_problem(R"({"policy_version": ""})"),
              "t.json: /sites/0/consent/policy_version: must be 1-32 letters, digits, '.', '_' "
              "or '-' (got \"\")");
    EXPECT_EQ(site_problem(R"({"policy_version": ")" + std::string(33, '9') + "\"}"),
              "t.json: /sites/0/consent/policy_version: must be 1-32 letters, digits, '.', '_' "
              "or '-' (got \"999999999999999999999999999999999\")");
    EXPECT_EQ(site_problem(R"({"policy_version": 2})"),
              "t.json: /sites/0/consent/policy_version: must be a string (got 2)");
    EXPECT_EQ(policy(R"({"policy_version": ")" + std::string(32, '9') + "\"}").policy_version,
              std::string(32, '9'));
}

TEST(SitePolicyConfig, ChecksLifetimeAndRetentionRanges) {
    EXPECT_EQ(site_problems(R"({"lifetime_days": 0, "retention_days": 3661})"),
              (lines{"t.json: /sites/0/consent/lifetime_days: must be 1-400 (got 0)",
                     "t.json: /sites/0/consent/retention_days: must be 1-3660 (got 3661)"}));
    EXPECT_EQ(site_problems(R"({"lifetime_days": 401, "retention_days": 0})"),
              (lines{"t.json: /sites/0/consent/lifetime_days: must be 1-400 (got 401)",
                     "t.json: /sites/0/consent/retention_days: must be 1-3660 (got 0)"}));
    const auto p = policy(R"({"lifetime_days": 400, "retention_days": 3660})");
    EXPECT_EQ(p.lifetime, std::chrono::seconds(std::chrono::days(400)));
    EXPECT_EQ(p.retention, std::chrono::seconds(std::chrono::days(3660)));
}

TEST(SitePolicyConfig, KeepsRecordsAtLeastAsLongAsTheCookie) {
    EXPECT_EQ(site_problem(R"({"lifetime_days": 200, "retention_days": 100})"),
              "t.json: /sites/0/consent/retention_days: must be at least lifetime_days (200): a "
              "consent must stay provable for as long as its cookie is used");
    EXPECT_EQ(policy(R"({"lifetime_days": 30, "retention_days": 30})").retention,
              std::chrono::seconds(std::chrono::days(30)));
}

TEST(SitePolicyConfig, ValidatesLanguageAndUnknownCookies) {
    EXPECT_EQ(site_problems(R"({"default_language": "no", "unknown_cookies": "allow"})"),
              (lines{"t.json: /sites/0/consent/default_language: must be one of nb, nn, en (got "
                     "\"no\")",
                     "t.json: /sites/0/consent/unknown_cookies: must be one of after_accept_all, "
                     "never (got \"allow\")"}));
    EXPECT_EQ(policy(R"({"default_language": "nn"})").default_language, language::nn);
    EXPECT_EQ(policy(R"({"unknown_cookies": "after_accept_all"})").unknown,
              unknown_cookies::after_accept_all);
}

TEST(SitePolicyConfig, RequiresAJustificationForNecessaryCookies) {
    EXPECT_EQ(site_problems(R"({"cookies": [
        {"name": "a", "category": "analytics"},
        {"name": "b", "category": "necessary", "justification": "The shopping cart needs it."},
        {"name": "_ga", "category": "necessary"},
        {"name": "d", "category": "necessary", "justification": "   "}]})"),
              (lines{"t.json: /sites/0/consent/cookies/2/justification: required for a necessary "
                     "cookie: say why the site cannot work without it (classing tracking cookies "
                     "as necessary is the most common consent violation)",
                     "t.json: /sites/0/consent/cookies/3/justification: required for a necessary "
                     "cookie: say why the site cannot work without it (classing tracking cookies "
                     "as necessary is the most common consent violation)"}));
}

TEST(SitePolicyConfig, CountsJustificationLengthInCharacters) {
    EXPECT_EQ(site_problem(R"({"cookies": [{"name": "s", "category": "necessary",
                                            "justification": "Needed for login"}]})"),
              "t.json: /sites/0/consent/cookies/0/justification: must be at least 20 characters: "
              "say why the site cannot work without it (got \"Needed for login\")");
    // 20 characters, 23 bytes: "ø" and "å" take two bytes each, and so does "æ".
    EXPECT_EQ(policy(R"({"cookies": [{"name": "s", "category": "necessary",
                                      "justification": "Økt for pålogging, æ"}]})")
                  .cookies.size(),
              1U);
}

TEST(SitePolicyConfig, RequiresACategoryTheSiteOffers) {
    EXPECT_EQ(site_problem(R"({"categories": {"analytics": {}},
                               "cookies": [{"name": "_fbp", "category": "marketing"}]})"),
              "t.json: /sites/0/consent/cookies/0/category: \"marketing\" is not offered by this "
              "site (offered: necessary, analytics)");
}

TEST(SitePolicyConfig, ValidatesCookieRules) {
    EXPECT_EQ(site_problems(R"({"cookies": [
        {"category": "analytics"},
        {"name": "a b", "category": "ads"},
        {"name": "**", "category": "analytics", "provider": 1},
        {"name": "x", "colour": "blue"},
        "y",
        {"name": "", "category": "analytics"}]})"),
              (lines{"t.json: /sites/0/consent/cookies/0/name: required field is missing",
                     "t.json: /sites/0/consent/cookies/1/name: must be a cookie name (letters, "
                     "digits and !#$%&'*+-.^_`|~; RFC 6265 §4.1.1), where '*' stands for any run "
                     "of characters (got \"a b\")",
                     "t.json: /sites/0/consent/cookies/1/category: must be one of necessary, "
                     "preferences, analytics, marketing (got \"ads\")",
                     "t.json: /sites/0/consent/cookies/2/name: a pattern of only '*' would match "
                     "every cookie",
                     "t.json: /sites/0/consent/cookies/2/provider: must be a string (got 1)",
                     "t.json: /sites/0/consent/cookies/3/colour: unknown field (allowed: name, "
                     "category, provider, purpose, lifetime, justification)",
                     "t.json: /sites/0/consent/cookies/3/category: required field is missing",
                     "t.json: /sites/0/consent/cookies/4: must be an object (got \"y\")",
                     "t.json: /sites/0/consent/cookies/5/name: must be a cookie name (letters, "
                     "digits and !#$%&'*+-.^_`|~; RFC 6265 §4.1.1), where '*' stands for any run "
                     "of characters (got \"\")"}));
    EXPECT_EQ(site_problem(R"({"cookies": {"_ga": "analytics"}})"),
              "t.json: /sites/0/consent/cookies: must be a list of cookie rules (got "
              "{\"_ga\":\"analytics\"})");
}

TEST(SitePolicyConfig, RejectsDuplicateCookieNames) {
    EXPECT_EQ(site_problem(R"({"cookies": [
        {"name": "_ga", "category": "analytics"},
        {"name": "_ga_*", "category": "analytics"},
        {"name": "_ga", "category": "marketing"}]})"),
              "t.json: /sites/0/consent/cookies/2/name: \"_ga\" is already the name of "
              "/sites/0/consent/cookies/0");
}

TEST(SitePolicyConfig, ReportsDuplicateFieldsAndEveryProblem) {
    // The duplicate's pointer starts at the test document's root, which here is the policy.
    EXPECT_EQ(site_problems(R"({"lifetime_days": 1, "lifetime_days": 2, "retention_days": -1,
                                "categories": {"ads": {}}})"),
              (lines{"t.json: /lifetime_days: duplicate field",
                     "t.json: /sites/0/consent/retention_days: must be 1-3660 (got -1)",
                     "t.json: /sites/0/consent/categories/ads: unknown category (allowed: "
                     "necessary, preferences, analytics, marketing)"}));
}

TEST(SitePolicyConfig, ReportsASyntaxErrorThroughTheTestHelper) {
    EXPECT_EQ(site_problem("{,}"),
              "t.json: invalid JSON at line 1, column 2: syntax error while parsing object key - "
              "unexpected ','; expected string literal");
}

// --- gateway-wide settings -------------------------------------------------------------------

TEST(ConsentSettingsConfig, UsesDefaultsWhenAbsent) {
    const auto s = read_ok("{}");

    EXPECT_TRUE(s.keys.empty());
    EXPECT_EQ(s.cookie_name, "cg_consent");
    EXPECT_EQ(s.journal.path, std::filesystem::path("/etc/cg/consent-journal.jsonl"));
    EXPECT_EQ(s.journal.max_bytes, 256ULL * 1024 * 1024);
    EXPECT_EQ(s.redis.host, "127.0.0.1");
    EXPECT_EQ(s.redis.port, 6379);
    EXPECT_EQ(s.redis.socket, "");
    EXPECT_EQ(s.redis.database, 0U);
    EXPECT_EQ(s.redis.connect_timeout, 1000ms);
    EXPECT_EQ(s.redis.command_timeout, 2000ms);
    EXPECT_EQ(s.redis.key_prefix, "cg:");
    const auto builtin = parse_catalogue(builtin_catalogue_json(), "built-in catalogue");
    ASSERT_EQ(s.catalogue.size(), builtin.size());
    for (std::size_t i = 0; i < builtin.size(); ++i) {
        EXPECT_EQ(s.catalogue[i].name, builtin[i].name);
    }
}

TEST(ConsentSettingsConfig, ReadsEveryField) {
    const auto s = read_ok(R"({
      "consent": {"keys": [")" +
                           key_a + R"(", ")" + key_b + R"("], "cookie_name": "__Host-cc",
                  "journal": {"path": "/var/lib/cg/journal.jsonl", "max_bytes": 1048576}},
      "redis": {"host": "redis.internal", "port": 6380, "username": "gw", "password": "pw",
                "database": 3, "connect_timeout_ms": 500, "command_timeout_ms": 750,
                "key_prefix": "site-a:cg."}
    })");

    EXPECT_EQ(s.keys, (lines{key_a, key_b}));
    EXPECT_EQ(s.cookie_name, "__Host-cc");
    EXPECT_EQ(s.journal.path, std::filesystem::path("/var/lib/cg/journal.jsonl"));
    EXPECT_EQ(s.journal.max_bytes, 1048576U);
    EXPECT_EQ(s.redis.host, "redis.internal");
    EXPECT_EQ(s.redis.port, 6380);
    EXPECT_EQ(s.redis.username, "gw");
    EXPECT_EQ(s.redis.password, "pw");
    EXPECT_EQ(s.redis.database, 3U);
    EXPECT_EQ(s.redis.connect_timeout, 500ms);
    EXPECT_EQ(s.redis.command_timeout, 750ms);
    EXPECT_EQ(s.redis.key_prefix, "site-a:cg.");
}

TEST(ConsentSettingsConfig, RejectsShortKeysWithoutQuotingThem) {
    EXPECT_EQ(settings_problems(R"({"consent": {"keys": [")" + key_a +
                                R"(", "0123456789012345678901234567890", 42]}})"),
              (lines{"t.json: /consent/keys/1: must be at least 32 characters; generate one "
                     "with: openssl rand -base64 48",
                     "t.json: /consent/keys/2: must be a string"}));
    EXPECT_EQ(settings_problems(R"({"consent": {"keys": "secret"}})"),
              lines{"t.json: /consent/keys: must be a list of strings"});
    EXPECT_EQ(settings_problems(R"({"consent": {"keys": []}})"),
              lines{"t.json: /consent/keys: must list at least one key (leave it out for a "
                    "random key per process)"});
}

TEST_F(ConsentSettingsFiles, ReadsKeysFromAKeyFileRelativeToTheConfig) {
    write("keys.txt", "# rotated 2024-06-01\n\n  " + key_a + "  \r\n" + key_b + "\n#old\n");

    const auto s = read_ok(R"({"consent": {"key_file": "keys.txt"}})", dir_);

    EXPECT_EQ(s.keys, (lines{key_a, key_b}));
}

TEST_F(ConsentSettingsFiles, ReportsShortKeysInAKeyFileByLine) {
    const auto file = write("keys.txt", key_a + "\n# comment\nshort\n");

    EXPECT_EQ(settings_problems(R"({"consent": {"key_file": ")" + file.string() + "\"}}"),
              lines{"t.json: /consent/key_file: " + file.string() +
                    " line 3: key must be at least 32 characters; generate one with: openssl "
                    "rand -base64 48"});
}

TEST_F(ConsentSettingsFiles, ReportsAKeyFileWithoutKeys) {
    const auto file = write("keys.txt", "# nothing yet\n\n");

    EXPECT_EQ(read(R"({"consent": {"key_file": "keys.txt"}})", dir_).problems,
              lines{"t.json: /consent/key_file: " + file.string() + " contains no keys"});
}

TEST(ConsentSettingsConfig, ReportsAnUnreadableKeyFileByItsResolvedPath) {
    EXPECT_EQ(read(R"({"consent": {"key_file": "secrets/keys.txt"}})", "/nonexistent/cg").problems,
              lines{"t.json: /consent/key_file: cannot read /nonexistent/cg/secrets/keys.txt: No "
                    "such file or directory"});
    EXPECT_EQ(settings_problems(R"({"consent": {"key_file": ""}})"),
              lines{"t.json: /consent/key_file: must not be empty"});
}

TEST_F(ConsentSettingsFiles, RefusesAKeyFileThatGroupOrOthersCanRead) {
    const auto file = write("keys.txt", key_a + "\n");
    for (const auto mode : {0644, 0640, 0604, 0660}) {
        std::filesystem::permissions(file, static_cast<std::filesystem::perms>(mode));
        char octal[8];
        std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));

        EXPECT_EQ(read(R"({"consent": {"key_file": "keys.txt"}})", dir_).problems,
                  lines{"t.json: /consent/key_file: " + file.string() +
                        " is accessible to group or others (mode " + octal +
                        "); it holds secret keys: run chmod 600 " + file.string()});
    }
    std::filesystem::permissions(file, static_cast<std::filesystem::perms>(0400));
    EXPECT_EQ(read_ok(R"({"consent": {"key_file": "keys.txt"}})", dir_).keys, lines{key_a});
}

TEST_F(ConsentSettingsFiles, ReadsRetiredKeysFromAListOrAFile) {
    EXPECT_EQ(read_ok(R"({"consent": {"keys": [")" + key_a + R"("], "retired_keys": [")" + key_b +
                      R"("]}})")
                  .retired_keys,
              lines{key_b});
    write("k.txt", key_a + "\n");
    const auto file = write("retired.txt", "# retired 2026-12-01\n" + key_b + "\n");
    const auto s =
        read_ok(R"({"consent": {"key_file": "k.txt", "retired_key_file": "retired.txt"}})", dir_);
    EXPECT_EQ(s.retired_keys, lines{key_b});
    std::filesystem::permissions(file, static_cast<std::filesystem::perms>(0644));
    EXPECT_EQ(read(R"({"consent": {"retired_key_file": "retired.txt"}})", dir_).problems,
              lines{"t.json: /consent/retired_key_file: " + file.string() +
                    " is accessible to group or others (mode 0644); it holds secret keys: run "
                    "chmod 600 " +
                    file.string()});
}

TEST(ConsentSettingsConfig, ValidatesRetiredKeys) {
    EXPECT_EQ(read_ok(R"({"consent": {"retired_keys": []}})").retired_keys, lines{});
    EXPECT_EQ(settings_problems(R"({"consent": {"retired_keys": ["short"]}})"),
              lines{"t.json: /consent/retired_keys/0: must be at least 32 characters; generate "
                    "one with: openssl rand -base64 48"});
    EXPECT_EQ(settings_problems(R"({"consent": {"retired_keys": [")" + key_a +
                                R"("], "retired_key_file": "r.txt"}})"),
              lines{"t.json: /consent/retired_key_file: must not be set together with "
                    "/consent/retired_keys (use one)"});
}

TEST(ConsentSettingsConfig, ReadsHostPrefixAndRateLimits) {
    const settings defaults = read_ok("{}");
    EXPECT_TRUE(defaults.host_prefix);
    EXPECT_EQ(defaults.limits.per_consent_id, 20U);
    EXPECT_EQ(defaults.limits.per_address, 600U);

    const settings s = read_ok(
        R"({"consent": {"host_prefix": false,
                        "rate_limits": {"per_consent_id": 0, "per_address": 5000}}})");
    EXPECT_FALSE(s.host_prefix);
    EXPECT_EQ(s.limits.per_consent_id, 0U);
    EXPECT_EQ(s.limits.per_address, 5000U);
}

TEST(ConsentSettingsConfig, ReportsBadRateLimits) {
    EXPECT_EQ(settings_problems(R"({"consent": {"rate_limits": {"per_ip": 10}}})"),
              lines{"t.json: /consent/rate_limits/per_ip: unknown field (allowed: per_consent_id, "
                    "per_address)"});
    EXPECT_EQ(settings_problems(R"({"consent": {"rate_limits": 10}})"),
              lines{"t.json: /consent/rate_limits: must be an object (got 10)"});
    EXPECT_EQ(settings_problems(R"({"consent": {"rate_limits": {"per_address": -1}}})").size(), 1U);
    EXPECT_EQ(settings_problems(R"({"consent": {"rate_limits": {"per_consent_id": 1000001}}})"),
              lines{"t.json: /consent/rate_limits/per_consent_id: must be 0-1000000 (got "
                    "1000001)"});
    EXPECT_EQ(settings_problems(R"({"consent": {"host_prefix": "yes"}})").size(), 1U);
}

TEST(ConsentSettingsConfig, RejectsKeysAndKeyFileTogether) {
    EXPECT_EQ(
        settings_problems(R"({"consent": {"keys": [")" + key_a + R"("], "key_file": "k.txt"}})"),
        lines{"t.json: /consent/key_file: must not be set together with /consent/keys "
              "(use one)"});
}

TEST(ConsentSettingsConfig, ValidatesTheCookieName) {
    const std::string rule =
        "must be 1-64 characters of a cookie name (letters, digits and !#$%&'*+-.^_`|~; RFC "
        "6265 §4.1.1)";
    EXPECT_EQ(settings_problems(R"({"consent": {"cookie_name": "cg consent"}})"),
              lines{"t.json: /consent/cookie_name: " + rule + " (got \"cg consent\")"});
    EXPECT_EQ(settings_problems(R"({"consent": {"cookie_name": ""}})"),
              lines{"t.json: /consent/cookie_name: " + rule + " (got \"\")"});
    EXPECT_EQ(settings_problems(R"({"consent": {"cookie_name": "a=b"}})"),
              lines{"t.json: /consent/cookie_name: " + rule + " (got \"a=b\")"});
    EXPECT_EQ(settings_problems(R"({"consent": {"cookie_name": ")" + std::string(65, 'c') + "\"}}")
                  .size(),
              1U);
    EXPECT_EQ(
        read_ok(R"({"consent": {"cookie_name": ")" + std::string(64, 'c') + "\"}}").cookie_name,
        std::string(64, 'c'));
}

TEST_F(ConsentSettingsFiles, ReplacesTheBuiltInCatalogue) {
    write("catalogue.json", R"({"cookies": [
        {"name": "_x_*", "category": "marketing", "provider": "X", "purpose": "ads",
         "lifetime": "1 day"}]})");

    const auto s = read_ok(R"({"consent": {"catalogue": "catalogue.json"}})", dir_);

    ASSERT_EQ(s.catalogue.size(), 1U);
    EXPECT_EQ(s.catalogue[0].name, "_x_*");
    EXPECT_EQ(s.catalogue[0].cat, category::marketing);
    EXPECT_EQ(s.catalogue[0].provider, "X");
}

TEST_F(ConsentSettingsFiles, ReportsCatalogueProblemsUnderItsOwnPath) {
    const auto file = write("catalogue.json", R"({"cookies": [{"name": "a", "category": "ads"}]})");

    const auto found = read(R"({"consent": {"catalogue": "catalogue.json"}})", dir_).problems;

    ASSERT_EQ(found.size(), 1U) << ::testing::PrintToString(found);
    EXPECT_EQ(found[0].rfind(file.string() + ": /cookies/0/category: ", 0), 0U) << found[0];
}

TEST(ConsentSettingsConfig, ReportsAnUnreadableCatalogue) {
    EXPECT_EQ(read(R"({"consent": {"catalogue": "cat.json"}})", "/nonexistent").problems,
              lines{"t.json: /consent/catalogue: cannot read /nonexistent/cat.json: No such file "
                    "or directory"});
}

TEST(ConsentSettingsConfig, ValidatesTheJournal) {
    EXPECT_EQ(read_ok(R"({"consent": {"journal": {"path": "state/j.jsonl"}}})").journal.path,
              std::filesystem::path("/etc/cg/state/j.jsonl"));
    EXPECT_EQ(settings_problems(R"({"consent": {"journal": {"path": "", "max_bytes": 1048575,
                                                            "fsync": true}}})"),
              (lines{"t.json: /consent/journal/fsync: unknown field (allowed: path, max_bytes)",
                     "t.json: /consent/journal/path: must not be empty",
                     "t.json: /consent/journal/max_bytes: must be 1048576-68719476736 (got "
                     "1048575)"}));
    EXPECT_EQ(settings_problems(R"({"consent": {"journal": {"path": "a\nb"}}})"),
              lines{"t.json: /consent/journal/path: must not contain control characters (got "
                    "\"a\\u000ab\")"});
}

TEST(ConsentSettingsConfig, RejectsUnknownFields) {
    EXPECT_EQ(settings_problems(R"({"consent": {"secret": "x"}, "redis": {"url": "redis://"}})"),
              (lines{"t.json: /consent/secret: unknown field (allowed: keys, key_file, "
                     "retired_keys, retired_key_file, cookie_name, host_prefix, rate_limits, "
                     "catalogue, journal)",
                     "t.json: /redis/url: unknown field (allowed: host, port, socket, username, "
                     "password, database, connect_timeout_ms, command_timeout_ms, key_prefix, "
                     "sentinels, master_name, sentinel_username, sentinel_password, "
                     "min_replicas, tls)"}));
    EXPECT_EQ(settings_problems(R"({"consent": [], "redis": "localhost"})"),
              (lines{"t.json: /consent: must be an object (got [])",
                     "t.json: /redis: must be an object (got \"localhost\")"}));
}

// The redis block's own rules are tested with its reader (tests/unit/common/); here only that
// read_settings hands it the top-level object and the config's directory.
TEST(ConsentSettingsConfig, ReadsTheRedisBlockWithTheCommonReader) {
    EXPECT_EQ(read_ok(R"({"redis": {"socket": "run/redis.sock"}})").redis.socket,
              "/etc/cg/run/redis.sock");
    EXPECT_EQ(settings_problems(R"({"redis": {"socket": "/run/r.sock", "port": 0}})"),
              (lines{"t.json: /redis/port: must be 1-65535 (got 0)",
                     "t.json: /redis/port: must not be set together with /redis/socket"}));
}

}  // namespace
}  // namespace cg::consent
