#pragma once
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "client_io.hpp"
#include "gateway/forwarding.hpp"
#include "gateway/head_parser.hpp"
#include "upstream_pool.hpp"
#include "worker.hpp"

namespace cg::gateway {

/// What a listener's connections speak.
enum class listener_kind : std::uint8_t {
    plain,     ///< HTTP
    tls,       ///< HTTPS: TLS terminated here (listen.tls)
    redirect,  ///< HTTP answered with 308 to https:// (listen.tls.redirect_port)
};

/// A client connection, living on its session coroutine's frame.
struct connection {
    explicit connection(boost::asio::ip::tcp::socket s)
        : stream(std::move(s)), deadline(stream.get_executor()) {}

    /// Starts the request-head deadline. Unlike tcp_stream's own timeouts, which close the
    /// socket, this only cancels the pending read, so a 408 can still be written.
    void arm(std::chrono::steady_clock::duration d);
    /// Stops the deadline; a wait that already fired is ignored (generation check).
    void disarm();

    boost::beast::tcp_stream stream;  ///< the socket, and the timeouts of writes to the client
    /// What reads and writes go through: `stream`, or `tls` over it.
    client_io io{stream};
    /// The generation whose TLS context `tls` uses, kept for the connection's life.
    std::shared_ptr<const generation> tls_owner;
    std::unique_ptr<client_io::tls_stream> tls;
    bool redirect = false;  ///< the redirect listener's: every request gets a 308 to https
    boost::asio::steady_timer deadline;
    std::uint32_t deadline_generation = 0;
    bool timed_out = false;
    boost::beast::flat_buffer buffer;
    std::string peer;  ///< address text, for X-Forwarded-For only: never logged or stored
    client_info info;
    std::string head_text;  ///< reused buffer for serialised heads (keeps its capacity)
    upstream_connection* upstream = nullptr;  ///< the exchange in flight, if any
    /// The parser of the upstream's answer in flight (see proxy.cpp: kept off coroutine frames)
    std::optional<response_parser> answer;
    bool idle = true;  ///< waiting for a request head (may be closed at once on drain)
    /// The configuration generation of the request in flight (or the last one): taken from the
    /// worker as each request starts, so a reload never changes a request half-way.
    std::shared_ptr<worker_generation> gen;
};

/// Counts an exception that escaped a request or a session and logs it without personal data
/// (the exception's text up to its first ':'). The one place such failures end up.
void internal_error(worker& w, std::string_view what) noexcept;

/// Serves one client connection until it closes: the TLS handshake first on a TLS listener,
/// then reads each request head strictly, routes it, forwards it and relays the answer (or,
/// on the redirect listener, answers 308). Runs on the worker's thread.
boost::asio::awaitable<void> serve(worker& w, boost::asio::ip::tcp::socket socket,
                                   listener_kind kind);

}  // namespace cg::gateway
