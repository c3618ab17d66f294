#include "support/raw_client.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <limits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <boost/system/system_error.hpp>

namespace cg::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
using steady = std::chrono::steady_clock;

inline constexpr auto use_ec = net::as_tuple(net::use_awaitable);  // STYLE §5: Boost 1.81

}  // namespace

std::optional<std::string> raw_response::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (beast::iequals(key, name)) {
            return value;
        }
    }
    return std::nullopt;
}

std::size_t raw_response::header_count(std::string_view name) const {
    return static_cast<std::size_t>(
        std::count_if(headers.begin(), headers.end(),
                      [&](const auto& kv) { return beast::iequals(kv.first, name); }));
}

struct raw_client::impl {
    net::io_context ioc{1};
    tcp::socket socket{ioc};
    beast::flat_buffer buffer;

    /// Runs `op` to completion on the private io_context. When `timeout` passes, cancels the
    /// socket's operations until `op` gives up (a composed Beast read may be between two reads
    /// when the first cancel lands, hence the repeat) and reports timed_out.
    error_code run(net::awaitable<error_code> op, std::chrono::milliseconds timeout) {
        std::optional<error_code> result;
        std::exception_ptr failure;
        net::co_spawn(ioc, std::move(op), [&](std::exception_ptr e, error_code ec) {
            failure = e;
            result = ec;
        });
        ioc.restart();
        ioc.run_until(steady::now() + timeout);
        const bool timed_out = !result;
        for (int attempt = 0; !result; ++attempt) {
            error_code ignored;
            if (attempt < 20) {
                socket.cancel(ignored);
            } else {
                socket.close(ignored);  // last resort; never hang a test
            }
            ioc.run_for(std::chrono::milliseconds{50});
        }
        if (failure) {
            std::rethrow_exception(failure);
        }
        if (timed_out && *result) {
            return net::error::timed_out;
        }
        return *result;
    }

    net::awaitable<error_code> connect(tcp::endpoint endpoint) {
        auto [ec] = co_await socket.async_connect(endpoint, use_ec);
        co_return ec;
    }

    net::awaitable<error_code> write(std::string_view bytes) {
        auto [ec, n] = co_await net::async_write(socket, net::buffer(bytes), use_ec);
        co_return ec;
    }

    net::awaitable<error_code> write_pattern(std::uint64_t n, std::uint64_t offset,
                                             std::size_t piece) {
        std::vector<char> buf(std::max<std::size_t>(piece, 1));
        std::uint64_t sent = 0;
        while (sent < n) {
            const auto len =
                static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - sent));
            pattern_fill(buf.data(), static_cast<std::size_t>(offset + sent), len);
            auto [ec, written] =
                co_await net::async_write(socket, net::buffer(buf.data(), len), use_ec);
            if (ec) {
                co_return ec;
            }
            sent += len;
        }
        co_return error_code{};
    }

    net::awaitable<error_code> write_chunked(std::uint64_t n, std::size_t chunk) {
        std::vector<char> buf(std::max<std::size_t>(chunk, 1));
        std::uint64_t sent = 0;
        while (sent < n) {
            const auto len =
                static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - sent));
            pattern_fill(buf.data(), static_cast<std::size_t>(sent), len);
            std::array<char, 32> size_line{};
            const int size_len = std::snprintf(size_line.data(), size_line.size(), "%zx\r\n", len);
            const std::array<net::const_buffer, 3> pieces{
                net::buffer(size_line.data(), static_cast<std::size_t>(size_len)),
                net::buffer(buf.data(), len), net::buffer("\r\n", 2)};
            auto [ec, written] = co_await net::async_write(socket, pieces, use_ec);
            if (ec) {
                co_return ec;
            }
            sent += len;
        }
        auto [ec, written] = co_await net::async_write(socket, net::buffer("0\r\n\r\n", 5), use_ec);
        co_return ec;
    }

    net::awaitable<error_code> read_kept(raw_response& out, const read_options& options) {
        http::response_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
            options.header_limit, std::numeric_limits<std::uint32_t>::max())));
        parser.body_limit(options.body_limit);
        parser.skip(options.head);
        {
            auto [ec, n] = co_await http::async_read_header(socket, buffer, parser, use_ec);
            if (ec) {
                co_return ec;
            }
        }
        copy_response_head(parser, out);
        if (!parser.is_done()) {
            auto [ec, n] = co_await http::async_read(socket, buffer, parser, use_ec);
            if (ec) {
                co_return ec;
            }
        }
        out.body = std::move(parser.get().body());
        out.body_bytes = out.body.size();
        fnv1a hash;
        hash.update(out.body);
        out.body_fnv1a = hash.value();
        co_return error_code{};
    }

    net::awaitable<error_code> read_counted(raw_response& out, const read_options& options) {
        http::response_parser<http::buffer_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
            options.header_limit, std::numeric_limits<std::uint32_t>::max())));
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        parser.skip(options.head);
        {
            auto [ec, n] = co_await http::async_read_header(socket, buffer, parser, use_ec);
            if (ec) {
                co_return ec;
            }
        }
        copy_response_head(parser, out);
        std::vector<char> buf(64 * 1024);
        fnv1a hash;
        while (!parser.is_done()) {
            parser.get().body().data = buf.data();
            parser.get().body().size = buf.size();
            auto [ec, n] = co_await http::async_read(socket, buffer, parser, use_ec);
            if (ec && ec != http::error::need_buffer) {
                co_return ec;
            }
            const std::size_t got = buf.size() - parser.get().body().size;
            hash.update(buf.data(), got);
            out.body_bytes += got;
            out.body_fnv1a = hash.value();
        }
        co_return error_code{};
    }

    net::awaitable<error_code> read_until_closed() {
        for (;;) {
            auto [ec, n] = co_await socket.async_read_some(buffer.prepare(4096), use_ec);
            if (ec) {
                co_return ec;
            }
            buffer.commit(n);  // keep it for read_response
        }
    }
};

raw_client::raw_client(std::uint16_t port) : impl_(std::make_unique<impl>()) {
    const tcp::endpoint endpoint{net::ip::make_address_v4("127.0.0.1"), port};
    if (const auto ec = impl_->run(impl_->connect(endpoint), std::chrono::seconds{5})) {
        throw boost::system::system_error(ec,
                                          "raw_client connect 127.0.0.1:" + std::to_string(port));
    }
    impl_->socket.set_option(tcp::no_delay{true});
}

raw_client::~raw_client() = default;

boost::system::error_code raw_client::send(std::string_view bytes,
                                           std::chrono::milliseconds timeout) {
    return impl_->run(impl_->write(bytes), timeout);
}

boost::system::error_code raw_client::send_pattern_body(std::uint64_t n, std::uint64_t offset,
                                                        std::chrono::milliseconds timeout,
                                                        std::size_t piece) {
    return impl_->run(impl_->write_pattern(n, offset, piece), timeout);
}

boost::system::error_code raw_client::send_pattern_chunked(std::uint64_t n, std::size_t chunk,
                                                           std::chrono::milliseconds timeout) {
    return impl_->run(impl_->write_chunked(n, chunk), timeout);
}

raw_response raw_client::read_response(std::chrono::milliseconds timeout,
                                       const read_options& options) {
    raw_response out;
    out.ec = options.count_body_only ? impl_->run(impl_->read_counted(out, options), timeout)
                                     : impl_->run(impl_->read_kept(out, options), timeout);
    return out;
}

bool raw_client::closed_by_peer(std::chrono::milliseconds timeout) {
    const auto ec = impl_->run(impl_->read_until_closed(), timeout);
    return ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::connection_aborted;
}

std::string raw_client::read_until_eof(std::chrono::milliseconds timeout,
                                       boost::system::error_code* ec) {
    const auto result = impl_->run(impl_->read_until_closed(), timeout);
    if (ec != nullptr) {
        *ec = result;
    }
    std::string bytes = beast::buffers_to_string(impl_->buffer.data());
    impl_->buffer.consume(impl_->buffer.size());
    return bytes;
}

void raw_client::shutdown_send() {
    error_code ignored;
    impl_->socket.shutdown(tcp::socket::shutdown_send, ignored);
}

void raw_client::close() {
    error_code ignored;
    impl_->socket.close(ignored);
}

std::uint16_t raw_client::local_port() const {
    error_code ec;
    return impl_->socket.local_endpoint(ec).port();
}

raw_response http_get(std::uint16_t port, std::string_view host, std::string_view target,
                      std::chrono::milliseconds timeout) {
    raw_response out;
    try {
        raw_client client{port};
        std::string request = "GET ";
        request.append(target).append(" HTTP/1.1\r\nHost: ").append(host);
        request.append("\r\nConnection: close\r\n\r\n");
        if (const auto ec = client.send(request, timeout)) {
            out.ec = ec;
            return out;
        }
        return client.read_response(timeout);
    } catch (const boost::system::system_error& e) {
        out.ec = e.code();
        return out;
    }
}

}  // namespace cg::test
