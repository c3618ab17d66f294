#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

#include "gateway_process.hpp"
#include "support/pattern.hpp"
#include "support/test_upstream.hpp"

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using boost::system::error_code;
using cg::test::gateway_config;
using cg::test::gateway_process;
using cg::test::temp_dir;
using cg::test::test_upstream;

inline constexpr auto use_ec = net::as_tuple(net::use_awaitable);

struct message {
    bool text = true;
    std::string payload;
    bool operator==(const message&) const = default;
};

/// What one WebSocket conversation through the gateway produced.
struct conversation {
    std::string failed_step;  ///< empty when every step succeeded
    error_code ec;
    std::vector<message> echoes;
    bool closed = false;
};

/// Connects, upgrades with Host site.test and target /ws, sends each message and reads its
/// echo, then closes with a close handshake.
net::awaitable<void> talk(std::uint16_t port, const std::vector<message>& messages,
                          conversation& out) {
    auto fail = [&out](const char* step, error_code ec) {
        out.failed_step = step;
        out.ec = ec;
    };
    websocket::stream<beast::tcp_stream> ws{co_await net::this_coro::executor};
    auto& tcp_layer = beast::get_lowest_layer(ws);
    tcp_layer.expires_after(5s);
    if (auto [ec] = co_await tcp_layer.async_connect(
            tcp::endpoint{net::ip::make_address_v4("127.0.0.1"), port}, use_ec);
        ec) {
        co_return fail("connect", ec);
    }
    // websocket::stream runs its own timers once the TCP layer's are off (Beast docs).
    tcp_layer.expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = 5s;
    timeouts.idle_timeout = 10s;
    timeouts.keep_alive_pings = false;
    ws.set_option(timeouts);
    ws.read_message_max(4 * 1024 * 1024);
    if (auto [ec] = co_await ws.async_handshake(std::string{cg::test::site_host}, "/ws", use_ec);
        ec) {
        co_return fail("handshake", ec);
    }
    for (const auto& m : messages) {
        ws.text(m.text);
        if (auto [ec, n] = co_await ws.async_write(net::buffer(m.payload), use_ec); ec) {
            co_return fail("write", ec);
        }
        beast::flat_buffer buffer;
        if (auto [ec, n] = co_await ws.async_read(buffer, use_ec); ec) {
            co_return fail("read", ec);
        }
        out.echoes.push_back({ws.got_text(), beast::buffers_to_string(buffer.data())});
    }
    if (auto [ec] = co_await ws.async_close(websocket::close_code::normal, use_ec); ec) {
        co_return fail("close", ec);
    }
    out.closed = true;
}

std::string every_byte_value() {
    std::string s;
    for (int i = 0; i < 256; ++i) {
        s.push_back(static_cast<char>(i));
    }
    return s;
}

TEST(WebSocketProxy, EchoesTextAndBinaryMessagesAndClosesCleanly) {
    test_upstream upstream;
    temp_dir dir{"cg-websocket"};
    cg::test::gateway_settings settings;
    settings.upstream_port = upstream.port();
    gateway_process gateway{dir, gateway_config(settings)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    const std::vector<message> messages{
        {true, "hello"},
        {false, every_byte_value()},
        {true, "blåbærsyltetøy"},
        {false, cg::test::pattern(1024 * 1024)},
        {true, "bye"},
    };

    conversation result;
    net::io_context ioc;
    bool finished = false;
    net::co_spawn(ioc, talk(gateway.proxy_port(), messages, result),
                  [&finished](std::exception_ptr) { finished = true; });
    ioc.run_for(20s);

    ASSERT_TRUE(finished) << "the conversation did not end within 20 s";
    ASSERT_EQ(result.failed_step, "") << result.ec.message() << "\n" << gateway.output();
    ASSERT_EQ(result.echoes.size(), messages.size());
    for (std::size_t i = 0; i < messages.size(); ++i) {
        EXPECT_EQ(result.echoes[i].text, messages[i].text) << "message " << i;
        EXPECT_EQ(result.echoes[i].payload.size(), messages[i].payload.size()) << "message " << i;
        EXPECT_TRUE(result.echoes[i].payload == messages[i].payload) << "message " << i;
    }
    EXPECT_TRUE(result.closed);
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

}  // namespace
