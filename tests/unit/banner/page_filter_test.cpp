// The page rewrite of a site's banner (site_banner::page): the snippet, hold-back and the
// no-JavaScript form together, for any split of the body.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "banner/config_reader.hpp"
#include "banner/site_banner.hpp"

namespace cg::banner {
namespace {

std::unique_ptr<site_banner> make_banner() {
    json_config::reader r{"test.json"};
    auto c = read_site_banner(r, nlohmann::json::parse(R"({"controller": {
        "name": "Testfirma AS", "contact": "post@testfirma.example", "privacy_url": "/p"},
        "third_parties": ["Google Analytics", "YouTube"]})"),
                              "/sites/0/banner");
    EXPECT_TRUE(r.problems().empty());
    site_facts f;
    f.site = "test";
    f.policy_version = "1";
    f.categories.push_back({"necessary", true, {"N", "N", "N"}, {"", "", ""}});
    f.categories.push_back({"analytics", false, {"Statistikk", "Statistikk", "Statistics"}, {}});
    f.categories.push_back(
        {"marketing", false, {"Markedsføring", "Marknadsføring", "Marketing"}, {}});
    return std::make_unique<site_banner>(std::move(c), std::move(f));
}

constexpr std::string_view page =
    "<!DOCTYPE html><html lang=\"nn\"><head><title>T</title>"
    "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-1\"></script>"
    "<script>gtag('config', 'G-1');</script></head>"
    "<body id=\"b\"><iframe src=\"https://www.youtube.com/embed/x\"></iframe></body></html>";

std::string rewrite(const site_banner& b, const page_context& ctx, std::string_view in,
                    std::size_t piece) {
    auto p = b.page(ctx);
    std::string out;
    for (std::size_t at = 0; at < in.size(); at += piece) {
        p->write(in.substr(at, piece), false, out);
    }
    p->write({}, true, out);
    return out;
}

TEST(PageRewrite, L1HoldsTrackersAndAddsTheBannerAndTheNoScriptFormForAnUndecidedVisitor) {
    const auto b = make_banner();
    page_context ctx;
    ctx.return_to = "/side?a=1&b=\"2\"";
    const auto out = rewrite(*b, ctx, page, page.size());
    const auto tag = out.find("<script src=\"/_consent/banner.");
    EXPECT_NE(tag, std::string::npos);
    EXPECT_LT(tag, out.find("</head>"));
    EXPECT_NE(out.find("data-consent-src=\"https://www.googletagmanager.com"), std::string::npos);
    EXPECT_NE(out.find("<script type=\"text/plain\" data-consent-category=\"analytics\""),
              std::string::npos);
    // The form follows <body> and is in the page's language (nn), with its address escaped.
    const auto form = out.find("<body id=\"b\"><noscript><form class=\"cg-noscript\"");
    ASSERT_NE(form, std::string::npos) << out;
    EXPECT_NE(out.find("lang=\"nn\"><p><strong>Vi brukar informasjonskapslar"), std::string::npos);
    EXPECT_NE(out.find("value=\"/side?a=1&amp;b=&quot;2&quot;\""), std::string::npos);
    EXPECT_NE(out.find("Testfirma AS (post@testfirma.example). Tredjepartar: Google Analytics, "
                       "YouTube"),
              std::string::npos)
        << out;
    // The placeholder names the category as the site does, in the page's language.
    EXPECT_NE(out.find("Marknadsf&#248;ring"), std::string::npos);
    for (const char c : out) {
        ASSERT_LT(static_cast<unsigned char>(c), 0x80U) << "inserted markup is ASCII";
    }
}

TEST(PageRewrite, AVisitorWhoGrantedEverythingGetsThePageUnchangedPlusTheTags) {
    const auto b = make_banner();
    page_context ctx;
    ctx.decided = true;
    ctx.granted = granted_trackers::all();
    const auto out = rewrite(*b, ctx, page, page.size());
    const auto snippet = b->snippet(ctx);
    std::string expected{page};
    expected.insert(expected.find("</head>"), snippet);
    EXPECT_EQ(out, expected);
}

TEST(PageRewrite, GivesTheSameOutputForEverySplit) {
    const auto b = make_banner();
    page_context ctx;
    ctx.fallback = language::en;
    const auto whole = rewrite(*b, ctx, page, page.size());
    for (std::size_t piece = 1; piece < page.size(); ++piece) {
        ASSERT_EQ(rewrite(*b, ctx, page, piece), whole) << "pieces of " << piece;
    }
}

TEST(PageRewrite, TheFormFollowsTheFallbackLanguageWhenThePageNamesNone) {
    const auto b = make_banner();
    page_context ctx;
    ctx.fallback = language::en;
    const auto out = rewrite(*b, ctx, "<p>x<body><p>y", 100);
    EXPECT_NE(out.find("lang=\"en\"><p><strong>We use cookies"), std::string::npos) << out;
}

}  // namespace
}  // namespace cg::banner
