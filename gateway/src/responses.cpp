#include "responses.hpp"

#include <array>
#include <cstdio>
#include <ctime>
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

const std::string& http_date_now() {
    struct cached {
        std::time_t second = -1;
        std::string text;
    };
    thread_local cached mine;
    const std::time_t now = std::time(nullptr);
    if (now != mine.second) {
        // Day and month names are fixed English tokens (RFC 9110 §5.6.7), not the locale's.
        static constexpr std::array<const char*, 7> days{"Sun", "Mon", "Tue", "Wed",
                                                         "Thu", "Fri", "Sat"};
        static constexpr std::array<const char*, 12> months{
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::tm t{};
        gmtime_r(&now, &t);
        std::array<char, 40> buf{};
        const int n = std::snprintf(buf.data(), buf.size(), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                    days[static_cast<std::size_t>(t.tm_wday) % 7], t.tm_mday,
                                    months[static_cast<std::size_t>(t.tm_mon) % 12],
                                    t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
        mine.text.assign(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
        mine.second = now;
    }
    return mine.text;
}

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
    res.set(http::field::date, http_date_now());
    res.set(http::field::content_type, "text/html; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

}  // namespace cg::gateway
