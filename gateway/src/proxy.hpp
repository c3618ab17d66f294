#pragma once
#include <cstddef>
#include <string>

#include <boost/asio/awaitable.hpp>
#include "gateway/head_parser.hpp"

#include "gateway/transaction.hpp"
#include "session.hpp"

namespace cg::gateway {

/// Proxies a routed request (head in tx.request, body not yet read) to the site's upstream:
/// buffers a small body, runs the request stages, sends the request, reads the answer's head,
/// runs the response stages and relays the answer, through a body transform when the plan has
/// one. Writes the gateway's own 4xx/502/504 page where needed. Fills the answer's part of
/// `tx`; tx.keep_client says whether the connection may go on.
boost::asio::awaitable<void> forward(worker& w, connection& client, request_parser& req,
                                     transaction& tx);

/// Reads the request body into `out` until it is complete or `out` holds `limit` bytes
/// (req.is_done() tells which), each read within `timeout`. Errors: Beast's body_limit (over
/// limits.body_bytes), timeout, or what the socket or the chunk framing said; map them with
/// status_for().
boost::asio::awaitable<boost::system::error_code> read_request_body(
    connection& c, request_parser& req, std::size_t limit, millis timeout, std::string& out);

/// Writes a gateway-made error page. Returns false when the client could not be written to.
boost::asio::awaitable<bool> write_error(connection& client, unsigned status, unsigned version,
                                         bool keep_alive);

}  // namespace cg::gateway
