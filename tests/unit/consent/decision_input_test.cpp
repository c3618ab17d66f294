// read_decision is private to the consent module (consent/src); the test reaches it by path.
#include "../../../consent/src/decision_input.hpp"

#include <string>

#include <gtest/gtest.h>

namespace cg::consent {
namespace {

constexpr std::string_view json_type = "application/json";
constexpr std::string_view form_type = "application/x-www-form-urlencoded";

const category_set all = category_set::all();
const category_set only_necessary{category::necessary};

decision_input from_json(std::string_view body) {
    return read_decision(json_type, body, all);
}

decision_input from_form(std::string_view body) {
    return read_decision(form_type, body, all);
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        const std::size_t n = b < 0x80          ? 1
                              : (b >> 5U) == 6  ? 2
                              : (b >> 4U) == 14 ? 3
                              : (b >> 3U) == 30 ? 4
                                                : 0;
        if (n == 0 || i + n > s.size()) {
            return false;
        }
        for (std::size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0U) != 0x80U) {
                return false;
            }
        }
        i += n;
    }
    return true;
}

TEST(DecisionInput, ReadsTheSameChoiceFromJsonAndFromAForm) {
    const auto j = from_json(R"({"categories": ["analytics", "marketing"], "language": "en"})");
    const auto f = from_form("category=analytics&categories=marketing&language=en&action=save");

    EXPECT_EQ(j.status, 0U) << j.error;
    EXPECT_EQ(f.status, 0U) << f.error;
    EXPECT_EQ(j.granted,
              (category_set{category::necessary, category::analytics, category::marketing}));
    EXPECT_EQ(f.granted, j.granted);
    EXPECT_EQ(f.language, "en");
}

TEST(DecisionInput, RefusesDuplicateJsonKeysInsteadOfKeepingTheLast) {
    const auto d = from_json(R"({"categories": ["marketing"], "categories": []})");

    EXPECT_EQ(d.status, 400U);
    EXPECT_EQ(d.error, "the field \"categories\" is given more than once");
    EXPECT_EQ(from_json(R"({"action": "reject-all", "action": "accept-all"})").error,
              "the field \"action\" is given more than once");
    EXPECT_EQ(from_json(R"({"action": "save", "language": "nb", "language": "nb"})").status, 400U);
}

TEST(DecisionInput, RefusesRejectAllWithCategoriesInJsonAndFormAlike) {
    const auto j = from_json(R"({"action": "reject-all", "categories": ["marketing"]})");
    const auto f = from_form("action=reject-all&category=marketing");

    const std::string message =
        "action \"reject-all\" contradicts the categories sent with it (necessary, marketing): "
        "send the action alone, or action \"save\" with the categories";
    EXPECT_EQ(j.status, 400U);
    EXPECT_EQ(j.error, message);
    EXPECT_EQ(f.status, 400U);
    EXPECT_EQ(f.error, message);
    // The order of the fields changes nothing.
    EXPECT_EQ(from_json(R"({"categories": ["marketing"], "action": "reject-all"})").error, message);
    EXPECT_EQ(from_form("category=marketing&action=reject-all").error, message);
}

TEST(DecisionInput, RefusesAcceptAllWithFewerCategoriesButTakesOnesThatAgree) {
    EXPECT_EQ(from_json(R"({"action": "accept-all", "categories": ["analytics"]})").status, 400U);
    EXPECT_EQ(from_form("action=accept-all").status, 0U);
    EXPECT_EQ(from_json(R"({"action": "accept-all", "categories": ["necessary", "preferences",
                        "analytics", "marketing"]})")
                  .granted,
              all);
    EXPECT_EQ(from_json(R"({"action": "reject-all", "categories": []})").granted, only_necessary);
    EXPECT_EQ(from_form("action=reject-all&category=necessary").granted, only_necessary);
    EXPECT_EQ(from_json(R"({"action": "gpc", "categories": ["marketing"]})").status, 400U);
}

TEST(DecisionInput, RefusesASingleValuedFormFieldRepeatedWithAnotherValue) {
    EXPECT_EQ(from_form("action=accept-all&action=reject-all").error,
              "the field \"action\" is given more than once with different values");
    EXPECT_EQ(from_form("action=save&language=nb&language=en").status, 400U);
    EXPECT_EQ(from_form("action=save&return_to=%2Fa&return_to=%2Fb").status, 400U);
    // A form that repeats a hidden input with the same value means one thing.
    const auto same = from_form("action=save&action=save&category=analytics&category=analytics");
    EXPECT_EQ(same.status, 0U) << same.error;
    EXPECT_EQ(same.granted, (category_set{category::necessary, category::analytics}));
}

TEST(DecisionInput, AnswersInvalidUtf8InAFormWithAValidUtf8Error) {
    const auto d = from_form("category=%FF");

    EXPECT_EQ(d.status, 400U);
    EXPECT_EQ(d.error,
              "unknown category \"\xEF\xBF\xBD\" (this site offers: necessary, "
              "preferences, analytics, marketing)");
}

// Item 7: the message quotes at most 40 bytes; a cut through the middle of "é" left half a
// character in it.
TEST(DecisionInput, NeverCutsACharacterInHalfWhenQuoting) {
    const std::string name = std::string(39, 'x') + "%C3%A9";
    const auto d = from_form("category=" + name);

    EXPECT_EQ(d.status, 400U);
    EXPECT_TRUE(valid_utf8(d.error)) << d.error;
    EXPECT_EQ(d.error, "unknown category \"" + std::string(39, 'x') +
                           "...\" (this site offers: necessary, preferences, analytics, "
                           "marketing)");
    const auto key = from_json("{\"" + std::string(39, 'k') + "\xC3\xA9\": 1}");
    EXPECT_EQ(key.status, 400U);
    EXPECT_TRUE(valid_utf8(key.error)) << key.error;
}

TEST(DecisionInput, ShowsControlCharactersOfTheInputAsReplacementCharacters) {
    const auto d = from_form("action=a%0Db%1B");

    EXPECT_EQ(d.error,
              "unknown action \"a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD\" (allowed: accept-all, reject-all, save, gpc)");
}

TEST(DecisionInput, KeepsTheExistingAnswersForPlainDecisions) {
    EXPECT_EQ(from_json(R"({"action": "accept-all"})").granted, all);
    EXPECT_EQ(from_form("action=reject-all").granted, only_necessary);
    EXPECT_TRUE(from_json(R"({"action": "gpc"})").gpc_method);
    EXPECT_EQ(from_json("{}").error, "say what the visitor chose: \"categories\" or \"action\"");
    EXPECT_EQ(from_json(R"({"categories": ["cookies"]})").status, 400U);
    EXPECT_EQ(read_decision("text/plain", "", all).status, 415U);
    const auto only_analytics = read_decision(
        form_type, "action=accept-all", category_set{category::necessary, category::analytics});
    EXPECT_EQ(only_analytics.granted, (category_set{category::necessary, category::analytics}));
}

}  // namespace
}  // namespace cg::consent
