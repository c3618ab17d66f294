#include "gateway/request_guard.hpp"

#include <cstring>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace cg::gateway {

namespace http = boost::beast::http;

head_scan scan_request_head(std::string_view in, std::size_t max_bytes,
                            std::size_t max_fields) noexcept {
    head_scan out;
    std::size_t pos = 0;
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    while (pos + 1 < in.size() && in[pos] == '\r' && in[pos + 1] == '\n') {
        pos += 2;
    }
    out.skipped = pos;
    const std::size_t start = pos;
    // Bytes from here on only count if the head ends first; reaching this point without an
    // end means the head is too large. memchr finds each line's CR (and any stray LF before
    // it) many bytes at a time: a head carries a few hundred bytes of cookies.
    const std::size_t limit = in.size() - start <= max_bytes ? in.size() : start + max_bytes;
    const char* const base = in.data();
    std::size_t lines = 0;
    while (pos < limit) {  // pos is at the start of a line
        if (lines > 0 && (in[pos] == ' ' || in[pos] == '\t')) {
            out.error = errc::obs_fold;  // RFC 9112 §5.2: reject, or smuggle.
            return out;
        }
        const auto* cr = static_cast<const char*>(std::memchr(base + pos, '\r', limit - pos));
        const std::size_t cr_pos = cr == nullptr ? limit : static_cast<std::size_t>(cr - base);
        if (std::memchr(base + pos, '\n', cr_pos - pos) != nullptr) {
            // Every LF must end a CRLF.
            out.error = errc::bare_lf;
            return out;
        }
        if (cr == nullptr) {
            pos = limit;
            break;
        }
        if (cr_pos + 1 == in.size()) {
            return out;  // need the byte after CR
        }
        if (in[cr_pos + 1] != '\n') {
            out.error = errc::bare_cr;
            return out;
        }
        if (cr_pos == pos && lines > 0) {  // the empty line that ends the head
            out.head_bytes = cr_pos + 2 - start;
            if (out.head_bytes > max_bytes) {
                out.error = errc::header_too_large;
                out.head_bytes = 0;
            }
            return out;
        }
        pos = cr_pos + 2;
        if (++lines > max_fields + 1) {  // the request line plus the fields
            out.error = errc::too_many_headers;
            return out;
        }
    }
    if (pos - start >= max_bytes) {
        out.error = errc::header_too_large;
    }
    return out;
}

namespace {

template <class Fields>
bool is_only_chunked(const Fields& f) {
    std::size_t tokens = 0;
    bool chunked = false;
    std::size_t fields = 0;
    for (const auto& field : f) {
        if (field.name() != http::field::transfer_encoding) {
            continue;
        }
        ++fields;
        for (auto t : http::token_list{boost::core::string_view{field.value()}}) {
            ++tokens;
            chunked = boost::beast::iequals(t, "chunked");
        }
    }
    return fields == 1 && tokens == 1 && chunked;
}

bool parse_target(std::string_view t, http::verb method, request_target& out) {
    if (t.starts_with('/')) {
        out.origin = t;
        return true;
    }
    if (t == "*") {
        out.origin = t;
        return method == http::verb::options;
    }
    // RFC 9112 §3.2.2 absolute-form. Only http and https make sense in front of a website.
    std::size_t scheme_end = 0;
    if (t.size() > 7 && boost::beast::iequals(t.substr(0, 7), "http://")) {
        scheme_end = 7;
    } else if (t.size() > 8 && boost::beast::iequals(t.substr(0, 8), "https://")) {
        scheme_end = 8;
    } else {
        return false;
    }
    const auto rest = t.substr(scheme_end);
    const auto path = rest.find_first_of("/?#");
    out.authority = rest.substr(0, path);
    if (out.authority.empty() || out.authority.find('@') != std::string_view::npos) {
        return false;  // userinfo in a request target is a spoofing trick, never legitimate
    }
    if (path == std::string_view::npos) {
        out.origin = "/";
    } else if (rest[path] == '#') {
        return false;
    } else if (rest[path] == '?') {
        // RFC 9112 §3.2.1: an empty path is "/" in origin-form.
        out.rebuilt.assign("/").append(rest.substr(path));
        out.origin = out.rebuilt;
    } else {
        out.origin = rest.substr(path);
    }
    return true;
}

}  // namespace

template <class Head>
boost::system::error_code check_request(const Head& head, request_target& target) {
    if (head.method() == http::verb::connect) {
        return errc::method_not_allowed;
    }
    if (!parse_target(head.target(), head.method(), target)) {
        return errc::bad_target;
    }
    const auto hosts = head.count(http::field::host);
    if (hosts > 1 || (hosts == 0 && head.version() >= 11)) {
        return errc::missing_host;
    }
    if (head.count(http::field::transfer_encoding) != 0) {
        // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty; we accept
        // only plain chunked, so no coding stack can disagree with ours about where the body ends.
        if (head.version() < 11 || !is_only_chunked(head)) {
            return errc::bad_transfer_encoding;
        }
    }
    const auto expect = head.find(http::field::expect);
    if (expect != head.end() && !boost::beast::iequals(expect->value(), "100-continue")) {
        return errc::expectation_failed;
    }
    return {};
}

template boost::system::error_code check_request(const http::header<true, http::fields>&,
                                                 request_target&);
template boost::system::error_code check_request(const request_head&, request_target&);

}  // namespace cg::gateway
