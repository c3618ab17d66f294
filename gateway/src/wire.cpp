#include "wire.hpp"

#include <charconv>

#include <boost/beast/http/status.hpp>

namespace cg::gateway {

namespace http = boost::beast::http;

namespace {

std::size_t fields_size(const head_fields& f) {
    std::size_t n = 2;
    for (const auto& field : f) {
        n += field.name_string().size() + field.value().size() + 4;
    }
    return n;
}

// Appends through one pointer into storage reserved up front: no capacity check per piece.
char* put(char* at, std::string_view s) noexcept {
    std::char_traits<char>::copy(at, s.data(), s.size());
    return at + s.size();
}

char* put_fields(const head_fields& f, char* at) noexcept {
    for (const auto& field : f) {
        at = put(at, field.name_string());
        *at++ = ':';
        *at++ = ' ';
        at = put(at, field.value());
        *at++ = '\r';
        *at++ = '\n';
    }
    *at++ = '\r';
    *at++ = '\n';
    return at;
}

std::string_view version_text(unsigned version) noexcept {
    return version >= 11 ? "HTTP/1.1" : "HTTP/1.0";
}

}  // namespace

void serialize_head(const request_head& h, std::string& out) {
    const auto line = h.method_string().size() + h.target().size() + 12;
    out.resize(line + fields_size(h));
    char* at = out.data();
    at = put(at, h.method_string());
    *at++ = ' ';
    at = put(at, h.target());
    *at++ = ' ';
    at = put(at, version_text(h.version()));
    *at++ = '\r';
    *at++ = '\n';
    at = put_fields(h, at);
    out.resize(static_cast<std::size_t>(at - out.data()));
}

void serialize_head(const response_head& h, std::string& out) {
    const auto status = h.result_int();
    auto reason = h.reason();
    if (reason.empty()) {
        const auto r = http::obsolete_reason(static_cast<http::status>(status));
        reason = {r.data(), r.size()};
    }
    out.resize(reason.size() + 16 + fields_size(h));
    char* at = out.data();
    at = put(at, version_text(h.version()));
    *at++ = ' ';
    char code[4];
    std::to_chars(code, code + 3, status % 1000);
    at = put(at, {code, 3});
    *at++ = ' ';
    at = put(at, reason);
    *at++ = '\r';
    *at++ = '\n';
    at = put_fields(h, at);
    out.resize(static_cast<std::size_t>(at - out.data()));
}

}  // namespace cg::gateway
