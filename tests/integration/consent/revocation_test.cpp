// Erasure revokes on every gateway (issue 8 item 2): two consent-gateway processes share one
// redis-server; a visitor erases their record through the first, and a copy of their old
// cookie must count as no decision at the second within a few seconds (the store's poll of
// the revocation stream `cg:revoked`), not until the cookie expires.
#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "consent_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::consent_cookie;
using cg::test::consent_site;
using cg::test::decision;
using cg::test::eventually;
using cg::test::gateway_process;
using cg::test::json_of;
using json = nlohmann::json;

/// A second gateway in a temp dir of its own (its own journal), with the first site's
/// config but the Redis socket of `site` and the same cookie key.
struct second_gateway {
    explicit second_gateway(consent_site& site) {
        cg::test::gateway_settings settings;
        settings.upstream_port = upstream.port();
        json cfg = json::parse(cg::test::gateway_config(settings));
        cfg["log"]["access"] = false;
        cfg["redis"]["socket"] = (site.dir().path() / "redis.sock").string();
        process.emplace(dir, cfg.dump(2));
        ready = process->wait_ready(10s);
    }

    cg::test::raw_response get(std::string_view target, const std::string& cookie) const {
        cg::test::http_request r;
        r.target = target;
        r.fields.emplace_back("Cookie", cookie);
        return cg::test::send_request(process->proxy_port(), r);
    }

    cg::test::temp_dir dir{"cg-gateway-2"};
    cg::test::test_upstream upstream;
    std::optional<gateway_process> process;
    bool ready = false;
};

TEST(Revocation, AnErasedConsentCookieCountsAsNoDecisionOnAnotherGateway) {
    consent_site site;
    second_gateway other{site};
    ASSERT_TRUE(other.ready) << other.process->output();

    const auto decided = site.send(decision(R"({"action": "accept-all"})"));
    ASSERT_EQ(decided.status, 200U) << decided.ec.message() << decided.body;
    const auto value = consent_cookie(decided);
    ASSERT_TRUE(value) << decided.body;
    const auto cookie = "cg_consent=" + *value;
    // Before the erasure the second gateway honours the cookie: the key is shared.
    const auto before = json_of(other.get("/_consent/state", cookie));
    ASSERT_EQ(before["decided"], true) << before;

    cg::test::http_request erase;
    erase.method = "DELETE";
    erase.target = "/_consent/record";
    erase.fields = {{"Origin", std::string{cg::test::site_origin}}, {"Cookie", cookie}};
    const auto erased = site.send(erase);
    ASSERT_EQ(erased.status, 200U) << erased.ec.message() << erased.body;
    EXPECT_EQ(json_of(erased)["erased"], true) << erased.body;
    EXPECT_EQ(site.redis().command({"XLEN", "cg:revoked"}).integer, 1);

    // The old cookie, replayed: void at once on the first gateway, within seconds on the
    // second (it polls cg:revoked about once a second).
    EXPECT_EQ(json_of(site.get("/_consent/state", cookie))["decided"], false);
    json state;
    EXPECT_TRUE(eventually(
        [&] {
            state = json_of(other.get("/_consent/state", cookie));
            return state.is_object() && state["decided"] == false;
        },
        5s, 100ms))
        << state;
}

}  // namespace
