#include "responses.hpp"

#include <string>

namespace cg::gateway {

namespace http = boost::beast::http;

namespace {

std::string_view explanation(unsigned status) {
    switch (status) {
        case 400:
            return "The request was malformed and has been refused.";
        case 405:
            return "This server is not a forward proxy.";
        case 408:
            return "The request took too long to arrive.";
        case 413:
            return "The request body is larger than this site accepts.";
        case 417:
            return "The Expect header of the request is not supported.";
        case 421:
            return "This server does not serve the requested host name.";
        case 431:
            return "The request headers are too large.";
        case 502:
            return "The website behind this gateway could not be reached. Please try again "
                   "shortly.";
        case 503:
            return "The gateway is overloaded or shutting down. Please try again shortly.";
        case 504:
            return "The website behind this gateway did not answer in time. Please try again "
                   "shortly.";
        default:
            return "The request could not be completed.";
    }
}

}  // namespace

http::response<http::string_body> error_response(unsigned status, unsigned version,
                                                 bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(status), version};
    const auto reason = http::obsolete_reason(res.result());
    std::string body;
    body.reserve(512);
    body.append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
        .append(std::to_string(status))
        .append(" ")
        .append(reason)
        .append(
            "</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;"
            "margin:4em auto;padding:0 1em;color:#222}h1{font-size:1.4em}</style></head>\n"
            "<body><h1>")
        .append(std::to_string(status))
        .append(" ")
        .append(reason)
        .append("</h1>\n<p>")
        .append(explanation(status))
        .append("</p></body></html>\n");
    res.set(http::field::content_type, "text/html; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

}  // namespace cg::gateway
