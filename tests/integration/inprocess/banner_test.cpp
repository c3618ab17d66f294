// The banner through real sockets (issue 9): a site with a `banner` object gets its pages
// rewritten (the banner's tags before </head>, trackers held for a visitor who has not
// consented) in every content coding, with the head made true for the changed body; what must
// not be rewritten passes byte for byte; the banner's files, site documents and declaration are
// served under /_consent/.
#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "banner/assets.hpp"
#include "consent/config_reader.hpp"
#include "proxy_fixture.hpp"
#include "support/compress.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;

void with_banner(gateway::config& c) {
    c.sites[0].consent = consent::default_site_policy();  // the four categories and their texts
    auto& b = c.sites[0].banner;
    b.enabled = true;
    b.who = {"Testfirma AS", "personvern@testfirma.example", "https://testfirma.example/p"};
    b.third_parties = {"Google Analytics", "YouTube"};
}

std::size_t count(std::string_view text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

raw_response get(const proxied_site& s, std::string_view target, std::string_view fields = {}) {
    auto client = s.connect();
    EXPECT_FALSE(client.send(get_request(target, proxied_site::host, fields)));
    return client.read_response(10s);
}

constexpr std::string_view script_tag = "<script src=\"/_consent/banner.";

TEST(Banner, L1PutsTheBannerIntoAPageAndHoldsItsTrackersBeforeAnyChoice) {
    proxied_site s{with_banner};
    const auto r = get(s, "/page?etag&vary");
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(count(r.body, script_tag), 1U);
    EXPECT_LT(r.body.find(script_tag), r.body.find("</head>"));
    EXPECT_NE(r.body.find("data-decided=\"0\""), std::string::npos);
    // gtag.js, the inline Meta Pixel and the YouTube embed are inert, with a placeholder.
    EXPECT_EQ(r.body.find(" src=\"https://www.googletagmanager.com"), std::string::npos);
    EXPECT_NE(r.body.find("data-consent-src=\"https://www.googletagmanager.com"),
              std::string::npos);
    EXPECT_NE(r.body.find("data-consent-vendor=\"Meta"), std::string::npos);
    EXPECT_NE(r.body.find("class=\"cg-placeholder\""), std::string::npos);
    // No-JavaScript form right after <body>.
    EXPECT_NE(r.body.find("<body class=\"page\"><noscript><form class=\"cg-noscript\""),
              std::string::npos);
    // The head tells the truth about the changed body.
    EXPECT_TRUE(r.chunked);
    EXPECT_EQ(r.header_count("Content-Length"), 0U);
    EXPECT_EQ(r.header_count("Accept-Ranges"), 0U);
    EXPECT_EQ(r.header("ETag").value_or(""), "W/\"page-1\"");
    EXPECT_EQ(r.header("Vary").value_or(""), "Accept-Encoding, Cookie, Accept-Language");
}

TEST(Banner, RewritesGzipDeflateAndBrotliPagesInTheirOwnCoding) {
    proxied_site s{with_banner};
    for (const std::string coding : {"gzip", "deflate", "br"}) {
        SCOPED_TRACE(coding);
        const auto r = get(s, "/page?encoding=" + coding);
        ASSERT_FALSE(r.ec) << r.ec.message();
        EXPECT_EQ(r.header("Content-Encoding").value_or(""), coding);
        std::string page;
        ASSERT_NO_THROW(page = decompress(coding, r.body));
        EXPECT_EQ(count(page, script_tag), 1U);
        EXPECT_NE(page.find("data-consent-src=\"https://www.youtube.com"), std::string::npos);
    }
}

TEST(Banner, ABrokenCompressedPageIsPassedOnUnchanged) {
    proxied_site s{with_banner};
    // The upstream's "gzip" body is plain text: not readable, so not touched (not cut).
    for (const std::string coding : {"gzip", "deflate"}) {
        const auto r = get(s, "/page?label=" + coding);
        ASSERT_FALSE(r.ec);
        EXPECT_EQ(r.body, test_page_html());
    }
    const auto metrics = admin_get(s.proxy.admin_port(), "/metrics");
    EXPECT_NE(metrics.body.find("cg_banner_broken_encoding_total{site=\"demo\"} 2"),
              std::string::npos)
        << metrics.body;
    EXPECT_NE(metrics.body.find("cg_banner_pages_total{site=\"demo\"} 2"), std::string::npos);
}

// The value of a counter in /metrics for the test site (0 when absent).
unsigned long long site_metric(const proxied_site& s, std::string_view name) {
    const auto m = admin_get(s.proxy.admin_port(), "/metrics").body;
    const std::string prefix = std::string{name} + "{site=\"demo\"} ";
    const auto at = m.find(prefix);
    return at == std::string::npos ? 0 : std::stoull(m.substr(at + prefix.size()));
}

TEST(Banner, ARewrittenPageIsReusedOnlyForTheSameBodyAndVisitorState) {
    proxied_site s{with_banner};  // one worker: one cache
    // A page that comes whole is kept: asked again, it comes from the cache, the same bytes.
    // (A page split over two reads is rewritten afresh, so allow a few tries.)
    const auto first = get(s, "/page?encoding=gzip");
    ASSERT_FALSE(first.ec);
    for (int i = 0; i < 10 && site_metric(s, "cg_banner_cache_hits_total") == 0; ++i) {
        const auto again = get(s, "/page?encoding=gzip");
        ASSERT_FALSE(again.ec);
        EXPECT_EQ(again.body, first.body);
    }
    ASSERT_GE(site_metric(s, "cg_banner_cache_hits_total"), 1U);
    EXPECT_EQ(count(decompress("gzip", first.body), script_tag), 1U);
    const auto hits = site_metric(s, "cg_banner_cache_hits_total");
    // Another visitor state (here Global Privacy Control) gets its own rewrite, never the
    // cached one.
    const auto gpc = get(s, "/page?encoding=gzip", "Sec-GPC: 1\r\n");
    ASSERT_FALSE(gpc.ec);
    EXPECT_NE(decompress("gzip", gpc.body).find("data-gpc=\"1\""), std::string::npos);
    EXPECT_NE(decompress("gzip", first.body).find("data-gpc=\"0\""), std::string::npos);
    // A page that changes on every request, and a page with a CSP nonce, are never reused.
    const auto a = get(s, "/page?stamp");
    const auto b = get(s, "/page?stamp");
    EXPECT_NE(a.body, b.body);
    EXPECT_NE(b.body.find("<!-- "), std::string::npos);
    for (int i = 0; i < 3; ++i) {
        const auto r = get(s, "/page?csp=n0nce");
        EXPECT_NE(r.body.find("nonce=\"n0nce\""), std::string::npos);
    }
    EXPECT_EQ(site_metric(s, "cg_banner_cache_hits_total"), hits);
}

TEST(Banner, ASiteWithTheCacheOffRewritesEveryPageAfresh) {
    proxied_site s{[](gateway::config& c) {
        with_banner(c);
        c.sites[0].banner.cache = false;
    }};
    const auto first = get(s, "/page");
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(get(s, "/page").body, first.body);
    }
    EXPECT_EQ(site_metric(s, "cg_banner_cache_hits_total"), 0U);
    EXPECT_EQ(site_metric(s, "cg_banner_pages_total"), 6U);
}

TEST(Banner, ErrorPagesAreRewrittenToo) {
    proxied_site s{with_banner};
    const auto r = get(s, "/page?status=404");
    ASSERT_FALSE(r.ec);
    EXPECT_EQ(r.status, 404U);
    EXPECT_EQ(count(r.body, script_tag), 1U);
}

TEST(Banner, LeavesAloneWhatMustNotBeRewritten) {
    proxied_site s{with_banner};
    for (const std::string query : {"attachment", "no-transform", "type=text/plain",
                                    "status=201&type=text/html&attachment"}) {
        SCOPED_TRACE(query);
        const auto r = get(s, "/page?" + query);
        ASSERT_FALSE(r.ec);
        EXPECT_EQ(r.body, test_page_html());
        EXPECT_EQ(r.header("Content-Length").value_or(""),
                  std::to_string(test_page_html().size()));
    }
    // HEAD: the head as the upstream sent it, no body.
    auto client = s.connect();
    ASSERT_FALSE(client.send("HEAD /page HTTP/1.1\r\nHost: site.test\r\n\r\n"));
    const auto head = client.read_response(5s, {.head = true});
    ASSERT_FALSE(head.ec);
    EXPECT_EQ(head.header("Content-Length").value_or(""), std::to_string(test_page_html().size()));
}

TEST(Banner, APageOfASiteWithoutABannerPassesByteForByte) {
    proxied_site s;
    const auto r = get(s, "/page?etag");
    ASSERT_FALSE(r.ec);
    EXPECT_EQ(r.body, test_page_html());
    EXPECT_EQ(r.header("ETag").value_or(""), "\"page-1\"");
}

TEST(Banner, TheBannerTagsCarryThePagesCspNonce) {
    proxied_site s{with_banner};
    const auto r = get(s, "/page?csp=r4nd0m");
    ASSERT_FALSE(r.ec);
    EXPECT_NE(r.body.find("id=\"cg-banner-script\" integrity=\"sha384-"), std::string::npos);
    EXPECT_NE(r.body.find(" nonce=\"r4nd0m\" data-doc="), std::string::npos);
}

TEST(Banner, AnHttp10ClientGetsACloseDelimitedRewrittenPage) {
    proxied_site s{with_banner};
    auto client = s.connect();
    ASSERT_FALSE(client.send("GET /page HTTP/1.0\r\nHost: site.test\r\n\r\n"));
    const auto r = client.read_response(5s);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_FALSE(r.keep_alive);
    EXPECT_EQ(count(r.body, script_tag), 1U);
}

TEST(Banner, AVisitorWhoAcceptedAllGetsTheTrackersUnchangedAndTheBannerTags) {
    proxied_site s{with_banner};
    auto client = s.connect();
    const std::string body = R"({"action":"accept-all"})";
    ASSERT_FALSE(client.send("POST /_consent HTTP/1.1\r\nHost: site.test\r\nOrigin: "
                             "http://site.test\r\nContent-Type: application/json\r\n"
                             "Content-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body));
    const auto decided = client.read_response(5s);
    ASSERT_EQ(decided.status, 200U) << decided.body;
    const auto set_cookie = decided.header("Set-Cookie").value_or("");
    const auto cookie = set_cookie.substr(0, set_cookie.find(';'));

    const auto r = get(s, "/page", "Cookie: " + cookie + "\r\n");
    ASSERT_FALSE(r.ec);
    EXPECT_NE(r.body.find("<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-TEST\">"),
              std::string::npos);
    EXPECT_NE(r.body.find("<iframe width=\"560\" height=\"315\" src=\"https://www.youtube.com"),
              std::string::npos);
    EXPECT_EQ(r.body.find("data-consent-"), r.body.find("data-consent-mode"));
    EXPECT_NE(r.body.find("data-decided=\"1\""), std::string::npos);
    EXPECT_EQ(r.body.find("cg-noscript"), std::string::npos);

    // L8: the policy version names the banner's texts.
    const auto state = get(s, "/_consent/state", "Cookie: " + cookie + "\r\n");
    const auto j = nlohmann::json::parse(state.body);
    EXPECT_TRUE(j["decided"].get<bool>());
    EXPECT_NE(j["policy_version"].get<std::string>().find('.'), std::string::npos);
}

TEST(Banner, ServesItsFilesImmutableWithAContentHash) {
    proxied_site s{with_banner};
    const auto& js = banner::script_asset();
    const auto r = get(s, js.path);
    ASSERT_FALSE(r.ec);
    EXPECT_EQ(r.status, 200U);
    EXPECT_EQ(r.body, js.body);
    EXPECT_EQ(r.header("Cache-Control").value_or(""), "public, max-age=31536000, immutable");
    EXPECT_EQ(r.header("Content-Type").value_or(""), "text/javascript; charset=utf-8");
    const auto etag = r.header("ETag").value_or("");

    const auto gz = get(s, js.path, "Accept-Encoding: gzip, br\r\n");
    EXPECT_EQ(gz.header("Content-Encoding").value_or(""), "gzip");
    EXPECT_EQ(decompress("gzip", gz.body), js.body);
    EXPECT_LE(gz.body.size() + get(s, banner::style_asset().path, "Accept-Encoding: gzip\r\n")
                                   .body.size(),
              10U * 1024U);  // issue 9: JS + CSS at most 10 KB gzipped

    const auto again = get(s, js.path, "If-None-Match: " + etag + "\r\n");
    EXPECT_EQ(again.status, 304U);
    EXPECT_TRUE(again.body.empty());

    EXPECT_EQ(get(s, "/_consent/banner.js").header("Cache-Control").value_or(""), "no-cache");
    EXPECT_EQ(get(s, "/_consent/banner.0000.js").status, 404U);
}

TEST(Banner, ServesTheSiteDocumentsAndTheDeclaration) {
    proxied_site s{with_banner};
    const auto page = get(s, "/page");
    const auto at = page.body.find("data-doc=\"") + 10;
    std::string doc = page.body.substr(at, page.body.find('"', at) - at);
    doc.replace(doc.find("{lang}"), 6, "en");
    const auto r = get(s, doc);
    ASSERT_EQ(r.status, 200U) << doc;
    const auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["language"], "en");
    EXPECT_EQ(j["controller"]["name"], "Testfirma AS");
    EXPECT_EQ(j["texts"]["reject_all"], "Reject all");
    ASSERT_EQ(j["categories"].size(), 4U) << r.body;
    EXPECT_EQ(j["categories"][0]["id"], "necessary");

    const auto html = get(s, "/_consent/declaration?lang=nn");
    EXPECT_EQ(html.status, 200U);
    EXPECT_NE(html.body.find("<html lang=\"nn\">"), std::string::npos);
    EXPECT_NE(html.body.find("Testfirma AS"), std::string::npos);
    const auto json = get(s, "/_consent/declaration", "Accept: application/json\r\n");
    EXPECT_EQ(nlohmann::json::parse(json.body)["controller"]["name"], "Testfirma AS");

    auto client = s.connect();
    ASSERT_FALSE(client.send("POST /_consent/declaration HTTP/1.1\r\nHost: site.test\r\n"
                             "Content-Length: 0\r\n\r\n"));
    const auto post = client.read_response(5s);
    EXPECT_EQ(post.status, 405U);
    EXPECT_EQ(post.header("Allow").value_or(""), "GET, HEAD");
}

}  // namespace
}  // namespace cg::test
