#pragma once
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace cg::gateway {

/// The current time as an HTTP Date value (RFC 9110 §5.6.7 IMF-fixdate, "Sun, 06 Nov 1994
/// 08:49:37 GMT"), for every answer the gateway writes itself (RFC 9110 §6.6.1: an origin
/// server with a clock sends Date). Formatted once per second per thread; the reference is
/// valid until the thread's next call.
const std::string& http_date_now();

/// A small self-contained HTML page for a status the gateway produces itself (400, 408, 413,
/// 417, 421, 431, 502, 503, 504...). `keep_alive` false adds Connection: close.
boost::beast::http::response<boost::beast::http::string_body> error_response(unsigned status,
                                                                             unsigned version,
                                                                             bool keep_alive);

}  // namespace cg::gateway
