// The Cookie request header (RFC 6265 §4.2 and §5.4) and the Set-Cookie that deletes a cookie.
#include <cassert>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "consent/cookie.hpp"
#include "cookie_text.hpp"

namespace cg::consent {
namespace {

// Bytes that would end the attribute or the header line if they reached the output.
[[maybe_unused]] bool breaks_header(std::string_view s) {
    for (const char c : s) {
        if (c == ';' || c == '\r' || c == '\n' || c == '\0') {
            return true;
        }
    }
    return false;
}

}  // namespace

std::vector<cookie_pair> parse_cookie_header(std::string_view header) {
    std::vector<cookie_pair> pairs;
    parse_cookie_header(header, pairs);
    return pairs;
}

void parse_cookie_header(std::string_view header, std::vector<cookie_pair>& pairs) {
    while (!header.empty()) {
        const auto semicolon = header.find(';');
        // Browsers join pairs with "; " (§5.4 step 4) but proxies and scripts add tabs and
        // extra spaces; WSP around names and values is not part of them.
        const std::string_view piece = trim_wsp(header.substr(0, semicolon));
        header =
            semicolon == std::string_view::npos ? std::string_view{} : header.substr(semicolon + 1);
        if (piece.empty()) {
            continue;  // ";;" or a trailing ';' carries no cookie
        }
        // A piece without '=' is what a browser sends for a cookie set as "=value" or, under
        // RFC 6265bis, as "value": a name-less cookie. Keep it so filters can decide about it.
        const auto eq = piece.find('=');
        if (eq == std::string_view::npos) {
            pairs.push_back({piece.substr(0, 0), piece});  // an empty view, still into header
            continue;
        }
        // Split at the first '=': values (base64, nested pairs) may contain more of them.
        pairs.push_back({trim_wsp(piece.substr(0, eq)), trim_wsp(piece.substr(eq + 1))});
    }
}

std::string expiring_set_cookie(std::string_view name, std::string_view path,
                                std::string_view domain, bool secure) {
    // The arguments come from our validated configuration, never from a request.
    assert(!breaks_header(name) && name.find('=') == std::string_view::npos);
    assert(!breaks_header(path) && !breaks_header(domain));

    // RFC 6265 §5.3 step 11: a new cookie with the same name, domain and path replaces the old
    // one, and §5.2.2 Max-Age=0 makes it expire at once. Expires in the past covers user agents
    // that predate Max-Age.
    std::string out;
    out.reserve(name.size() + path.size() + domain.size() + 96);
    out.append(name);
    out.append("=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    if (!path.empty()) {
        out.append("; Path=");
        out.append(path);
    }
    if (!domain.empty()) {
        out.append("; Domain=");
        out.append(domain);
    }
    if (secure) {
        // Browsers refuse to set (and so to overwrite) __Secure-/__Host- names and
        // SameSite=None cookies without Secure (RFC 6265bis "Cookie Name Prefixes").
        out.append("; Secure");
    } else {
        // SameSite does not take part in matching the cookie to delete; stating it keeps
        // browsers from warning about a cookie without a SameSite attribute.
        out.append("; SameSite=Lax");
    }
    return out;
}

}  // namespace cg::consent
