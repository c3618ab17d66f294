// The site's banner: its config and lint (issue 9), languages, the site documents the banner
// script reads, the policy hash, the snippet, the declaration and the privacy-statement section.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "banner/config_reader.hpp"
#include "banner/privacy_text.hpp"
#include "banner/site_banner.hpp"

namespace cg::banner {
namespace {

using json = nlohmann::json;
using lines = std::vector<std::string>;

lines problems(std::string_view banner_json) {
    return json_config::problems_in(banner_json, "test.json",
                                    [](json_config::reader& r, const json& v) {
                                        (void)read_site_banner(r, v, "/sites/0/banner");
                                    });
}

site_banner_config config_of(std::string_view banner_json) {
    json_config::reader r{"test.json"};
    const auto c = read_site_banner(r, json::parse(banner_json), "/sites/0/banner");
    EXPECT_TRUE(r.problems().empty()) << json_config::join_lines(r.problems());
    return c;
}

constexpr std::string_view controller =
    R"("controller": {"name": "Testfirma AS", "contact": "personvern@testfirma.example",
                      "privacy_url": "https://testfirma.example/personvern"})";

std::string banner_json(std::string_view more = {}) {
    std::string s = "{" + std::string{controller};
    if (!more.empty()) {
        s += ", " + std::string{more};
    }
    return s + "}";
}

site_facts facts() {
    site_facts f;
    f.site = "test";
    f.policy_version = "7";
    const auto cat = [](std::string id, bool required) {
        category_info c;
        c.id = std::move(id);
        c.required = required;
        c.names = {c.id + "-nb", c.id + "-nn", c.id + "-en"};
        c.descriptions = {"om " + c.id, "om " + c.id, "about " + c.id};
        return c;
    };
    f.categories = {cat("necessary", true), cat("analytics", false), cat("marketing", false)};
    f.cookies = {{"cg_consent", "necessary", "Testfirma AS", "Remembers the choice.", "1 year"},
                 {"_ga", "analytics", "Google Analytics", "Visitor id.", "2 years"}};
    f.catalogue = {{"_hjSessionUser_*", "analytics", "Hotjar", "Returning visitor.", "1 year"},
                   {"_fbp", "marketing", "Meta", "Browser id for ads.", "3 months"}};
    return f;
}

TEST(SiteBannerConfig, ReadsEveryField) {
    const auto c = config_of(banner_json(
        R"("enabled": true, "third_parties": ["Google Analytics", "YouTube"],
           "reopen": "bottom-right", "consent_mode": "basic", "cache": false,
           "texts": {"en": {"title": "Cookies at Testfirma"}},
           "trackers": [{"host": "stats.testfirma.example", "category": "analytics",
                         "vendor": "Testfirma statistics", "kind": "analytics",
                         "purpose": "Counts visits."}])"));
    EXPECT_TRUE(c.enabled);
    EXPECT_FALSE(c.cache);
    EXPECT_EQ(c.who.name, "Testfirma AS");
    EXPECT_EQ(c.third_parties, (std::vector<std::string>{"Google Analytics", "YouTube"}));
    EXPECT_EQ(c.reopen, reopen_position::bottom_right);
    EXPECT_EQ(c.google, consent_mode::basic);
    ASSERT_EQ(c.texts[2].size(), 1U);
    EXPECT_EQ(c.texts[2][0].second, "Cookies at Testfirma");
    EXPECT_NE(c.trackers_json.find("stats.testfirma.example"), std::string::npos);
}

TEST(SiteBannerConfig, L2RefusesABannerThatDoesNotNameTheController) {
    EXPECT_EQ(problems("{}"),
              (lines{"test.json: /sites/0/banner/controller: the banner must say who the "
                     "controller is (DESIGN L2): give name, contact and privacy_url"}));
    EXPECT_EQ(problems(R"j({"controller": {"name": "A", "contact": "a@b.example",
                                           "privacy_url": "javascript:alert(1)"}})j"),
              (lines{"test.json: /sites/0/banner/controller/privacy_url: must be an http(s) URL "
                     "or a path on the site (got \"javascript:alert(1)\")"}));
    // A disabled banner shows nothing, so it needs no controller.
    EXPECT_TRUE(problems(R"({"enabled": false})").empty());
}

TEST(SiteBannerConfig, T3RefusesTextsThatHideOrWeakenReject) {
    EXPECT_EQ(problems(banner_json(R"("texts": {"nb": {"reject_all": " "}})")),
              (lines{"test.json: /sites/0/banner/texts/nb/reject_all: must not be empty: the "
                     "banner would hide it"}));
    EXPECT_EQ(
        problems(banner_json(
            R"("texts": {"en": {"reject_all": "No thanks, I prefer a worse experience on this site"}})")),
        (lines{"test.json: /sites/0/banner/texts/en/reject_all: must be a short button label (at "
               "most 40 characters), as plain as accept_all (DESIGN T3)"}));
    EXPECT_EQ(problems(banner_json(R"("texts": {"nn": {"reject_all": "GODTA ALLE"}})")),
              (lines{"test.json: /sites/0/banner/texts/nn/reject_all: must differ from "
                     "accept_all"}));
}

TEST(SiteBannerConfig, N1RefusesTextsThatClaimConsentFromBrowsing) {
    EXPECT_EQ(
        problems(banner_json(
            R"("texts": {"nb": {"intro": "Ved å fortsette å bruke nettstedet godtar du alt."}})")),
        (lines{"test.json: /sites/0/banner/texts/nb/intro: claims consent from \"ved å "
               "fortsette\": only a click on the banner is consent (DESIGN L3, N1)"}));
    EXPECT_EQ(problems(banner_json(
                  R"("texts": {"en": {"intro": "Manage it in your Browser Settings."}})")),
              (lines{"test.json: /sites/0/banner/texts/en/intro: claims consent from \"browser "
                     "settings\": only a click on the banner is consent (DESIGN L3, N1)"}));
}

TEST(SiteBannerConfig, NamesUnknownKeysVendorsAndChoices) {
    const auto p = problems(banner_json(
        R"("colour": "red", "reopen": "top", "third_parties": ["Nobody Inc"],
           "texts": {"de": {}, "en": {"titel": "x"}})"));
    ASSERT_EQ(p.size(), 5U) << json_config::join_lines(p);
    EXPECT_EQ(p[0],
              "test.json: /sites/0/banner/colour: unknown field (allowed: enabled, controller, "
              "third_parties, trackers, reopen, consent_mode, texts, cache)");
    EXPECT_EQ(p[1],
              "test.json: /sites/0/banner/reopen: must be one of bottom-left, bottom-right, none "
              "(got \"top\")");
    EXPECT_EQ(p[2], "test.json: /sites/0/banner/texts/de: unknown field (allowed: nb, nn, en)");
    EXPECT_TRUE(p[3].starts_with("test.json: /sites/0/banner/texts/en/titel: unknown field"))
        << p[3];
    EXPECT_EQ(p[4],
              "test.json: /sites/0/banner/third_parties/0: names no vendor of the tracker "
              "catalogue or the site's trackers (got \"Nobody Inc\")");
}

TEST(SiteBannerConfig, ReportsTheSitesTrackersAtTheirOwnPointers) {
    const auto p = problems(banner_json(R"("trackers": [{"host": "", "category": "analytics"}])"));
    ASSERT_FALSE(p.empty());
    for (const auto& line : p) {
        EXPECT_TRUE(line.starts_with("test.json: /sites/0/banner/trackers/0")) << line;
    }
}

TEST(Language, ReadsTagsAndAcceptLanguage) {
    EXPECT_EQ(language_of_tag("nb-NO"), language::nb);
    EXPECT_EQ(language_of_tag("no"), language::nb);
    EXPECT_EQ(language_of_tag("NN"), language::nn);
    EXPECT_EQ(language_of_tag("en_GB"), language::en);
    EXPECT_EQ(language_of_tag("sv"), std::nullopt);
    EXPECT_EQ(language_of_tag("nbx"), std::nullopt);
    EXPECT_EQ(language_of_accept("de-DE, sv;q=0.9, nn-NO;q=0.8, en;q=0.5"), language::nn);
    EXPECT_EQ(language_of_accept("de, fr"), std::nullopt);
    EXPECT_EQ(language_of_accept(""), std::nullopt);
}

TEST(SiteBanner, L2WritesASiteDocumentPerLanguageWithControllerCategoriesAndThirdParties) {
    const site_banner b{config_of(banner_json(R"("third_parties": ["Google Analytics"])")),
                        facts()};
    const auto nb = json::parse(b.document(language::nb));
    EXPECT_EQ(nb["language"], "nb");
    EXPECT_EQ(nb["policy"], "7." + b.policy_hash());
    EXPECT_EQ(nb["texts"]["accept_all"], "Godta alle");
    EXPECT_NE(nb["texts"]["intro"].get<std::string>().find("Testfirma AS bruker"),
              std::string::npos);
    ASSERT_EQ(nb["categories"].size(), 3U);
    EXPECT_EQ(nb["categories"][0]["required"], true);
    EXPECT_EQ(nb["categories"][0]["erase"]["cookies"], json::array());
    const auto& analytics = nb["categories"][1];
    EXPECT_EQ(analytics["name"], "analytics-nb");
    EXPECT_EQ(analytics["cookies"][0]["name"], "_ga");
    EXPECT_EQ(analytics["third_parties"][0]["vendor"], "Google Analytics");
    // Withdrawal deletes the site's and the catalogue's cookies of the category.
    EXPECT_EQ(analytics["erase"]["cookies"], json::array({"_ga", "_hjSessionUser_*"}));
    EXPECT_FALSE(analytics["erase"]["local_storage"].empty());
    EXPECT_EQ(json::parse(b.document(language::en))["texts"]["reject_all"], "Reject all");
    EXPECT_EQ(b.document_path(language::nn), "/_consent/site.nn." + b.policy_hash() + ".json");
}

TEST(SiteBanner, N2LifetimesAndKnownPurposesAreShownInTheVisitorsLanguage) {
    auto f = facts();
    f.cookies.push_back({"sid", "necessary", "Testfirma AS", "Session.", "session"});
    f.cookies.push_back({"a", "analytics", "X", "A.", "30 minutes"});
    f.cookies.push_back({"b", "analytics", "X", "B.", "1 week"});
    f.cookies.push_back({"c", "analytics", "X", "C.", "until you log out"});
    f.cookies.push_back({"d", "analytics", "X", "D.", "3 months"});
    f.cookies.push_back({"e", "marketing", "X", "E.", "1 day", {"Formål.", "Føremål.", ""}});
    const site_banner b{config_of(banner_json()), std::move(f)};
    const auto purpose_of_e = [&](language l) {
        return json::parse(b.document(l))["categories"][2]["cookies"][0]["purpose"];
    };
    EXPECT_EQ(purpose_of_e(language::nb), "Formål.");
    EXPECT_EQ(purpose_of_e(language::nn), "Føremål.");
    EXPECT_EQ(purpose_of_e(language::en), "E.");  // no English text given: `purpose`
    const auto lifetimes = [&](language l) {
        std::vector<std::string> out;
        const auto doc = json::parse(b.document(l));
        for (const auto& c : doc["categories"]) {
            for (const auto& k : c["cookies"]) {
                out.push_back(k["lifetime"].get<std::string>());
            }
        }
        return out;
    };
    EXPECT_EQ(lifetimes(language::nb),
              (std::vector<std::string>{"1 år", "økt", "2 år", "30 minutter", "1 uke",
                                        "until you log out", "3 måneder", "1 dag"}));
    EXPECT_EQ(lifetimes(language::nn),
              (std::vector<std::string>{"1 år", "økt", "2 år", "30 minutt", "1 veke",
                                        "until you log out", "3 månader", "1 dag"}));
    EXPECT_EQ(lifetimes(language::en),
              (std::vector<std::string>{"1 year", "session", "2 years", "30 minutes", "1 week",
                                        "until you log out", "3 months", "1 day"}));
}

TEST(SiteBanner, L8ThePolicyHashChangesWithWhatTheVisitorIsShown) {
    const auto hash = [](std::string_view banner, site_facts f) {
        return site_banner{config_of(banner), std::move(f)}.policy_hash();
    };
    const auto base = hash(banner_json(), facts());
    EXPECT_EQ(base.size(), 12U);
    EXPECT_EQ(hash(banner_json(), facts()), base);
    EXPECT_NE(hash(banner_json(R"("texts": {"nn": {"title": "Kakar"}})"), facts()), base);
    EXPECT_NE(hash(banner_json(R"("third_parties": ["YouTube"])"), facts()), base);
    auto more = facts();
    more.cookies.push_back({"_fbp", "marketing", "Meta", "Ads.", "3 months"});
    EXPECT_NE(hash(banner_json(), more), base);
}

TEST(SiteBanner, TheSnippetCarriesTheVisitorsStateAndOnlyAPlainNonce) {
    const site_banner b{config_of(banner_json()), facts()};
    page_context ctx;
    ctx.decided = true;
    ctx.granted_names = {"necessary", "analytics"};
    ctx.nonce = "abc+/=";
    const auto s = b.snippet(ctx);
    EXPECT_TRUE(s.starts_with("<link rel=\"stylesheet\" href=\"/_consent/banner.")) << s;
    EXPECT_NE(s.find(" nonce=\"abc+/=\""), std::string::npos) << s;
    EXPECT_NE(s.find("data-decided=\"1\" data-granted=\"necessary analytics\""), std::string::npos);
    EXPECT_NE(s.find("data-doc=\"/_consent/site.{lang}." + b.policy_hash() + ".json\""),
              std::string::npos);
    ctx.nonce = "x\"><script>alert(1)</script>";
    EXPECT_EQ(b.snippet(ctx).find("nonce"), std::string::npos);
}

TEST(SiteBanner, TheDeclarationListsCookiesAndThirdPartiesInPureAscii) {
    const site_banner b{config_of(banner_json(R"("third_parties": ["Hotjar"])")), facts()};
    const auto html = b.declaration_html(language::nb);
    EXPECT_NE(html.find("<html lang=\"nb\">"), std::string::npos);
    EXPECT_NE(html.find("<code>_ga</code>"), std::string::npos);
    EXPECT_NE(html.find("<strong>Hotjar</strong>"), std::string::npos);
    EXPECT_NE(html.find("Informasjonskapsler p&#229; Testfirma AS"), std::string::npos);
    for (const char c : html) {
        EXPECT_LT(static_cast<unsigned char>(c), 0x80U);
    }
    const auto j = json::parse(b.declaration_json());
    EXPECT_EQ(j["controller"]["name"], "Testfirma AS");
    EXPECT_FALSE(j["categories"][1].contains("erase"));
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

TEST(PrivacyText, N2NamesControllerBasisPerCategoryCookiesThirdPartiesAndTheRules) {
    const site_banner b{config_of(banner_json(R"("third_parties": ["Google Analytics"])")),
                        facts()};
    const auto md = privacy_text(b, language::nb, text_format::markdown, {});
    EXPECT_TRUE(md.starts_with("## Informasjonskapsler og statistikk\n")) << md;
    EXPECT_TRUE(contains(md, "Testfirma AS er behandlingsansvarlig")) << md;
    EXPECT_TRUE(contains(md, "personvern@testfirma.example"));
    EXPECT_TRUE(contains(md, "(versjon 7." + b.policy_hash() + ")"));
    // The legal basis: necessary without consent, everything else on consent; the 2025 rule.
    EXPECT_TRUE(contains(md, "- necessary-nb: krever ikke samtykke")) << md;
    EXPECT_TRUE(contains(md, "- analytics-nb: bare med ditt samtykke"));
    EXPECT_TRUE(contains(md, "ekomloven § 2-7 b"));
    EXPECT_TRUE(contains(md, "Fra 1. januar 2025"));
    // Each category's cookies as a table, and its third parties.
    EXPECT_TRUE(contains(md, "### analytics-nb\n\nom analytics\n\n| Navn | Leverandør |")) << md;
    EXPECT_TRUE(contains(md, "| `_ga` | Google Analytics | Visitor id. | 2 år |")) << md;
    EXPECT_TRUE(contains(md, "- Google Analytics: "));
    EXPECT_TRUE(contains(md, "Ingen informasjonskapsler i denne kategorien."));  // marketing
    // Change, withdraw, access, export, delete.
    EXPECT_TRUE(contains(md, "<a href=\"#\" data-consent-open>Endre innstillinger"));
    EXPECT_TRUE(contains(md, "](/_consent/record)"));
    EXPECT_TRUE(contains(md, "](/_consent/declaration?lang=nb)"));
    const auto en = privacy_text(b, language::en, text_format::markdown, {});
    EXPECT_TRUE(en.starts_with("## Cookies and statistics\n"));
    EXPECT_TRUE(contains(en, "- analytics-en: only with your consent (GDPR art. 6(1)(a))"));
    EXPECT_TRUE(contains(en, "Since 1 January 2025"));
}

TEST(PrivacyText, L7StatesTheGatewaysLifetimeRetentionAndAnalyticsFigures) {
    const site_banner b{config_of(banner_json()), facts()};
    privacy_facts f;
    f.consent_lifetime_days = 84;
    f.record_retention_days = 92;
    EXPECT_FALSE(contains(privacy_text(b, language::en, text_format::markdown, f),
                          "Visitor statistics without cookies"));
    f.analytics = true;
    f.analytics_k = 7;
    f.analytics_retention_days = 30;
    f.country = true;
    f.forwarded_to = {"warehouse", "parent"};
    const auto en = privacy_text(b, language::en, text_format::markdown, f);
    EXPECT_TRUE(contains(en, "kept in a cookie for 84 days")) << en;
    EXPECT_TRUE(contains(en, "and deleted 92 days after your last choice"));
    EXPECT_TRUE(contains(en, "### Visitor statistics without cookies"));
    EXPECT_TRUE(contains(en, "No figure about fewer than 7 visitors"));
    EXPECT_TRUE(contains(en, "The figures are kept for 30 days."));
    EXPECT_TRUE(contains(en, "country, device type"));
    EXPECT_TRUE(contains(en, "passed on to: warehouse, parent."));
    const auto nb = privacy_text(b, language::nb, text_format::markdown, f);
    EXPECT_TRUE(contains(nb, "Tallene lagres i 30 dager."));
    EXPECT_TRUE(contains(nb, "slettes 92 dager etter ditt siste valg"));
}

TEST(PrivacyText, HtmlIsPureAsciiAndNothingFromConfigBreaksEitherFormat) {
    auto f = facts();
    f.cookies.push_back({"x_*", "analytics", "A|B <Co>", "Counts *things* [1] | </td>", "1 day"});
    const site_banner b{config_of(banner_json()), std::move(f)};
    const auto html = privacy_text(b, language::nb, text_format::html, {});
    EXPECT_TRUE(html.starts_with("<h2>Informasjonskapsler og statistikk</h2>\n")) << html;
    EXPECT_TRUE(contains(html,
                         "<tr><td><code>x_*</code></td><td>A|B &lt;Co&gt;</td><td>Counts "
                         "*things* [1] | &lt;/td&gt;</td><td>1 dag</td></tr>"))
        << html;
    EXPECT_TRUE(contains(html, "<a href=\"#\" data-consent-open>"));
    EXPECT_TRUE(contains(html, "<a href=\"/_consent/record\">"));
    for (const char c : html) {
        EXPECT_LT(static_cast<unsigned char>(c), 0x80U);
    }
    const auto md = privacy_text(b, language::nb, text_format::markdown, {});
    EXPECT_TRUE(contains(md,
                         "| `x_*` | A\\|B \\<Co\\> | Counts \\*things\\* \\[1\\] \\| "
                         "\\</td\\> | 1 dag |"))
        << md;
}

}  // namespace
}  // namespace cg::banner
