#pragma once
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace cg::gateway {

/// A small self-contained HTML page for a status the gateway produces itself (400, 408, 413,
/// 417, 421, 431, 502, 503, 504...). `keep_alive` false adds Connection: close.
boost::beast::http::response<boost::beast::http::string_body> error_response(unsigned status,
                                                                             unsigned version,
                                                                             bool keep_alive);

}  // namespace cg::gateway
