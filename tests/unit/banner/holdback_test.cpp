#include "banner/holdback.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "banner/html_rewriter.hpp"
#include "banner/html_tokenizer.hpp"
#include "banner/tracker_catalogue.hpp"

namespace {

using namespace std::string_view_literals;
using cg::banner::append_ascii_html;
using cg::banner::ascii_html;
using cg::banner::category_display_names;
using cg::banner::granted_trackers;
using cg::banner::hold_back_inline_script;
using cg::banner::hold_back_tag;
using cg::banner::holdback_options;
using cg::banner::html_rewriter;
using cg::banner::html_token;
using cg::banner::html_token_kind;
using cg::banner::html_tokenizer;
using cg::banner::html_tokenizer_options;
using cg::banner::iframe_placeholder;
using cg::banner::install_holdback;
using cg::banner::make_holdback;
using cg::banner::placeholder_language;
using cg::banner::serialize_start_tag;
using cg::banner::start_tag_replacer;
using cg::banner::tracker;
using cg::banner::tracker_catalogue;
using cg::banner::tracker_category;

constexpr std::string_view snippet = "[[CG]]";

const tracker_catalogue& catalogue() {
    return tracker_catalogue::builtin();
}

// Every token of `html`, fed whole. Tree-builder switches are off so a lone tag is all we get.
std::vector<html_token> tokenize(std::string_view html) {
    html_tokenizer_options options;
    options.follow_tree_builder = false;
    html_tokenizer tokenizer{options};
    std::vector<html_token> tokens;
    tokenizer.feed(html, true, [&](const html_token& t) { tokens.push_back(t); });
    return tokens;
}

// The one start tag in `html`; fails the test if there is anything else.
html_token only_tag(std::string_view html) {
    auto tokens = tokenize(html);
    EXPECT_EQ(tokens.size(), 1U) << html;
    if (tokens.size() != 1 || tokens[0].kind != html_token_kind::start_tag) {
        ADD_FAILURE() << "not a single start tag: " << html;
        return {};
    }
    return tokens[0];
}

std::optional<std::string> hold(std::string_view tag,
                                granted_trackers granted = granted_trackers::none()) {
    return hold_back_tag(only_tag(tag), catalogue(), granted);
}

std::map<std::string, std::string> values_of(const html_token& tag) {
    std::map<std::string, std::string> values;
    for (const auto& a : tag.attributes) {
        values.emplace(a.name, a.value);
    }
    return values;
}

// The replacement is one well-formed start tag of the same name carrying every original
// attribute value (renamed where held, `type` moved to data-consent-type for scripts), plus the
// category and vendor, and nothing that still loads the URL.
void expect_faithful(std::string_view original_html, const std::string& replacement) {
    const html_token original = only_tag(original_html);
    const html_token held = only_tag(replacement);
    EXPECT_EQ(held.name, original.name) << replacement;
    EXPECT_EQ(held.self_closing, original.self_closing) << replacement;
    auto expected = values_of(original);
    const bool script = original.name == "script";
    std::map<std::string, std::string> renames{{"src", "data-consent-src"}};
    if (original.name == "img") {
        renames.emplace("srcset", "data-consent-srcset");
    } else if (original.name == "link") {
        renames = {{"href", "data-consent-href"}};
    }
    // The page's own attributes named like the ones hold-back adds are dropped.
    for (const auto& [from, to] : renames) {
        expected.erase(to);
    }
    expected.erase("data-consent-category");
    expected.erase("data-consent-vendor");
    if (script) {
        expected.erase("data-consent-type");
    }
    for (const auto& [from, to] : renames) {
        if (auto it = expected.find(from); it != expected.end()) {
            expected[to] = it->second;
            expected.erase(from);
        }
    }
    if (script) {
        if (auto it = expected.find("type"); it != expected.end()) {
            expected["data-consent-type"] = it->second;
        }
        expected["type"] = "text/plain";
    }
    auto got = values_of(held);
    EXPECT_TRUE(got.contains("data-consent-category")) << replacement;
    EXPECT_TRUE(got.contains("data-consent-vendor")) << replacement;
    expected["data-consent-category"] = got["data-consent-category"];
    expected["data-consent-vendor"] = got["data-consent-vendor"];
    EXPECT_EQ(got, expected) << original_html << "\n -> " << replacement;
    for (const auto& [from, to] : renames) {
        EXPECT_EQ(held.find(from), nullptr) << replacement;
    }
}

void expect_held(std::string_view tag, std::string_view expected) {
    const auto held = hold(tag);
    ASSERT_TRUE(held.has_value()) << tag;
    EXPECT_EQ(*held, expected);
    expect_faithful(tag, *held);
}

std::string rewrite_chunks(std::string_view input, const std::vector<std::size_t>& cuts,
                           const start_tag_replacer& replacer) {
    html_rewriter rewriter{std::string{snippet}, replacer};
    std::string out;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        rewriter.write(input.substr(from, cut - from), false, out);
        from = cut;
    }
    rewriter.write(input.substr(from), true, out);
    return out;
}

TEST(GrantedTrackers, StartsEmptyAndGrantsOneCategoryAtATime) {
    granted_trackers granted;
    EXPECT_FALSE(granted.has(tracker_category::analytics));
    EXPECT_EQ(granted, granted_trackers::none());
    granted.grant(tracker_category::analytics);
    EXPECT_TRUE(granted.has(tracker_category::analytics));
    EXPECT_FALSE(granted.has(tracker_category::marketing));
    EXPECT_FALSE(granted.everything());
    granted.grant(tracker_category::marketing).grant(tracker_category::preferences);
    EXPECT_TRUE(granted.everything());
    EXPECT_EQ(granted, granted_trackers::all());
}

TEST(Holdback, HoldsTrackerScriptAndKeepsItsOtherAttributes) {
    expect_held(
        "<script async src=\"https://www.googletagmanager.com/gtm.js?id=GTM-AB12&amp;l=dl\" "
        "nonce=r4nd>",
        "<script type=\"text/plain\" data-consent-category=\"analytics\" "
        "data-consent-vendor=\"Google Tag Manager\" async "
        "data-consent-src=\"https://www.googletagmanager.com/gtm.js?id=GTM-AB12&amp;l=dl\" "
        "nonce=\"r4nd\">");
}

TEST(Holdback, KeepsTheOriginalScriptTypeForModulesAndJavaScriptTypes) {
    expect_held("<script type=module src=https://connect.facebook.net/en_US/fbevents.js defer>",
                "<script type=\"text/plain\" data-consent-type=\"module\" "
                "data-consent-category=\"marketing\" data-consent-vendor=\"Meta\" "
                "data-consent-src=\"https://connect.facebook.net/en_US/fbevents.js\" defer>");
    for (const std::string_view type :
         {"text/javascript", " TEXT/JavaScript ", "", "application/x-javascript",
          "text/javascript; charset=utf-8"}) {
        const std::string tag = "<script type=\"" + std::string{type} +
                                "\" src=\"https://www.google-analytics.com/analytics.js\">";
        const auto held = hold(tag);
        ASSERT_TRUE(held.has_value()) << tag;
        expect_faithful(tag, *held);
    }
}

TEST(Holdback, LeavesScriptsThatDoNotRunAlone) {
    EXPECT_FALSE(
        hold("<script type=\"text/plain\" data-consent-category=\"analytics\" "
             "data-consent-src=\"https://www.googletagmanager.com/gtm.js\">"));
    EXPECT_FALSE(hold("<script type=application/ld+json src=https://www.googletagmanager.com/x>"));
    EXPECT_FALSE(hold("<script type=importmap src=https://www.googletagmanager.com/x>"));
    EXPECT_FALSE(hold("<script>"));
}

TEST(Holdback, KeepsTagsOfGrantedCategories) {
    granted_trackers analytics;
    analytics.grant(tracker_category::analytics);
    EXPECT_FALSE(hold("<script src=https://www.googletagmanager.com/gtag/js?id=G-1>", analytics));
    EXPECT_TRUE(hold("<script src=https://connect.facebook.net/en_US/fbevents.js>", analytics));
    granted_trackers marketing;
    marketing.grant(tracker_category::marketing);
    EXPECT_FALSE(hold("<iframe src=https://www.youtube.com/embed/x>", marketing));
    EXPECT_FALSE(hold("<img src=https://www.facebook.com/tr?id=1>", marketing));
    EXPECT_FALSE(hold("<link rel=preconnect href=https://connect.facebook.net>", marketing));
    EXPECT_TRUE(hold("<script src=https://www.googletagmanager.com/gtm.js>", marketing));
}

TEST(Holdback, HoldsTrackerIframe) {
    expect_held(
        "<iframe width=560 src=\"https://www.youtube.com/embed/dQw4w9WgXcQ\" "
        "allowfullscreen>",
        "<iframe data-consent-category=\"marketing\" data-consent-vendor=\"YouTube\" "
        "width=\"560\" data-consent-src=\"https://www.youtube.com/embed/dQw4w9WgXcQ\" "
        "allowfullscreen>");
    EXPECT_FALSE(hold("<iframe src=https://player.example.com/embed/1>"));
    EXPECT_FALSE(hold("<iframe srcdoc='<p>hi'>"));
}

TEST(Holdback, HoldsTrackingPixelSrcAndSrcset) {
    expect_held(
        "<img height=1 width=1 style=\"display:none\" "
        "src=\"https://www.facebook.com/tr?id=123&ev=PageView&noscript=1\" />",
        "<img data-consent-category=\"marketing\" data-consent-vendor=\"Meta Pixel\" "
        "height=\"1\" width=\"1\" style=\"display:none\" "
        "data-consent-src=\"https://www.facebook.com/tr?id=123&ev=PageView&noscript=1\" "
        "/>");
    // A tracker only in srcset is enough; both attributes are renamed.
    expect_held(
        "<img src=/logo.png srcset=\"/logo2x.png 2x, https://bat.bing.com/p.gif 3x\">",
        "<img data-consent-category=\"marketing\" "
        "data-consent-vendor=\"Microsoft Advertising (UET)\" data-consent-src=\"/logo.png\" "
        "data-consent-srcset=\"/logo2x.png 2x, https://bat.bing.com/p.gif 3x\">");
    const auto held = hold("<img srcset=\"/a.png 1x,https://px.ads.linkedin.com/c.gif 2x\">");
    ASSERT_TRUE(held.has_value());
    EXPECT_NE(held->find("LinkedIn"), std::string::npos);
    EXPECT_FALSE(hold("<img srcset=\"/a.png 1x, /b.png (x, https://bat.bing.com/p.gif) 2x\">"));
    // Commas inside a URL do not split it: this is one relative URL.
    EXPECT_FALSE(hold("<img srcset=\"/a.png,https://px.ads.linkedin.com/c.gif,/b.png 2x\">"));
    EXPECT_FALSE(hold("<img src=https://www.facebook.com/photo.php srcset=\"/a.png 1x\">"));
}

TEST(Holdback, HoldsEarlyConnectionHintsToTrackers) {
    for (const std::string_view rel :
         {"preconnect", "dns-prefetch", "preload", "prefetch", "PreConnect", " icon  preload "}) {
        const std::string tag = "<link rel=\"" + std::string{rel} +
                                "\" href=\"https://www.googletagmanager.com\" crossorigin>";
        const auto held = hold(tag);
        ASSERT_TRUE(held.has_value()) << tag;
        expect_faithful(tag, *held);
    }
    expect_held("<link rel=dns-prefetch href=//connect.facebook.net>",
                "<link data-consent-category=\"marketing\" data-consent-vendor=\"Meta\" "
                "rel=\"dns-prefetch\" data-consent-href=\"//connect.facebook.net\">");
    EXPECT_FALSE(hold("<link rel=stylesheet href=https://www.googletagmanager.com/x.css>"));
    EXPECT_FALSE(hold("<link rel=preconnect href=https://fonts.gstatic.com>"));
    EXPECT_FALSE(hold("<link rel=preconnect>"));
    EXPECT_FALSE(hold("<link href=https://www.googletagmanager.com>"));
}

TEST(Holdback, LeavesRelativeUnknownAndNonHttpUrlsAlone) {
    for (const std::string_view tag : {
             "<script src=/gtm.js>",
             "<script src=gtm.js>",
             "<script src=\"https://example.com/googletagmanager.com/gtm.js\">",
             "<script src=\"https://notgoogletagmanager.com/gtm.js\">",
             "<script src=\"javascript:alert(1)\">",
             "<script src=\"data:text/javascript,1\">",
             "<img src=\"https://www.google.com/search?q=ads\">",
             "<img src=\"https://www.facebook.com/track\">",
             "<script src>",
             "<script>",
             "<div src=https://www.googletagmanager.com/gtm.js>",
             "<p src=https://www.youtube.com/x.mp4>",
             "<video src=https://example.com/x.mp4 poster=/p.jpg>",
         }) {
        EXPECT_FALSE(hold(tag)) << tag;
    }
}

TEST(Holdback, RewritesOddlyQuotedAndCasedTagsSoTheyTokenizeTheSame) {
    constexpr std::string_view tags[] = {
        "<SCRIPT SRC='https://www.googletagmanager.com/gtm.js?a=\"b\"' ASYNC>",
        "<script src=https://www.googletagmanager.com/gtm.js?a=\"b' data-x=a\"b>",
        "<script data-x='>\"<' src=\"https://www.googletagmanager.com/gtm.js\">",
        "<script src=\"https://www.googletagmanager.com/gtm.js\" data-x=\"line\r\nbreak\">",
        "<script src=\"https://www.googletagmanager.com/gtm.js\" data-x=\"\xFF\xC3(\x80\">",
        "<script src=\"https://www.googletagmanager.com/gtm.js\" data-x='&quot&amp\"&#34'>",
        "<script src='https://www.googletagmanager.com/gtm.js' data-x='&qu\"ot;'>",
        "<script src=\"https://www.googletagmanager.com/gtm.js\" data-x='a&\"'>",
        "<script src=\"https://www.googletagmanager.com/gtm.js\" data-x=\"a\0b\">"sv,
        "<script src=\" https://www.googletagmanager.com/gtm.js\t\" =weird \"q'=1 e=''>",
        "<ScRiPt SrC=https://www.googletagmanager.com/gtm.js TYPE=Module>",
        "<img/src=https://www.facebook.com/tr?id=1/>",
        "<img src=\"https://www.facebook.com/tr?id=1\"/>",
        "<IMG SRC=https://www.facebook.com/tr?id=1 ALT='a \"pixel\"' />",
        "<iframe src=https://www.youtube.com/embed/x src=/second.html title='t'>",
        "<script src=https://www.googletagmanager.com/gtm.js src=/app.js>",
        "<link rel=preload as=script href='https://www.googletagmanager.com/gtm.js?x=\"'>",
        "<script src=https://www.googletagmanager.com/gtm.js async =x =y>",
    };
    for (const std::string_view tag : tags) {
        const auto held = hold(tag);
        ASSERT_TRUE(held.has_value()) << tag;
        expect_faithful(tag, *held);
    }
}

TEST(Holdback, GivesAnEmptyValueToAnAttributeFollowedByAnEqualsSignName) {
    // `async="" =x` is two attributes; written bare, `async =x` would make "x" async's value.
    expect_held("<script src=https://www.googletagmanager.com/gtm.js async='' =x>",
                "<script type=\"text/plain\" data-consent-category=\"analytics\" "
                "data-consent-vendor=\"Google Tag Manager\" "
                "data-consent-src=\"https://www.googletagmanager.com/gtm.js\" async=\"\" =x>");
}

TEST(Holdback, DuplicateAttributesKeepTheFirstAsBrowsersDo) {
    // The second src is ignored by browsers, so it does not count and is not written.
    EXPECT_FALSE(hold("<script src=/app.js src=https://www.googletagmanager.com/gtm.js>"));
    expect_held("<iframe src=https://www.youtube.com/embed/x SRC=/other>",
                "<iframe data-consent-category=\"marketing\" data-consent-vendor=\"YouTube\" "
                "data-consent-src=\"https://www.youtube.com/embed/x\">");
}

TEST(Holdback, DropsThePagesOwnConsentAttributesSoOursCount) {
    const auto held = hold(
        "<script data-consent-src=https://evil.example/x.js data-consent-category=necessary "
        "type=text/javascript data-consent-type=x src=https://www.googletagmanager.com/gtm.js>");
    ASSERT_TRUE(held.has_value());
    const html_token tag = only_tag(*held);
    ASSERT_NE(tag.find("data-consent-src"), nullptr);
    EXPECT_EQ(tag.find("data-consent-src")->value, "https://www.googletagmanager.com/gtm.js");
    EXPECT_EQ(tag.find("data-consent-category")->value, "analytics");
    EXPECT_EQ(tag.find("data-consent-type")->value, "text/javascript");
    EXPECT_EQ(tag.find("type")->value, "text/plain");
    EXPECT_EQ(held->find("evil"), std::string::npos);
}

TEST(Holdback, GrantedEverythingKeepsEveryTag) {
    const auto replacer = make_holdback(catalogue(), granted_trackers::all());
    for (const std::string_view tag : {
             "<script src=https://www.googletagmanager.com/gtm.js>",
             "<iframe src=https://www.youtube.com/embed/x>",
             "<img src=https://www.facebook.com/tr?id=1>",
             "<link rel=preconnect href=https://www.google-analytics.com>",
         }) {
        EXPECT_FALSE(replacer(only_tag(tag))) << tag;
    }
}

TEST(Holdback, OffersNothingForOtherTokenKinds) {
    html_token end_tag = only_tag("<script src=https://www.googletagmanager.com/gtm.js>");
    end_tag.kind = html_token_kind::end_tag;
    EXPECT_FALSE(hold_back_tag(end_tag, catalogue(), granted_trackers::none()));
    html_token truncated = only_tag("<script src=https://www.googletagmanager.com/gtm.js>");
    truncated.truncated = true;
    EXPECT_FALSE(hold_back_tag(truncated, catalogue(), granted_trackers::none()));
}

constexpr std::string_view tracked_page =
    "<!DOCTYPE html>\n<html><head>\n"
    "<link rel=preconnect href=\"https://www.googletagmanager.com\">\n"
    "<script>(function(w,d,s,l,i){w[l]=w[l]||[];var f=d.getElementsByTagName(s)[0],"
    "j=d.createElement(s);j.async=true;j.src='https://www.googletagmanager.com/gtm.js?id='+i;"
    "f.parentNode.insertBefore(j,f);})(window,document,'script','dataLayer','GTM-AB12');"
    "</script>\n"
    "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-XYZ\"></script>\n"
    "<script>window.dataLayer=window.dataLayer||[];gtag('config','G-XYZ');</script>\n"
    "<SCRIPT SRC='https://connect.facebook.net/en_US/fbevents.js'></SCRIPT>\n"
    "<script src=/static/app.js defer></script>\n"
    "</head><body>\n"
    "<noscript><iframe src=\"https://www.googletagmanager.com/ns.html?id=GTM-AB12\" height=\"0\" "
    "width=\"0\" style=\"display:none;visibility:hidden\"></iframe></noscript>\n"
    "<noscript><img height=\"1\" width=\"1\" style=\"display:none\" "
    "src=\"https://www.facebook.com/tr?id=123&ev=PageView&noscript=1\"/></noscript>\n"
    "<h1>Hello</h1><img src=\"/logo.png\" alt=\"logo\">\n"
    "<iframe width=\"560\" height=\"315\" src=\"https://www.youtube-nocookie.com/embed/abc\" "
    "allowfullscreen></iframe>\n"
    "<img src=https://bat.bing.com/action/0?ti=1 alt=''>\n"
    "</body></html>\n";

TEST(Holdback, HoldsTrackersInAFullPageForEverySplit) {
    const auto replacer = make_holdback(catalogue(), granted_trackers::none());
    const std::string whole = rewrite_chunks(tracked_page, {}, replacer);
    for (const std::string_view loading : {
             " src=\"https://www.googletagmanager.com",
             " href=\"https://www.googletagmanager.com",
             " src=\"https://connect.facebook.net",
             " src=\"https://www.youtube-nocookie.com",
             " src=\"https://bat.bing.com",
             " src=https://bat.bing.com",
             " SRC='https://connect.facebook.net",
             " src=\"https://www.facebook.com",
         }) {
        EXPECT_EQ(whole.find(loading), std::string::npos) << loading << "\n" << whole;
    }
    EXPECT_NE(whole.find("<script type=\"text/plain\" data-consent-category=\"analytics\" "
                         "data-consent-vendor=\"Google Tag Manager\" async "
                         "data-consent-src=\"https://www.googletagmanager.com/gtag/js?id=G-XYZ\">"
                         "</script>"),
              std::string::npos)
        << whole;
    EXPECT_NE(whole.find("data-consent-vendor=\"YouTube (privacy-enhanced mode)\""),
              std::string::npos);
    // Inline scripts, first-party tags and script text are untouched.
    EXPECT_NE(whole.find("j.src='https://www.googletagmanager.com/gtm.js?id='+i;"),
              std::string::npos);
    EXPECT_NE(whole.find("<script src=/static/app.js defer></script>"), std::string::npos);
    EXPECT_NE(whole.find("<img src=\"/logo.png\" alt=\"logo\">"), std::string::npos);
    // A visitor with JavaScript off parses <noscript> content as markup and would load the
    // pixel and the GTM iframe in it: both are held like the tags outside.
    EXPECT_NE(
        whole.find("<noscript><iframe data-consent-category=\"analytics\" "
                   "data-consent-vendor=\"Google Tag Manager\" "
                   "data-consent-src=\"https://www.googletagmanager.com/ns.html?id=GTM-AB12\" "
                   "height=\"0\" width=\"0\" style=\"display:none;visibility:hidden\">"
                   "</iframe></noscript>"),
        std::string::npos)
        << whole;
    EXPECT_NE(whole.find("<noscript><img data-consent-category=\"marketing\" "
                         "data-consent-vendor=\"Meta Pixel\" height=\"1\" width=\"1\" "
                         "style=\"display:none\" "
                         "data-consent-src=\"https://www.facebook.com/tr?id=123&ev=PageView&"
                         "noscript=1\" /></noscript>"),
              std::string::npos)
        << whole;
    EXPECT_NE(whole.find("[[CG]]</head>"), std::string::npos);

    for (std::size_t cut = 0; cut <= tracked_page.size(); ++cut) {
        ASSERT_EQ(rewrite_chunks(tracked_page, {cut}, replacer), whole) << "split at " << cut;
    }
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < tracked_page.size(); ++i) {
        bytes.push_back(i);
    }
    EXPECT_EQ(rewrite_chunks(tracked_page, bytes, replacer), whole);
}

TEST(Holdback, GrantedEverythingLeavesThePageByteIdenticalButTheSnippet) {
    const auto replacer = make_holdback(catalogue(), granted_trackers::all());
    std::string expected{tracked_page};
    expected.insert(expected.find("</head>"), snippet);
    EXPECT_EQ(rewrite_chunks(tracked_page, {}, replacer), expected);
    EXPECT_EQ(rewrite_chunks(tracked_page, {100, 101, 400}, replacer), expected);
}

TEST(Holdback, GarbageAroundTrackerTagsAlwaysGivesFaithfulReplacements) {
    // A fixed pseudo-random sequence (LCG) so failures reproduce.
    std::uint32_t seed = 12345;
    const auto pick = [&seed](auto& list) -> std::string_view {
        seed = seed * 1103515245U + 12345U;
        return list[((seed >> 16) & 0x7FFFU) % std::size(list)];
    };
    constexpr std::string_view opens[] = {"<script", "<SCRIPT",           "<img",
                                          "<iframe", "<link rel=preload", "<link rel=dns-prefetch"};
    constexpr std::string_view separators[] = {" ", "\n", "/", "\t", "  "};
    constexpr std::string_view names[] = {"src",  "srcset", "href",  "data-x",          "type",
                                          "a\"b", "=x",     "ASYNC", "data-consent-src"};
    constexpr std::string_view quotes[] = {"", "'", "\""};
    constexpr std::string_view junk[] = {
        "",     "a",      "\"", "'",      "=",  ">",
        "/",    "&quot;", "&",  "&#34",   "\n", "\xFF",
        "\0"sv, "<",      "`",  "module", " ",  "https://www.googletagmanager.com/x"};
    constexpr std::string_view urls[] = {"https://www.googletagmanager.com/gtm.js",
                                         "//www.facebook.com/tr?id=1", "https://www.youtube.com/e",
                                         "https://bat.bing.com/p.gif 2x"};
    constexpr std::string_view url_names[] = {"src", "srcset", "href"};
    constexpr std::string_view closes[] = {">", "/>", " />", ""};
    const auto replacer = make_holdback(catalogue(), granted_trackers::none());
    int held = 0;
    for (int round = 0; round < 1000; ++round) {
        std::string input{pick(opens)};
        for (int i = 0; i < 4; ++i) {
            input += pick(separators);
            if (i == 1) {
                input += pick(url_names);
                input += '=';
                const auto q = pick(quotes);
                input += q;
                input += pick(urls);
                input += q;
                continue;
            }
            input += pick(names);
            const auto q = pick(quotes);
            if (!q.empty() || (i % 2) == 0) {
                input += '=';
                input += q;
                input += pick(junk);
                input += pick(junk);
                input += q;
            }
        }
        input += pick(closes);
        input += pick(junk);
        html_tokenizer_options options;
        options.follow_tree_builder = false;
        html_tokenizer tokenizer{options};
        tokenizer.feed(input, true, [&](const html_token& tag) {
            if (tag.kind != html_token_kind::start_tag) {
                return;
            }
            const auto replacement = replacer(tag);
            if (!replacement) {
                return;
            }
            ++held;
            const std::string original = input.substr(
                static_cast<std::size_t>(tag.begin), static_cast<std::size_t>(tag.end - tag.begin));
            expect_faithful(original, *replacement);
        });
    }
    EXPECT_GT(held, 200);
}

// --- inline scripts, more elements, placeholders, consent mode ------------------------------

std::string rewrite_installed(std::string_view input, const std::vector<std::size_t>& cuts,
                              granted_trackers granted, const holdback_options& options = {},
                              const tracker_catalogue& cat = catalogue()) {
    html_rewriter rewriter{std::string{snippet}};
    install_holdback(rewriter, cat, granted, options);
    std::string out;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        rewriter.write(input.substr(from, cut - from), false, out);
        from = cut;
    }
    rewriter.write(input.substr(from), true, out);
    return out;
}

std::optional<std::string> hold_inline(std::string_view tag, std::string_view text,
                                       granted_trackers granted = granted_trackers::none(),
                                       const holdback_options& options = {}) {
    return hold_back_inline_script(only_tag(tag), text, catalogue(), granted, options);
}

bool is_ascii(std::string_view s) {
    for (const char c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            return false;
        }
    }
    return true;
}

TEST(Holdback, HoldsMediaEmbedObjectAndTrackSources) {
    EXPECT_EQ(*hold("<video src=https://www.youtube.com/v.mp4 poster=\"https://example.com/p.jpg\" "
                    "controls>"),
              "<video data-consent-category=\"marketing\" data-consent-vendor=\"YouTube\" "
              "data-consent-src=\"https://www.youtube.com/v.mp4\" "
              "data-consent-poster=\"https://example.com/p.jpg\" controls>");
    EXPECT_EQ(*hold("<video poster=//www.youtube.com/p.jpg autoplay>"),
              "<video data-consent-category=\"marketing\" data-consent-vendor=\"YouTube\" "
              "data-consent-poster=\"//www.youtube.com/p.jpg\" autoplay>");
    EXPECT_EQ(*hold("<audio src=\"https://player.vimeo.com/a.mp3\">"),
              "<audio data-consent-category=\"analytics\" data-consent-vendor=\"Vimeo\" "
              "data-consent-src=\"https://player.vimeo.com/a.mp3\">");
    EXPECT_EQ(*hold("<source srcset=\"/a.webp 1x, https://bat.bing.com/p.gif 2x\" "
                    "type=image/webp>"),
              "<source data-consent-category=\"marketing\" data-consent-vendor=\"Microsoft "
              "Advertising (UET)\" data-consent-srcset=\"/a.webp 1x, https://bat.bing.com/p.gif "
              "2x\" type=\"image/webp\">");
    EXPECT_EQ(*hold("<embed src=https://www.youtube.com/v/abc type=application/x-shockwave-flash>"),
              "<embed data-consent-category=\"marketing\" data-consent-vendor=\"YouTube\" "
              "data-consent-src=\"https://www.youtube.com/v/abc\" "
              "type=\"application/x-shockwave-flash\">");
    EXPECT_EQ(*hold("<object data=\"https://www.youtube.com/v/abc\" width=1>"),
              "<object data-consent-category=\"marketing\" data-consent-vendor=\"YouTube\" "
              "data-consent-data=\"https://www.youtube.com/v/abc\" width=\"1\">");
    EXPECT_EQ(*hold("<track src=https://player.vimeo.com/t.vtt kind=captions>"),
              "<track data-consent-category=\"analytics\" data-consent-vendor=\"Vimeo\" "
              "data-consent-src=\"https://player.vimeo.com/t.vtt\" kind=\"captions\">");
    EXPECT_FALSE(hold("<source src=/v.mp4>"));
    EXPECT_FALSE(hold("<object data=/flash.swf>"));
}

TEST(Holdback, SerializeStartTagWritesTheTagAsHoldBackDoesWithoutChanges) {
    EXPECT_EQ(serialize_start_tag(only_tag("<BODY class=a data-x='\"q\"' hidden>")),
              "<body class=\"a\" data-x=\"&quot;q&quot;\" hidden>");
    EXPECT_EQ(serialize_start_tag(only_tag("<br/>")), "<br />");
    EXPECT_EQ(serialize_start_tag(only_tag("<a b =c>")), "<a b=\"c\">");
    EXPECT_EQ(serialize_start_tag(only_tag("<a b =c>")), "<a b=\"c\">");
    EXPECT_EQ(serialize_start_tag(only_tag("<a b =\"\" =c>")), "<a b=\"\" =c>");
    const html_token original = only_tag("<div x=&amp;y z='1&quot;'>");
    const html_token again = only_tag(serialize_start_tag(original));
    EXPECT_EQ(values_of(again), values_of(original));
}

TEST(Holdback, HoldsInlineTrackerScriptsLikeScriptSrc) {
    constexpr std::string_view gtag =
        "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
        "gtag('js',new Date());gtag('config','G-XYZ');";
    EXPECT_EQ(*hold_inline("<script>", gtag),
              "<script type=\"text/plain\" data-consent-category=\"analytics\" "
              "data-consent-vendor=\"Google Analytics\">");
    EXPECT_EQ(*hold_inline("<script type=\"text/javascript\" nonce=abc>", gtag),
              "<script type=\"text/plain\" data-consent-type=\"text/javascript\" "
              "data-consent-category=\"analytics\" data-consent-vendor=\"Google Analytics\" "
              "nonce=\"abc\">");
    EXPECT_EQ(*hold_inline("<script type=module>", "import 'https://connect.facebook.net/x.js'"),
              "<script type=\"text/plain\" data-consent-type=\"module\" "
              "data-consent-category=\"marketing\" data-consent-vendor=\"Meta\">");
}

TEST(Holdback, NeverHoldsNonJavaScriptOrAlreadyMarkedOrGrantedInlineScripts) {
    constexpr std::string_view fb = "fbq('init','1');";
    EXPECT_FALSE(
        hold_inline("<script type=\"application/ld+json\">",
                    R"({"@context":"https://schema.org","url":"https://www.youtube.com/"})"));
    EXPECT_FALSE(hold_inline("<script type=text/template>", fb));
    EXPECT_FALSE(
        hold_inline("<script type=\"text/plain\" data-consent-category=\"marketing\">", fb));
    EXPECT_FALSE(hold_inline("<script>", "document.body.classList.add('js');"));
    EXPECT_FALSE(
        hold_inline("<script>", fb, granted_trackers{}.grant(tracker_category::marketing)));
    EXPECT_FALSE(hold_inline("<script src=/a.js>", fb));
}

TEST(Holdback, ConsentModeHoldsGoogleTagsEvenWhenGrantedAndMarksThem) {
    holdback_options options;
    options.consent_mode = true;
    const auto all = granted_trackers::all();
    EXPECT_EQ(*hold_back_tag(only_tag("<script async "
                                      "src=\"https://www.googletagmanager.com/gtag/js?id=G-1\">"),
                             catalogue(), all, options),
              "<script type=\"text/plain\" data-consent-category=\"analytics\" "
              "data-consent-vendor=\"Google Tag Manager\" data-consent-google=\"\" async "
              "data-consent-src=\"https://www.googletagmanager.com/gtag/js?id=G-1\">");
    EXPECT_EQ(*hold_inline("<script data-consent-google=x>", "gtag('config','G-1');", all, options),
              "<script type=\"text/plain\" data-consent-category=\"analytics\" "
              "data-consent-vendor=\"Google Analytics\" data-consent-google=\"\">");
    EXPECT_EQ(*hold_back_tag(only_tag("<script src=https://pagead2.googlesyndication.com/a.js>"),
                             catalogue(), granted_trackers::none(), options),
              "<script type=\"text/plain\" data-consent-category=\"marketing\" "
              "data-consent-vendor=\"Google AdSense\" data-consent-google=\"\" "
              "data-consent-src=\"https://pagead2.googlesyndication.com/a.js\">");
    // Not Google, or not a script: granted passes as before.
    EXPECT_FALSE(hold_back_tag(only_tag("<script src=https://connect.facebook.net/f.js>"),
                               catalogue(), all, options));
    EXPECT_FALSE(hold_inline("<script>", "fbq('init','1');", all, options));
    EXPECT_FALSE(
        hold_back_tag(only_tag("<iframe src=https://www.googletagmanager.com/ns.html?id=GTM-1>"),
                      catalogue(), all, options));
    // Off: a granted Google tag passes untouched.
    EXPECT_FALSE(hold_back_tag(only_tag("<script src=https://www.googletagmanager.com/gtm.js>"),
                               catalogue(), all, holdback_options{}));
    EXPECT_FALSE(hold_inline("<script>", "gtag('config','G-1');", all));
}

TEST(AsciiHtml, EscapesMarkupAndWritesEveryNonAsciiCharacterAsAReference) {
    EXPECT_EQ(ascii_html("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
    EXPECT_EQ(ascii_html("bl\xc3\xa5"
                         "b\xc3\xa6r \xc3\xb8l"),
              "bl&#229;b&#230;r &#248;l");
    EXPECT_EQ(ascii_html("\xe2\x80\x9cq\xe2\x80\x9d \xf0\x9f\x8d\xaa"),
              "&#8220;q&#8221; &#127850;");
    EXPECT_EQ(ascii_html("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
}

TEST(AsciiHtml, TurnsInvalidUtf8AndControlsIntoReplacementCharacters) {
    EXPECT_EQ(ascii_html("\xff"), "&#65533;");
    EXPECT_EQ(ascii_html("\xe6\xf8\xe5"), "&#65533;&#65533;&#65533;");  // windows-1252 æøå
    EXPECT_EQ(ascii_html("\xc0\xaf"), "&#65533;&#65533;");              // overlong '/'
    EXPECT_EQ(ascii_html("\xed\xa0\x80"), "&#65533;&#65533;&#65533;");  // a surrogate
    EXPECT_EQ(ascii_html("\xf4\x90\x80\x80"), "&#65533;&#65533;&#65533;&#65533;");  // > U+10FFFF
    EXPECT_EQ(ascii_html("\xc3"), "&#65533;");                                      // cut short
    EXPECT_EQ(ascii_html("\xc2\x80"), "&#65533;");  // C1: &#128; would read as the euro sign
    EXPECT_EQ(ascii_html(std::string_view{"\0\x01\x7f", 3}), "&#65533;&#65533;&#65533;");
    std::string out = "x";
    append_ascii_html(out, "\xc3\xa5");
    EXPECT_EQ(out, "x&#229;");
}

TEST(Holdback, PlaceholderLanguageFollowsTheHtmlLangPrimarySubtag) {
    EXPECT_EQ(placeholder_language("nb", "en"), "nb");
    EXPECT_EQ(placeholder_language("no", "en"), "nb");
    EXPECT_EQ(placeholder_language(" nb-NO ", "en"), "nb");
    EXPECT_EQ(placeholder_language("NN_no", "en"), "nn");
    EXPECT_EQ(placeholder_language("en-GB", "nb"), "en");
    EXPECT_EQ(placeholder_language("de", "nn"), "nn");
    EXPECT_EQ(placeholder_language("", "nb-NO"), "nb");
    EXPECT_EQ(placeholder_language("sv", "fr"), "en");
}

constexpr std::string_view placeholder_nb =
    "<div class=\"cg-placeholder\" data-consent-placeholder=\"marketing\" lang=\"nb\"><p>Denne "
    "videoen fra YouTube vises f&#248;rst n&#229;r du har samtykket til kategorien "
    "&#171;Markedsf&#248;ring&#187;.</p><button type=\"button\" class=\"cg-btn\" "
    "data-consent-allow=\"marketing\">Tillat &#171;Markedsf&#248;ring&#187; og vis</button></div>";
constexpr std::string_view placeholder_nn =
    "<div class=\"cg-placeholder\" data-consent-placeholder=\"marketing\" lang=\"nn\"><p>Denne "
    "videoen fr&#229; YouTube blir vist f&#248;rst n&#229;r du har samtykt til kategorien "
    "&#171;Marknadsf&#248;ring&#187;.</p><button type=\"button\" class=\"cg-btn\" "
    "data-consent-allow=\"marketing\">Tillat &#171;Marknadsf&#248;ring&#187; og vis</button></div>";
constexpr std::string_view placeholder_en =
    "<div class=\"cg-placeholder\" data-consent-placeholder=\"marketing\" lang=\"en\"><p>This "
    "video from YouTube is shown only after you consent to the category "
    "&#8220;Marketing&#8221;.</p><button type=\"button\" class=\"cg-btn\" "
    "data-consent-allow=\"marketing\">Allow &#8220;Marketing&#8221; and show</button></div>";

constexpr std::string_view held_youtube =
    "<iframe data-consent-category=\"marketing\" data-consent-vendor=\"YouTube\" "
    "data-consent-src=\"https://www.youtube.com/embed/abc\" allowfullscreen>";

TEST(Holdback, PutsAPlaceholderInThePageLanguageBeforeAHeldIframe) {
    constexpr std::string_view body =
        "<head></head><body><iframe src=\"https://www.youtube.com/embed/abc\" allowfullscreen>"
        "</iframe></body></html>";
    const auto page = [&](std::string_view html_tag) {
        return std::string{html_tag} + body.data();
    };
    const auto expected = [&](std::string_view html_tag, std::string_view placeholder) {
        return std::string{html_tag} + "<head>[[CG]]</head><body>" + std::string{placeholder} +
               std::string{held_youtube} + "</iframe></body></html>";
    };
    const auto none = granted_trackers::none();
    EXPECT_EQ(rewrite_installed(page("<html lang=nb>"), {}, none),
              expected("<html lang=nb>", placeholder_nb));
    EXPECT_EQ(rewrite_installed(page("<html lang=\"nb-NO\">"), {}, none),
              expected("<html lang=\"nb-NO\">", placeholder_nb));
    EXPECT_EQ(rewrite_installed(page("<html lang=nn>"), {}, none),
              expected("<html lang=nn>", placeholder_nn));
    EXPECT_EQ(rewrite_installed(page("<html lang=en-US>"), {}, none),
              expected("<html lang=en-US>", placeholder_en));
    EXPECT_EQ(rewrite_installed(page("<html>"), {}, none), expected("<html>", placeholder_nb));
    holdback_options english;
    english.fallback_language = "en";
    EXPECT_EQ(rewrite_installed(page("<html lang=de>"), {}, none, english),
              expected("<html lang=de>", placeholder_en));
    // make_holdback with options does the same on its own.
    EXPECT_EQ(rewrite_chunks(page("<html lang=nn>"), {30},
                             make_holdback(catalogue(), none, holdback_options{})),
              expected("<html lang=nn>", placeholder_nn));
    // Without placeholders only the iframe is held.
    holdback_options bare;
    bare.placeholders = false;
    EXPECT_EQ(rewrite_installed(page("<html lang=nb>"), {}, none, bare),
              expected("<html lang=nb>", ""));
}

TEST(Holdback, PlaceholderNamesKindAndTakesCategoryNamesFromTheCaller) {
    const tracker* maps = catalogue().match("https://maps.google.com/maps?q=oslo");
    ASSERT_NE(maps, nullptr);
    holdback_options options;
    options.category_names["nb"] = category_display_names{"Funksjonelle", "", ""};
    EXPECT_EQ(iframe_placeholder(*maps, "nb", options),
              "<div class=\"cg-placeholder\" data-consent-placeholder=\"preferences\" "
              "lang=\"nb\"><p>Dette kartet fra Google Maps vises f&#248;rst n&#229;r du har "
              "samtykket til kategorien &#171;Funksjonelle&#187;.</p><button type=\"button\" "
              "class=\"cg-btn\" data-consent-allow=\"preferences\">Tillat "
              "&#171;Funksjonelle&#187; og vis</button></div>");
    EXPECT_NE(iframe_placeholder(*maps, "nn", options).find("&#171;Preferansar&#187;"),
              std::string::npos);
    EXPECT_NE(iframe_placeholder(*maps, "en").find("<p>This map from Google Maps"),
              std::string::npos);
    const tracker* gtm = catalogue().match("https://www.googletagmanager.com/ns.html");
    ASSERT_NE(gtm, nullptr);
    EXPECT_NE(iframe_placeholder(*gtm, "nn")
                  .find("<p>Dette innhaldet fr&#229; Google Tag "
                        "Manager blir vist f&#248;rst n&#229;r du "
                        "har samtykt til kategorien "
                        "&#171;Statistikk&#187;."),
              std::string::npos);
}

TEST(Holdback, PlaceholderEscapesAHostileVendorNameAndStaysAscii) {
    const tracker_catalogue hostile{
        R"json({"trackers": [{"host": "evil.example", "category": "marketing",
            "vendor": "<script>alert('x')</script> & \"Co\" \u00d8st \u2603",
            "kind": "video", "purpose": "P."}]})json",
        "hostile.json"};
    const tracker* entry = hostile.match("https://evil.example/v");
    ASSERT_NE(entry, nullptr);
    const std::string placeholder = iframe_placeholder(*entry, "en");
    EXPECT_TRUE(is_ascii(placeholder)) << placeholder;
    EXPECT_NE(placeholder.find("from &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
                               "&quot;Co&quot; &#216;st &#9731; is shown"),
              std::string::npos)
        << placeholder;
    EXPECT_EQ(placeholder.find("style"), std::string::npos);
    // The held tag's own vendor attribute is escaped too.
    const auto held = hold_back_tag(only_tag("<iframe src=https://evil.example/v>"), hostile,
                                    granted_trackers::none());
    ASSERT_TRUE(held);
    EXPECT_EQ(only_tag(*held).find("data-consent-vendor")->value,
              "<script>alert('x')</script> & \"Co\" \xc3\x98st \xe2\x98\x83");
}

TEST(Holdback, InsertsOnlyAsciiIntoAWindows1252Page) {
    const std::string page =
        "<html lang=no><head><meta charset=windows-1252><title>V\xe6r og f\xf8re</title>"
        "<script>gtag('config','G-1');</script></head><body><p>Bl\xe5"
        "b\xe6r</p>"
        "<iframe src=\"https://www.youtube.com/embed/abc\" allowfullscreen></iframe></body>";
    const std::string out = rewrite_installed(page, {}, granted_trackers::none());
    const std::string expected =
        "<html lang=no><head><meta charset=windows-1252><title>V\xe6r og f\xf8re</title>"
        "<script type=\"text/plain\" data-consent-category=\"analytics\" "
        "data-consent-vendor=\"Google Analytics\">gtag('config','G-1');</script>[[CG]]</head>"
        "<body><p>Bl\xe5"
        "b\xe6r</p>" +
        std::string{placeholder_nb} + std::string{held_youtube} + "</iframe></body>";
    EXPECT_EQ(out, expected);
}

// The tracked page above plus the other vendors' inline snippets.
constexpr std::string_view inline_page =
    "<!DOCTYPE html><html lang=\"nn\"><head>\n"
    "<script type=\"application/ld+json\">{\"url\":\"https://www.youtube.com/c/x\"}</script>\n"
    "<script type=\"text/plain\" data-consent-category=\"analytics\">"
    "gtag('config','G-OWN');</script>\n"
    "<script>document.documentElement.className='js';</script>\n"
    "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-XYZ\"></script>\n"
    "<script>\n  window.dataLayer = window.dataLayer || [];\n"
    "  function gtag(){dataLayer.push(arguments);}\n  gtag('js', new Date());\n\n"
    "  gtag('config', 'G-XYZ');\n</script>\n"
    "<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':\n"
    "new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],\n"
    "j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=\n"
    "'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);\n"
    "})(window,document,'script','dataLayer','GTM-AB12');</script>\n"
    "<script type=\"text/javascript\">\n_linkedin_partner_id = \"123456\";\n"
    "window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];\n"
    "window._linkedin_data_partner_ids.push(_linkedin_partner_id);\n</script>\n"
    "<script>\n    (function(h,o,t,j,a,r){\n"
    "        h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};\n"
    "        h._hjSettings={hjid:1234567,hjsv:6};\n"
    "    })(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');\n</script>\n"
    "</head><body>\n"
    "<noscript><iframe src=\"https://www.googletagmanager.com/ns.html?id=GTM-AB12\" height=\"0\" "
    "width=\"0\" style=\"display:none;visibility:hidden\"></iframe></noscript>\n"
    "<iframe width=\"560\" src=\"https://www.youtube.com/embed/abc\"></iframe>\n"
    "<script>fbq('init', '1');</script><p>Hei</p></body></html>\n";

TEST(HoldbackInline, HoldsEveryPublishedSnippetInAPageForEverySplit) {
    const auto none = granted_trackers::none();
    const std::string whole = rewrite_installed(inline_page, {}, none);
    for (const std::string_view held : {
             "<script type=\"text/plain\" data-consent-category=\"analytics\" "
             "data-consent-vendor=\"Google Analytics\">\n  window.dataLayer",
             "<script type=\"text/plain\" data-consent-category=\"analytics\" "
             "data-consent-vendor=\"Google Tag Manager\">(function(w,d,s,l,i)",
             "<script type=\"text/plain\" data-consent-type=\"text/javascript\" "
             "data-consent-category=\"marketing\" data-consent-vendor=\"LinkedIn Insight Tag\">",
             "<script type=\"text/plain\" data-consent-category=\"analytics\" "
             "data-consent-vendor=\"Hotjar\">\n    (function(h,o,t,j,a,r)",
             "<script type=\"text/plain\" data-consent-category=\"marketing\" "
             "data-consent-vendor=\"Meta\">fbq(",
             // GTM's noscript iframe: held, no placeholder (its button could not work there).
             "<noscript><iframe data-consent-category=\"analytics\" "
             "data-consent-vendor=\"Google Tag Manager\" "
             "data-consent-src=\"https://www.googletagmanager.com/ns.html?id=GTM-AB12\"",
             "lang=\"nn\"><p>Denne videoen fr&#229; YouTube",
         }) {
        EXPECT_NE(whole.find(held), std::string::npos) << held << "\n" << whole;
    }
    for (const std::string_view kept : {
             "<script type=\"application/ld+json\">{",
             "<script type=\"text/plain\" "
             "data-consent-category=\"analytics\">gtag('config','G-OWN')",
             "<script>document.documentElement.className='js';</script>",
         }) {
        EXPECT_NE(whole.find(kept), std::string::npos) << kept << "\n" << whole;
    }
    EXPECT_EQ(whole.find("<noscript><div"), std::string::npos);
    EXPECT_TRUE(is_ascii(whole));
    for (std::size_t cut = 0; cut <= inline_page.size(); ++cut) {
        ASSERT_EQ(rewrite_installed(inline_page, {cut}, none), whole) << "split at " << cut;
    }
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < inline_page.size(); ++i) {
        bytes.push_back(i);
    }
    EXPECT_EQ(rewrite_installed(inline_page, bytes, none), whole);
}

TEST(HoldbackInline, GrantedEverythingLeavesThePageByteIdenticalButTheSnippet) {
    for (const std::string_view page : {inline_page, tracked_page}) {
        std::string expected{page};
        expected.insert(expected.find("</head>"), snippet);
        EXPECT_EQ(rewrite_installed(page, {}, granted_trackers::all()), expected);
        EXPECT_EQ(rewrite_installed(page, {100, 101, 400}, granted_trackers::all()), expected);
    }
}

TEST(HoldbackInline, ConsentModeHoldsAndMarksGrantedGoogleSnippetsInAPage) {
    holdback_options options;
    options.consent_mode = true;
    const std::string whole = rewrite_installed(inline_page, {}, granted_trackers::all(), options);
    EXPECT_NE(whole.find("<script type=\"text/plain\" data-consent-category=\"analytics\" "
                         "data-consent-vendor=\"Google Tag Manager\" data-consent-google=\"\" "
                         "async data-consent-src="),
              std::string::npos)
        << whole;
    EXPECT_NE(whole.find("data-consent-vendor=\"Google Analytics\" data-consent-google=\"\">\n"
                         "  window.dataLayer"),
              std::string::npos);
    EXPECT_NE(whole.find("data-consent-vendor=\"Google Tag Manager\" data-consent-google=\"\">"
                         "(function(w,d,s,l,i)"),
              std::string::npos);
    EXPECT_NE(whole.find("<script>fbq('init', '1');</script>"), std::string::npos);
    EXPECT_NE(whole.find("<iframe width=\"560\" src=\"https://www.youtube.com/embed/abc\">"),
              std::string::npos);
    EXPECT_EQ(whole.find("cg-placeholder"), std::string::npos);
    for (std::size_t cut = 0; cut <= inline_page.size(); cut += 7) {
        ASSERT_EQ(rewrite_installed(inline_page, {cut}, granted_trackers::all(), options), whole)
            << "split at " << cut;
    }
}

}  // namespace
