#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/system/system_error.hpp>

#include "support/child_process.hpp"
#include "support/raw_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_upstream.hpp"
#include "support/tls.hpp"

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using namespace std::chrono_literals;
using cg::test::child_process;
using cg::test::raw_client;
using cg::test::read_options;
using cg::test::temp_dir;
using cg::test::test_upstream;
using headers = std::vector<std::pair<std::string, std::string>>;

std::string get(std::string_view target, std::string_view extra = "") {
    return "GET " + std::string{target} + " HTTP/1.1\r\nHost: up\r\n" + std::string{extra} + "\r\n";
}

/// True when `pid` no longer runs: gone, or a zombie nobody has reaped yet.
bool process_gone(long pid) {
    std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
    std::string text;
    if (!std::getline(stat, text)) {
        return true;
    }
    const auto paren = text.rfind(')');
    return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

TEST(TestUpstream, EchoListsMethodTargetHeadersInOrderAndBodySize) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(
        "POST /echo?x=1 HTTP/1.1\r\nHost: up\r\nX-B: 2\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n"
        "hello"));

    const auto res = client.read_response();

    ASSERT_FALSE(res.ec) << res.ec.message();
    EXPECT_EQ(res.status, 200U);
    EXPECT_EQ(res.header("content-type"), "text/plain");
    EXPECT_EQ(res.body,
              "POST /echo?x=1\nHost: up\nX-B: 2\nX-A: 1\nContent-Length: 5\nbody-bytes: 5\n");
    EXPECT_EQ(res.header("Content-Length"), std::to_string(res.body.size()));
    const auto last = upstream.last_request();
    EXPECT_EQ(last.method, "POST");
    EXPECT_EQ(last.target, "/echo?x=1");
    EXPECT_EQ(last.headers,
              (headers{{"Host", "up"}, {"X-B", "2"}, {"X-A", "1"}, {"Content-Length", "5"}}));
    EXPECT_EQ(last.body_bytes, 5U);
}

TEST(TestUpstream, EchoCountsAChunkedRequestBody) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(
        client.send("PUT /echo HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n"));
    ASSERT_FALSE(client.send_pattern_chunked(10000, 3000));

    const auto res = client.read_response();

    ASSERT_FALSE(res.ec) << res.ec.message();
    EXPECT_NE(res.body.find("body-bytes: 10000\n"), std::string::npos) << res.body;
}

TEST(TestUpstream, BytesServesThePatternWithContentLength) {
    test_upstream upstream;

    const auto res = cg::test::http_get(upstream.port(), "up", "/bytes/100000");

    ASSERT_FALSE(res.ec) << res.ec.message();
    EXPECT_EQ(res.status, 200U);
    EXPECT_EQ(res.header("Content-Length"), "100000");
    EXPECT_FALSE(res.chunked);
    ASSERT_EQ(res.body.size(), 100000U);
    EXPECT_EQ(res.body.substr(0, 28), "abcdefghijklmnopqrstuvwxyzab");
    EXPECT_EQ(res.body_fnv1a, cg::test::pattern_fnv1a(100000));
}

TEST(TestUpstream, BytesStreamsFiftyMegabytes) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/bytes/50000000")));
    read_options count_only;
    count_only.count_body_only = true;

    const auto res = client.read_response(60s, count_only);

    ASSERT_FALSE(res.ec) << res.ec.message();
    EXPECT_TRUE(res.body.empty());
    EXPECT_EQ(res.body_bytes, 50000000U);
    EXPECT_EQ(res.body_fnv1a, cg::test::pattern_fnv1a(50000000));
}

TEST(TestUpstream, ChunkedSendsChunksOfTheRequestedSize) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/chunked/2500?size=1000", "Connection: close\r\n")));

    boost::system::error_code ec;
    const auto wire = client.read_until_eof(5s, &ec);

    EXPECT_EQ(ec, net::error::eof);
    EXPECT_NE(wire.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << wire;
    const auto body = wire.substr(wire.find("\r\n\r\n") + 4);
    std::string expected(2500, '\0');
    cg::test::pattern_fill(expected.data(), 0, expected.size());
    EXPECT_EQ(body, "3e8\r\n" + expected.substr(0, 1000) + "\r\n3e8\r\n" +
                        expected.substr(1000, 1000) + "\r\n1f4\r\n" + expected.substr(2000) +
                        "\r\n0\r\n\r\n");
}

TEST(TestUpstream, ChunkedBodyDecodesToThePattern) {
    test_upstream upstream;

    const auto res = cg::test::http_get(upstream.port(), "up", "/chunked/100000");

    ASSERT_FALSE(res.ec) << res.ec.message();
    EXPECT_TRUE(res.chunked);
    EXPECT_FALSE(res.header("Content-Length"));
    EXPECT_EQ(res.body_bytes, 100000U);
    EXPECT_EQ(res.body_fnv1a, cg::test::pattern_fnv1a(100000));
}

TEST(TestUpstream, Status204HasNoBodyAndNoContentLengthAndKeepsTheConnection) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/status/204") + get("/status/304") + get("/status/503")));

    const auto no_content = client.read_response();
    const auto not_modified = client.read_response();
    const auto unavailable = client.read_response();

    ASSERT_FALSE(no_content.ec) << no_content.ec.message();
    EXPECT_EQ(no_content.status, 204U);
    EXPECT_EQ(no_content.header_count("Content-Length"), 0U);
    EXPECT_EQ(no_content.header_count("Transfer-Encoding"), 0U);
    EXPECT_TRUE(no_content.keep_alive);
    EXPECT_EQ(not_modified.status, 304U);
    EXPECT_EQ(not_modified.header_count("Content-Length"), 0U);
    EXPECT_EQ(unavailable.status, 503U);
    EXPECT_EQ(unavailable.header("Content-Length"), "0");
    EXPECT_EQ(upstream.connections_accepted(), 1U);
    EXPECT_EQ(upstream.requests_served(), 3U);
}

TEST(TestUpstream, HeadOfBytesHasTheContentLengthAndNoBody) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send("HEAD /bytes/10 HTTP/1.1\r\nHost: up\r\n\r\n" + get("/bytes/3")));
    read_options head;
    head.head = true;

    const auto headers_only = client.read_response(5s, head);
    const auto next = client.read_response();

    ASSERT_FALSE(headers_only.ec) << headers_only.ec.message();
    EXPECT_EQ(headers_only.header("Content-Length"), "10");
    EXPECT_TRUE(headers_only.body.empty());
    EXPECT_EQ(next.body, "abc");
}

TEST(TestUpstream, UploadHashesTheRequestBody) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    constexpr std::uint64_t size = 3'000'000;
    ASSERT_FALSE(client.send("POST /upload HTTP/1.1\r\nHost: up\r\nContent-Length: " +
                             std::to_string(size) + "\r\n\r\n"));
    ASSERT_FALSE(client.send_pattern_body(size));

    const auto res = client.read_response();

    ASSERT_FALSE(res.ec) << res.ec.message();
    EXPECT_EQ(res.body, cg::test::upload_reply_for_pattern(size));
    EXPECT_EQ(upstream.last_request().body_bytes, size);
}

TEST(TestUpstream, UploadAnswersExpectContinueFirst) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(
        "POST /upload HTTP/1.1\r\nHost: up\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));

    const auto interim = client.read_response();
    ASSERT_FALSE(client.send("abcd"));
    const auto final_response = client.read_response();

    EXPECT_EQ(interim.status, 100U);
    EXPECT_EQ(final_response.body, cg::test::upload_reply_for_pattern(4));
}

TEST(TestUpstream, WebSocketEchoesTextAndBinary) {
    test_upstream upstream;
    net::io_context ioc;
    websocket::stream<net::ip::tcp::socket> ws{ioc};
    ws.next_layer().connect({net::ip::make_address_v4("127.0.0.1"), upstream.port()});
    ws.handshake("127.0.0.1", "/ws");
    beast::flat_buffer buffer;

    ws.text(true);
    ws.write(net::buffer(std::string_view{"hello"}));
    ws.read(buffer);
    EXPECT_TRUE(ws.got_text());
    EXPECT_EQ(beast::buffers_to_string(buffer.data()), "hello");
    buffer.clear();
    ws.binary(true);
    ws.write(net::buffer(std::string_view{"\x01\x02", 2}));
    ws.read(buffer);
    EXPECT_TRUE(ws.got_binary());
    EXPECT_EQ(beast::buffers_to_string(buffer.data()), std::string("\x01\x02", 2));
    ws.close(websocket::close_code::normal);

    EXPECT_EQ(upstream.last_request().target, "/ws");
}

TEST(TestUpstream, KeepAliveReusesOneConnection) {
    test_upstream upstream;
    raw_client first{upstream.port()};
    for (int i = 0; i < 3; ++i) {
        ASSERT_FALSE(first.send(get("/status/200")));
        ASSERT_EQ(first.read_response().status, 200U);
    }
    raw_client second{upstream.port()};
    ASSERT_FALSE(second.send(get("/nowhere")));

    EXPECT_EQ(second.read_response().status, 404U);
    EXPECT_EQ(upstream.connections_accepted(), 2U);
    EXPECT_EQ(upstream.requests_served(), 4U);
    EXPECT_EQ(upstream.open_connections(), 2U);
}

TEST(TestUpstream, IdleCloseClosesAnIdleKeepAliveConnection) {
    test_upstream upstream;
    upstream.set_idle_close(100ms);
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/status/200")));
    ASSERT_TRUE(client.read_response().keep_alive);

    EXPECT_TRUE(client.closed_by_peer(3s));
}

TEST(TestUpstream, MaxRequestsPerConnectionClosesAfterTheLast) {
    cg::test::test_upstream_options options;
    options.max_requests_per_connection = 2;
    test_upstream upstream{options};
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/status/200") + get("/status/200")));

    EXPECT_TRUE(client.read_response().keep_alive);
    const auto last = client.read_response();
    EXPECT_FALSE(last.keep_alive);
    EXPECT_EQ(last.header("Connection"), "close");
    EXPECT_TRUE(client.closed_by_peer(3s));
}

TEST(TestUpstream, OpenKeepAliveConnectionIsNotReportedClosed) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/status/200")));
    ASSERT_EQ(client.read_response().status, 200U);

    EXPECT_FALSE(client.closed_by_peer(100ms));
    ASSERT_FALSE(client.send(get("/status/201")));
    EXPECT_EQ(client.read_response().status, 201U);
}

TEST(TestUpstream, HeadersCarriesHopByHopFieldsAndAnEndToEndOne) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/headers")));

    const auto res = client.read_response();

    ASSERT_FALSE(res.ec) << res.ec.message();
    EXPECT_EQ(res.header("Connection"), "keep-alive, X-Hop");
    EXPECT_EQ(res.header("X-Hop"), "secret");
    EXPECT_EQ(res.header("Keep-Alive"), "timeout=5");
    EXPECT_EQ(res.header("Proxy-Authenticate"), "Basic");
    EXPECT_EQ(res.header("Trailer"), "X-T");
    EXPECT_EQ(res.header("Upgrade"), "h2c");
    EXPECT_EQ(res.header("X-End"), "kept");
    EXPECT_TRUE(res.keep_alive);
}

TEST(TestUpstream, CloseAnswersThenCloses) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/close")));

    const auto res = client.read_response();

    EXPECT_EQ(res.body, "closing");
    EXPECT_FALSE(res.keep_alive);
    EXPECT_TRUE(client.closed_by_peer(3s));
}

TEST(TestUpstream, DropClosesWithoutAnswering) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/drop")));

    const auto res = client.read_response();

    EXPECT_TRUE(res.ec);
    EXPECT_EQ(res.status, 0U);
    EXPECT_EQ(upstream.requests_served(), 1U);
}

TEST(TestUpstream, HangNeverAnswers) {
    test_upstream upstream;
    raw_client client{upstream.port()};
    ASSERT_FALSE(client.send(get("/hang")));

    const auto res = client.read_response(200ms);

    EXPECT_EQ(res.ec, net::error::timed_out);
    EXPECT_EQ(upstream.last_request().target, "/hang");
}

TEST(TestUpstream, SleepWaitsBeforeAnswering) {
    test_upstream upstream;
    const auto start = std::chrono::steady_clock::now();

    const auto res = cg::test::http_get(upstream.port(), "up", "/sleep/100");

    EXPECT_EQ(res.body, "slept");
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
}

TEST(TestUpstream, DestructorReturnsWithConnectionsOpen) {
    auto upstream = std::make_unique<test_upstream>();
    raw_client hanging{upstream->port()};
    ASSERT_FALSE(hanging.send(get("/hang")));
    raw_client sleeping{upstream->port()};
    ASSERT_FALSE(sleeping.send(get("/sleep/60000")));
    while (upstream->requests_served() < 2) {
        std::this_thread::sleep_for(1ms);
    }

    upstream.reset();

    EXPECT_TRUE(hanging.closed_by_peer(3s));
    EXPECT_TRUE(sleeping.closed_by_peer(3s));
}

TEST(RawClient, ConnectToAClosedPortThrows) {
    std::uint16_t port = 0;
    {
        test_upstream upstream;
        port = upstream.port();
    }
    EXPECT_THROW(raw_client{port}, boost::system::system_error);
    EXPECT_TRUE(cg::test::http_get(port, "up", "/").ec);
}

TEST(ChildProcess, WaitsForOutputAndTerminatesOnDestruction) {
    temp_dir dir;
    pid_t pid = 0;
    {
        child_process child{"/bin/sh", {"-c", "echo hi; sleep 30"}, dir.path()};
        pid = child.pid();
        ASSERT_TRUE(child.wait_for_stdout("hi", 5s)) << child.stderr_text();
        EXPECT_TRUE(child.running());
        EXPECT_GT(child.rss_kib(), 0);
        EXPECT_EQ(child.stdout_text(), "hi\n");
        EXPECT_EQ(child.stdout_path(), dir.path() / "sh.stdout");
    }
    EXPECT_TRUE(process_gone(pid));
}

TEST(ChildProcess, DestructorAlsoStopsGrandchildren) {
    temp_dir dir;
    std::string out;
    {
        child_process child{"sh", {"-c", "sleep 30 & echo sleeper=$!; wait"}, dir.path()};
        ASSERT_TRUE(child.wait_for_stdout("\n", 5s));
        out = child.stdout_text();
    }
    const long sleeper = std::stol(out.substr(out.find('=') + 1));
    for (int i = 0; i < 100 && !process_gone(sleeper); ++i) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(process_gone(sleeper));
}

TEST(ChildProcess, ReportsExitStatusSignalAndStderr) {
    temp_dir dir;
    child_process exits{"/bin/sh", {"-c", "echo oops >&2; exit 3"}, dir.path(), "exits"};
    child_process killed{"/bin/sh", {"-c", "sleep 30"}, dir.path(), "killed"};

    EXPECT_EQ(exits.wait_exit(5s), 3);
    EXPECT_EQ(exits.stderr_text(), "oops\n");
    EXPECT_FALSE(exits.running());
    EXPECT_FALSE(exits.wait_for_stdout("never", 5s));
    EXPECT_EQ(killed.wait_exit(50ms), std::nullopt);
    EXPECT_TRUE(killed.signal(SIGKILL));
    EXPECT_EQ(killed.wait_exit(5s), -SIGKILL);
}

TEST(ChildProcess, RunsInTheWorkdir) {
    temp_dir dir;
    child_process child{"/bin/sh", {"-c", "pwd"}, dir.path()};

    ASSERT_EQ(child.wait_exit(5s), 0);
    EXPECT_EQ(child.stdout_text(), dir.path().string() + "\n");
}

TEST(ChildProcess, MissingProgramThrows) {
    temp_dir dir;
    EXPECT_THROW(child_process("/nonexistent/cg-gateway", {}, dir.path()), std::system_error);
}

TEST(ListeningPort, FindsEachListenerInTheStartupLog) {
    const std::string log =
        R"({"time":"2024-01-01T00:00:00Z","level":"info","msg":"starting","listener":"proxy"})"
        "\n"
        R"({"time":"2024-01-01T00:00:00Z","level":"info","msg":"listening","listener":"proxy",)"
        R"("address":"127.0.0.1","port":41234})"
        "\n"
        R"({"time":"2024-01-01T00:00:00Z","level":"info","msg":"listening","listener":"admin",)"
        R"("address":"127.0.0.1","port":41235})"
        "\n";

    EXPECT_EQ(cg::test::listening_port(log, "proxy"), 41234);
    EXPECT_EQ(cg::test::listening_port(log, "admin"), 41235);
    EXPECT_EQ(cg::test::listening_port(log, "metrics"), std::nullopt);
    EXPECT_EQ(cg::test::listening_port("", "proxy"), std::nullopt);
}

TEST(ListeningPort, IgnoresALineStillBeingWritten) {
    const std::string partial = R"({"msg":"listening","listener":"proxy","port":412)";

    EXPECT_EQ(cg::test::listening_port(partial, "proxy"), std::nullopt);
    EXPECT_EQ(cg::test::listening_port(partial + "34}", "proxy"), 41234);
}

TEST(ListeningPort, WaitsForTheChildToLogIt) {
    temp_dir dir;
    child_process child{
        "/bin/sh",
        {"-c", R"(sleep 0.1; echo '{"msg":"listening","listener":"admin","port":8081}'; sleep 30)"},
        dir.path()};

    EXPECT_EQ(cg::test::wait_for_listening_port(child, "admin", 5s), 8081);
}

TEST(TempDir, IsRemovedWithItsContents) {
    std::filesystem::path path;
    {
        temp_dir dir{"cg-selftest"};
        path = dir.path();
        std::filesystem::create_directories(dir / "a" / "b");
        std::ofstream{dir / "a" / "b" / "file"} << "x";
        EXPECT_TRUE(std::filesystem::is_directory(path));
        EXPECT_EQ(path.filename().string().rfind("cg-selftest-", 0), 0U);
    }
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Pattern, FillsFromAnyOffset) {
    std::string text(5, '\0');
    cg::test::pattern_fill(text.data(), 24, text.size());

    EXPECT_EQ(text, "yzabc");
    EXPECT_EQ(cg::test::pattern_fnv1a(0), cg::test::fnv1a::offset_basis);
    EXPECT_EQ(cg::test::hex64(0xab), "00000000000000ab");
}

/// `openssl s_server` on an ephemeral loopback port, run in `dir`: with "-www" it answers each
/// GET with a status page (close-delimited) that says "Reused" for a resumed session; with
/// "-HTTP" it sends the file named by the path as a complete response.
class s_server {
  public:
    s_server(const temp_dir& dir,
             const std::pair<std::filesystem::path, std::filesystem::path>& cert,
             std::vector<std::string> mode) {
        std::vector<std::string> args{"s_server", "-accept", "127.0.0.1:0"};
        args.insert(args.end(), {"-cert", cert.first.string(), "-key", cert.second.string()});
        args.insert(args.end(), mode.begin(), mode.end());
        child_.emplace("openssl", std::move(args), dir.path(), "s_server");
        // It prints "ACCEPT 127.0.0.1:PORT" once listening.
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (port_ == 0 && std::chrono::steady_clock::now() < deadline && child_->running()) {
            const auto text = child_->stdout_text();
            const auto at = text.find("ACCEPT 127.0.0.1:");
            const auto end = text.find('\n', at);
            if (at != std::string::npos && end != std::string::npos) {
                port_ = static_cast<std::uint16_t>(std::stoul(text.substr(at + 17, end - at - 17)));
            } else {
                std::this_thread::sleep_for(10ms);
            }
        }
    }
    std::uint16_t port() const { return port_; }
    std::string stderr_text() const { return child_->stderr_text(); }

  private:
    std::optional<child_process> child_;
    std::uint16_t port_ = 0;
};

const std::vector<std::string> www{"-www"};

/// Options sending SNI `sni` and verifying against `ca_file` (empty: no verification).
cg::test::tls_options tls_to(std::string sni, std::filesystem::path ca_file = {}) {
    cg::test::tls_options options;
    options.sni = std::move(sni);
    options.ca_file = std::move(ca_file);
    return options;
}

TEST(TlsSupport, CaIssuedCertificateVerifiesAndReportsItsNames) {
    temp_dir dir;
    const cg::test::test_ca ca{dir / "pki"};
    const s_server server{dir, ca.issue("site", {"localhost", "www.localhost"}), www};
    ASSERT_NE(server.port(), 0) << server.stderr_text();

    const auto result = cg::test::https_get(server.port(), "localhost", "/", ca.ca_file());

    EXPECT_EQ(result.handshake_error, "");
    ASSERT_FALSE(result.response.ec) << result.response.ec.message();
    EXPECT_EQ(result.response.status, 200U);
    EXPECT_NE(result.response.body.find("Cipher"), std::string::npos) << result.response.body;
    EXPECT_EQ(result.peer_common_name, "localhost");
    EXPECT_EQ(result.peer_dns_names, (std::vector<std::string>{"localhost", "www.localhost"}));
    EXPECT_EQ(result.protocol, "TLSv1.3");
    EXPECT_FALSE(result.cipher.empty());
    EXPECT_FALSE(result.session_reused);
}

TEST(TlsSupport, ChecksTheHostAgainstEverySubjectAltName) {
    temp_dir dir;
    const cg::test::test_ca ca{dir / "pki"};
    const s_server server{dir, ca.issue("site", {"localhost", "www.localhost"}), www};
    ASSERT_NE(server.port(), 0) << server.stderr_text();

    const auto second_name = cg::test::https_get(server.port(), "www.localhost", "/", ca.ca_file());
    auto other_host = tls_to("localhost", ca.ca_file());
    other_host.verify_host = "other.test";
    cg::test::tls_client other{server.port(), other_host};
    const auto wrong_host = other.exchange("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");

    EXPECT_EQ(second_name.handshake_error, "");
    EXPECT_EQ(second_name.response.status, 200U);
    EXPECT_EQ(wrong_host.handshake_error, "certificate verify failed: hostname mismatch");
    EXPECT_TRUE(wrong_host.response.ec);
    EXPECT_EQ(wrong_host.response.status, 0U);
}

TEST(TlsSupport, SelfSignedCertificateFailsVerificationUnlessUnchecked) {
    temp_dir dir;
    const cg::test::test_ca ca{dir / "pki"};
    const s_server server{dir, ca.self_signed("rogue", {"localhost"}), www};
    ASSERT_NE(server.port(), 0) << server.stderr_text();

    const auto checked = cg::test::https_get(server.port(), "localhost", "/", ca.ca_file());
    const auto unchecked = cg::test::https_get(server.port(), "localhost", "/", {});

    EXPECT_EQ(checked.handshake_error, "certificate verify failed: self-signed certificate");
    EXPECT_EQ(checked.response.ec.category().name(), std::string{"openssl"});
    EXPECT_EQ(unchecked.handshake_error, "");
    EXPECT_EQ(unchecked.response.status, 200U);
    EXPECT_EQ(unchecked.peer_common_name, "localhost");
}

TEST(TlsSupport, SecondExchangeResumesTheSession) {
    temp_dir dir;
    const cg::test::test_ca ca{dir / "pki"};
    const s_server server{dir, ca.issue("site", {"localhost"}), www};
    ASSERT_NE(server.port(), 0) << server.stderr_text();

    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        SCOPED_TRACE(version);
        auto options = tls_to("localhost", ca.ca_file());
        options.min_version = version;
        options.max_version = version;
        cg::test::tls_client client{server.port(), options};
        const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

        const auto first = client.exchange(request);
        const auto second = client.exchange(request);

        ASSERT_EQ(first.handshake_error, "");
        ASSERT_FALSE(first.response.ec) << first.response.ec.message();
        EXPECT_EQ(first.protocol, version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
        EXPECT_FALSE(first.session_reused);
        ASSERT_FALSE(second.response.ec) << second.response.ec.message();
        EXPECT_TRUE(second.session_reused);
        EXPECT_NE(second.response.body.find("Reused,"), std::string::npos);
    }
}

TEST(TlsSupport, ReadsContentLengthAndChunkedResponses) {
    temp_dir dir;
    const cg::test::test_ca ca{dir / "pki"};
    std::ofstream{dir / "length.txt"}
        << "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello";
    std::ofstream{dir / "chunked.txt"}
        << "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    const s_server server{dir, ca.issue("site", {"localhost"}), {"-HTTP"}};
    ASSERT_NE(server.port(), 0) << server.stderr_text();
    cg::test::tls_client client{server.port(), tls_to("localhost", ca.ca_file())};

    const auto length = client.exchange("GET /length.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const auto chunked = client.exchange("GET /chunked.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");

    ASSERT_FALSE(length.response.ec) << length.response.ec.message();
    EXPECT_EQ(length.response.headers, (headers{{"Content-Length", "5"}, {"X-A", "1"}}));
    EXPECT_EQ(length.response.body, "hello");
    EXPECT_TRUE(length.response.keep_alive);
    ASSERT_FALSE(chunked.response.ec) << chunked.response.ec.message();
    EXPECT_TRUE(chunked.response.chunked);
    EXPECT_EQ(chunked.response.body, "abcde");
    EXPECT_EQ(chunked.response.body_bytes, 5U);
}

TEST(TlsSupport, OffersTls11OnlyWhenAsked) {
    temp_dir dir;
    const cg::test::test_ca ca{dir / "pki"};
    const auto cert = ca.issue("site", {"localhost"});
    const s_server modern{dir, cert, www};
    const s_server legacy{dir, cert, {"-www", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}};
    ASSERT_NE(modern.port(), 0) << modern.stderr_text();
    ASSERT_NE(legacy.port(), 0) << legacy.stderr_text();
    auto tls11 = tls_to("localhost", ca.ca_file());
    tls11.max_version = TLS1_1_VERSION;
    auto tls12 = tls_to("localhost");
    tls12.max_version = TLS1_2_VERSION;

    const auto accepted = cg::test::tls_client{legacy.port(), tls11}.handshake_only();
    const auto refused = cg::test::tls_client{modern.port(), tls11}.handshake_only();
    const auto modern_tls12 = cg::test::tls_client{modern.port(), tls12}.handshake_only();

    EXPECT_EQ(accepted.handshake_error, "");
    EXPECT_EQ(accepted.protocol, "TLSv1.1");
    EXPECT_NE(refused.handshake_error, "");
    EXPECT_TRUE(refused.response.ec);
    EXPECT_EQ(modern_tls12.handshake_error, "");
    EXPECT_EQ(modern_tls12.protocol, "TLSv1.2");
    EXPECT_EQ(modern_tls12.peer_common_name, "localhost");
    EXPECT_FALSE(modern_tls12.response.ec);
    EXPECT_EQ(modern_tls12.response.status, 0U);
}

TEST(TlsSupport, ReportsRefusedConnectionsAndSilentServers) {
    net::io_context ioc;
    net::ip::tcp::acceptor silent{ioc, {net::ip::make_address_v4("127.0.0.1"), 0}};
    std::uint16_t closed_port = 0;
    {
        net::ip::tcp::acceptor closed{ioc, {net::ip::make_address_v4("127.0.0.1"), 0}};
        closed_port = closed.local_endpoint().port();
    }

    const auto refused = cg::test::tls_client{closed_port, {}}.handshake_only();
    const auto start = std::chrono::steady_clock::now();
    auto impatient = tls_to("");
    impatient.timeout = 300ms;
    const auto timed_out = cg::test::tls_client{silent.local_endpoint().port(), impatient}.exchange(
        "GET / HTTP/1.1\r\n\r\n");
    const auto took = std::chrono::steady_clock::now() - start;

    EXPECT_EQ(refused.response.ec, boost::system::errc::connection_refused);
    EXPECT_NE(refused.handshake_error.find("Connection refused"), std::string::npos);
    EXPECT_EQ(timed_out.response.ec, net::error::timed_out);
    EXPECT_EQ(timed_out.handshake_error, "timed out");
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 3s);
}

TEST(TlsSupport, TestCaRejectsNamesItCannotWriteSafely) {
    temp_dir dir;
    const cg::test::test_ca ca{dir.path()};

    EXPECT_THROW(ca.issue("site", {}), std::invalid_argument);
    EXPECT_THROW(ca.issue("site", {"a b"}), std::invalid_argument);
    EXPECT_THROW(ca.issue("../site", {"localhost"}), std::invalid_argument);
    EXPECT_THROW(ca.issue("ca", {"localhost"}), std::invalid_argument);
    EXPECT_TRUE(std::filesystem::exists(ca.ca_file()));
}

}  // namespace
