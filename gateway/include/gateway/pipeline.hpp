#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "analytics/tap.hpp"
#include "consent/site_context.hpp"
#include "gateway/body_filter.hpp"
#include "gateway/config.hpp"
#include "gateway/request_guard.hpp"
#include "gateway/transaction.hpp"

/// The request path, as one list of small transforms (STYLE §2; DESIGN §4). Only
/// gateway/src/pipeline.cpp knows the order; the session and the proxy do the I/O in between:
///
///   read head -> open_transaction -> route (local handler, or:)
///   request_stages -> analytics_request_stage -> [send to the upstream] -> early_hints_stages / switching_stages
///   -> response_stages (filters, body plan, framing) -> [relay, through the transform]
///   -> log stages (metrics, access log), once per answered request.
///
/// Every stage is a plain function without I/O that reads and changes one transaction.
/// Input is untrusted; nothing here throws for what the network sends.
namespace cg::gateway {

/// What the request parser learnt about a request's framing.
struct request_framing {
    bool keep_alive = false;
    bool chunked = false;
    bool has_body = false;  ///< the parser expects body bytes
    std::optional<std::uint64_t> content_length;
};

/// Fills `tx` from a checked and routed request head: method, version, framing, the Host the
/// visitor used, the origin-form target (absolute-form is rewritten to it), path and query,
/// the request facts, the client and the visitor's address (`trusted` are the proxies whose
/// X-Forwarded-For counts). Moves `head` into tx.request.
void open_transaction(transaction& tx, request_head&& head, const request_target& target,
                      const request_framing& framing, const client_info& client,
                      std::span<const cidr> trusted);

/// The request stages, in order: origin-form target and the authority as Host; Expect removed
/// (the gateway answers 100-continue itself); a buffered body framed by its length, and one
/// Content-Length; hop-by-hop fields removed;
/// X-Forwarded-For/-Proto/-Host set; the visitor's consent read from the signed cookie (named
/// per tx.https; several consent cookies decide nothing),
/// non-consented cookies removed and Consent-Categories set (tx.visitor); the upstream's Host
/// unless the site preserves the visitor's; HTTP/1.1 to the upstream. `now` is unix seconds.
void request_stages(transaction& tx, const site_config& site, const consent::site_context& consent,
                    std::int64_t now);

/// Interim stages for a 103 Early Hints head: the same filters as a final answer. Returns false
/// when the client cannot take it (HTTP/1.0) and it is to be dropped.
bool early_hints_stages(response_head& hints, const transaction& tx,
                        const consent::site_context& consent);

/// Stages for a 101 answer: Set-Cookie filtered, hop-by-hop fields removed except the Upgrade
/// pair. Returns false when the client did not ask to switch (the answer must become a 502).
bool switching_stages(response_head& head, const transaction& tx,
                      const consent::site_context& consent);

/// How the upstream framed its answer (from its parser).
struct upstream_framing {
    bool chunked = false;
    std::optional<std::uint64_t> content_length;
    bool keep_alive = false;  ///< the upstream connection may be reused afterwards
};

/// What to do with a final answer's body, decided once at header time.
struct response_plan {
    bool body = false;         ///< a body follows the head (not HEAD, 204, 304)
    bool chunked_out = false;  ///< the gateway frames the body it sends as chunks
    /// The body transform, or null: the body is relayed byte for byte (zero copy for
    /// Content-Length bodies).
    std::unique_ptr<body_transform> transform;
};

/// The response stages for a final answer in tx.response, in the reverse order of the request
/// stages: Set-Cookie filtered by tx.visitor, hop-by-hop fields removed; then the body plan:
/// the first of `filters` that offers a transform gets the body, and the head is made true for
/// a changed body (Content-Length dropped, a strong ETag weakened to W/, Accept-Ranges
/// dropped, the transform's Vary added); then framing: the client's version, chunked for
/// HTTP/1.1 when the length is unknown, Connection, and tx.keep_client. `request_sent` says
/// the upstream took the whole request; `draining` that the gateway is shutting down.
response_plan response_stages(transaction& tx, const consent::site_context& consent,
                              std::span<const body_filter> filters, const upstream_framing& up,
                              bool request_sent, bool draining);

struct site_counters;
class log_batch;

/// The log stages, once per answered request, after the answer: the site's counters, then one
/// access-log line when `access_log` is not null (method, path, status, bytes, timings; never
/// an address, user agent, query or cookie value). `site_name` labels the line.
void log_stages(const transaction& tx, std::string_view site_name, site_counters& counters,
                log_batch* access_log);

/// The analytics tap's look at a proxied request (issue 10), right after the request stages,
/// while its head is still in the caches: what the request alone says about a page view, and
/// its User-Agent, into tx.analytics for analytics_stage. Nothing when the site has analytics
/// off.
void analytics_request_stage(transaction& tx, const site_config& site, analytics::tap& tap);

/// The analytics tap (issue 10), once per answered request of a site with analytics on, after
/// the answer: analytics::tap::count with what the transaction knows (the visitor's address
/// is tx.visitor_address: the peer, or behind trusted proxies the first untrusted
/// X-Forwarded-For hop); `banner` says whether the site has a banner (so an undecided
/// visitor's rewritten page showed it). Every answer is counted in `counters` as a page view
/// or by why it is none. No I/O; nothing about the visitor is kept. `cfg` holds `site` (the
/// tap keeps it until the page view is measured). What analytics_request_stage read of the
/// request is used, else the request's facts are read now.
void analytics_stage(const transaction& tx, const std::shared_ptr<const config>& cfg,
                     const site_config& site, bool banner, analytics::tap& tap,
                     site_counters& counters, std::int64_t now);

/// Unix seconds now (the consent cookie's clock).
std::int64_t unix_now() noexcept;

}  // namespace cg::gateway
