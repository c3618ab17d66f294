#include "wire.hpp"

#include <charconv>

namespace cg::gateway {

namespace http = boost::beast::http;

namespace {

void append_fields(const pooled_fields& f, std::string& out) {
    for (const auto& field : f) {
        out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
    }
    out.append("\r\n");
}

void append_version(unsigned version, std::string& out) {
    out.append(version >= 11 ? "HTTP/1.1" : "HTTP/1.0");
}

}  // namespace

void serialize_head(const http::header<true, pooled_fields>& h, std::string& out) {
    out.clear();
    out.append(h.method_string()).push_back(' ');
    out.append(h.target()).push_back(' ');
    append_version(h.version(), out);
    out.append("\r\n");
    append_fields(h, out);
}

void serialize_head(const http::header<false, pooled_fields>& h, std::string& out) {
    out.clear();
    append_version(h.version(), out);
    char code[4];
    const auto status = h.result_int();
    std::to_chars(code, code + 3, status);
    code[3] = ' ';
    out.push_back(' ');
    out.append(code, 4);
    const auto reason = h.reason();
    out.append(reason.empty() ? http::obsolete_reason(static_cast<http::status>(status)) : reason);
    out.append("\r\n");
    append_fields(h, out);
}

}  // namespace cg::gateway
