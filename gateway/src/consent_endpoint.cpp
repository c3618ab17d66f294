#include "consent_endpoint.hpp"

#include <chrono>

#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "async.hpp"
#include "consent/endpoints.hpp"
#include "gateway/request_guard.hpp"
#include "pipeline.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string_view view(boost::core::string_view s) {
    return {s.data(), s.size()};
}

// Reads the whole body into `out`, at most consent::max_endpoint_body bytes. Errors:
// body_limit (too big), timeout, or whatever the socket or the chunk framing said.
net::awaitable<beast::error_code> read_body(connection& c, request_parser& req, millis timeout,
                                            std::string& out) {
    if (req.content_length().value_or(0) > consent::max_endpoint_body) {
        co_return http::error::body_limit;
    }
    std::array<char, 4096> chunk{};
    while (!req.is_done()) {
        req.get().body().data = chunk.data();
        req.get().body().size = chunk.size();
        c.arm(timeout);
        auto [ec, n] = co_await http::async_read_some(c.stream.socket(), c.buffer, req, use_ec);
        c.disarm();
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec == net::error::operation_aborted && c.timed_out) {
            co_return beast::error::timeout;
        }
        if (ec) {
            co_return ec;
        }
        out.append(chunk.data(), chunk.size() - req.get().body().size);
        if (out.size() > consent::max_endpoint_body) {
            co_return http::error::body_limit;
        }
    }
    co_return beast::error_code{};
}

unsigned status_for_body_error(const beast::error_code& ec) {
    if (ec == http::error::body_limit) {
        return 413;
    }
    if (ec == beast::error::timeout) {
        return 408;
    }
    return 400;
}

}  // namespace

net::awaitable<exchange> answer_consent(worker& w, std::size_t site_index, connection& c,
                                        request_parser& req, const request_target& target) {
    const auto& in = req.get();
    const unsigned version = in.version();
    exchange ex;
    ex.keep_client = req.keep_alive() && !w.draining();

    if (!req.is_done() && in.count(http::field::expect) != 0 && version >= 11) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        c.stream.expires_after(w.cfg.limits.body_timeout);
        if (auto [ec, n] = co_await net::async_write(c.stream, net::buffer(cont), use_ec); ec) {
            ex.status = 499;
            ex.keep_client = false;
            co_return ex;
        }
    }
    std::string body;
    if (const auto ec = co_await read_body(c, req, w.cfg.limits.body_timeout, body)) {
        ex.status = status_for_body_error(ec);
        ex.keep_client = false;  // the rest of the body may still be on its way
        co_await write_error(c, ex.status, version, false);
        co_return ex;
    }

    consent::endpoint_request r;
    r.method = in.method();
    r.path = path_of(target.origin);
    r.query = query_of(target.origin);
    r.host = target.authority.empty() ? view(in[http::field::host]) : target.authority;
    r.https = visitor_used_https(in, c.info);
    for (const auto& f : in) {
        if (f.name() == http::field::cookie) {
            r.cookies.push_back(view(f.value()));
        }
    }
    r.content_type = view(in[http::field::content_type]);
    r.origin = view(in[http::field::origin]);
    r.referer = view(in[http::field::referer]);
    r.accept_language = view(in[http::field::accept_language]);
    r.gpc = view(in["Sec-GPC"]) == "1";
    r.body = body;
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    auto answer = co_await consent::handle_endpoint(r, *w.shared.consent_sites[site_index],
                                                    w.shared.records, now_ms);

    http::response<http::string_body> res{static_cast<http::status>(answer.status), version};
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
    res.body() = std::move(answer.body);
    res.prepare_payload();
    res.keep_alive(ex.keep_client);
    ex.status = answer.status;
    ex.bytes = res.body().size();
    c.stream.expires_after(w.cfg.limits.body_timeout);
    beast::error_code ec;
    if (in.method() == http::verb::head) {
        http::response_serializer<http::string_body> sr{res};
        std::tie(ec, std::ignore) = co_await http::async_write_header(c.stream, sr, use_ec);
        ex.bytes = 0;
    } else {
        std::tie(ec, std::ignore) = co_await http::async_write(c.stream, res, use_ec);
    }
    if (ec) {
        ex.keep_client = false;
    }
    co_return ex;
}

}  // namespace cg::gateway
