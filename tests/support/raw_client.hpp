#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/parser.hpp>
#include <boost/system/error_code.hpp>

#include "support/pattern.hpp"

namespace cg::test {

/// One HTTP response as raw_client read it. On failure `ec` is set and the other fields hold
/// whatever was parsed before it (boost::asio::error::timed_out when the deadline passed).
struct raw_response {
    boost::system::error_code ec;
    unsigned status = 0;
    std::string reason;
    unsigned version = 0;
    /// Header fields in arrival order, names as sent.
    std::vector<std::pair<std::string, std::string>> headers;
    /// The decoded body (chunked encoding removed); empty when read_options::count_body_only.
    std::string body;
    /// Decoded body size and its FNV-1a 64 (compare with pattern_fnv1a), always filled.
    std::uint64_t body_bytes = 0;
    std::uint64_t body_fnv1a = fnv1a::offset_basis;
    bool keep_alive = false;
    bool chunked = false;

    /// The first value of header `name` (case-insensitive), if any.
    std::optional<std::string> header(std::string_view name) const;
    /// How many times header `name` (case-insensitive) occurs.
    std::size_t header_count(std::string_view name) const;
};

/// Fills `out`'s status, reason, version, headers (in order), keep_alive and chunked from a
/// parser that has read a head (raw_client and tls_client share it).
template <class Body>
void copy_response_head(const boost::beast::http::response_parser<Body>& parser,
                        raw_response& out) {
    const auto& res = parser.get();
    out.status = res.result_int();
    out.reason = std::string{res.reason()};
    out.version = res.version();
    out.headers.clear();
    for (const auto& field : res) {
        out.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    }
    out.keep_alive = parser.keep_alive();
    out.chunked = parser.chunked();
}


/// How raw_client::read_response reads a body.
struct read_options {
    /// The response answers a HEAD request: no body follows, whatever Content-Length says.
    bool head = false;
    /// Count and hash the body without keeping it (for bodies of many MB).
    bool count_body_only = false;
    /// A longer body fails with http::error::body_limit (only when keeping the body).
    std::uint64_t body_limit = 64ULL * 1024 * 1024;
    std::size_t header_limit = 64 * 1024;
};

/// A blocking HTTP/1.1 client over one loopback TCP connection that sends bytes exactly as
/// given, for tests of a server's handling of what a browser would never send. Every call
/// takes a timeout and runs a private io_context, so a test never hangs. After a timeout in
/// read_response the connection's parse state is lost: use a new client.
/// Not thread safe; one test thread at a time.
class raw_client {
  public:
    /// Connects to 127.0.0.1:port. Throws boost::system::system_error if it cannot.
    explicit raw_client(std::uint16_t port);
    ~raw_client();
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;

    /// Writes all of `bytes`. Fails with timed_out if the peer does not take them in time.
    boost::system::error_code send(std::string_view bytes,
                                   std::chrono::milliseconds timeout = std::chrono::seconds{10});

    /// Writes `n` bytes of the pattern (see pattern_fill), `piece` bytes at a time, never
    /// holding more than one piece; `offset` is the pattern position of the first byte.
    boost::system::error_code send_pattern_body(
        std::uint64_t n, std::uint64_t offset = 0,
        std::chrono::milliseconds timeout = std::chrono::seconds{30},
        std::size_t piece = 64 * 1024);

    /// Writes `n` pattern bytes as a chunked body: chunks of `chunk` bytes, then "0\r\n\r\n".
    boost::system::error_code send_pattern_chunked(
        std::uint64_t n, std::size_t chunk = 16 * 1024,
        std::chrono::milliseconds timeout = std::chrono::seconds{30});

    /// Reads one response (an interim 1xx counts as one). Pipelined responses already
    /// received stay buffered for the next call.
    raw_response read_response(std::chrono::milliseconds timeout = std::chrono::seconds{10},
                               const read_options& options = {});

    /// True when the peer closes (EOF) or resets the connection within `timeout`. Bytes that
    /// arrive meanwhile are kept for read_response. False on timeout, the connection open.
    bool closed_by_peer(std::chrono::milliseconds timeout);

    /// Everything the peer sends until it closes the connection, byte for byte (including
    /// anything already buffered), to check exact framing. `ec` is eof on a clean close,
    /// timed_out if the peer kept the connection open past `timeout`.
    std::string read_until_eof(std::chrono::milliseconds timeout,
                               boost::system::error_code* ec = nullptr);

    /// Half-closes: sends FIN, can still read.
    void shutdown_send();
    /// Closes the socket now.
    void close();

    /// The local port, to tell connections apart in logs.
    std::uint16_t local_port() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// One-shot GET: connects to 127.0.0.1:port, sends
/// "GET target HTTP/1.1\r\nHost: host\r\nConnection: close\r\n\r\n" and reads the response.
/// Connection failures are reported in raw_response::ec rather than thrown.
raw_response http_get(std::uint16_t port, std::string_view host, std::string_view target,
                      std::chrono::milliseconds timeout = std::chrono::seconds{10});

}  // namespace cg::test
