#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "consent/decision_event.hpp"

namespace cg::consent {
namespace {

decision_event sample() {
    decision_event e;
    e.event_id = "0123456789abcdef0123456789abcdef";
    e.consent_id = "AbCdEfGhIjKlMnOpQrSt-_";
    e.site = "shop.example";
    e.time_ms = 1795341600123;  // 2026-11-22T10:00:00.123Z
    e.granted = category_set{category::necessary, category::analytics};
    e.policy_version = "2026-11";
    e.banner_hash = std::string(64, 'a');
    e.kind = decision_kind::custom;
    e.lang = language::nn;
    e.gpc = true;
    return e;
}

void expect_same(const decision_event& a, const decision_event& b) {
    EXPECT_EQ(a.event_id, b.event_id);
    EXPECT_EQ(a.consent_id, b.consent_id);
    EXPECT_EQ(a.site, b.site);
    EXPECT_EQ(a.time_ms, b.time_ms);
    EXPECT_EQ(a.granted, b.granted);
    EXPECT_EQ(a.policy_version, b.policy_version);
    EXPECT_EQ(a.banner_hash, b.banner_hash);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.lang, b.lang);
    EXPECT_EQ(a.gpc, b.gpc);
}

TEST(DecisionEvent, WritesTheDocumentedJson) {
    EXPECT_EQ(to_json(sample()),
              R"({"banner_hash":")" + std::string(64, 'a') +
                  R"(","categories":["necessary","analytics"],"consent_id":)"
                  R"("AbCdEfGhIjKlMnOpQrSt-_","event_id":"0123456789abcdef0123456789abcdef",)"
                  R"("gpc":true,"language":"nn","method":"custom","policy_version":"2026-11",)"
                  R"("site":"shop.example","time":"2026-11-22T10:00:00.123Z",)"
                  R"("time_ms":1795341600123})");
}

TEST(DecisionEvent, RoundTripsEveryField) {
    const auto e = sample();
    const auto back = event_from_json(to_json(e));
    ASSERT_TRUE(back);
    expect_same(e, *back);
}

TEST(DecisionEvent, RoundTripsEveryKind) {
    for (const auto kind : {decision_kind::accept_all, decision_kind::reject_all,
                            decision_kind::custom, decision_kind::withdraw, decision_kind::gpc}) {
        auto e = sample();
        e.kind = kind;
        const auto back = event_from_json(to_json(e));
        ASSERT_TRUE(back) << name_of(kind);
        EXPECT_EQ(back->kind, kind);
        EXPECT_EQ(decision_kind_named(name_of(kind)), kind);
    }
    EXPECT_EQ(name_of(decision_kind::accept_all), "accept-all");
    EXPECT_EQ(name_of(decision_kind::reject_all), "reject-all");
    EXPECT_FALSE(decision_kind_named("Accept-All"));
    EXPECT_FALSE(decision_kind_named(""));
}

TEST(DecisionEvent, EveryPrefixOfALineIsRefusedWithoutThrowing) {
    const auto text = to_json(sample());
    for (std::size_t n = 0; n < text.size(); ++n) {
        EXPECT_FALSE(event_from_json(std::string_view{text}.substr(0, n))) << n;
    }
}

TEST(DecisionEvent, RefusesWrongTypesAndValues) {
    const auto good = to_json(sample());
    const auto with = [&](const std::string& from, const std::string& to) {
        auto s = good;
        const auto at = s.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        s.replace(at, from.size(), to);
        return s;
    };
    for (const auto& bad : {
             with(R"("gpc":true)", R"("gpc":1)"),
             with(R"("time_ms":1795341600123)", R"("time_ms":-1)"),
             with(R"("time_ms":1795341600123)", R"("time_ms":1795341600124)"),
             with(R"("time_ms":1795341600123)", R"("time_ms":1.5)"),
             with(R"("time_ms":1795341600123)", R"("time_ms":18446744073709551615)"),
             with(R"("method":"custom")", R"("method":"maybe")"),
             with(R"("language":"nn")", R"("language":"de")"),
             with(R"("analytics")", R"("tracking")"),
             with(R"("site":"shop.example")", R"("site":"shop example")"),
             with(R"("site":"shop.example")", R"("site":"")"),
             with(R"("consent_id":"AbCdEfGhIjKlMnOpQrSt-_")", R"("consent_id":"a:b")"),
             with(R"("event_id":"0123456789abcdef0123456789abcdef")", R"("event_id":7)"),
             with(R"("policy_version":"2026-11")", R"("policy_version":"")"),
             with(R"("banner_hash":"a)", R"("banner_hash":"Z)"),
             with(R"("categories":[)", R"("categories":[[],)"),
             std::string{"[]"},
             std::string{"null"},
             std::string(100000, '['),
             std::string{"{\"event_id\":\"\xff\xfe\"}"},
         }) {
        EXPECT_FALSE(event_from_json(bad)) << bad.substr(0, 200);
    }
}

TEST(DecisionEvent, IsValidExactlyWhenTheJsonLineReadsBack) {
    std::vector<decision_event> cases(15, sample());
    cases[1].event_id = "";
    cases[2].consent_id = "has:colon";
    cases[3].site = "two words";
    cases[4].time_ms = -1;
    cases[5].time_ms = 253402300800000;  // year 10000
    cases[6].policy_version = "";
    cases[7].policy_version = "v 2";
    cases[8].banner_hash = "ABC";  // upper-case hex is not what the banner hash is
    cases[9].banner_hash = "";     // no banner shown (a GPC signal alone): fine
    cases[10].kind = static_cast<decision_kind>(9);
    cases[11].lang = static_cast<language>(7);
    cases[12].event_id = std::string(65, 'a');
    cases[13].site = std::string(253, 's');
    cases[14].time_ms = 253402300799999;

    for (std::size_t i = 0; i < cases.size(); ++i) {
        const bool reads_back = [&] {
            // to_json writes an empty method/language for an unknown enum value
            if (name_of(cases[i].kind).empty() ||
                static_cast<std::size_t>(cases[i].lang) >= all_languages.size()) {
                return false;
            }
            return event_from_json(to_json(cases[i])).has_value();
        }();
        EXPECT_EQ(is_valid(cases[i]), reads_back) << "case " << i;
    }
    EXPECT_TRUE(is_valid(cases[0]));
    EXPECT_TRUE(is_valid(cases[9]));
    EXPECT_FALSE(is_valid(cases[10]));
}

TEST(DecisionEvent, IgnoresUnknownMembers) {
    auto text = to_json(sample());
    text.insert(1, R"("future":{"x":1},"later":"y",)");
    const auto back = event_from_json(text);
    ASSERT_TRUE(back);
    expect_same(sample(), *back);
}

TEST(DecisionEvent, NewEventIdsAre32HexAndDistinct) {
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) {
        const auto id = new_event_id();
        ASSERT_EQ(id.size(), 32U);
        EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 1000U);
}

}  // namespace
}  // namespace cg::consent
