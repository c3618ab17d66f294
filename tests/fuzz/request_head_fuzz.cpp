// Fuzz target for everything the gateway does with request bytes before forwarding: the strict
// head scanner, Beast's parser into the flat request_head on the accepted head, the request
// checks, routing, the serialised head (it must parse back to the same fields), and the body
// framing of what follows. Invariants are checked with __builtin_trap so a violation is a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <string>

#include "gateway/config.hpp"
#include "gateway/head_parser.hpp"
#include "gateway/request_guard.hpp"
#include "gateway/router.hpp"
#include "wire.hpp"

namespace {

namespace http = boost::beast::http;
using namespace cg::gateway;

std::vector<site_config> sites() {
    std::vector<site_config> s(2);
    s[0].name = "a";
    s[0].hosts = {"a.test", "*.b.test", "c.test:8080"};
    s[1].name = "b";
    s[1].hosts = {"localhost"};
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto configured = sites();
    static const router routes{configured};
    constexpr std::size_t max_bytes = 4096;
    constexpr std::size_t max_fields = 32;

    const std::string_view in{reinterpret_cast<const char*>(data), size};
    const auto scan = scan_request_head(in, max_bytes, max_fields);
    if (scan.error || scan.head_bytes == 0) {
        return 0;
    }
    if (scan.head_bytes > max_bytes || scan.skipped + scan.head_bytes > size) {
        __builtin_trap();
    }
    const auto head = in.substr(scan.skipped, scan.head_bytes);
    if (!head.ends_with("\r\n\r\n")) {
        __builtin_trap();
    }

    request_parser parser;
    parser.header_limit(max_bytes + 4);
    parser.body_limit(1 << 20);
    boost::system::error_code ec;
    const auto used = parser.put(boost::asio::buffer(head.data(), head.size()), ec);
    if (ec) {
        return 0;
    }
    if (used != head.size() || !parser.is_header_done()) {
        __builtin_trap();  // the scanner and Beast must agree where the head ends
    }
    request_target target;
    if (check_request(parser.get(), target)) {
        return 0;
    }
    if (!target.origin.starts_with('/') && target.origin != "*") {
        __builtin_trap();
    }
    const std::string_view host = target.authority.empty()
                                      ? std::string_view{parser.get()[http::field::host]}
                                      : target.authority;
    routes.find(host);

    // The head the upstream would get parses back to the same request line and fields.
    std::string wire;
    serialize_head(parser.get(), wire);
    request_parser again;
    again.put(boost::asio::buffer(wire.data(), wire.size()), ec);
    const auto& a = parser.get();
    const auto& b = again.get();
    if (ec || b.method_string() != a.method_string() || b.target() != a.target() ||
        b.size() != a.size()) {
        __builtin_trap();
    }
    for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
        if (i->name() != j->name() || i->name_string() != j->name_string() ||
            i->value() != j->value()) {
            __builtin_trap();
        }
    }

    // What follows the head is body framing: parse it as the relay would, into a small buffer.
    auto rest = in.substr(scan.skipped + scan.head_bytes);
    char body[512];
    while (!parser.is_done() && !rest.empty()) {
        parser.lend(body);
        const auto n = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec || n == 0) {
            break;
        }
        rest.remove_prefix(n);
    }
    return 0;
}
