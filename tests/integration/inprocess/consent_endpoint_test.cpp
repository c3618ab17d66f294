// The consent endpoints (DESIGN §5) through an in-process gateway with a real Redis: a
// decision by JSON and by form post, the state it leaves, the visitor's record download and
// erasure, and what a cross-site post gets. The process suite (integration.consent) covers the
// same contract through the real binary; this one runs in a few milliseconds per test.
#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "proxy_fixture.hpp"
#include "support/eventually.hpp"
#include "support/redis_server.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;

// One site behind the in-process gateway, and a Redis on the socket the gateway's store uses.
struct consent_site {
    explicit consent_site(const std::function<void(gateway::config&)>& adjust = {})
        : site(adjust), redis(redis_options(site.proxy.dir())) {
        // The store retries its connection with a backoff: wait until it says Redis is up.
        EXPECT_TRUE(eventually(
            [this] {
                return admin_get(site.proxy.admin_port(), "/readyz").body.find(R"("redis":"up")") !=
                       std::string::npos;
            },
            5s));
    }

    static redis_server::options redis_options(const std::filesystem::path& dir) {
        redis_server::options o;
        o.dir = dir;
        return o;
    }

    raw_response send(const std::string& request) {
        auto client = site.connect();
        EXPECT_FALSE(client.send(request));
        return client.read_response(5s);
    }

    proxied_site site;
    redis_server redis;
};

std::string post(std::string_view target, std::string_view type, std::string_view body,
                 std::string_view origin = "http://site.test") {
    std::string r = "POST " + std::string{target} + " HTTP/1.1\r\nHost: site.test\r\n";
    r += "Content-Type: " + std::string{type} + "\r\n";
    if (!origin.empty()) {
        r += "Origin: " + std::string{origin} + "\r\n";
    }
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string{body};
    return r;
}

std::string with_cookie(std::string_view method, std::string_view target, std::string_view cookie) {
    return std::string{method} + " " + std::string{target} +
           " HTTP/1.1\r\nHost: site.test\r\nOrigin: http://site.test\r\nCookie: " +
           std::string{cookie} + "\r\n\r\n";
}

// The consent cookie the answer sets, as "cg_consent=..." (without attributes).
std::optional<std::string> consent_cookie(const raw_response& r) {
    for (const auto& [name, value] : r.headers) {
        if ((name == "Set-Cookie" || name == "set-cookie") && value.starts_with("cg_consent=")) {
            return value.substr(0, value.find(';'));
        }
    }
    return std::nullopt;
}

TEST(ConsentEndpoints, AJsonDecisionIsRecordedAndSignedIntoTheCookieTheStateReads) {
    consent_site s;
    const auto decided =
        s.send(post("/_consent", "application/json", R"({"categories": ["analytics"]})"));
    ASSERT_FALSE(decided.ec) << decided.ec.message();
    EXPECT_EQ(decided.status, 200U) << decided.body;
    const auto cookie = consent_cookie(decided);
    ASSERT_TRUE(cookie.has_value());

    const auto state = s.send(with_cookie("GET", "/_consent/state", *cookie));
    ASSERT_FALSE(state.ec) << state.ec.message();
    EXPECT_EQ(state.status, 200U);
    EXPECT_NE(state.body.find("analytics"), std::string::npos) << state.body;
    EXPECT_EQ(state.header("Cache-Control").value_or(""), "no-store");
    EXPECT_EQ(s.site.upstream.requests_served(), 0U) << "the endpoints are the gateway's own";
}

TEST(ConsentEndpoints, AFormPostWorksWithoutJavaScriptAndRedirectsBack) {
    consent_site s;
    const auto r = s.send(post("/_consent", "application/x-www-form-urlencoded",
                               "action=reject-all&return_to=%2Fjobb%2F42"));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 303U) << r.body;
    EXPECT_EQ(r.header("Location").value_or(""), "/jobb/42");
    EXPECT_TRUE(consent_cookie(r).has_value());
}

TEST(ConsentEndpoints, ADecisionFromAnotherSiteIsRefusedAndSetsNothing) {
    consent_site s;
    const auto r = s.send(post("/_consent", "application/json", R"({"categories": ["marketing"]})",
                               "https://evil.example"));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 403U) << r.body;
    EXPECT_FALSE(consent_cookie(r).has_value());
}

TEST(ConsentEndpoints, TheVisitorDownloadsAndErasesTheirRecord) {
    consent_site s;
    const auto decided =
        s.send(post("/_consent", "application/json", R"({"categories": ["preferences"]})"));
    const auto cookie = consent_cookie(decided);
    ASSERT_TRUE(cookie.has_value()) << decided.status << " " << decided.body;

    const auto record = s.send(with_cookie("GET", "/_consent/record", *cookie));
    ASSERT_FALSE(record.ec) << record.ec.message();
    EXPECT_EQ(record.status, 200U) << record.body;
    EXPECT_NE(record.body.find("preferences"), std::string::npos) << record.body;
    EXPECT_EQ(record.body.find(R"("events":[])"), std::string::npos) << record.body;

    const auto erased = s.send(with_cookie("DELETE", "/_consent/record", *cookie));
    ASSERT_FALSE(erased.ec) << erased.ec.message();
    EXPECT_LT(erased.status, 300U) << erased.body;

    // The stored history is gone; the cookie itself still says what it says (revoking it on
    // every gateway is the consent-hardening issue's).
    const auto after = s.send(with_cookie("GET", "/_consent/record", *cookie));
    EXPECT_NE(after.body.find(R"("events":[])"), std::string::npos) << after.body;
}

TEST(ConsentEndpoints, AnOversizedDecisionIsA413AndNeverReachesTheStore) {
    consent_site s;
    const auto r =
        s.send(post("/_consent", "application/json", std::string(20 * 1024, ' ') + "{}"));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 413U);
    EXPECT_FALSE(consent_cookie(r).has_value());
}

// Every consent cookie the answer sets or expires, "name=value; attributes" as sent.
std::vector<std::string> set_cookies(const raw_response& r) {
    std::vector<std::string> out;
    for (const auto& [name, value] : r.headers) {
        if (name == "Set-Cookie" || name == "set-cookie") {
            out.push_back(value);
        }
    }
    return out;
}

// Whether `cookies` expire `name` set with this Path and Domain ("" = host-only).
bool expires(const std::vector<std::string>& cookies, std::string_view name, std::string_view path,
             std::string_view domain) {
    for (const auto& c : cookies) {
        if (!c.starts_with(std::string{name} + "=; Max-Age=0")) {
            continue;
        }
        const std::string attributes = c + ";";
        const bool path_matches =
            attributes.find("; Path=" + std::string{path} + ";") != std::string::npos;
        const bool domain_matches =
            domain.empty()
                ? attributes.find("; Domain=") == std::string::npos
                : attributes.find("; Domain=" + std::string{domain} + ";") != std::string::npos;
        if (path_matches && domain_matches) {
            return true;
        }
    }
    return false;
}

std::string request(std::string_view method, std::string_view target, std::string_view fields,
                    std::string_view body = {}) {
    std::string r = std::string{method} + " " + std::string{target} +
                    " HTTP/1.1\r\nHost: site.test\r\n" + std::string{fields};
    if (!body.empty() || method == "POST") {
        r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    return r + "\r\n" + std::string{body};
}

std::string consent_id_of(const raw_response& r) {
    const auto at = r.body.find(R"("consent_id":")");
    return at == std::string::npos ? "" : r.body.substr(at + 14, 22);
}

void limit(gateway::config& c, std::uint32_t per_consent_id, std::uint32_t per_address) {
    c.consent.limits.per_consent_id = per_consent_id;
    c.consent.limits.per_address = per_address;
}

// Item 5: one client made 2,070 decisions a second, each kept in Redis for a year.
TEST(ConsentEndpoints, DecisionsBeyondTheAddressLimitGet429WithRetryAfterAndSetNothing) {
    consent_site s{[](gateway::config& c) { limit(c, 0, 3); }};
    for (int i = 0; i < 3; ++i) {
        const auto ok =
            s.send(post("/_consent", "application/json", R"({"action": "reject-all"})"));
        ASSERT_EQ(ok.status, 200U) << i << ": " << ok.body;
    }
    const auto refused =
        s.send(post("/_consent", "application/json", R"({"action": "reject-all"})"));

    ASSERT_FALSE(refused.ec) << refused.ec.message();
    EXPECT_EQ(refused.status, 429U) << refused.body;
    EXPECT_EQ(refused.header("Retry-After").value_or(""), "20");
    EXPECT_EQ(refused.header("Content-Type").value_or(""), "application/json");
    EXPECT_NE(refused.body.find(R"("error":"too many consent requests from this address)"),
              std::string::npos)
        << refused.body;
    EXPECT_FALSE(consent_cookie(refused).has_value());
    // Erasures count against the same budget; the state stays free.
    EXPECT_EQ(s.send(with_cookie("DELETE", "/_consent/record", "cg_consent=x")).status, 429U);
    EXPECT_EQ(s.send(with_cookie("GET", "/_consent/state", "cg_consent=x")).status, 200U);
}

TEST(ConsentEndpoints, DecisionsAndErasuresBeyondTheConsentIdLimitGet429) {
    consent_site s{[](gateway::config& c) { limit(c, 2, 0); }};
    const auto first = s.send(post("/_consent", "application/json", R"({"action": "save"})"));
    const auto cookie = consent_cookie(first);
    ASSERT_TRUE(cookie.has_value()) << first.status << " " << first.body;
    const std::string decide_again = request(
        "POST", "/_consent",
        "Origin: http://site.test\r\nContent-Type: application/json\r\nCookie: " + *cookie + "\r\n",
        R"({"action": "accept-all"})");

    EXPECT_EQ(s.send(decide_again).status, 200U);
    EXPECT_EQ(s.send(decide_again).status, 200U);
    const auto refused = s.send(decide_again);
    EXPECT_EQ(refused.status, 429U) << refused.body;
    EXPECT_EQ(refused.header("Retry-After").value_or(""), "30");
    EXPECT_NE(refused.body.find("for this consent id"), std::string::npos) << refused.body;
    EXPECT_EQ(s.send(with_cookie("DELETE", "/_consent/record", *cookie)).status, 429U);
    // Another visitor is not affected.
    EXPECT_EQ(s.send(post("/_consent", "application/json", R"({"action": "save"})")).status, 200U);
}

TEST(ConsentEndpoints, AnswersCarryADateHeader) {
    consent_site s;
    const auto decided = s.send(post("/_consent", "application/json", R"({"action": "save"})"));
    const auto state = s.send(with_cookie("GET", "/_consent/state", "a=b"));
    const auto missing = s.send(with_cookie("GET", "/_consent/nothing", "a=b"));

    for (const auto* r : {&decided, &state, &missing}) {
        const auto date = r->header("Date");
        ASSERT_TRUE(date.has_value()) << r->status;
        EXPECT_TRUE(date->ends_with(" GMT")) << *date;
        EXPECT_EQ(date->size(), std::string_view{"Sun, 06 Nov 1994 08:49:37 GMT"}.size()) << *date;
    }
}

TEST(ConsentEndpoints, AFormPostThatFailsGetsAReadablePageWithALinkBack) {
    consent_site s;
    const auto r = s.send(post("/_consent", "application/x-www-form-urlencoded",
                               "category=cookies&language=en&return_to=%2Fshop%3Fa%3D1%26b%3D2"));

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 400U);
    EXPECT_EQ(r.header("Content-Type").value_or(""), "text/html; charset=utf-8");
    EXPECT_NE(r.body.find(R"(<html lang="en">)"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("Your choice was not saved"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"(<a href="/shop?a=1&amp;b=2">Back to the page</a>)"), std::string::npos)
        << r.body;
    EXPECT_NE(r.body.find("unknown category &quot;cookies&quot;"), std::string::npos) << r.body;
}

TEST(ConsentEndpoints, ErrorPagesAreNorwegianByDefaultAndJsonForScripts) {
    consent_site s;
    const auto cross = s.send(post("/_consent", "application/x-www-form-urlencoded",
                                   "action=accept-all", "https://evil.example"));
    EXPECT_EQ(cross.status, 403U);
    EXPECT_NE(cross.body.find(R"(<html lang="nb">)"), std::string::npos) << cross.body;
    EXPECT_NE(cross.body.find("Tilbake til siden"), std::string::npos) << cross.body;

    const auto browser = s.send(
        request("GET", "/_consent/record",
                "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"));
    EXPECT_EQ(browser.status, 401U);
    EXPECT_EQ(browser.header("Content-Type").value_or(""), "text/html; charset=utf-8");

    const auto script = s.send(request("GET", "/_consent/record", "Accept: */*\r\n"));
    EXPECT_EQ(script.status, 401U);
    EXPECT_EQ(script.header("Content-Type").value_or(""), "application/json");
}

// Item 7: bytes that are not UTF-8, and a quote cut inside a character, still get an answer.
TEST(ConsentEndpoints, InvalidUtf8InADecisionIsAnswered400) {
    consent_site s;
    for (const std::string& body :
         {std::string{"category=%FF"}, "category=" + std::string(39, 'x') + "%C3%A9"}) {
        const auto form = s.send(post("/_consent", "application/x-www-form-urlencoded", body));
        ASSERT_FALSE(form.ec) << form.ec.message();
        EXPECT_EQ(form.status, 400U) << body;
        EXPECT_FALSE(form.body.empty());
    }
    const auto json_body =
        s.send(post("/_consent", "application/json",
                    "{\"categories\": [\"" + std::string(39, 'x') + "\xC3\xA9\"]}"));
    EXPECT_EQ(json_body.status, 400U) << json_body.body;
    EXPECT_NE(json_body.body.find(R"("error":"unknown category)"), std::string::npos)
        << json_body.body;
}

// Item 12: an ambiguous decision is refused, whichever way it is sent.
TEST(ConsentEndpoints, AContradictoryDecisionIsRefusedAsJsonAndAsAForm) {
    consent_site s;
    const auto j = s.send(post("/_consent", "application/json",
                               R"({"action":"reject-all","categories":["marketing"]})"));
    const auto f = s.send(post("/_consent", "application/x-www-form-urlencoded",
                               "action=reject-all&category=marketing"));
    const auto dup = s.send(
        post("/_consent", "application/json", R"({"categories":["marketing"],"categories":[]})"));

    EXPECT_EQ(j.status, 400U) << j.body;
    EXPECT_EQ(f.status, 400U) << f.body;
    EXPECT_EQ(dup.status, 400U) << dup.body;
    EXPECT_FALSE(consent_cookie(j).has_value());
    EXPECT_FALSE(consent_cookie(f).has_value());
}

// Item 3: a sibling subdomain or a deeper path can plant a consent cookie of its own choosing.
TEST(ConsentEndpoints, ADecisionWithSeveralConsentCookiesGetsAFreshIdAndClearsEveryCopy) {
    consent_site s;
    const auto mine = s.send(post("/_consent", "application/json", R"({"action": "save"})"));
    const auto planted = s.send(post("/_consent", "application/json", R"({"action": "save"})"));
    ASSERT_TRUE(consent_cookie(mine) && consent_cookie(planted));

    const auto r = s.send(
        request("POST", "/_consent",
                "Origin: http://site.test\r\nReferer: http://site.test/shop/cart/view?x=1\r\n"
                "Content-Type: application/json\r\nCookie: " +
                    *consent_cookie(planted) + "; " + *consent_cookie(mine) + "\r\n",
                R"({"categories": ["analytics"]})"));

    ASSERT_EQ(r.status, 200U) << r.body;
    const std::string id = consent_id_of(r);
    EXPECT_EQ(id.size(), 22U);
    EXPECT_NE(id, consent_id_of(mine));
    EXPECT_NE(id, consent_id_of(planted));
    const auto cookies = set_cookies(r);
    EXPECT_EQ(consent_cookie(r).value_or("").find("cg_consent="), 0U);
    EXPECT_TRUE(expires(cookies, "__Host-cg_consent", "/", ""));
    EXPECT_TRUE(expires(cookies, "cg_consent", "/", "site.test"));
    for (const auto* path : {"/shop", "/shop/", "/shop/cart", "/shop/cart/", "/shop/cart/view"}) {
        EXPECT_TRUE(expires(cookies, "cg_consent", path, "")) << path;
    }
    // The new cookie itself is not expired in the same answer.
    EXPECT_FALSE(expires(cookies, "cg_consent", "/", ""));
}

TEST(ConsentEndpoints, ADecisionWithOneConsentCookieKeepsItsId) {
    consent_site s;
    const auto first = s.send(post("/_consent", "application/json", R"({"action": "save"})"));
    const auto again =
        s.send(request("POST", "/_consent",
                       "Origin: http://site.test\r\nContent-Type: application/json\r\nCookie: " +
                           consent_cookie(first).value_or("") + "\r\n",
                       R"({"categories": ["analytics"]})"));

    EXPECT_EQ(consent_id_of(again), consent_id_of(first));
    EXPECT_EQ(set_cookies(again).size(), 1U);
}

TEST(ConsentEndpoints, TheRecordWithTwoConsentCookiesOfDifferentIdsIs409) {
    consent_site s;
    const auto a =
        consent_cookie(s.send(post("/_consent", "application/json", R"({"action": "save"})")));
    const auto b =
        consent_cookie(s.send(post("/_consent", "application/json", R"({"action": "save"})")));
    ASSERT_TRUE(a && b);

    const auto read = s.send(with_cookie("GET", "/_consent/record", *a + "; " + *b));
    const auto erase = s.send(with_cookie("DELETE", "/_consent/record", *a + "; " + *b));
    const auto same_twice = s.send(with_cookie("GET", "/_consent/record", *a + "; " + *a));

    EXPECT_EQ(read.status, 409U) << read.body;
    EXPECT_NE(read.body.find("make a new consent decision first"), std::string::npos) << read.body;
    EXPECT_EQ(erase.status, 409U) << erase.body;
    EXPECT_EQ(same_twice.status, 200U) << same_twice.body;
}

void trust_loopback(gateway::config& c) {
    c.trusted_proxies.push_back(gateway::cidr{boost::asio::ip::make_address("127.0.0.1"), 32});
}

// The limit is per visitor: behind a trusted proxy, per address the proxy names.
TEST(ConsentEndpoints, TheAddressLimitCountsEachVisitorBehindATrustedProxy) {
    consent_site s{[](gateway::config& c) {
        trust_loopback(c);
        limit(c, 0, 1);
    }};
    const auto from = [](std::string_view address) {
        return request("POST", "/_consent",
                       "Origin: http://site.test\r\nContent-Type: application/json\r\n"
                       "X-Forwarded-For: " +
                           std::string{address} + "\r\n",
                       R"({"action": "save"})");
    };

    EXPECT_EQ(s.send(from("203.0.113.9")).status, 200U);
    EXPECT_EQ(s.send(from("203.0.113.9")).status, 429U);
    EXPECT_EQ(s.send(from("198.51.100.4")).status, 200U);
}

TEST(ConsentEndpoints, OnHttpsTheCookieIsHostPrefixedAndAPlantedPlainCopyIsCleared) {
    consent_site s{trust_loopback};
    const auto planted = s.send(post("/_consent", "application/json", R"({"action": "save"})"));
    ASSERT_TRUE(consent_cookie(planted).has_value());
    const std::string https_fields =
        "X-Forwarded-Proto: https\r\nOrigin: https://site.test\r\n"
        "Referer: https://site.test/a/b\r\n";

    const auto r = s.send(request("POST", "/_consent",
                                  https_fields + "Content-Type: application/json\r\nCookie: " +
                                      *consent_cookie(planted) + "\r\n",
                                  R"({"categories": ["analytics"]})"));

    ASSERT_EQ(r.status, 200U) << r.body;
    const auto cookies = set_cookies(r);
    ASSERT_FALSE(cookies.empty());
    EXPECT_TRUE(cookies[0].starts_with("__Host-cg_consent=")) << cookies[0];
    EXPECT_TRUE(cookies[0].ends_with("; Secure")) << cookies[0];
    EXPECT_EQ(cookies[0].find("Domain"), std::string::npos) << cookies[0];
    EXPECT_NE(consent_id_of(r), consent_id_of(planted));
    EXPECT_TRUE(expires(cookies, "cg_consent", "/", ""));
    EXPECT_TRUE(expires(cookies, "cg_consent", "/", "site.test"));
    EXPECT_TRUE(expires(cookies, "cg_consent", "/a", ""));
    EXPECT_FALSE(expires(cookies, "__Host-cg_consent", "/", ""));

    // The record endpoints read the __Host- cookie; the planted one does not make it ambiguous.
    const std::string mine = cookies[0].substr(0, cookies[0].find(';'));
    const auto record = s.send(
        request("GET", "/_consent/record",
                https_fields + "Cookie: " + *consent_cookie(planted) + "; " + mine + "\r\n"));
    EXPECT_EQ(record.status, 200U) << record.body;
    EXPECT_EQ(consent_id_of(record), consent_id_of(r));
}

}  // namespace
}  // namespace cg::test
