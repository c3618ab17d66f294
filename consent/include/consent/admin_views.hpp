#pragma once
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "consent/site_context.hpp"
#include "consent/store.hpp"

namespace cg::consent {

/// One answer of a consent view on the admin listener. The admin listener adds the HTTP
/// framing (version, Cache-Control, Content-Length) and decides who may ask.
struct admin_answer {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
};

/// The sites the views report on, in config order (the gateway's per-site contexts).
using admin_sites = std::span<const std::unique_ptr<const site_context>>;

/// GET /consent/history?site=S&id=ID: every stored decision of one consent id, oldest first,
/// for answering a data-subject request (DESIGN §2, L7, L11):
/// `{"site": S, "consent_id": ID, "events": [<event as decision_event's to_json>, ...]}`.
/// 400 (text) when `site` names no site or `id` is empty or longer than 64 bytes; 503 (text)
/// when Redis cannot be asked. `query` is the raw query string (values are not
/// percent-decoded: site names and ids need no escaping). Untrusted input: text that is not
/// UTF-8 is written as U+FFFD, never thrown. Awaits the store on its thread; the answer
/// arrives on the caller's executor.
boost::asio::awaitable<admin_answer> history_view(admin_sites sites, store& records,
                                                  std::string_view query);

/// GET /consent/counts: decisions per site and method from Redis,
/// `{"<site>": {"accept-all": n, "custom": n, ...}, ...}`; 503 (text) when Redis cannot be
/// asked for one of the sites. Awaits the store as history_view does.
boost::asio::awaitable<admin_answer> counts_view(admin_sites sites, store& records);

/// GET /consent/cookies: per site its policy version, its own cookie rules (name, category,
/// provider, purpose, lifetime, justification), how many catalogue rules apply, and the
/// cookie names the upstream set that no rule knows (`unknown_cookies_seen`) and that were
/// dropped for lack of consent (`set_cookie_dropped`), each as {name: count}. The inventories
/// are bounded and forget the least recently seen name when full: `unknown_cookies_evicted`,
/// `set_cookie_dropped_evicted` and `cookie_variants_evicted` count what was forgotten, and
/// `unknown_cookies_recent` / `set_cookie_dropped_recent` list the 100 most recently seen
/// names, newest first, as {"name", "count", "last_seen" (ISO 8601 UTC)}. Names come from
/// upstreams (untrusted): bytes that are not UTF-8 and control bytes are written as U+FFFD
/// (names that then look alike have their counts added up). Names and counts only, never
/// values. No I/O; never throws except std::bad_alloc; thread-safe.
admin_answer cookies_view(admin_sites sites);

/// Consent's part of /metrics in the Prometheus text format (version 0.0.4):
/// cg_set_cookie_dropped_total{site,cookie}, cg_cookie_inventory_evicted_total{site,inventory}
/// (unknown, dropped, variants), cg_consent_events_total{outcome} (stored,
/// journaled, failed, replayed), cg_consent_journal_events, cg_consent_journal_bytes and
/// cg_redis_up, each with HELP and TYPE lines. Label values are escaped (backslash, quote,
/// newline) and made valid UTF-8 (other control bytes and bytes that are not UTF-8 become
/// U+FFFD). No I/O; never throws except std::bad_alloc; thread-safe.
std::string metrics_text(admin_sites sites, const store_status& status);

/// `value` as the inside of a Prometheus label value: `\`, `"` and newline escaped, other
/// control bytes and every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
/// Appended to `out`. Untrusted input; never throws except std::bad_alloc.
void append_label_value(std::string& out, std::string_view value);

}  // namespace cg::consent
