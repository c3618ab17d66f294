// The consent endpoints (DESIGN §5) through an in-process gateway with a real Redis: a
// decision by JSON and by form post, the state it leaves, the visitor's record download and
// erasure, and what a cross-site post gets. The process suite (integration.consent) covers the
// same contract through the real binary; this one runs in a few milliseconds per test.
#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "proxy_fixture.hpp"
#include "support/eventually.hpp"
#include "support/redis_server.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;

// One site behind the in-process gateway, and a Redis on the socket the gateway's store uses.
struct consent_site {
    consent_site() : redis(redis_options(site.proxy.dir())) {
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

}  // namespace
}  // namespace cg::test
