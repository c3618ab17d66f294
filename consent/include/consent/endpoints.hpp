#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/verb.hpp>

#include "consent/rate_limiter.hpp"
#include "consent/site_context.hpp"
#include "consent/store.hpp"

namespace cg::consent {

/// The parts of a request to /_consent/* the endpoints look at. Views into the caller's
/// request, which outlives the call. All of it is untrusted.
struct endpoint_request {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    std::string_view path;   ///< the target's path (before '?')
    std::string_view query;  ///< the target's query (after '?'), "" when none
    std::string_view host;   ///< the Host the visitor used (for the Origin check)
    bool https = false;      ///< the visitor came over HTTPS (directly or per a trusted proxy)
    std::vector<std::string_view> cookies;  ///< every Cookie header value
    std::string_view content_type;
    std::string_view origin;
    std::string_view referer;
    std::string_view accept_language;
    std::string_view accept;  ///< the Accept header: text/html first gets HTML error pages
    bool gpc = false;         ///< Sec-GPC: 1
    std::string_view body;
    /// The visitor's address (behind trusted proxies, the one they name). Only ever fed to
    /// the rate limiter's keyed hash: never logged, stored or echoed.
    boost::asio::ip::address client;
};

/// What the gateway sends back. The gateway adds Date, Content-Length and Connection.
struct endpoint_response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::vector<std::string> set_cookies;
    std::string location;             ///< for 303 answers to form posts
    std::string content_disposition;  ///< for the record download
    std::string allow;                ///< for 405 answers
    std::uint32_t retry_after = 0;    ///< seconds, for 429 answers (0: no Retry-After)
    std::string body;
    /// A decision this request recorded, for the consent statistics (issue 10): how it was
    /// given ("accept-all", "reject-all", "custom", "withdraw", "gpc"), the categories granted
    /// besides necessary, and whether the request carried Sec-GPC. Nothing about the visitor.
    struct decision_summary {
        std::string_view method;
        std::vector<std::string> granted;
        bool gpc = false;
    };
    std::optional<decision_summary> decided;
};

/// The largest request body the endpoints accept (a decision is a few hundred bytes).
inline constexpr std::size_t max_endpoint_body = 16 * 1024;

/// The path under which the endpoints live (DESIGN §5): the gateway routes it and everything
/// below it here.
inline constexpr std::string_view endpoint_prefix = "/_consent";

/// Answers one request to /_consent/* (DESIGN §5): POST /_consent records a decision (JSON or
/// form post, Origin/Referer checked, answered with the signed cookie and expiries of
/// withdrawn cookies; 303 for forms), GET /_consent/state, GET and DELETE /_consent/record
/// (the signed cookie is the only credential; a retired key still proves it, see key_ring).
///
/// Decisions are recorded in `records` before the answer: a decision that cannot be recorded
/// anywhere is refused (503) and changes nothing.
///
/// POST /_consent and DELETE /_consent/record count against `limiter` per client address and
/// per consent id; beyond a limit the answer is 429 with retry_after, and nothing is recorded.
///
/// Cookie tossing (a consent cookie planted by a sibling subdomain or under a deeper Path):
/// the consent cookie is named site.consent_cookie_name(https) (`__Host-` on HTTPS). A decision
/// made while several consent cookies are present, or one under the other name, gets a fresh
/// consent id (no presented id is continued) and expires every variant the browser may hold:
/// both names host-only at Path=/, Domain= the host and each parent domain, and Path= each
/// ancestor of the Referer's path. The record endpoints read the cookie under the right name
/// (else, for consent given before the name changed, the other); two valid ones naming
/// different ids get 409 (make a new decision first).
///
/// Errors are JSON `{"error": "..."}`, or a small HTML page (in the decision's language, with a
/// link back) when the request was a form post or its Accept prefers text/html. Never throws
/// for bad input; `now_ms` is unix milliseconds. Callable from any thread (the limiter and
/// store are thread-safe, the site read-only).
boost::asio::awaitable<endpoint_response> handle_endpoint(const endpoint_request& request,
                                                          const site_context& site, store& records,
                                                          rate_limiter& limiter,
                                                          std::int64_t now_ms);

}  // namespace cg::consent
