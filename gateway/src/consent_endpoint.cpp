#include "consent_endpoint.hpp"

#include <chrono>
#include <utility>

#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "async.hpp"
#include "consent/endpoints.hpp"
#include "consent/rate_limiter.hpp"
#include "gateway/pipeline.hpp"
#include "gateway/request_guard.hpp"
#include "responses.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string_view view(boost::core::string_view s) {
    return {s.data(), s.size()};
}

}  // namespace

net::awaitable<void> answer_consent(worker& w, connection& c, request_parser& req,
                                    transaction& tx) {
    const auto& in = tx.request;
    const auto& lim = c.gen->cfg().limits;
    tx.keep_client = tx.keep_alive && !w.draining();

    std::string body;
    beast::error_code ec;
    if (tx.content_length.value_or(0) > consent::max_endpoint_body) {
        ec = http::error::body_limit;
    } else if (tx.has_body) {
        if (tx.expect_continue && tx.version >= 11) {
            static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
            c.stream.expires_after(lim.body_timeout);
            std::tie(ec, std::ignore) =
                co_await net::async_write(c.io, net::buffer(cont), use_ec);
        }
        if (!ec) {
            ec = co_await read_request_body(c, req, consent::max_endpoint_body + 1,
                                            lim.body_timeout, body);
        }
        if (!ec && body.size() > consent::max_endpoint_body) {
            ec = http::error::body_limit;
        }
    }
    if (ec) {
        tx.status = status_for(ec);
        tx.keep_client = false;  // the rest of the body may still be on its way
        if (tx.status != 499) {
            co_await write_error(c, tx.status, tx.version, false);
        }
        co_return;
    }

    consent::endpoint_request r;
    r.method = tx.method;
    r.path = tx.path;
    r.query = tx.query;
    r.host = tx.host;
    r.https = tx.https;
    for (const auto& f : in) {
        if (f.name() == http::field::cookie) {
            r.cookies.push_back(view(f.value()));
        }
    }
    r.content_type = view(in[http::field::content_type]);
    r.origin = view(in[http::field::origin]);
    r.referer = tx.facts.referer;
    r.accept_language = tx.facts.accept_language;
    r.accept = view(in[http::field::accept]);
    r.gpc = tx.facts.sec_gpc == "1";
    r.body = body;
    r.client = tx.visitor_address;  // for the limiter's keyed hash only; never logged
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    auto answer = co_await consent::handle_endpoint(r, *c.gen->shared->consent_sites[tx.site],
                                                    w.shared.records, w.shared.consent_limits,
                                                    now_ms);

    if (answer.decided && w.analytics && c.gen->cfg().sites[tx.site].analytics.enabled) {
        const auto& d = *answer.decided;
        const auto kind = d.method == "accept-all"   ? analytics::decision_kind::accept_all
                          : d.method == "reject-all" ? analytics::decision_kind::reject_all
                                                     : analytics::decision_kind::custom;
        w.analytics->count_decision(static_cast<std::uint32_t>(tx.site), now_ms / 1000, kind,
                                    d.granted, d.gpc);
    }
    http::response<http::string_body> res{static_cast<http::status>(answer.status), tx.version};
    res.set(http::field::date, http_date_now());  // RFC 9110 §6.6.1: an origin server sends it
    res.set(http::field::content_type, answer.content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    for (const auto& sc : answer.set_cookies) {
        res.insert(http::field::set_cookie, sc);
    }
    if (!answer.location.empty()) {
        res.set(http::field::location, answer.location);
    }
    if (!answer.content_disposition.empty()) {
        res.set(http::field::content_disposition, answer.content_disposition);
    }
    if (!answer.allow.empty()) {
        res.set(http::field::allow, answer.allow);
    }
    if (answer.retry_after != 0) {
        res.set(http::field::retry_after, std::to_string(answer.retry_after));
    }
    res.body() = std::move(answer.body);
    res.prepare_payload();
    res.keep_alive(tx.keep_client);
    tx.status = answer.status;
    tx.bytes = res.body().size();
    c.stream.expires_after(lim.body_timeout);
    if (tx.method == http::verb::head) {
        http::response_serializer<http::string_body> sr{res};
        std::tie(ec, std::ignore) = co_await http::async_write_header(c.io, sr, use_ec);
        tx.bytes = 0;
    } else {
        std::tie(ec, std::ignore) = co_await http::async_write(c.io, res, use_ec);
    }
    if (ec) {
        tx.keep_client = false;
    }
}

}  // namespace cg::gateway
