#include "gateway/pipeline.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include "consent/consent_cookie.hpp"
#include "gateway/head_parser.hpp"
#include "support/test_keys.hpp"
#include "support/test_policy.hpp"

namespace cg::gateway {
namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using consent::category;

// A request as the session hands it over: parsed, checked and opened.
struct parsed_request {
    transaction tx;
    bool ok = false;
};

void open(parsed_request& out, std::string_view text, client_info client = {},
          std::vector<cidr> trusted = {}) {
    request_parser p;
    boost::system::error_code ec;
    p.eager(false);
    p.put(net::buffer(text.data(), text.size()), ec);
    ASSERT_FALSE(ec) << ec.message();
    request_target target;
    ASSERT_FALSE(check_request(p.get(), target));
    request_framing framing{p.keep_alive(), p.chunked(), !p.is_done(), {}};
    if (const auto n = p.content_length()) {
        framing.content_length = *n;
    }
    if (client.address.empty()) {
        client = client_info{"192.0.2.1", false, net::ip::make_address("192.0.2.1")};
    }
    open_transaction(out.tx, std::move(p.get()), target, framing, client, trusted);
    out.ok = true;
}

response_head response(std::string_view text) {
    response_parser p;
    p.skip(true);
    boost::system::error_code ec;
    p.put(net::buffer(text.data(), text.size()), ec);
    EXPECT_FALSE(ec) << ec.message();
    return std::move(p.get());
}

const consent::site_context& demo_consent() {
    static const consent::site_context site{
        "demo", test::all_categories_policy(), "cg_consent",
        std::vector{test::rule("PHPSESSID", category::necessary),
                    test::rule("_ga", category::analytics)},
        test::test_key_ring()};
    return site;
}

site_config demo_site() {
    site_config s;
    s.name = "demo";
    s.hosts = {"shop.example.no"};
    s.upstream.servers = {{"http://10.1.2.3:8081", "10.1.2.3", 8081}};
    return s;
}

cidr range(std::string_view text, unsigned prefix) {
    return cidr{net::ip::make_address(text), prefix};
}

std::string field(const auto& head, std::string_view name) {
    const auto v = head[name];
    return std::string{v.data(), v.size()};
}

std::size_t count(const auto& head, std::string_view name) {
    return head.count(name);
}

// A test-only transform: upper-cases the body and says it depends on Cookie.
class upper_case final : public body_transform {
  public:
    void write(std::string_view in, bool, std::string& out) override {
        for (const char c : in) {
            out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
        }
    }
    std::string_view vary() const noexcept override { return "Cookie"; }
};

const std::vector<body_filter> upper_case_html{
    [](const transaction&, const response_head& h) -> std::unique_ptr<body_transform> {
        if (h[http::field::content_type].starts_with("text/html")) {
            return std::make_unique<upper_case>();
        }
        return nullptr;
    }};

upstream_framing by_length(std::uint64_t n) {
    return upstream_framing{false, n, true};
}

TEST(OpenTransaction, ViewsPathAndQueryOfAnOriginFormTarget) {
    parsed_request r;
    open(r, "GET /jobb/42?utm_source=x HTTP/1.1\r\nHost: shop.example.no\r\n\r\n");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.tx.path, "/jobb/42");
    EXPECT_EQ(r.tx.query, "utm_source=x");
    EXPECT_EQ(r.tx.host, "shop.example.no");
    EXPECT_FALSE(r.tx.absolute_form);
    EXPECT_TRUE(r.tx.keep_alive);
    EXPECT_FALSE(r.tx.has_body);
}

TEST(OpenTransaction, TakesHostAndOriginFromAnAbsoluteFormTarget) {
    parsed_request r;
    open(r, "GET http://shop.example.no:8080/a/b?c=d HTTP/1.1\r\nHost: other.example\r\n\r\n");
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.tx.absolute_form);
    EXPECT_EQ(r.tx.host, "shop.example.no:8080");
    EXPECT_EQ(r.tx.origin, "/a/b?c=d");
    EXPECT_EQ(r.tx.path, "/a/b");
}

TEST(OpenTransaction, ReadsTheFirstOfEachRequestFact) {
    parsed_request r;
    open(
        r,
        "GET / HTTP/1.1\r\nHost: h\r\nReferer: https://www.google.com/\r\n"
        "User-Agent: Mozilla/5.0\r\nAccept: text/html\r\nAccept-Language: nb-NO\r\n"
        "Sec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\n"
        "sec-purpose: prefetch\r\nPurpose: prefetch\r\nDNT: 1\r\nSec-GPC: 1\r\nSec-GPC: 0\r\n\r\n");
    ASSERT_TRUE(r.ok);
    const auto& f = r.tx.facts;
    EXPECT_EQ(f.referer, "https://www.google.com/");
    EXPECT_EQ(f.user_agent, "Mozilla/5.0");
    EXPECT_EQ(f.accept, "text/html");
    EXPECT_EQ(f.accept_language, "nb-NO");
    EXPECT_EQ(f.sec_fetch_dest, "document");
    EXPECT_EQ(f.sec_fetch_mode, "navigate");
    EXPECT_EQ(f.sec_fetch_site, "none");
    EXPECT_EQ(f.sec_purpose, "prefetch");
    EXPECT_EQ(f.purpose, "prefetch");
    EXPECT_EQ(f.dnt, "1");
    EXPECT_EQ(f.sec_gpc, "1");
}

TEST(OpenTransaction, VisitorIsThePeerWhenThePeerIsNotTrusted) {
    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 198.51.100.9\r\n\r\n",
         client_info{"203.0.113.5", false, net::ip::make_address("203.0.113.5")},
         {range("10.0.0.0", 8)});
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.tx.visitor_address, net::ip::make_address("203.0.113.5"));
}

TEST(OpenTransaction, VisitorIsTheFirstUntrustedHopFromTheRight) {
    parsed_request r;
    open(r,
         "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.66, 198.51.100.9\r\n"
         "X-Forwarded-For: 10.0.0.7\r\n\r\n",
         client_info{"10.0.0.1", true, net::ip::make_address("10.0.0.1")}, {range("10.0.0.0", 8)});
    ASSERT_TRUE(r.ok);
    // 192.0.2.66 was written by the visitor's own browser or proxy: only hops after the last
    // untrusted one count.
    EXPECT_EQ(r.tx.visitor_address, net::ip::make_address("198.51.100.9"));
}

TEST(OpenTransaction, VisitorIsUnknownWhenAHopIsNotAnAddress) {
    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 198.51.100.9, nonsense\r\n\r\n",
         client_info{"10.0.0.1", true, net::ip::make_address("10.0.0.1")}, {range("10.0.0.0", 8)});
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.tx.visitor_address.is_unspecified());
}

TEST(OpenTransaction, HttpsOnlyFromATrustedProxy) {
    parsed_request trusted;
    open(trusted, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n\r\n",
         client_info{"10.0.0.1", true, net::ip::make_address("10.0.0.1")});
    parsed_request untrusted;
    open(untrusted, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n\r\n");
    EXPECT_TRUE(trusted.tx.https);
    EXPECT_FALSE(untrusted.tx.https);
}

TEST(RequestStages, RewritesAbsoluteFormToOriginFormWithTheAuthorityAsHost) {
    parsed_request r;
    open(r, "GET http://shop.example.no/a?b HTTP/1.1\r\nHost: other.example\r\n\r\n");
    request_stages(r.tx, demo_site(), demo_consent(), 1'800'000'000);
    EXPECT_EQ(r.tx.request.target(), "/a?b");
    EXPECT_EQ(field(r.tx.request, "Host"), "shop.example.no");
}

TEST(RequestStages, DropsExpectAndHopByHopFieldsAndSpeaksHttp11Upstream) {
    parsed_request r;
    open(r,
         "POST /form HTTP/1.0\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
         "Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\n\r\n");
    request_stages(r.tx, demo_site(), demo_consent(), 1'800'000'000);
    EXPECT_EQ(count(r.tx.request, "Expect"), 0U);
    EXPECT_EQ(count(r.tx.request, "Connection"), 0U);
    EXPECT_EQ(count(r.tx.request, "X-Secret"), 0U);
    EXPECT_EQ(count(r.tx.request, "Keep-Alive"), 0U);
    EXPECT_EQ(r.tx.request.version(), 11U);
    EXPECT_EQ(field(r.tx.request, "X-Forwarded-For"), "192.0.2.1");
}

TEST(RequestStages, ForwardsOneContentLengthWhenTheClientRepeatedIt) {
    parsed_request r;
    open(r, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
    request_stages(r.tx, demo_site(), demo_consent(), 1'800'000'000);
    EXPECT_EQ(count(r.tx.request, "Content-Length"), 1U);
    EXPECT_EQ(field(r.tx.request, "Content-Length"), "5");
}

TEST(RequestStages, SendsABufferedChunkedBodyWithItsLength) {
    parsed_request r;
    open(r, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    r.tx.body_buffered = true;
    r.tx.content_length = 11;
    request_stages(r.tx, demo_site(), demo_consent(), 1'800'000'000);
    EXPECT_EQ(count(r.tx.request, "Transfer-Encoding"), 0U);
    EXPECT_EQ(field(r.tx.request, "Content-Length"), "11");
}

TEST(RequestStages, KeepsOnlyConsentedCookiesAndSaysWhichCategoriesWereGranted) {
    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: h\r\nCookie: PHPSESSID=1; _ga=GA1.1.2\r\n\r\n");
    request_stages(r.tx, demo_site(), demo_consent(), 1'800'000'000);
    EXPECT_EQ(field(r.tx.request, "Cookie"), "PHPSESSID=1");
    EXPECT_EQ(field(r.tx.request, "Consent-Categories"), "necessary");
    EXPECT_FALSE(r.tx.visitor.state.has_value());
}

TEST(RequestStages, SendsTheUpstreamsHostUnlessTheSitePreservesTheVisitors) {
    auto site = demo_site();
    site.preserve_host = false;
    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: shop.example.no\r\n\r\n");
    request_stages(r.tx, site, demo_consent(), 1'800'000'000);
    EXPECT_EQ(field(r.tx.request, "Host"), "10.1.2.3:8081");
    EXPECT_EQ(field(r.tx.request, "X-Forwarded-Host"), "shop.example.no");
}

TEST(EarlyHintsStages, DropsHintsForHttp10AndFiltersSetCookie) {
    parsed_request old;
    open(old, "GET / HTTP/1.0\r\n\r\n");
    auto hints = response("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
    EXPECT_FALSE(early_hints_stages(hints, old.tx, demo_consent()));

    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    auto tracked = response("HTTP/1.1 103 Early Hints\r\nSet-Cookie: _ga=1\r\n\r\n");
    EXPECT_TRUE(early_hints_stages(tracked, r.tx, demo_consent()));
    EXPECT_EQ(count(tracked, "Set-Cookie"), 0U);
}

TEST(SwitchingStages, RefusesASwitchNobodyAskedFor) {
    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    auto head = response(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: upgrade\r\n\r\n");
    EXPECT_FALSE(switching_stages(head, r.tx, demo_consent()));
}

TEST(SwitchingStages, KeepsTheUpgradePairForAWebSocketHandshake) {
    parsed_request r;
    open(r, "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    r.tx.response = response(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: upgrade\r\nKeep-Alive: 1\r\n\r\n");
    EXPECT_TRUE(switching_stages(r.tx.response, r.tx, demo_consent()));
    EXPECT_EQ(field(r.tx.response, "Upgrade"), "websocket");
    EXPECT_EQ(field(r.tx.response, "Connection"), "upgrade");
    EXPECT_EQ(count(r.tx.response, "Keep-Alive"), 0U);
}

TEST(ResponseStages, DropsNonConsentedSetCookieAndKeepsALengthBodyAsItIs) {
    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    r.tx.response = response(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10\r\n"
        "Set-Cookie: _ga=GA1; Max-Age=60\r\nSet-Cookie: PHPSESSID=abc\r\nETag: \"v1\"\r\n\r\n");
    const auto plan = response_stages(r.tx, demo_consent(), {}, by_length(10), true, false);
    EXPECT_TRUE(plan.body);
    EXPECT_FALSE(plan.chunked_out);
    EXPECT_EQ(plan.transform, nullptr);
    EXPECT_EQ(count(r.tx.response, "Set-Cookie"), 1U);
    EXPECT_EQ(field(r.tx.response, "Set-Cookie"), "PHPSESSID=abc");
    EXPECT_EQ(field(r.tx.response, "Content-Length"), "10");
    EXPECT_EQ(field(r.tx.response, "ETag"), "\"v1\"");
    EXPECT_EQ(r.tx.status, 200U);
    EXPECT_EQ(r.tx.content_type, "text/html");
    EXPECT_TRUE(r.tx.keep_client);
}

TEST(ResponseStages, GivesATransformedBodyTheHeadOfAChangedBody) {
    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    r.tx.response = response(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 10\r\n"
        "ETag: \"v1\"\r\nAccept-Ranges: bytes\r\nVary: Accept-Encoding\r\n\r\n");
    const auto plan =
        response_stages(r.tx, demo_consent(), upper_case_html, by_length(10), true, false);
    ASSERT_NE(plan.transform, nullptr);
    EXPECT_TRUE(plan.chunked_out);
    EXPECT_TRUE(r.tx.rewritten);
    EXPECT_EQ(count(r.tx.response, "Content-Length"), 0U);
    EXPECT_EQ(count(r.tx.response, "Accept-Ranges"), 0U);
    EXPECT_EQ(field(r.tx.response, "ETag"), "W/\"v1\"");
    EXPECT_EQ(field(r.tx.response, "Vary"), "Accept-Encoding, Cookie");
    EXPECT_EQ(field(r.tx.response, "Transfer-Encoding"), "chunked");
}

TEST(ResponseStages, ClosesAfterATransformedBodyForHttp10) {
    parsed_request r;
    open(r, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    r.tx.response = response(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
        "Content-Length: 10\r\n\r\n");
    const auto plan =
        response_stages(r.tx, demo_consent(), upper_case_html, by_length(10), true, false);
    ASSERT_NE(plan.transform, nullptr);
    EXPECT_FALSE(plan.chunked_out);
    EXPECT_FALSE(r.tx.keep_client);
    EXPECT_EQ(field(r.tx.response, "Connection"), "close");
    EXPECT_EQ(r.tx.response.version(), 10U);
}

TEST(ResponseStages, OffersNoTransformForRangesNoTransformHeadOrOtherCodings) {
    const auto plan_for = [](std::string_view request, std::string_view head, upstream_framing up) {
        parsed_request r;
        open(r, request);
        r.tx.response = response(head);
        return response_stages(r.tx, demo_consent(), upper_case_html, up, true, false);
    };
    constexpr std::string_view get = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(plan_for(get,
                       "HTTP/1.1 206 Partial Content\r\nContent-Type: text/html\r\n"
                       "Content-Range: bytes 0-9/20\r\nContent-Length: 10\r\n\r\n",
                       by_length(10))
                  .transform,
              nullptr);
    EXPECT_EQ(plan_for(get,
                       "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                       "Cache-Control: public, No-Transform\r\nContent-Length: 10\r\n\r\n",
                       by_length(10))
                  .transform,
              nullptr);
    EXPECT_EQ(plan_for("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n",
                       "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10\r\n\r\n",
                       by_length(10))
                  .transform,
              nullptr);
    EXPECT_EQ(plan_for(get,
                       "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                       "Transfer-Encoding: gzip, chunked\r\n\r\n",
                       upstream_framing{true, {}, true})
                  .transform,
              nullptr);
    EXPECT_NE(plan_for(get,
                       "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n",
                       upstream_framing{true, {}, true})
                  .transform,
              nullptr);
}

TEST(ResponseStages, FramesAnUnknownLengthAsChunksForHttp11AndByCloseForHttp10) {
    parsed_request r11;
    open(r11, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    r11.tx.response = response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    const auto plan11 = response_stages(r11.tx, demo_consent(), {},
                                        upstream_framing{false, {}, false}, true, false);
    EXPECT_TRUE(plan11.chunked_out);
    EXPECT_EQ(field(r11.tx.response, "Transfer-Encoding"), "chunked");
    EXPECT_TRUE(r11.tx.keep_client);

    parsed_request r10;
    open(r10, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    r10.tx.response = response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    const auto plan10 = response_stages(r10.tx, demo_consent(), {},
                                        upstream_framing{false, {}, false}, true, false);
    EXPECT_FALSE(plan10.chunked_out);
    EXPECT_FALSE(r10.tx.keep_client);
    EXPECT_EQ(field(r10.tx.response, "Connection"), "close");
}

TEST(ResponseStages, SendsNoBodyForHeadNoContentAndNotModified) {
    for (const auto& [request, head] : std::vector<std::pair<std::string_view, std::string_view>>{
             {"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
             {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"},
             {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 304 Not Modified\r\n\r\n"}}) {
        parsed_request r;
        open(r, request);
        r.tx.response = response(head);
        const auto plan = response_stages(r.tx, demo_consent(), upper_case_html,
                                          upstream_framing{false, {}, true}, true, false);
        EXPECT_FALSE(plan.body) << head;
        EXPECT_EQ(count(r.tx.response, "Transfer-Encoding"), 0U) << head;
    }
}

TEST(ResponseStages, ClosesTheClientWhileDrainingOrWhenTheRequestWasNotSentWhole) {
    for (const auto& [sent, draining] : {std::pair{true, true}, std::pair{false, false}}) {
        parsed_request r;
        open(r, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        r.tx.response = response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        response_stages(r.tx, demo_consent(), {}, by_length(0), sent, draining);
        EXPECT_FALSE(r.tx.keep_client);
        EXPECT_EQ(field(r.tx.response, "Connection"), "close");
    }
}

TEST(ResponseStages, SendsOneContentLengthWhenTheUpstreamRepeatedIt) {
    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    r.tx.response = response("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n");
    response_stages(r.tx, demo_consent(), {}, by_length(4), true, false);
    EXPECT_EQ(count(r.tx.response, "Content-Length"), 1U);
}

const consent::site_context& prefixed_consent() {
    static const consent::site_context site{
        "demo",
        test::all_categories_policy(),
        "cg_consent",
        std::vector{test::rule("PHPSESSID", category::necessary),
                    test::rule("_ga", category::analytics)},
        test::test_key_ring(),
        /*host_prefix=*/true};
    return site;
}

std::string signed_consent(const consent::site_context& site, consent::category_set granted) {
    consent::consent_state s;
    s.id = consent::new_consent_id();
    s.granted = granted;
    s.policy_version = "7";
    s.issued = 1'800'000'000 - 10;
    return consent::encode_consent(s, site.site(), site.keys());
}

TEST(RequestStages, OverHttpsOnlyTheHostPrefixedConsentCookieDecides) {
    const auto& site = prefixed_consent();
    const std::string cookies =
        "Cookie: cg_consent=" + signed_consent(site, consent::category_set::all()) +
        "; _ga=1; __Host-cg_consent=" + signed_consent(site, {category::necessary}) + "\r\n";
    const client_info proxy{"10.0.0.1", true, net::ip::make_address("10.0.0.1")};
    parsed_request https;
    open(https, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n" + cookies + "\r\n",
         proxy);
    parsed_request plain;
    open(plain, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: http\r\n" + cookies + "\r\n",
         proxy);

    request_stages(https.tx, demo_site(), site, 1'800'000'000);
    request_stages(plain.tx, demo_site(), site, 1'800'000'000);

    ASSERT_TRUE(https.tx.visitor.state.has_value());
    EXPECT_EQ(https.tx.visitor.granted, consent::category_set{category::necessary});
    EXPECT_EQ(count(https.tx.request, "Cookie"), 0U);
    ASSERT_TRUE(plain.tx.visitor.state.has_value());  // the plain name counts over HTTP
    EXPECT_EQ(plain.tx.visitor.granted, consent::category_set::all());
    EXPECT_EQ(field(plain.tx.request, "Cookie"), "_ga=1");
}

TEST(ResponseStages, T6UnknownCookieNeverReachesAVisitorOfANecessaryOnlySite) {
    auto p = test::all_categories_policy();
    p.categories.resize(1);
    const consent::site_context site{"demo", std::move(p), "cg_consent",
                                     std::vector{test::rule("PHPSESSID", category::necessary)},
                                     test::test_key_ring()};
    parsed_request r;
    open(r, "GET / HTTP/1.1\r\nHost: h\r\nCookie: zz_tracker=uid123; PHPSESSID=1\r\n\r\n");
    request_stages(r.tx, demo_site(), site, 1'800'000'000);
    r.tx.response = response(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
        "Set-Cookie: zz_tracker=uid123; Max-Age=31536000\r\nSet-Cookie: PHPSESSID=2\r\n\r\n");

    response_stages(r.tx, site, {}, by_length(0), true, false);

    EXPECT_EQ(field(r.tx.request, "Cookie"), "PHPSESSID=1");
    EXPECT_EQ(count(r.tx.response, "Set-Cookie"), 1U);
    EXPECT_EQ(field(r.tx.response, "Set-Cookie"), "PHPSESSID=2");
}

}  // namespace
}  // namespace cg::gateway
