#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "consent/catalogue.hpp"
#include "consent/category.hpp"

namespace {

using cg::consent::builtin_catalogue_json;
using cg::consent::catalogue_error;
using cg::consent::category;
using cg::consent::classifier;
using cg::consent::cookie_rule;
using cg::consent::matches_pattern;
using cg::consent::parse_catalogue;

// The problems parse_catalogue reports for `json`, or an empty list when it accepts it.
std::vector<std::string> problems_of(std::string_view json) {
    try {
        parse_catalogue(json, "test.json");
    } catch (const catalogue_error& e) {
        return e.problems();
    }
    return {};
}

// The single problem reported for a catalogue holding just `entry`.
std::string problem_with(const std::string& entry) {
    const auto problems = problems_of(R"({"cookies": [)" + entry + "]}");
    if (problems.size() != 1) {
        return "expected one problem, got " + std::to_string(problems.size());
    }
    return problems.front();
}

cookie_rule rule(std::string name, category c, std::string provider = "test") {
    cookie_rule r;
    r.name = std::move(name);
    r.cat = c;
    r.provider = std::move(provider);
    return r;
}

const std::vector<cookie_rule>& builtin_rules() {
    static const auto rules = parse_catalogue(builtin_catalogue_json(), "built-in catalogue");
    return rules;
}

// ---------------------------------------------------------------------------------------------
// matches_pattern

TEST(MatchesPattern, NameWithoutStarMatchesOnlyItself) {
    EXPECT_TRUE(matches_pattern("_ga", "_ga"));
    EXPECT_FALSE(matches_pattern("_ga", "_gat"));
    EXPECT_FALSE(matches_pattern("_ga", "_g"));
    EXPECT_FALSE(matches_pattern("_ga", "x_ga"));
}

TEST(MatchesPattern, IsCaseSensitive) {
    EXPECT_FALSE(matches_pattern("_GA", "_ga"));
    EXPECT_FALSE(matches_pattern("_hjSession_*", "_hjsession_1"));
}

TEST(MatchesPattern, TrailingStarMatchesAnySuffixIncludingNone) {
    EXPECT_TRUE(matches_pattern("_ga_*", "_ga_ABC123"));
    EXPECT_TRUE(matches_pattern("_ga_*", "_ga_"));
    EXPECT_FALSE(matches_pattern("_ga_*", "_ga"));
    EXPECT_FALSE(matches_pattern("_ga_*", "_gat_UA-1"));
    EXPECT_FALSE(matches_pattern("_ga_*", "x_ga_1"));
}

TEST(MatchesPattern, LeadingStarMatchesAnyPrefixIncludingNone) {
    EXPECT_TRUE(matches_pattern("*_session", "_myapp_session"));
    EXPECT_TRUE(matches_pattern("*_session", "_session"));
    EXPECT_FALSE(matches_pattern("*_session", "_session_id"));
    EXPECT_FALSE(matches_pattern("*_session", "session"));
}

TEST(MatchesPattern, StarInTheMiddleNeedsBothEnds) {
    EXPECT_TRUE(matches_pattern("wp-settings-*-x", "wp-settings-1-x"));
    EXPECT_TRUE(matches_pattern("a*z", "az"));
    EXPECT_TRUE(matches_pattern("a*z", "a-middle-z"));
    EXPECT_FALSE(matches_pattern("a*z", "a-middle"));
    EXPECT_FALSE(matches_pattern("a*z", "middle-z"));
}

TEST(MatchesPattern, HeadAndTailMayNotOverlap) {
    EXPECT_FALSE(matches_pattern("ab*ba", "aba"));
    EXPECT_TRUE(matches_pattern("ab*ba", "abba"));
    EXPECT_TRUE(matches_pattern("ab*ba", "ab-ba"));
}

TEST(MatchesPattern, SeveralStarsMatchPartsInOrder) {
    EXPECT_TRUE(matches_pattern("_pk_id.*.*", "_pk_id.1.a1b2"));
    EXPECT_TRUE(matches_pattern("_pk_id.*.*", "_pk_id.."));
    EXPECT_FALSE(matches_pattern("_pk_id.*.*", "_pk_id.1"));
    EXPECT_TRUE(matches_pattern("*a*b*c*", "xaybzc"));
    EXPECT_TRUE(matches_pattern("*a*b*c*", "abc"));
    EXPECT_FALSE(matches_pattern("*a*b*c*", "cba"));
    EXPECT_TRUE(matches_pattern("x*ab*ab*y", "xababy"));
    EXPECT_FALSE(matches_pattern("x*ab*ab*y", "xaby"));
}

TEST(MatchesPattern, ConsecutiveStarsActAsOne) {
    EXPECT_TRUE(matches_pattern("a**b", "ab"));
    EXPECT_TRUE(matches_pattern("a**b", "a-b"));
    EXPECT_TRUE(matches_pattern("**", ""));
}

TEST(MatchesPattern, HandlesEmptyPatternAndName) {
    EXPECT_TRUE(matches_pattern("", ""));
    EXPECT_FALSE(matches_pattern("", "a"));
    EXPECT_FALSE(matches_pattern("a", ""));
    EXPECT_FALSE(matches_pattern("a*", ""));
    EXPECT_TRUE(matches_pattern("*", ""));
    EXPECT_TRUE(matches_pattern("*", "anything"));
}

TEST(MatchesPattern, StaysFastOnHostileLongInput) {
    // Backtracking matchers take exponential or quadratic time on these.
    const std::string many_a(1'000'000, 'a');
    EXPECT_FALSE(matches_pattern("*a*a*a*a*a*a*a*a*a*a*b", many_a));
    EXPECT_TRUE(matches_pattern("*a*a*a*a*a*a*a*a*a*a*b", many_a + "b"));
    EXPECT_FALSE(matches_pattern("*aaaaaaaaab*", many_a));
    EXPECT_FALSE(matches_pattern(many_a + "*" + many_a, many_a));
    EXPECT_TRUE(matches_pattern(std::string(20, '*') + "a", many_a));
}

// ---------------------------------------------------------------------------------------------
// parse_catalogue

TEST(CatalogueParse, ReadsEveryField) {
    const auto rules = parse_catalogue(R"({"cookies": [
        {"name": "_ga", "category": "analytics", "provider": "Google Analytics",
         "purpose": "Tells visitors apart.", "lifetime": "2 years"},
        {"name": "cart_*", "category": "necessary", "justification": "Holds the cart."}
    ]})",
                                       "test.json");
    ASSERT_EQ(rules.size(), 2U);
    EXPECT_EQ(rules[0].name, "_ga");
    EXPECT_EQ(rules[0].cat, category::analytics);
    EXPECT_EQ(rules[0].provider, "Google Analytics");
    EXPECT_EQ(rules[0].purpose, "Tells visitors apart.");
    EXPECT_EQ(rules[0].lifetime, "2 years");
    EXPECT_EQ(rules[0].justification, "");
    EXPECT_FALSE(rules[0].is_pattern());
    EXPECT_EQ(rules[1].name, "cart_*");
    EXPECT_EQ(rules[1].cat, category::necessary);
    EXPECT_EQ(rules[1].provider, "");
    EXPECT_EQ(rules[1].justification, "Holds the cart.");
    EXPECT_TRUE(rules[1].is_pattern());
}

TEST(CatalogueParse, AcceptsAnEmptyList) {
    EXPECT_TRUE(parse_catalogue(R"({"cookies": []})", "test.json").empty());
}

TEST(CatalogueParse, AcceptsEveryRfc6265TokenCharacter) {
    EXPECT_EQ(problems_of(R"({"cookies": [
        {"name": "aZ09!#$%&'*+-.^_`|~", "category": "necessary"}
    ]})"),
              std::vector<std::string>{});
}

TEST(CatalogueParse, RejectsAnUnknownCategory) {
    EXPECT_EQ(problem_with(R"({"name": "x", "category": "ads"})"),
              "test.json: /cookies/0/category: must be one of necessary, preferences, "
              "analytics, marketing (got \"ads\")");
}

TEST(CatalogueParse, RejectsACategoryThatIsNotAString) {
    EXPECT_EQ(problem_with(R"({"name": "x", "category": 3})"),
              "test.json: /cookies/0/category: must be one of necessary, preferences, "
              "analytics, marketing (got 3)");
}

TEST(CatalogueParse, RejectsAMissingCategory) {
    EXPECT_EQ(problem_with(R"({"name": "x"})"),
              "test.json: /cookies/0/category: required field is missing");
}

TEST(CatalogueParse, RejectsAMissingName) {
    EXPECT_EQ(problem_with(R"({"category": "necessary"})"),
              "test.json: /cookies/0/name: required field is missing");
}

TEST(CatalogueParse, RejectsANameThatIsNotAString) {
    EXPECT_EQ(problem_with(R"({"name": ["_ga"], "category": "necessary"})"),
              "test.json: /cookies/0/name: must be a string (got [\"_ga\"])");
}

TEST(CatalogueParse, RejectsAnEmptyName) {
    EXPECT_EQ(problem_with(R"({"name": "", "category": "necessary"})"),
              "test.json: /cookies/0/name: must not be empty");
}

TEST(CatalogueParse, RejectsAPatternOfOnlyStars) {
    EXPECT_EQ(problem_with(R"({"name": "*", "category": "necessary"})"),
              "test.json: /cookies/0/name: a pattern of only * would match every cookie "
              "(got \"*\")");
    EXPECT_EQ(problem_with(R"({"name": "**", "category": "necessary"})"),
              "test.json: /cookies/0/name: a pattern of only * would match every cookie "
              "(got \"**\")");
}

TEST(CatalogueParse, RejectsCharactersOutsideTheCookieNameToken) {
    const std::string reason =
        "must contain only letters, digits and !#$%&'*+-.^_`|~ (an RFC 6265 cookie name; * is "
        "the wildcard)";
    EXPECT_EQ(problem_with(R"({"name": "a b", "category": "necessary"})"),
              "test.json: /cookies/0/name: " + reason + " (got \"a b\")");
    EXPECT_EQ(problem_with(R"({"name": "a=b", "category": "necessary"})"),
              "test.json: /cookies/0/name: " + reason + " (got \"a=b\")");
    EXPECT_EQ(problem_with(R"({"name": "a;b", "category": "necessary"})"),
              "test.json: /cookies/0/name: " + reason + " (got \"a;b\")");
    EXPECT_EQ(problem_with(R"({"name": "søk", "category": "necessary"})"),
              "test.json: /cookies/0/name: " + reason + " (got \"søk\")");
    // Control characters are escaped so the problem stays on one line.
    EXPECT_EQ(problem_with(R"({"name": "a\nb", "category": "necessary"})"),
              "test.json: /cookies/0/name: " + reason + " (got \"a\\u000ab\")");
    EXPECT_EQ(problem_with(R"({"name": "a\"b", "category": "necessary"})"),
              "test.json: /cookies/0/name: " + reason + " (got \"a\\\"b\")");
}

TEST(CatalogueParse, RejectsADuplicateName) {
    EXPECT_EQ(problems_of(R"({"cookies": [
        {"name": "_ga", "category": "analytics"},
        {"name": "_gid", "category": "analytics"},
        {"name": "_ga", "category": "marketing"}
    ]})"),
              std::vector<std::string>{
                  "test.json: /cookies/2/name: duplicate of /cookies/0/name (got \"_ga\")"});
}

TEST(CatalogueParse, RejectsUnknownFieldsAndEscapesThemInThePointer) {
    EXPECT_EQ(problem_with(R"({"name": "x", "category": "necessary", "domain": ".x.no"})"),
              "test.json: /cookies/0/domain: unknown field (allowed: name, category, provider, "
              "purpose, lifetime, justification)");
    EXPECT_EQ(problem_with(R"({"name": "x", "category": "necessary", "a/b~c": 1})"),
              "test.json: /cookies/0/a~1b~0c: unknown field (allowed: name, category, "
              "provider, purpose, lifetime, justification)");
    EXPECT_EQ(problems_of(R"({"cookies": [], "version": 2})"),
              std::vector<std::string>{"test.json: /version: unknown field (allowed: cookies)"});
}

TEST(CatalogueParse, RejectsTextFieldsThatAreNotStrings) {
    EXPECT_EQ(problems_of(R"({"cookies": [{"name": "x", "category": "necessary",
        "provider": null, "purpose": {}, "lifetime": 2, "justification": false}]})"),
              (std::vector<std::string>{
                  "test.json: /cookies/0/provider: must be a string (got null)",
                  "test.json: /cookies/0/purpose: must be a string (got {})",
                  "test.json: /cookies/0/lifetime: must be a string (got 2)",
                  "test.json: /cookies/0/justification: must be a string (got false)",
              }));
}

TEST(CatalogueParse, RejectsAFieldGivenTwice) {
    EXPECT_EQ(problem_with(R"({"name": "x", "category": "necessary", "category": "marketing"})"),
              "test.json: /cookies/0/category: duplicate field");
}

TEST(CatalogueParse, RejectsAnEntryThatIsNotAnObject) {
    EXPECT_EQ(problem_with(R"("_ga")"), "test.json: /cookies/0: must be an object (got \"_ga\")");
}

TEST(CatalogueParse, RejectsADocumentOfTheWrongShape) {
    EXPECT_EQ(problems_of("[]"),
              std::vector<std::string>{"test.json: the document must be a JSON object (got [])"});
    EXPECT_EQ(problems_of("{}"),
              std::vector<std::string>{"test.json: /cookies: required field is missing"});
    EXPECT_EQ(problems_of(R"({"cookies": {"_ga": "analytics"}})"),
              std::vector<std::string>{"test.json: /cookies: must be an array of cookie rules (got "
                                       "{\"_ga\":\"analytics\"})"});
}

TEST(CatalogueParse, ReportsInvalidJsonWithLineAndColumn) {
    EXPECT_EQ(problems_of("{\"cookies\": [\n  {\"name\": \"x\",}\n]}"),
              std::vector<std::string>{
                  "test.json: invalid JSON at line 2, column 16: syntax error while parsing "
                  "object key - unexpected '}'; expected string literal"});
    EXPECT_EQ(problems_of(""),
              std::vector<std::string>{
                  "test.json: invalid JSON at line 1, column 1: syntax error while parsing "
                  "value - unexpected end of input; expected '[', '{', or a literal"});
}

TEST(CatalogueParse, RejectsDeepNesting) {
    const std::string deep =
        R"({"cookies": )" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
    EXPECT_EQ(problems_of(deep),
              std::vector<std::string>{
                  "test.json: invalid JSON at line 1, column 76: nested deeper than 64 levels"});
}

TEST(CatalogueParse, ShortensLongValuesInMessages) {
    const std::string long_name(500, '(');
    EXPECT_EQ(problem_with(R"({"name": ")" + long_name + R"(", "category": "necessary"})"),
              "test.json: /cookies/0/name: must contain only letters, digits and "
              "!#$%&'*+-.^_`|~ (an RFC 6265 cookie name; * is the wildcard) (got \"" +
                  std::string(36, '(') + "...)");
}

TEST(CatalogueParse, ReportsEveryProblemInDocumentOrder) {
    const auto problems = problems_of(R"({"cookies": [
        {"name": "_ga", "category": "analytics"},
        {"name": "", "category": "ads"},
        {"name": "_ga", "category": "analytics", "color": "red"},
        42,
        {"name": "*"}
    ], "extra": true})");
    EXPECT_EQ(problems, (std::vector<std::string>{
                            "test.json: /extra: unknown field (allowed: cookies)",
                            "test.json: /cookies/1/name: must not be empty",
                            "test.json: /cookies/1/category: must be one of necessary, "
                            "preferences, analytics, marketing (got \"ads\")",
                            "test.json: /cookies/2/color: unknown field (allowed: name, "
                            "category, provider, purpose, lifetime, justification)",
                            "test.json: /cookies/2/name: duplicate of /cookies/0/name (got "
                            "\"_ga\")",
                            "test.json: /cookies/3: must be an object (got 42)",
                            "test.json: /cookies/4/name: a pattern of only * would match every "
                            "cookie (got \"*\")",
                            "test.json: /cookies/4/category: required field is missing",
                        }));
}

TEST(CatalogueParse, ErrorTextJoinsProblemsWithNewlines) {
    try {
        parse_catalogue(R"({"cookies": [{"name": ""}]})", "c.json");
        FAIL() << "no catalogue_error";
    } catch (const catalogue_error& e) {
        EXPECT_STREQ(e.what(),
                     "c.json: /cookies/0/name: must not be empty\n"
                     "c.json: /cookies/0/category: required field is missing");
    }
}

// ---------------------------------------------------------------------------------------------
// The built-in catalogue

TEST(CatalogueBuiltin, ParsesWithoutProblems) {
    try {
        EXPECT_GT(parse_catalogue(builtin_catalogue_json(), "built-in catalogue").size(), 150U);
    } catch (const catalogue_error& e) {
        FAIL() << e.what();
    }
}

TEST(CatalogueBuiltin, IsTheShippedFile) {
    std::ifstream file(CG_SOURCE_DIR "/configs/cookie-catalogue.json", std::ios::binary);
    ASSERT_TRUE(file) << "cannot open configs/cookie-catalogue.json";
    const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    EXPECT_EQ(text, builtin_catalogue_json()) << "re-run cmake to rebuild the built-in copy";
}

TEST(CatalogueBuiltin, TellsVisitorsWhoProcessesEachCookieWhyAndHowLong) {
    for (const auto& r : builtin_rules()) {
        EXPECT_FALSE(r.provider.empty()) << r.name;
        EXPECT_FALSE(r.purpose.empty()) << r.name;
        EXPECT_FALSE(r.lifetime.empty()) << r.name;
        EXPECT_TRUE(r.purpose.ends_with('.')) << r.name;
    }
}

TEST(CatalogueBuiltin, IsSortedByProviderThenName) {
    const auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return s;
    };
    const auto& rules = builtin_rules();
    for (std::size_t i = 1; i < rules.size(); ++i) {
        const auto before = std::make_pair(lower(rules[i - 1].provider), rules[i - 1].name);
        const auto after = std::make_pair(lower(rules[i].provider), rules[i].name);
        EXPECT_LT(before, after) << rules[i - 1].name << " / " << rules[i].name;
    }
}

TEST(CatalogueBuiltin, ClassifiesWellKnownCookies) {
    const classifier c(builtin_rules(), {});
    const std::vector<std::pair<std::string, category>> expected{
        {"PHPSESSID", category::necessary},
        {"JSESSIONID", category::necessary},
        {"__cf_bm", category::necessary},
        {"ASP.NET_SessionId", category::necessary},
        {".AspNetCore.Antiforgery.x1Y2", category::necessary},
        {"wordpress_logged_in_0123abcd", category::necessary},
        {"SSESS0123abcd", category::necessary},
        {"AWSALB", category::necessary},
        {"_ga", category::analytics},
        {"_ga_ABC123", category::analytics},
        {"_gid", category::analytics},
        {"_gat_UA-12345-1", category::analytics},
        {"_hjSessionUser_123", category::analytics},
        {"_hjSession_123", category::analytics},
        {"_pk_id.1.a1b2", category::analytics},
        {"AMCV_ABC%40AdobeOrg", category::analytics},
        {"_clck", category::analytics},
        {"_fbp", category::marketing},
        {"IDE", category::marketing},
        {"_gcl_au", category::marketing},
        {"_gac_UA-12345-1", category::marketing},
        {"_uetvid", category::marketing},
        {"li_sugr", category::marketing},
        {"_ttp", category::marketing},
        {"wp-settings-time-1", category::preferences},
    };
    for (const auto& [name, cat] : expected) {
        const cookie_rule* r = c.find(name);
        ASSERT_NE(r, nullptr) << name;
        EXPECT_EQ(r->cat, cat) << name;
    }
}

TEST(CatalogueBuiltin, LeavesUnknownCookiesUnclassified) {
    const classifier c(builtin_rules(), {});
    EXPECT_EQ(c.find("xyz"), nullptr);
    EXPECT_EQ(c.find(""), nullptr);
    EXPECT_EQ(c.find("_GA"), nullptr);
    EXPECT_EQ(c.find("*"), nullptr);
    EXPECT_EQ(c.find(std::string(100'000, '_')), nullptr);
}

// ---------------------------------------------------------------------------------------------
// classifier

TEST(Classifier, SiteExactRuleOverridesACataloguePattern) {
    const classifier c({rule("_ga_*", category::analytics)},
                       {rule("_ga_KEEP", category::necessary, "site")});
    EXPECT_EQ(c.find("_ga_KEEP")->provider, "site");
    EXPECT_EQ(c.find("_ga_OTHER")->cat, category::analytics);
}

TEST(Classifier, SitePatternOverridesACatalogueExactName) {
    const classifier c({rule("_ga", category::analytics), rule("_gid", category::analytics)},
                       {rule("_g*", category::necessary, "site")});
    EXPECT_EQ(c.find("_ga")->provider, "site");
    EXPECT_EQ(c.find("_gid")->provider, "site");
}

TEST(Classifier, SiteExactRuleOverridesTheSameCatalogueName) {
    const classifier c({rule("_ga", category::analytics)},
                       {rule("_ga", category::preferences, "site")});
    EXPECT_EQ(c.find("_ga")->cat, category::preferences);
}

TEST(Classifier, ExactNameBeatsPatternOfTheSameKind) {
    const classifier c({rule("_ga_*", category::analytics), rule("_ga_X", category::necessary)},
                       {rule("s_*", category::analytics), rule("s_x", category::necessary)});
    EXPECT_EQ(c.find("_ga_X")->cat, category::necessary);
    EXPECT_EQ(c.find("s_x")->cat, category::necessary);
    EXPECT_EQ(c.find("s_y")->cat, category::analytics);
}

TEST(Classifier, MostSpecificPatternWinsWhateverTheOrder) {
    const classifier c({rule("_*", category::marketing), rule("_ga_X*", category::preferences),
                        rule("_ga_*", category::analytics)},
                       {});
    EXPECT_EQ(c.find("_ga_XY")->cat, category::preferences);
    EXPECT_EQ(c.find("_ga_AB")->cat, category::analytics);
    EXPECT_EQ(c.find("_other")->cat, category::marketing);
    EXPECT_EQ(c.find("other"), nullptr);
}

TEST(Classifier, ComparesLeadingStarPatternsWithTheOthersBySpecificity) {
    const classifier c({rule("_app_*", category::analytics), rule("*_session", category::necessary),
                        rule("*x", category::marketing)},
                       {});
    EXPECT_EQ(c.find("_app_session")->cat, category::necessary);  // 8 literals beat 5
    EXPECT_EQ(c.find("_app_x")->cat, category::analytics);        // 5 literals beat 1
    EXPECT_EQ(c.find("zx")->cat, category::marketing);
    EXPECT_EQ(c.find("*x")->cat, category::marketing);  // '*' is a valid name character
}

TEST(Classifier, EarlierRuleWinsBetweenEquallySpecificPatterns) {
    const classifier c({rule("a*", category::analytics), rule("*a", category::marketing)}, {});
    EXPECT_EQ(c.find("aa")->cat, category::analytics);
    EXPECT_EQ(c.find("ba")->cat, category::marketing);
}

TEST(Classifier, EarlierRuleWinsBetweenDuplicateNames) {
    const classifier c({}, {rule("x", category::analytics), rule("x", category::marketing)});
    EXPECT_EQ(c.find("x")->cat, category::analytics);
}

TEST(Classifier, ListsSiteRulesFirst) {
    const classifier c({rule("_ga", category::analytics), rule("_gid", category::analytics)},
                       {rule("cart", category::necessary, "site")});
    ASSERT_EQ(c.rules().size(), 3U);
    EXPECT_EQ(c.rules()[0].name, "cart");
    EXPECT_EQ(c.rules()[1].name, "_ga");
    EXPECT_EQ(c.rules()[2].name, "_gid");
}

TEST(Classifier, ReturnsPointersIntoItsOwnRules) {
    const classifier c({rule("_ga_*", category::analytics)}, {rule("cart", category::necessary)});
    EXPECT_EQ(c.find("cart"), &c.rules()[0]);
    EXPECT_EQ(c.find("_ga_1"), &c.rules()[1]);
}

TEST(Classifier, KnowsNothingWithoutRules) {
    const classifier c({}, {});
    EXPECT_EQ(c.find("_ga"), nullptr);
    EXPECT_EQ(c.find(""), nullptr);
    EXPECT_TRUE(c.rules().empty());
}

}  // namespace
