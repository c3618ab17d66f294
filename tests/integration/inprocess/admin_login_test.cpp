// The admin listener's users (DESIGN §5): log-in, the session cookie, roles, log-out, the
// cross-site check, the limit on failed log-ins, and the browser's way to the log-in form.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "admin_auth.hpp"
#include "proxy_fixture.hpp"
#include "support/redis_server.hpp"

namespace cg::test {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::string_view token = "s3cret-token";
constexpr std::string_view anna_password = "anna: correct horse";
constexpr std::string_view ola_password = "ola: battery staple";

// Made once, at the lowest accepted iteration count: a tenth of a real hash's cost.
const std::string& hash_of(std::string_view password) {
    static const std::string anna = gateway::hash_password(anna_password, 100'000);
    static const std::string ola = gateway::hash_password(ola_password, 100'000);
    return password == anna_password ? anna : ola;
}

// Two users, anna (marketing) and ola (admin), and the bearer token.
void with_users(gateway::config& cfg) {
    cfg.admin.token = std::string(token);
    cfg.admin.users = {{"anna", gateway::admin_user_role::marketing, hash_of(anna_password)},
                       {"ola", gateway::admin_user_role::admin, hash_of(ola_password)}};
}

struct answer {
    boost::system::error_code ec;
    unsigned status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;

    std::optional<std::string> header(std::string_view name) const {
        for (const auto& [n, v] : headers) {
            if (beast::iequals(n, name)) {
                return v;
            }
        }
        return std::nullopt;
    }
    // "cg_admin=VALUE" of the Set-Cookie, without attributes.
    std::string cookie() const {
        const auto c = header("Set-Cookie").value_or("");
        return c.substr(0, c.find(';'));
    }
};

using fields = std::vector<std::pair<std::string, std::string>>;

// One request on a new connection to 127.0.0.1:`port` from `source` (any 127/8 address is
// this host: a second address is a second client to the log-in limit). Host is
// 127.0.0.1:PORT unless `extra` names one.
answer call(std::uint16_t port, http::verb method, std::string_view target, const fields& extra,
            std::string body = {}, std::string_view source = "127.0.0.1") {
    net::io_context ioc;
    answer out;
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    req.set(http::field::connection, "close");
    for (const auto& [name, value] : extra) {
        req.set(name, value);
    }
    req.body() = std::move(body);
    req.prepare_payload();
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            constexpr auto use_ec = net::as_tuple(net::use_awaitable);
            beast::tcp_stream stream(ioc);
            stream.socket().open(tcp::v4());
            stream.socket().bind({net::ip::make_address(std::string(source)), 0});
            // Generous: under a sanitizer and a loaded machine queued PBKDF2 checks take seconds.
            stream.expires_after(30s);
            auto [ec] = co_await stream.async_connect(
                tcp::endpoint{net::ip::make_address_v4("127.0.0.1"), port}, use_ec);
            if (!ec) {
                std::tie(ec, std::ignore) = co_await http::async_write(stream, req, use_ec);
            }
            beast::flat_buffer buffer;
            http::response<http::string_body> res;
            if (!ec) {
                std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, res, use_ec);
            }
            out.ec = ec;
            if (ec) {
                co_return;  // no answer: status stays 0
            }
            out.status = res.result_int();
            out.body = res.body();
            for (const auto& f : res) {
                out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
            }
        },
        net::detached);
    ioc.run();
    return out;
}

std::string origin(std::uint16_t port) {
    return "http://127.0.0.1:" + std::to_string(port);
}

answer get(std::uint16_t port, std::string_view target, fields extra = {}) {
    return call(port, http::verb::get, target, extra);
}

// POST /login as a browser on this page would send it.
answer log_in(std::uint16_t port, std::string_view user, std::string_view password,
              std::string_view next = {}, std::string_view source = "127.0.0.1",
              fields extra = {}) {
    std::string body = "username=" + gateway::percent_encode(user) +
                       "&password=" + gateway::percent_encode(password);
    if (!next.empty()) {
        body += "&next=" + gateway::percent_encode(next);
    }
    extra.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    extra.emplace_back("Accept", "text/html");
    if (std::none_of(extra.begin(), extra.end(),
                     [](const auto& f) { return f.first == "Origin"; })) {
        extra.emplace_back("Origin", origin(port));
    }
    return call(port, http::verb::post, "/login", extra, body, source);
}

// A session cookie of `user`, or "" (with a test failure) when the log-in did not work.
std::string session_of(std::uint16_t port, std::string_view user, std::string_view password) {
    const auto r = log_in(port, user, password);
    EXPECT_EQ(r.status, 303U) << r.body;
    return r.cookie();
}

bool contains(const std::string& text, std::string_view needle) {
    return text.find(needle) != std::string::npos;
}

double logins(std::uint16_t port, std::string_view outcome) {
    const auto m = get(port, "/metrics", {{"Authorization", "Bearer " + std::string(token)}}).body;
    return metric(m, "cg_admin_logins_total{outcome=\"" + std::string(outcome) + "\"}")
        .value_or(-1);
}

TEST(AdminLogin, GivesAMarketingUserTheDocumentedCookieAndNoAdminPages) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();

    const auto r = log_in(port, "anna", anna_password);

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 303U) << r.body;
    EXPECT_EQ(r.header("Location"), "/stats/");
    const auto set_cookie = r.header("Set-Cookie").value_or("");
    EXPECT_TRUE(std::regex_match(
        set_cookie,
        std::regex("cg_admin=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800")))
        << set_cookie;
    for (const char* path : {"/consent/counts", "/consent/cookies", "/metrics"}) {
        const auto page = get(port, path, {{"Cookie", r.cookie()}, {"Accept", "text/html"}});
        EXPECT_EQ(page.status, 403U) << path;
        EXPECT_EQ(page.body, "this page is not for your role\n") << path;
    }
    EXPECT_EQ(logins(port, "ok"), 1);
}

TEST(AdminLogin, MarksTheCookieSecureWhenConfigured) {
    proxied_site s{[](gateway::config& cfg) {
        with_users(cfg);
        cfg.admin.secure_cookie = true;
    }};

    const auto r = log_in(s.proxy.admin_port(), "anna", anna_password);

    EXPECT_TRUE(std::regex_match(r.header("Set-Cookie").value_or(""),
                                 std::regex("cg_admin=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; "
                                            "SameSite=Strict; Max-Age=28800; Secure")))
        << r.header("Set-Cookie").value_or("");
}

TEST(AdminLogin, GivesAnAdminUserTheConsentViews) {
    proxied_site s{with_users};
    redis_server::options o;
    o.dir = s.proxy.dir();
    redis_server redis{o};
    const auto port = s.proxy.admin_port();
    ASSERT_TRUE(
        eventually([&] { return contains(get(port, "/readyz").body, R"("redis":"up")"); }, 5s));
    const auto cookie = session_of(port, "ola", ola_password);

    const auto counts = get(port, "/consent/counts", {{"Cookie", cookie}});
    EXPECT_EQ(counts.status, 200U) << counts.body;
    EXPECT_EQ(get(port, "/consent/cookies", {{"Cookie", cookie}}).status, 200U);
    EXPECT_EQ(get(port, "/metrics", {{"Cookie", cookie}}).status, 200U);
}

TEST(AdminLogin, KeepsTheBearerToken) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();
    const fields bearer{{"Authorization", "Bearer " + std::string(token)}};

    EXPECT_EQ(get(port, "/consent/cookies", bearer).status, 200U);
    EXPECT_EQ(get(port, "/metrics", bearer).status, 200U);
    const auto without = get(port, "/consent/cookies");
    EXPECT_EQ(without.status, 401U);
    EXPECT_TRUE(without.header("WWW-Authenticate").value_or("").starts_with("Bearer"));
}

TEST(AdminLogin, AnswersAWrongPasswordAndAnUnknownUserAlike) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();
    const fields english{{"Accept-Language", "en-GB,en;q=0.9"}};

    const auto wrong = log_in(port, "anna", "anna: correct horse!", {}, "127.0.0.1", english);
    const auto unknown = log_in(port, "berit", anna_password, {}, "127.0.0.1", english);

    for (const auto* r : {&wrong, &unknown}) {
        EXPECT_EQ(r->status, 401U);
        EXPECT_EQ(r->header("Set-Cookie"), std::nullopt);
        EXPECT_EQ(r->header("Content-Type"), "text/html; charset=utf-8");
        EXPECT_TRUE(contains(r->body, "Wrong user name or password.")) << r->body;
    }
    // The same page but for the name filled in again.
    std::string wrong_body = wrong.body;
    wrong_body.replace(wrong_body.find("value=\"anna\""), 12, "value=\"berit\"");
    EXPECT_EQ(wrong_body, unknown.body);

    const auto norsk = log_in(port, "anna", "feil", {}, "127.0.0.1", {{"Accept-Language", "nb"}});
    EXPECT_EQ(norsk.status, 401U);
    EXPECT_TRUE(contains(norsk.body, "Feil brukernavn eller passord.")) << norsk.body;
    EXPECT_EQ(logins(port, "failed"), 3);
    EXPECT_EQ(logins(port, "ok"), 0);
}

TEST(AdminLogin, TakesAsLongForAnUnknownUserAsForAWrongPassword) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();
    const auto timed = [&](std::string_view user, std::string_view source) {
        const auto start = std::chrono::steady_clock::now();
        EXPECT_EQ(log_in(port, user, "nope", {}, source).status, 401U);
        return std::chrono::steady_clock::now() - start;
    };
    timed("anna", "127.0.0.3");  // warm-up: the verifier threads start
    const auto known = timed("anna", "127.0.0.4");
    const auto unknown = timed("nobody", "127.0.0.5");

    // Both run one PBKDF2 of 100,000 iterations; an unchecked answer would take microseconds.
    EXPECT_GT(unknown, known / 3);
    EXPECT_GT(known, unknown / 3);
}

// PBKDF2 runs on two threads of its own: the admin thread keeps answering meanwhile, and
// log-ins beyond two running and eight waiting are refused at once (503) instead of queueing.
TEST(AdminLogin, ChecksPasswordsOffTheAdminThreadAndShedsTheExcess) {
    // A slow hash (about half a second) so that twenty log-ins surely overlap; unknown names
    // are checked against a dummy hash of the first user's cost.
    static const std::string slow = gateway::hash_password("x", 1'000'000);
    proxied_site s{[](gateway::config& cfg) {
        cfg.admin.token = std::string(token);
        cfg.admin.users = {{"slow", gateway::admin_user_role::admin, slow}};
    }};
    const auto port = s.proxy.admin_port();
    std::vector<answer> answers(20);
    std::vector<std::thread> clients;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        // Each from its own address and name: the failure limit does not come into it.
        clients.emplace_back([&, i] {
            answers[i] = log_in(port, "user" + std::to_string(i), "wrong", {},
                                "127.0.1." + std::to_string(i + 1));
        });
    }
    std::this_thread::sleep_for(200ms);
    const auto start = std::chrono::steady_clock::now();
    const auto health = get(port, "/healthz");
    const auto health_took = std::chrono::steady_clock::now() - start;
    for (auto& c : clients) {
        c.join();
    }

    EXPECT_EQ(health.status, 200U);
    // Were the checks on the admin thread, /healthz would wait for several of them (seconds).
    EXPECT_LT(health_took, 1s) << "the admin thread waited for a password check";
    std::size_t refused = 0;
    std::size_t checked = 0;
    for (const auto& a : answers) {
        if (a.status == 503U) {
            ++refused;
            EXPECT_EQ(a.header("Retry-After"), "1");
        } else {
            EXPECT_EQ(a.status, 401U);
            ++checked;
        }
    }
    EXPECT_GE(refused, 1U);
    EXPECT_LE(checked, 19U);
    EXPECT_EQ(logins(port, "limited"), static_cast<double>(refused));
    EXPECT_EQ(logins(port, "failed"), static_cast<double>(checked));
}

TEST(AdminLogin, ShutsDownWhilePasswordsAreChecked) {
    static const std::string slow = gateway::hash_password("x", 1'000'000);
    std::optional<proxied_site> s{
        std::in_place, [](gateway::config& cfg) {
            cfg.admin.users = {{"slow", gateway::admin_user_role::admin, slow}};
        }};
    const auto port = s->proxy.admin_port();
    std::vector<std::thread> clients;
    for (int i = 0; i < 4; ++i) {  // two checked, two waiting when the gateway stops
        clients.emplace_back(
            [port, i] { log_in(port, "slow", "wrong", {}, "127.0.2." + std::to_string(i + 1)); });
    }
    std::this_thread::sleep_for(200ms);

    const auto start = std::chrono::steady_clock::now();
    s.reset();
    const auto took = std::chrono::steady_clock::now() - start;
    for (auto& c : clients) {
        c.join();
    }

    EXPECT_LT(took, 5s);
}

TEST(AdminLogin, LimitsAUserAfterFiveFailuresEvenForTheRightPassword) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(log_in(port, "anna", "guess " + std::to_string(i)).status, 401U) << i;
    }

    const auto sixth =
        log_in(port, "anna", "guess 6", {}, "127.0.0.1", {{"Accept-Language", "en"}});
    const auto right = log_in(port, "anna", anna_password);

    EXPECT_EQ(sixth.status, 429U);
    const auto retry = std::stoi(sixth.header("Retry-After").value_or("0"));
    EXPECT_GT(retry, 890);
    EXPECT_LE(retry, 900);
    EXPECT_TRUE(contains(sixth.body, "Too many failed log-ins. Try again in 15 minutes."))
        << sixth.body;
    EXPECT_EQ(right.status, 429U);
    EXPECT_EQ(right.header("Set-Cookie"), std::nullopt);
    EXPECT_EQ(logins(port, "failed"), 5);
    EXPECT_EQ(logins(port, "limited"), 2);
    EXPECT_EQ(logins(port, "ok"), 0);
}

TEST(AdminLogin, LocksAnotherClientOnlyForTheSameUser) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(log_in(port, "anna", "guess " + std::to_string(i), {}, "127.0.0.1").status, 401U);
    }

    // The first client is locked for every name; the second only for anna.
    EXPECT_EQ(log_in(port, "ola", ola_password, {}, "127.0.0.1").status, 429U);
    EXPECT_EQ(log_in(port, "ola", ola_password, {}, "127.0.0.2").status, 303U);
    EXPECT_EQ(log_in(port, "anna", anna_password, {}, "127.0.0.2").status, 429U);
    // ola's success resets nobody's count.
    EXPECT_EQ(log_in(port, "anna", anna_password, {}, "127.0.0.1").status, 429U);
}

TEST(AdminLogin, LogOutEndsTheSession) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();
    const auto cookie = session_of(port, "ola", ola_password);
    ASSERT_EQ(get(port, "/consent/cookies", {{"Cookie", cookie}}).status, 200U);

    const auto out =
        call(port, http::verb::post, "/logout", {{"Cookie", cookie}, {"Origin", origin(port)}});

    EXPECT_EQ(out.status, 303U);
    EXPECT_EQ(out.header("Location"), "/login");
    EXPECT_EQ(out.header("Set-Cookie"), "cg_admin=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    EXPECT_EQ(get(port, "/consent/cookies", {{"Cookie", cookie}}).status, 401U);
    const auto again = call(port, http::verb::post, "/logout", {{"Cookie", cookie}});
    EXPECT_EQ(again.status, 303U) << "logging out twice is harmless";
}

TEST(AdminLogin, RefusesPostsFromAnotherSite) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();
    const auto cookie = session_of(port, "ola", ola_password);

    const auto login_csrf =
        log_in(port, "ola", ola_password, {}, "127.0.0.1", {{"Origin", "http://evil.example"}});
    const auto other_port =
        log_in(port, "ola", ola_password, {}, "127.0.0.1", {{"Origin", "http://127.0.0.1:1"}});
    const auto logout_csrf = call(port, http::verb::post, "/logout",
                                  {{"Cookie", cookie}, {"Origin", "http://evil.example"}});
    const auto fetch_metadata = call(port, http::verb::post, "/logout",
                                     {{"Cookie", cookie}, {"Sec-Fetch-Site", "cross-site"}});
    const auto null_origin =
        call(port, http::verb::post, "/logout", {{"Cookie", cookie}, {"Origin", "null"}});

    for (const auto* r : {&login_csrf, &other_port, &logout_csrf, &fetch_metadata, &null_origin}) {
        EXPECT_EQ(r->status, 403U) << r->body;
        EXPECT_EQ(r->header("Set-Cookie"), std::nullopt);
    }
    EXPECT_EQ(get(port, "/consent/cookies", {{"Cookie", cookie}}).status, 200U)
        << "the session survived";
    // Same origin by Fetch Metadata, and a script without either header, may post.
    EXPECT_EQ(call(port, http::verb::post, "/logout",
                   {{"Cookie", cookie}, {"Sec-Fetch-Site", "same-origin"}})
                  .status,
              303U);
    EXPECT_EQ(call(port, http::verb::post, "/logout", {}).status, 303U);
}

TEST(AdminLogin, SendsABrowserWithoutASessionToTheLogInForm) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();
    const fields browser{{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}};

    const auto page = get(port, "/consent/history?site=demo&id=x%20y", browser);
    const auto machine = get(port, "/consent/counts", {{"Accept", "application/json"}});

    EXPECT_EQ(page.status, 303U);
    EXPECT_EQ(page.header("Location"), "/login?next=/consent/history%3Fsite%3Ddemo%26id%3Dx%2520y");
    EXPECT_EQ(get(port, "/consent/counts", browser).header("Location"),
              "/login?next=/consent/counts");
    EXPECT_EQ(machine.status, 401U);
    EXPECT_TRUE(machine.header("WWW-Authenticate").value_or("").starts_with("Bearer"));
}

TEST(AdminLogin, ServesTheFormInTheBrowsersLanguageWithNext) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();

    const auto nb = get(port, "/login?next=%2Fconsent%2Fcounts",
                        {{"Accept-Language", "nb-NO,nb;q=0.9,en;q=0.5"}});
    const auto en = get(port, "/login", {{"Accept-Language", "en-US"}});
    const auto evil = get(port, "/login?next=%2F%2Fevil.example");

    EXPECT_EQ(nb.status, 200U);
    EXPECT_EQ(nb.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(nb.header("Cache-Control"), "no-store");
    EXPECT_TRUE(nb.header("Content-Security-Policy").value_or("").find("frame-ancestors 'none'") !=
                std::string::npos);
    // Not no-referrer: with it chromium posts the form with Origin: null, which the CSRF check
    // must refuse.
    EXPECT_EQ(nb.header("Referrer-Policy"), "same-origin");
    EXPECT_TRUE(contains(nb.body, R"(<html lang="nb">)")) << nb.body;
    EXPECT_TRUE(contains(nb.body, R"(<label for="username">Brukernavn</label>)")) << nb.body;
    EXPECT_TRUE(contains(nb.body, R"(<label for="password">Passord</label>)")) << nb.body;
    EXPECT_TRUE(contains(nb.body, R"(<input type="hidden" name="next" value="/consent/counts">)"))
        << nb.body;
    EXPECT_TRUE(contains(nb.body, R"(name="password" type="password")")) << nb.body;
    EXPECT_TRUE(contains(en.body, R"(<html lang="en">)")) << en.body;
    EXPECT_TRUE(contains(en.body, R"(<label for="username">User name</label>)")) << en.body;
    EXPECT_TRUE(contains(evil.body, R"(<input type="hidden" name="next" value="">)")) << evil.body;
}

TEST(AdminLogin, RedirectsOnlyToPathsOnTheAdminListener) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();
    const auto location = [&](std::string_view next) {
        return log_in(port, "ola", ola_password, next).header("Location").value_or("");
    };

    EXPECT_EQ(location("/consent/counts"), "/consent/counts");
    EXPECT_EQ(location("//evil.example"), "/stats/");
    EXPECT_EQ(location("https://evil.example"), "/stats/");
    EXPECT_EQ(location("/\\evil.example"), "/stats/");
    EXPECT_EQ(location("/a\r\nSet-Cookie: x=y"), "/stats/");
}

TEST(AdminLogin, RefusesAFormInAnotherEncoding) {
    proxied_site s{with_users};
    const auto port = s.proxy.admin_port();

    const auto r = call(port, http::verb::post, "/login",
                        {{"Content-Type", "application/json"}, {"Origin", origin(port)}},
                        R"({"username":"ola","password":"x"})");

    EXPECT_EQ(r.status, 415U);
}

TEST(AdminLogin, RefusesASessionPastItsLifetime) {
    proxied_site s{[](gateway::config& cfg) {
        with_users(cfg);
        cfg.admin.session_lifetime = 1s;
    }};
    const auto port = s.proxy.admin_port();
    const auto r = log_in(port, "ola", ola_password);
    EXPECT_TRUE(r.header("Set-Cookie").value_or("").ends_with("Max-Age=1"));
    ASSERT_EQ(get(port, "/consent/cookies", {{"Cookie", r.cookie()}}).status, 200U);

    std::this_thread::sleep_for(1100ms);

    EXPECT_EQ(get(port, "/consent/cookies", {{"Cookie", r.cookie()}}).status, 401U);
}

TEST(AdminLogin, RefusesASessionLeftIdle) {
    proxied_site s{[](gateway::config& cfg) {
        with_users(cfg);
        cfg.admin.session_idle_timeout = 600ms;
    }};
    const auto port = s.proxy.admin_port();
    const auto cookie = session_of(port, "ola", ola_password);
    for (int i = 0; i < 3; ++i) {  // in use: kept past the idle timeout in all
        std::this_thread::sleep_for(300ms);
        ASSERT_EQ(get(port, "/consent/cookies", {{"Cookie", cookie}}).status, 200U) << i;
    }

    std::this_thread::sleep_for(800ms);

    EXPECT_EQ(get(port, "/consent/cookies", {{"Cookie", cookie}}).status, 401U);
}

TEST(AdminLogin, LetsAdminUsersSeeConsentViewsWithoutAToken) {
    proxied_site s{[](gateway::config& cfg) {
        with_users(cfg);
        cfg.admin.token.clear();
    }};
    const auto port = s.proxy.admin_port();
    const auto cookie = session_of(port, "ola", ola_password);

    EXPECT_EQ(get(port, "/consent/cookies", {{"Cookie", cookie}}).status, 200U);
    const auto script = get(port, "/consent/cookies");
    EXPECT_EQ(script.status, 403U);
    EXPECT_TRUE(contains(script.body, "/login")) << script.body;
    EXPECT_EQ(get(port, "/consent/cookies", {{"Accept", "text/html"}}).status, 303U);
    EXPECT_EQ(get(port, "/metrics").status, 200U) << "Prometheus scrapes loopback freely";
}

}  // namespace
}  // namespace cg::test
