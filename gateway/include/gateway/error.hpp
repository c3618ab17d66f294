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

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// The HTTP status the gateway answers with for a request refused for `e`.
unsigned status_for(errc e) noexcept;

}  // namespace cg::gateway

template <>
struct boost::system::is_error_code_enum<cg::gateway::errc> : std::true_type {};
