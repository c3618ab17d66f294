#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/verb.hpp>

#include "analytics/tap.hpp"
#include "consent/site_context.hpp"
#include "gateway/error.hpp"
#include "gateway/forwarding.hpp"
#include "gateway/head.hpp"

namespace cg::gateway {

/// The request fields the log stages (access log, analytics) look at, as views into
/// transaction::request. Valid for the request only; never logged as they are (they may hold
/// personal data). Empty when the field is absent; the first field of a name counts.
struct request_facts {
    std::string_view referer;
    std::string_view user_agent;
    std::string_view accept;
    std::string_view accept_language;
    std::string_view sec_fetch_dest;
    std::string_view sec_fetch_mode;
    std::string_view sec_fetch_site;
    std::string_view sec_purpose;
    std::string_view purpose;
    std::string_view dnt;
    std::string_view sec_gpc;
};

/// Everything the gateway knows about one request and its answer, created when a request head
/// has been read and dropped after the log stages (STYLE §2: handlers, filters and loggers all
/// read this one object; none keeps its own copy of request facts). Lives on the session's
/// coroutine frame; one thread only. Its views point into `request`, `response` or `target`
/// and stay valid as long as the transaction does.
struct transaction {
    static constexpr std::size_t no_site = std::numeric_limits<std::size_t>::max();

    transaction() = default;
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    // --- the request, as the client sent it (then changed by the request stages) ---
    request_head request;  ///< the head; the request stages turn it into the upstream's
    boost::beast::http::verb method = boost::beast::http::verb::unknown;
    unsigned version = 11;    ///< the client's HTTP version (10 or 11)
    bool keep_alive = false;  ///< the client allows another request on the connection
    bool has_body = false;    ///< a body follows the head (Content-Length > 0 or chunked)
    bool chunked = false;     ///< the body is chunked
    std::optional<std::uint64_t> content_length;  ///< of the body, when framed by length
    /// The whole body was read before the upstream was chosen (request buffering); it goes
    /// upstream with its Content-Length, also when the client sent it chunked.
    bool body_buffered = false;
    bool absolute_form = false;  ///< the target was absolute-form (a proxy-style request)
    bool websocket = false;      ///< asks to switch to WebSocket
    bool expect_continue = false;
    /// The visitor came over HTTPS: the gateway has no TLS of its own, so only a trusted
    /// proxy's X-Forwarded-Proto can say so.
    bool https = false;
    std::string host;            ///< the Host the visitor used (or the absolute-form authority)
    std::string_view origin;     ///< path and query as sent upstream (origin-form)
    std::string_view path;       ///< of `origin`, before '?'
    std::string_view query;      ///< of `origin`, after '?' ("" when none)
    std::string origin_storage;  ///< holds `origin` when it is not a part of the head's target
    request_facts facts;
    /// The analytics tap's reading of the request (analytics_request_stage), for its answer.
    analytics::request_look analytics;

    // --- who asked ---
    client_info client;  ///< the TCP peer (address text, trusted proxy or not)
    /// The visitor's address: the peer, or behind trusted proxies the first X-Forwarded-For hop
    /// from the right that is not itself trusted. Unspecified when unknown. In memory only:
    /// never logged or stored (DESIGN §6).
    boost::asio::ip::address visitor_address;

    // --- routing and consent ---
    std::size_t site = no_site;        ///< index into config::sites, no_site before routing
    consent::visitor_consent visitor;  ///< the decision read from the signed cookie

    // --- the answer ---
    response_head response;         ///< the final head from the upstream, after the response stages
    unsigned status = 0;            ///< sent to the client (499: the client went away)
    std::string_view content_type;  ///< of the answer, a view into `response`
    std::uint64_t bytes = 0;        ///< body bytes sent to the client
    bool rewritten = false;         ///< a body transform changed the body
    bool keep_client = false;       ///< the client connection may serve another request
    upstream_failure failure = upstream_failure::none;
    std::string refused;  ///< why the gateway answered by itself (an error message), or ""

    // --- timings ---
    std::chrono::steady_clock::time_point started{};
    std::chrono::steady_clock::duration upstream_time{};  ///< until the response head arrived
};

}  // namespace cg::gateway
