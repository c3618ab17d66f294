#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/system/error_code.hpp>

#include "gateway/error.hpp"
#include "gateway/head.hpp"

namespace cg::gateway {

/// Outcome of scanning the bytes received so far for a complete request head.
struct head_scan {
    boost::system::error_code error;  ///< a gateway::errc when the bytes can never be a valid head
    std::size_t skipped = 0;          ///< empty lines before the request line, to discard
    std::size_t head_bytes = 0;       ///< length of the head after `skipped`; 0 = need more bytes
};

/// Scans raw request bytes for the end of the head (CRLF CRLF), enforcing the framing rules that
/// Beast's parser is lenient about: bare CR, bare LF and obs-fold are errors (RFC 9112 §2.2,
/// §5.2: request smuggling vectors); so are heads over `max_bytes` or with more than
/// `max_fields` fields. Empty lines before the request line are skipped (RFC 9112 §2.2).
/// Untrusted input; no allocation, no I/O.
head_scan scan_request_head(std::string_view received, std::size_t max_bytes,
                            std::size_t max_fields) noexcept;

/// The path of an origin-form target: everything before '?'. Query strings may hold personal
/// data, so logs and routing see the path only. Never throws.
inline std::string_view path_of(std::string_view origin) noexcept {
    return origin.substr(0, origin.find('?'));
}

/// The query of an origin-form target (after '?', "" when there is none). Never throws.
inline std::string_view query_of(std::string_view origin) noexcept {
    const auto q = origin.find('?');
    return q == std::string_view::npos ? std::string_view{} : origin.substr(q + 1);
}

/// The parts of a request target the router needs. Not copyable: `origin` may point into
/// `rebuilt`.
struct request_target {
    request_target() = default;
    request_target(const request_target&) = delete;
    request_target& operator=(const request_target&) = delete;

    std::string_view authority;  ///< host[:port] of an absolute-form target, else empty
    std::string_view origin;     ///< path and query to send upstream; always starts with '/'
                                 ///< (or is "*" for OPTIONS)
    std::string rebuilt;         ///< storage for an origin that is not a substring of the target
};

/// Checks a parsed request head before anything is forwarded: target form (origin, absolute or
/// `OPTIONS *`), exactly one Host for HTTP/1.1, Transfer-Encoding exactly "chunked" (and none in
/// HTTP/1.0), no CONNECT, Expect only "100-continue". On success fills `target`.
/// Untrusted input; no I/O.
/// `Head` is the proxy's request_head or a Beast request header.
template <class Head>
boost::system::error_code check_request(const Head& head, request_target& target);

extern template boost::system::error_code check_request(
    const boost::beast::http::header<true, boost::beast::http::fields>&, request_target&);
extern template boost::system::error_code check_request(const request_head&, request_target&);

}  // namespace cg::gateway
