// TLS termination on the proxy listener (issue 11): the real binary with certificates made
// at test time by a test CA, and clients that verify them.
#include <openssl/ssl.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "gateway_process.hpp"
#include "support/pattern.hpp"
#include "support/prometheus.hpp"
#include "support/raw_client.hpp"
#include "support/tls.hpp"
#include "support/test_upstream.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::gateway_process;
using cg::test::https_get;
using cg::test::temp_dir;
using cg::test::test_ca;
using cg::test::test_upstream;
using cg::test::tls_client;
using cg::test::tls_options;
using ::testing::HasSubstr;

constexpr std::string_view other_host = "other.test";

/// Two sites on one upstream, "a" on site.test and "b" on other.test, each with its own
/// certificate on a TLS listener (site.test's first: the default). `tls_extra` goes into
/// listen.tls (e.g. a redirect port).
std::string tls_config(std::uint16_t upstream_port, const std::string& tls_extra = "") {
    const std::string up = "\"http://127.0.0.1:" + std::to_string(upstream_port) + "\"";
    return R"({
  "listen": {"address": "127.0.0.1", "port": 0,
             "tls": {"certificates": [{"cert_file": "site.pem", "key_file": "site.key"},
                                      {"cert_file": "other.pem", "key_file": "other.key"}])" +
           tls_extra + R"(}},
  "admin": {"address": "127.0.0.1", "port": 0},
  "workers": 2,
  "limits": {"header_timeout_ms": 700, "header_bytes": 8192},
  "consent": {"keys": [")" +
           std::string{cg::test::test_consent_key} + R"("],
              "journal": {"path": "consent-journal.jsonl"}},
  "redis": {"socket": "redis.sock"},
  "sites": [
    {"name": "a", "hosts": [")" +
           std::string{cg::test::site_host} + R"("], "upstream": )" + up +
           R"(, "analytics": {"enabled": false}},
    {"name": "b", "hosts": [")" +
           std::string{other_host} + R"("], "upstream": )" + up +
           R"(, "analytics": {"enabled": false}}
  ]
}
)";
}

/// A temp dir with a test CA and the two sites' certificates in it.
struct tls_dir {
    temp_dir dir{"cg-tls"};
    test_ca ca{dir.path()};
    tls_dir() {
        ca.issue("site", {std::string{cg::test::site_host}});
        ca.issue("other", {std::string{other_host}});
    }
};

tls_options to(std::string_view host, const std::filesystem::path& ca_file) {
    tls_options o;
    o.sni = host;
    o.ca_file = ca_file;
    return o;
}

std::string request(std::string_view method, std::string_view target, std::string_view host,
                    std::string_view fields = "", std::string_view body = "") {
    std::string r = std::string{method} + " " + std::string{target} +
                    " HTTP/1.1\r\nHost: " + std::string{host} + "\r\n" + std::string{fields};
    if (!body.empty() || method == "POST") {
        r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    return r + "\r\n" + std::string{body};
}

std::string header(const cg::test::raw_response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
        if (n == name) {
            return v;
        }
    }
    return {};
}

// A port nothing listens on right now (bound, read, closed).
std::uint16_t free_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a{ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}};
    return a.local_endpoint().port();
}

double metric(const gateway_process& g, std::string_view sample) {
    const auto m = cg::test::http_get(g.admin_port(), "localhost", "/metrics");
    return cg::test::metric(m.body, sample).value_or(-1);
}

TEST(Tls, EachSiteGetsTheCertificateItsSniNamesAndTheUpstreamHearsHttps) {
    test_upstream upstream;
    tls_dir t;
    gateway_process gateway{t.dir, tls_config(upstream.port())};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();

    const auto a = https_get(gateway.proxy_port(), cg::test::site_host, "/echo", t.ca.ca_file());
    EXPECT_EQ(a.handshake_error, "");
    EXPECT_EQ(a.peer_common_name, cg::test::site_host);
    EXPECT_EQ(a.protocol, "TLSv1.3");
    ASSERT_EQ(a.response.status, 200U) << a.response.ec.message();
    EXPECT_THAT(a.response.body, HasSubstr("X-Forwarded-Proto: https"));

    const auto b = https_get(gateway.proxy_port(), other_host, "/echo", t.ca.ca_file());
    EXPECT_EQ(b.handshake_error, "");
    EXPECT_EQ(b.peer_common_name, other_host);
    EXPECT_EQ(b.response.status, 200U);

    // A name no certificate has gets the first one (and so fails verification for that name).
    auto unknown = to("unknown.test", t.ca.ca_file());
    tls_client unknown_client{gateway.proxy_port(), unknown};
    const auto u = unknown_client.handshake_only();
    EXPECT_THAT(u.handshake_error, HasSubstr("hostname mismatch"));

    // TLS 1.2 with a forward-secret AEAD suite; TLS 1.1 is refused.
    auto v12 = to(cg::test::site_host, t.ca.ca_file());
    v12.max_version = TLS1_2_VERSION;
    tls_client client12{gateway.proxy_port(), v12};
    const auto r12 = client12.handshake_only();
    EXPECT_EQ(r12.handshake_error, "");
    EXPECT_EQ(r12.protocol, "TLSv1.2");
    EXPECT_THAT(r12.cipher, ::testing::StartsWith("ECDHE-"));
    auto v11 = to(cg::test::site_host, t.ca.ca_file());
    v11.max_version = TLS1_1_VERSION;
    tls_client old{gateway.proxy_port(), v11};
    EXPECT_NE(old.handshake_only().handshake_error, "");

    EXPECT_GE(metric(gateway, R"(cg_tls_handshakes_total{outcome="ok"})"), 3);
    EXPECT_GE(metric(gateway, R"(cg_tls_handshakes_total{outcome="failed"})"), 2);

    // The expiry alert's input: each certificate's notAfter (the test CA issues for 2 days).
    const auto body = cg::test::http_get(gateway.admin_port(), "localhost", "/metrics").body;
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    for (const std::string file : {"site.pem", "other.pem"}) {
        const auto expiry = cg::test::metric(
            body, "cg_tls_certificate_expiry_timestamp_seconds{certificate=\"" + file + "\"}");
        ASSERT_TRUE(expiry.has_value()) << file << "\n" << body;
        EXPECT_NEAR(*expiry, static_cast<double>(now + 2 * 86400), 3600.0) << file;
    }
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

TEST(Tls, ASecondConnectionResumesTheSession) {
    test_upstream upstream;
    tls_dir t;
    gateway_process gateway{t.dir, tls_config(upstream.port())};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    tls_client client{gateway.proxy_port(), to(cg::test::site_host, t.ca.ca_file())};
    const auto get = request("GET", "/echo", cg::test::site_host);
    const auto first = client.exchange(get);
    EXPECT_EQ(first.response.status, 200U);
    EXPECT_FALSE(first.session_reused);
    const auto second = client.exchange(get);
    EXPECT_EQ(second.response.status, 200U);
    EXPECT_TRUE(second.session_reused);
    EXPECT_GE(metric(gateway, "cg_tls_sessions_resumed_total"), 1);
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

TEST(Tls, BadOrStalledHandshakesDoNotDisturbOtherConnections) {
    test_upstream upstream;
    tls_dir t;
    gateway_process gateway{t.dir, tls_config(upstream.port())};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    const auto port = gateway.proxy_port();

    // Plain HTTP on the TLS port: the handshake fails and the connection is closed.
    cg::test::raw_client plain{port};
    ASSERT_FALSE(plain.send(request("GET", "/echo", cg::test::site_host)));
    EXPECT_TRUE(plain.closed_by_peer(3s));
    // A client that connects and never says hello is closed after header_timeout (700 ms)...
    cg::test::raw_client silent{port};
    // ... while others are served meanwhile.
    for (int i = 0; i < 5; ++i) {
        const auto r = https_get(port, cg::test::site_host, "/echo", t.ca.ca_file());
        EXPECT_EQ(r.response.status, 200U) << r.handshake_error;
    }
    EXPECT_TRUE(silent.closed_by_peer(3s));
    EXPECT_GE(metric(gateway, R"(cg_tls_handshakes_total{outcome="failed"})"), 2);
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

TEST(Tls, LimitsBodiesAndTheConsentCookieWorkOverTls) {
    test_upstream upstream;
    tls_dir t;
    gateway_process gateway{t.dir, tls_config(upstream.port())};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    tls_client client{gateway.proxy_port(), to(cg::test::site_host, t.ca.ca_file())};
    const auto host = cg::test::site_host;

    // A head over limits.header_bytes: 431, as on plain HTTP.
    const auto big = client.exchange(
        request("GET", "/echo", host, "X-Big: " + std::string(9000, 'x') + "\r\n"));
    EXPECT_EQ(big.response.status, 431U);

    // 3 MB up and 3 MB down (chunked), byte for byte.
    constexpr std::uint64_t n = 3'000'000;
    std::string body(n, '\0');
    cg::test::pattern_fill(body.data(), 0, body.size());
    const auto up = client.exchange(request("POST", "/upload", host, "", body));
    EXPECT_EQ(up.response.status, 200U);
    EXPECT_EQ(up.response.body, cg::test::upload_reply_for_pattern(n));
    const auto down = client.exchange(request("GET", "/chunked/3000000?size=65536", host));
    EXPECT_EQ(down.response.status, 200U);
    EXPECT_EQ(down.response.body_bytes, n);
    EXPECT_EQ(down.response.body_fnv1a, cg::test::pattern_fnv1a(n));

    // On HTTPS the consent cookie is __Host- prefixed and Secure.
    const auto decided = client.exchange(
        request("POST", "/_consent", host,
                "Content-Type: application/json\r\nOrigin: https://site.test\r\n",
                R"({"categories": ["analytics"]})"));
    ASSERT_EQ(decided.response.status, 200U)
        << decided.response.body << decided.response.ec.message() << decided.handshake_error;
    const auto cookie = header(decided.response, "Set-Cookie");
    EXPECT_TRUE(cookie.starts_with("__Host-cg_consent=")) << cookie;
    EXPECT_THAT(cookie, HasSubstr("; Secure"));
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

TEST(Tls, ThePlainRedirectListenerSendsEveryConfiguredHostToHttps) {
    test_upstream upstream;
    tls_dir t;
    const std::uint16_t redirect_port = free_port();
    gateway_process gateway{
        t.dir, tls_config(upstream.port(), ", \"redirect_port\": " + std::to_string(redirect_port))};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();

    const auto r = cg::test::http_get(redirect_port, cg::test::site_host, "/shop/item?id=7");
    EXPECT_EQ(r.status, 308U);
    EXPECT_EQ(header(r, "Location"), "https://site.test:" + std::to_string(gateway.proxy_port()) +
                                         "/shop/item?id=7");
    const auto unknown = cg::test::http_get(redirect_port, "evil.test", "/");
    EXPECT_NE(unknown.status, 308U);
    EXPECT_EQ(header(unknown, "Location"), "");
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

TEST(Tls, SighupLoadsRenewedCertificates) {
    test_upstream upstream;
    tls_dir t;
    gateway_process gateway{t.dir, tls_config(upstream.port())};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    const auto before = https_get(gateway.proxy_port(), cg::test::site_host, "/echo",
                                  t.ca.ca_file());
    EXPECT_EQ(before.peer_dns_names, std::vector<std::string>{std::string{cg::test::site_host}});

    t.ca.issue("site", {std::string{cg::test::site_host}, "www.site.test"});  // renewed in place
    ASSERT_TRUE(gateway.child().signal(SIGHUP));
    EXPECT_EQ(cg::test::await_metric(gateway.admin_port(), "cg_config_generation", 2, 5s), 2)
        << gateway.output();
    const auto after = https_get(gateway.proxy_port(), cg::test::site_host, "/echo",
                                 t.ca.ca_file());
    EXPECT_EQ(after.response.status, 200U);
    EXPECT_EQ(after.peer_dns_names,
              (std::vector<std::string>{std::string{cg::test::site_host}, "www.site.test"}));

    // A key that does not match its certificate is refused; the renewed pair stays in use.
    std::filesystem::copy_file(t.dir.path() / "other.key", t.dir.path() / "site.key",
                               std::filesystem::copy_options::overwrite_existing);
    ASSERT_TRUE(gateway.child().signal(SIGHUP));
    EXPECT_TRUE(gateway.child().wait_for_stdout("/listen/tls/certificates/0: key_file", 5s))
        << gateway.output();
    const auto still = https_get(gateway.proxy_port(), cg::test::site_host, "/echo",
                                 t.ca.ca_file());
    EXPECT_EQ(still.response.status, 200U);
    EXPECT_EQ(still.peer_dns_names.size(), 2U);
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

TEST(Tls, CheckConfigNamesACertificateThatCannotBeUsed) {
    test_upstream upstream;
    tls_dir t;
    std::filesystem::remove(t.dir.path() / "other.pem");
    cg::test::write_file(t.dir.path() / "bad.json", tls_config(upstream.port()));
    const auto run = cg::test::run_gateway(t.dir, {"--check-config", "bad.json"});
    EXPECT_EQ(run.exit, 2);
    EXPECT_THAT(run.err, HasSubstr("/listen/tls/certificates/1"));
    EXPECT_THAT(run.err, HasSubstr("other.pem"));
}

// A WebSocket conversation over TLS: the client verifies the certificate, upgrades /ws, and
// each message comes back from the upstream's echo through the gateway's tunnel. `echoes`
// gets what came back; an exception ends it early (the caller sees fewer echoes).
boost::asio::awaitable<void> websocket_over_tls(std::uint16_t port, std::string ca_file,
                                                std::vector<std::string> messages,
                                                std::vector<std::string>& echoes) {
    namespace net = boost::asio;
    namespace beast = boost::beast;
    auto ex = co_await net::this_coro::executor;
    net::ssl::context ctx{net::ssl::context::tls_client};
    ctx.load_verify_file(ca_file);
    ctx.set_verify_mode(net::ssl::verify_peer);
    beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws{ex, ctx};
    const std::string host{cg::test::site_host};
    // SSL_set_tlsext_host_name without the macro's C-style cast.
    SSL_ctrl(ws.next_layer().native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
             TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
    ws.next_layer().set_verify_callback(net::ssl::host_name_verification(host));
    beast::get_lowest_layer(ws).expires_after(10s);
    co_await beast::get_lowest_layer(ws).async_connect(
        net::ip::tcp::endpoint{net::ip::make_address("127.0.0.1"), port}, net::use_awaitable);
    co_await ws.next_layer().async_handshake(net::ssl::stream_base::client, net::use_awaitable);
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(beast::websocket::stream_base::timeout::suggested(beast::role_type::client));
    co_await ws.async_handshake(host, "/ws", net::use_awaitable);
    for (const auto& m : messages) {
        ws.binary(m.size() > 100);
        co_await ws.async_write(net::buffer(m), net::use_awaitable);
        beast::flat_buffer in;
        co_await ws.async_read(in, net::use_awaitable);
        echoes.push_back(beast::buffers_to_string(in.data()));
    }
    co_await ws.async_close(beast::websocket::close_code::normal, net::use_awaitable);
}

TEST(Tls, AWebSocketTunnelWorksOverTls) {
    test_upstream upstream;
    tls_dir t;
    gateway_process gateway{t.dir, tls_config(upstream.port())};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    const std::vector<std::string> messages{"hello", cg::test::pattern(300'000), "blåbær"};
    std::vector<std::string> echoes;
    std::string failure;
    bool finished = false;
    boost::asio::io_context ioc;
    boost::asio::co_spawn(
        ioc,
        websocket_over_tls(gateway.proxy_port(), t.ca.ca_file().string(), messages, echoes),
        [&](const std::exception_ptr& e) {
            finished = true;
            try {
                if (e) {
                    std::rethrow_exception(e);
                }
            } catch (const std::exception& x) {
                failure = x.what();
            }
        });
    ioc.run_for(20s);
    ASSERT_TRUE(finished) << "the conversation did not end within 20 s";
    EXPECT_EQ(failure, "") << gateway.output();
    ASSERT_EQ(echoes.size(), messages.size());
    for (std::size_t i = 0; i < messages.size(); ++i) {
        EXPECT_TRUE(echoes[i] == messages[i]) << "message " << i;
    }
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

}  // namespace
