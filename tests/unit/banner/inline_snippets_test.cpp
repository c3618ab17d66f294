#include "banner/inline_snippets.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "banner/tracker_catalogue.hpp"

namespace {

using cg::banner::find_inline_tracker;
using cg::banner::inline_match;
using cg::banner::tracker;
using cg::banner::tracker_catalogue;
using cg::banner::tracker_category;

const tracker_catalogue& catalogue() {
    return tracker_catalogue::builtin();
}

// The inline parts of the vendors' published snippets, as sites paste them.
constexpr std::string_view gtag_inline = R"(
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());

  gtag('config', 'G-XXXXXXXXXX');
)";

constexpr std::string_view gtm_head = R"((function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-ABC1234');)";

constexpr std::string_view meta_pixel = R"(
!function(f,b,e,v,n,t,s)
{if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};
if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';
n.queue=[];t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '1234567890');
fbq('track', 'PageView');
)";

constexpr std::string_view hotjar = R"(
    (function(h,o,t,j,a,r){
        h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};
        h._hjSettings={hjid:1234567,hjsv:6};
        a=o.getElementsByTagName('head')[0];
        r=o.createElement('script');r.async=1;
        r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;
        a.appendChild(r);
    })(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');
)";

constexpr std::string_view linkedin_partner = R"(
_linkedin_partner_id = "123456";
window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];
window._linkedin_data_partner_ids.push(_linkedin_partner_id);
)";

constexpr std::string_view linkedin_loader = R"(
(function(l) {
if (!l){window.lintrk = function(a,b){window.lintrk.q.push([a,b])};
window.lintrk.q=[]}
var s = document.getElementsByTagName("script")[0];
var b = document.createElement("script");
b.type = "text/javascript";b.async = true;
b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";
s.parentNode.insertBefore(b, s);})(window.lintrk);
)";

constexpr std::string_view clarity = R"(
    (function(c,l,a,r,i,t,y){
        c[a]=c[a]||function(){(c[a].q=c[a].q||[]).push(arguments)};
        t=l.createElement(r);t.async=1;t.src="https://www.clarity.ms/tag/"+i;
        y=l.getElementsByTagName(r)[0];y.parentNode.insertBefore(t,y);
    })(window, document, "clarity", "script", "abcdefghij");
)";

constexpr std::string_view tiktok = R"(
!function (w, d, t) {
  w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];ttq.methods=["page","track","identify","instances","debug","on","off","once","ready","alias","group","enableCookie","disableCookie"],ttq.setAndDefer=function(t,e){t[e]=function(){t.push([e].concat(Array.prototype.slice.call(arguments,0)))}};for(var i=0;i<ttq.methods.length;i++)ttq.setAndDefer(ttq,ttq.methods[i]);ttq.instance=function(t){for(var e=ttq._i[t]||[],n=0;n<ttq.methods.length;n++)ttq.setAndDefer(e,ttq.methods[n]);return e},ttq.load=function(e,n){var i="https://analytics.tiktok.com/i18n/pixel/events.js";ttq._i=ttq._i||{},ttq._i[e]=[],ttq._i[e]._u=i,ttq._t=ttq._t||{},ttq._t[e]=+new Date,ttq._o=ttq._o||{},ttq._o[e]=n||{};var o=document.createElement("script");o.type="text/javascript",o.async=!0,o.src=i+"?sdkid="+e+"&lib="+t;var a=document.getElementsByTagName("script")[0];a.parentNode.insertBefore(o,a)};
  ttq.load('CXXXXXXXXXXXXXXXXXXX');
  ttq.page();
}(window, document, 'ttq');
)";

struct expected_match {
    std::string_view vendor;
    tracker_category category;
    std::string_view reason;
};

void expect_match(std::string_view script, const expected_match& expected) {
    const auto found = find_inline_tracker(script, catalogue());
    ASSERT_TRUE(found.has_value()) << script;
    ASSERT_NE(found->entry, nullptr);
    EXPECT_EQ(found->entry->vendor, expected.vendor) << script;
    EXPECT_EQ(found->entry->category, expected.category) << script;
    EXPECT_EQ(found->reason, expected.reason) << script;
}

TEST(InlineSnippets, FindsGoogleAnalyticsInTheInlineGtagPart) {
    expect_match(gtag_inline, {"Google Analytics", tracker_category::analytics, "gtag"});
}

TEST(InlineSnippets, FindsTheTagManagerContainerSnippet) {
    expect_match(gtm_head, {"Google Tag Manager", tracker_category::analytics, "url"});
}

TEST(InlineSnippets, FindsMetaPixel) {
    expect_match(meta_pixel, {"Meta", tracker_category::marketing, "url"});
}

TEST(InlineSnippets, FindsHotjar) {
    expect_match(hotjar, {"Hotjar", tracker_category::analytics, "url"});
}

TEST(InlineSnippets, FindsBothPartsOfLinkedInInsight) {
    expect_match(linkedin_partner,
                 {"LinkedIn Insight Tag", tracker_category::marketing, "linkedin"});
    expect_match(linkedin_loader, {"LinkedIn Insight Tag", tracker_category::marketing, "url"});
}

TEST(InlineSnippets, FindsMicrosoftClarity) {
    expect_match(clarity, {"Microsoft Clarity", tracker_category::analytics, "url"});
}

TEST(InlineSnippets, FindsTikTokPixel) {
    expect_match(tiktok, {"TikTok Pixel", tracker_category::marketing, "url"});
}

TEST(InlineSnippets, RecognisesSnippetsThatBuildTheirUrlBySignature) {
    expect_match("gtag ( \"config\" , 'G-1')",
                 {"Google Analytics", tracker_category::analytics, "gtag"});
    expect_match("w.dataLayer.push({\"gtm.start\": Date.now()})",
                 {"Google Tag Manager", tracker_category::analytics, "gtm"});
    expect_match("fbq('init', '1');", {"Meta", tracker_category::marketing, "fbq"});
    expect_match("fbq(\"track\", \"Purchase\");", {"Meta", tracker_category::marketing, "fbq"});
    expect_match("window._hjSettings = {hjid: 1};",
                 {"Hotjar", tracker_category::analytics, "hotjar"});
    expect_match("clarity('set', 'page', 'home');",
                 {"Microsoft Clarity", tracker_category::analytics, "clarity"});
    expect_match("ttq.load('C1'); ttq.page();",
                 {"TikTok Pixel", tracker_category::marketing, "ttq"});
}

TEST(InlineSnippets, FindsHostsInJsonEscapedAndSchemelessLiterals) {
    expect_match(R"(var u = "https:\/\/connect.facebook.net\/en_US\/fbevents.js";)",
                 {"Meta", tracker_category::marketing, "url"});
    expect_match("s.src = 'static.hotjar.com/c/hotjar-1.js';",
                 {"Hotjar", tracker_category::analytics, "url"});
    expect_match("load(`//www.googletagmanager.com/gtm.js?id=${id}`)",
                 {"Google Tag Manager", tracker_category::analytics, "url"});
}

TEST(InlineSnippets, CountsATrackerHostInACommentToo) {
    // Deliberately conservative: the scan does not parse JavaScript.
    expect_match("// was: https://www.google-analytics.com/analytics.js\nrun();",
                 {"Google Analytics", tracker_category::analytics, "url"});
}

TEST(InlineSnippets, IgnoresOrdinaryScripts) {
    for (const std::string_view script : {
             std::string_view{""},
             std::string_view{"document.documentElement.className = 'js';"},
             std::string_view{"// Google made us do it; see google.com for details\nfoo();"},
             std::string_view{"fetch('/api/cart').then(r => r.json());"},
             std::string_view{"var u = 'https://example.com/app.js'; // our own CDN"},
             std::string_view{"window.gtag = window.gtag || function(){};"},
             std::string_view{"gtag('consent', 'default', {ad_storage: 'denied'});"},
             std::string_view{"a.fbq('init', '1'); myfbq('track');"},
             std::string_view{"var clarityScore = 3; window.clarity = 1;"},
             std::string_view{"var x = 'a.b'; var y = \"1.5\"; var z = '...';"},
             std::string_view{"\xff\xfe//\\/\\/'\"`.\x00 ttq"},
         }) {
        EXPECT_FALSE(find_inline_tracker(script, catalogue()).has_value()) << script;
    }
}

TEST(InlineSnippets, TheFilterPicksTheFirstAcceptedCandidate) {
    const std::string both = std::string{gtag_inline} + std::string{meta_pixel};
    const auto not_analytics = [](const tracker& t) {
        return t.category != tracker_category::analytics;
    };
    const auto found = find_inline_tracker(both, catalogue(), not_analytics);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->entry->vendor, "Meta");
    const auto nothing = [](const tracker&) { return false; };
    EXPECT_FALSE(find_inline_tracker(both, catalogue(), nothing).has_value());
}

TEST(InlineSnippets, SignaturesTakeCategoryAndVendorFromTheCatalogue) {
    const tracker_catalogue site{R"json({"trackers": [{"host": "google-analytics.com",
        "category": "marketing", "vendor": "GA (site)", "kind": "analytics",
        "purpose": "P."}]})json",
                                 "site.json"};
    const auto found = find_inline_tracker(gtag_inline, site);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->entry->vendor, "GA (site)");
    EXPECT_EQ(found->entry->category, tracker_category::marketing);
    // A signature whose host the catalogue does not list finds nothing.
    EXPECT_FALSE(find_inline_tracker(meta_pixel, site).has_value());
}

TEST(InlineSnippets, LongAndHostileTextNeverCrashes) {
    std::string text(100000, '/');
    EXPECT_FALSE(find_inline_tracker(text, catalogue()).has_value());
    text.assign(50000, '\'');
    text += "www.clarity.ms";
    EXPECT_TRUE(find_inline_tracker(text, catalogue()).has_value());
    text.assign("//");
    text += std::string(10000, 'a');
    text += ".clarity.ms/";
    EXPECT_FALSE(find_inline_tracker(text, catalogue()).has_value());  // past the literal cap
}

}  // namespace
