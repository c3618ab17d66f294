#pragma once
#include <boost/system/error_code.hpp>
#include <type_traits>

namespace cg::gateway {

/// Reasons the gateway refuses a request before (or instead of) forwarding it.
enum class errc {
    header_too_large = 1,   ///< request line + headers over limits.header_bytes (431)
    too_many_headers,       ///< more fields than limits.header_count (431)
    bare_cr,                ///< CR not followed by LF (400)
    bare_lf,                ///< LF not preceded by CR (400)
    obs_fold,               ///< a header line continued with leading whitespace (400)
    bad_transfer_encoding,  ///< Transfer-Encoding other than exactly "chunked" (400)
    missing_host,           ///< HTTP/1.1 request without exactly one Host (400)
    bad_target,             ///< request target neither origin-, absolute- nor asterisk-form (400)
    unknown_host,           ///< Host (or absolute-form authority) names no configured site (421)
    method_not_allowed,     ///< CONNECT: the gateway is not a forward proxy (405)
    expectation_failed,     ///< Expect other than 100-continue (417)
    body_too_large,         ///< request body over limits.body_bytes (413)
};

/// Why a request to an upstream failed.
enum class upstream_failure { none, connect, timeout, reset, bad_response };
inline constexpr std::size_t upstream_failure_kinds = 5;

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// The HTTP status the gateway answers with for a request refused for `e`.
unsigned status_for(errc e) noexcept;

/// The one mapping from a failure to read or check a request to the status answered: a
/// gateway errc as above, Beast's body_limit 413, a timeout 408, the client gone (end of
/// stream, reset) 499 (nothing can be sent), anything else the client sent wrong 400.
unsigned status_for(const boost::system::error_code& ec) noexcept;

/// The status for an upstream that failed before its answer began: 504 after a timeout, 502
/// otherwise.
unsigned status_for(upstream_failure f) noexcept;

}  // namespace cg::gateway

template <>
struct boost::system::is_error_code_enum<cg::gateway::errc> : std::true_type {};
