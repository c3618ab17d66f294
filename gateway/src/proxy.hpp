#pragma once
#include <chrono>
#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "gateway/request_guard.hpp"
#include "metrics.hpp"
#include "session.hpp"

namespace cg::gateway {

/// How one request/response exchange ended, for the access log and metrics.
struct exchange {
    unsigned status = 0;      ///< sent to the client (499: client went away)
    std::uint64_t bytes = 0;  ///< response body bytes sent to the client
    std::chrono::steady_clock::duration upstream_time{};  ///< until the response head arrived
    upstream_failure failure = upstream_failure::none;
    bool keep_client = false;  ///< the client connection may serve another request
};

using request_parser =
    boost::beast::http::request_parser<boost::beast::http::buffer_body, pool_allocator<char>>;

/// Forwards a checked and routed request (head parsed, body not yet read) to the site's
/// upstream and relays the answer, writing the gateway's own 502/504/413 page where needed.
/// Takes the request head out of `req`.
boost::asio::awaitable<exchange> forward(worker& w, std::size_t site, connection& client,
                                         request_parser& req, const request_target& target);

/// Writes a gateway-made error page. Returns false when the client could not be written to.
boost::asio::awaitable<bool> write_error(connection& client, unsigned status, unsigned version,
                                         bool keep_alive);

}  // namespace cg::gateway
