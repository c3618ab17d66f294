#include "gateway/pipeline.hpp"

#include <array>
#include <chrono>
#include <string>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include "access_log.hpp"
#include "consent/cookie_filter.hpp"
#include "gateway/request_guard.hpp"
#include "metrics.hpp"

namespace cg::gateway {

namespace http = boost::beast::http;
namespace net = boost::asio;
using boost::beast::iequals;

namespace {

// One pass over the request's fields for the facts the log stages need; the first field of a
// name counts. Fields Beast has no enumerator for are compared by name.
void read_facts(const request_head& h, request_facts& f) {
    const auto first = [](std::string_view& slot, std::string_view v) {
        if (slot.empty()) {
            slot = v;
        }
    };
    for (const auto& field : h) {
        switch (field.name()) {
            case http::field::referer:
                first(f.referer, field.value());
                break;
            case http::field::user_agent:
                first(f.user_agent, field.value());
                break;
            case http::field::accept:
                first(f.accept, field.value());
                break;
            case http::field::accept_language:
                first(f.accept_language, field.value());
                break;
            case http::field::sec_fetch_dest:
                first(f.sec_fetch_dest, field.value());
                break;
            case http::field::sec_fetch_mode:
                first(f.sec_fetch_mode, field.value());
                break;
            case http::field::sec_fetch_site:
                first(f.sec_fetch_site, field.value());
                break;
            case http::field::unknown: {
                const auto name = field.name_string();
                if (iequals(name, "Sec-Purpose")) {
                    first(f.sec_purpose, field.value());
                } else if (iequals(name, "Purpose")) {
                    first(f.purpose, field.value());
                } else if (iequals(name, "DNT")) {
                    first(f.dnt, field.value());
                } else if (iequals(name, "Sec-GPC")) {
                    first(f.sec_gpc, field.value());
                }
                break;
            }
            default:
                break;
        }
    }
}

bool is_trusted(const net::ip::address& a, std::span<const cidr> trusted) {
    for (const auto& c : trusted) {
        if (c.contains(a)) {
            return true;
        }
    }
    return false;
}

// Behind trusted proxies the visitor is the first X-Forwarded-For hop, from the right, that is
// not itself a trusted proxy (each proxy appends the address it saw). A hop that is not an
// address makes the rest of the chain untrustworthy: the visitor is then unknown.
net::ip::address visitor_behind(const request_head& h, const client_info& client,
                                std::span<const cidr> trusted) {
    std::string chain;
    for (const auto& field : h) {
        if (iequals(field.name_string(), "X-Forwarded-For")) {
            chain.append(field.value()).push_back(',');
        }
    }
    net::ip::address last = client.ip;
    std::string_view rest{chain};
    while (!rest.empty()) {
        const auto comma = rest.rfind(',', rest.size() - 1);
        auto hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        while (!hop.empty() && (hop.front() == ' ' || hop.front() == '\t')) {
            hop.remove_prefix(1);
        }
        while (!hop.empty() && (hop.back() == ' ' || hop.back() == '\t')) {
            hop.remove_suffix(1);
        }
        if (hop.empty()) {
            continue;
        }
        boost::system::error_code ec;
        const auto a = net::ip::make_address(hop, ec);
        if (ec) {
            return {};
        }
        last = a;
        if (!is_trusted(a, trusted)) {
            return a;
        }
    }
    return last;
}

// RFC 9112 §6.3: a Content-Length repeated with one value (Beast refuses differing ones) is
// sent on as one field.
template <class Fields>
void one_content_length(Fields& f, std::optional<std::uint64_t> length) {
    if (!length) {
        return;
    }
    const auto it = f.find(http::field::content_length);
    if (it != f.end() && (f.count(http::field::content_length) > 1 ||
                          it->value().find(',') != std::string_view::npos)) {
        f.set(http::field::content_length, std::to_string(*length));
    }
}

bool has_token(const response_head& h, http::field name, std::string_view token) {
    for (const auto& field : h) {
        if (field.name() == name) {
            for (const auto t : http::token_list{field.value()}) {
                if (iequals(t, token)) {
                    return true;
                }
            }
        }
    }
    return false;
}

// A body may be transformed when one follows, it is whole (not a 206 range), nobody forbade it
// (RFC 9111 §5.2.2.6 no-transform) and no transfer coding but chunked wraps it.
bool transformable(const response_head& h, const upstream_framing& up) {
    if (h.result() == http::status::partial_content ||
        has_token(h, http::field::cache_control, "no-transform")) {
        return false;
    }
    const auto te = h.find(http::field::transfer_encoding);
    return te == h.end() || (up.chunked && iequals(te->value(), "chunked") &&
                             h.count(http::field::transfer_encoding) == 1);
}

// The header checklist for a changed body (h2o's compress filter, Envoy's compressor): the
// length is unknown, a strong validator would lie (RFC 9110 §8.8.1), ranges of the original
// cannot be served, and caches must key on what the output depends on.
void mark_transformed(response_head& h, std::string_view vary) {
    h.erase(http::field::content_length);
    h.erase(http::field::accept_ranges);
    h.erase(http::field::content_md5);
    if (const auto etag = h.find(http::field::etag);
        etag != h.end() && etag->value().starts_with('"')) {
        h.set(http::field::etag, "W/" + std::string{etag->value()});
    }
    if (has_token(h, http::field::vary, "*")) {
        return;
    }
    for (const auto name : http::token_list{vary}) {
        if (!has_token(h, http::field::vary, name)) {
            const auto old = h[http::field::vary];
            h.set(http::field::vary,
                  old.empty() ? std::string{name} : std::string{old} + ", " + std::string{name});
        }
    }
}

}  // namespace

void open_transaction(transaction& tx, request_head&& head, const request_target& target,
                      const request_framing& framing, const client_info& client,
                      std::span<const cidr> trusted) {
    tx.request = std::move(head);
    const auto& h = tx.request;
    tx.method = h.method();
    tx.version = h.version();
    tx.keep_alive = framing.keep_alive;
    tx.chunked = framing.chunked;
    tx.has_body = framing.has_body;
    tx.content_length = framing.content_length;
    tx.websocket = is_websocket_upgrade(h);
    tx.expect_continue = h.count(http::field::expect) != 0;
    tx.absolute_form = !target.authority.empty();
    tx.host = tx.absolute_form ? target.authority : h[http::field::host];
    // The origin stays a view into the head's target (moved, not copied, with the head) unless
    // it was rebuilt or comes from an absolute-form target, which the request stages replace.
    const auto t = h.target();
    if (!tx.absolute_form && target.origin.data() >= t.data() &&
        target.origin.data() + target.origin.size() <= t.data() + t.size()) {
        tx.origin = target.origin;
    } else {
        tx.origin_storage.assign(target.origin);
        tx.origin = tx.origin_storage;
    }
    tx.path = path_of(tx.origin);
    tx.query = query_of(tx.origin);
    read_facts(h, tx.facts);
    tx.client = client;
    tx.visitor_address = client.trusted ? visitor_behind(h, client, trusted) : client.ip;
    // HTTPS when TLS ended here, or when a trusted proxy in front says its client used it.
    tx.https = client.tls;
    if (client.trusted && h.count("X-Forwarded-Proto") != 0) {
        const auto proto = h["X-Forwarded-Proto"];
        tx.https = proto.substr(0, proto.find(',')) == "https";
    }
}

void request_stages(transaction& tx, const site_config& site, const consent::site_context& consent,
                    std::int64_t now) {
    auto& up = tx.request;
    if (tx.absolute_form) {
        up.target(tx.origin);                // RFC 9112 §3.2.2: origin-form upstream,
        up.set(http::field::host, tx.host);  // and the authority replaces Host
    }
    up.erase(http::field::expect);  // the gateway answers 100-continue itself
    if (tx.body_buffered && tx.chunked) {
        up.erase(http::field::transfer_encoding);  // the length is known now
        up.set(http::field::content_length, std::to_string(*tx.content_length));
    }
    one_content_length(up, tx.content_length);
    strip_hop_by_hop(up, tx.websocket);
    set_forwarded(up, tx.client, tx.host);
    tx.visitor = consent::filter_request_cookies(up, consent, tx.https, now);
    if (!site.preserve_host) {
        // With several servers, the first one's name: a request is serialized once, before a
        // server is chosen.
        up.set(http::field::host, site.upstream.servers.front().authority());
    }
    up.version(11);
}

bool early_hints_stages(response_head& hints, const transaction& tx,
                        const consent::site_context& consent) {
    if (tx.version < 11) {
        return false;  // 1xx answers do not exist in HTTP/1.0 (RFC 9110 §15.2)
    }
    consent::filter_set_cookies(hints, consent, tx.visitor);
    strip_hop_by_hop(hints, false);
    return true;
}

bool switching_stages(response_head& head, const transaction& tx,
                      const consent::site_context& consent) {
    if (!tx.websocket) {
        return false;  // a protocol switch nobody asked for cannot be relayed safely
    }
    consent::filter_set_cookies(head, consent, tx.visitor);
    strip_hop_by_hop(head, true);
    return true;
}

response_plan response_stages(transaction& tx, const consent::site_context& consent,
                              std::span<const body_filter> filters, const upstream_framing& up,
                              bool request_sent, bool draining) {
    auto& res = tx.response;
    consent::filter_set_cookies(res, consent, tx.visitor);
    strip_hop_by_hop(res, false);
    const unsigned status = res.result_int();

    response_plan plan;
    plan.body = tx.method != http::verb::head && status != 204 && status != 304;
    bool known_length = up.content_length.has_value();
    if (plan.body && !filters.empty() && transformable(res, up)) {
        for (const auto& offer : filters) {
            if ((plan.transform = offer(tx, res))) {
                break;
            }
        }
        if (plan.transform) {
            mark_transformed(res, plan.transform->vary());
            known_length = false;
            tx.rewritten = true;
        }
    }
    if (known_length) {
        one_content_length(res, up.content_length);
    }

    // Framing, for the client's version.
    res.version(tx.version);
    tx.keep_client = tx.keep_alive && request_sent && !draining;
    if (tx.version < 11) {
        res.erase(http::field::transfer_encoding);  // HTTP/1.0 has no chunked coding
        tx.keep_client = tx.keep_client && (!plan.body || known_length);
    } else if (plan.body && !known_length) {
        // Chunked from the upstream, delimited by its close, or transformed: chunks either way.
        plan.chunked_out = true;
        if (!up.chunked || plan.transform) {
            const auto te = res[http::field::transfer_encoding];
            if (te.empty()) {
                res.set(http::field::transfer_encoding, "chunked");
            } else if (!iequals(te, "chunked")) {
                res.set(http::field::transfer_encoding, std::string{te} + ", chunked");
            }
        }
    }
    if (!tx.keep_client) {
        res.set(http::field::connection, "close");
    } else if (tx.version < 11) {
        res.set(http::field::connection, "keep-alive");
    }
    // Last: a status in the transaction means the answer is decided (the session's choke
    // point answers 500 only while it is 0).
    tx.status = status;
    tx.content_type = res[http::field::content_type];
    return plan;
}

void log_stages(const transaction& tx, std::string_view site_name, site_counters& counters,
                log_batch* access_log) {
    const auto took = std::chrono::steady_clock::now() - tx.started;
    counters.record(tx.status, took);
    if (access_log == nullptr) {
        return;
    }
    log_line line{access_log->buffer(), log_level::info, "request"};
    const auto method = tx.request.method_string();
    line.str("site", site_name)
        .str("method", method.empty() ? std::string_view{"-"} : method)
        .str("path", tx.path.empty() ? std::string_view{"-"} : tx.path)
        .num("status", tx.status)
        .num("bytes", static_cast<std::int64_t>(tx.bytes))
        .ms("duration_ms", took)
        .ms("upstream_ms", tx.upstream_time);
    if (tx.failure != upstream_failure::none) {
        static constexpr std::array<std::string_view, upstream_failure_kinds> names{
            "none", "connect", "timeout", "reset", "bad_response"};
        line.str("upstream_error", names[static_cast<std::size_t>(tx.failure)]);
    }
    if (!tx.refused.empty()) {
        line.str("refused", tx.refused);
    }
    line.finish();
    access_log->added();
}

namespace {

// The request's half of what the tap reads: the facts, the User-Agent, the target and the
// Referer.
analytics::exchange request_exchange(const transaction& tx) {
    analytics::exchange e;
    e.facts.method = tx.method == http::verb::get ? std::string_view{"GET"} : std::string_view{"-"};
    e.facts.sec_fetch_dest = tx.facts.sec_fetch_dest;
    e.facts.accept = tx.facts.accept;
    e.facts.sec_purpose = tx.facts.sec_purpose.empty() ? tx.facts.purpose : tx.facts.sec_purpose;
    e.facts.accept_language = tx.facts.accept_language;
    e.user_agent = tx.facts.user_agent;
    e.target = tx.origin;
    e.referer = tx.facts.referer;
    return e;
}

}  // namespace

void analytics_request_stage(transaction& tx, const site_config& site, analytics::tap& tap) {
    if (site.analytics.enabled) {
        tap.look(request_exchange(tx), tx.analytics);
    }
}

void analytics_stage(const transaction& tx, const std::shared_ptr<const config>& cfg,
                     const site_config& site, bool banner, analytics::tap& tap,
                     site_counters& counters, std::int64_t now) {
    if (!site.analytics.enabled) {
        return;
    }
    analytics::exchange e = request_exchange(tx);
    e.look = &tx.analytics;
    e.facts.status = tx.status;
    e.facts.content_type = tx.content_type;
    const auto& v = tx.visitor;
    e.gpc = v.gpc;
    e.do_not_track = tx.facts.dnt.starts_with("1");
    e.analytics_refused = v.state && !v.granted.contains(consent::category::analytics);
    e.banner_shown = banner && tx.rewritten && !v.state;
    e.visitor = tx.visitor_address;
    e.now = now;
    const auto reason =
        tap.count(cfg, static_cast<std::uint32_t>(tx.site), site.analytics, site.hosts, e);
    const std::size_t slot = reason ? static_cast<std::size_t>(*reason) + 1 : 0;
    counters.analytics[slot].fetch_add(1, std::memory_order_relaxed);
}

std::int64_t unix_now() noexcept {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace cg::gateway
