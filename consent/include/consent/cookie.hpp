#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cg::consent {

/// One name=value pair of a `Cookie` request header. Views into the header text.
struct cookie_pair {
    std::string_view name;
    std::string_view value;
};

/// Splits a `Cookie` header value into its pairs (RFC 6265 §4.2, parsed leniently as browsers
/// send it: `;` separated, optional spaces, pairs without `=` have an empty name per §5.2 and
/// are kept as a name-less value). Input is untrusted; never throws; no allocation beyond the
/// returned vector. Empty pieces (";;") are skipped.
std::vector<cookie_pair> parse_cookie_header(std::string_view header);

/// A `Set-Cookie` response header parsed per RFC 6265 §5.2 (the user-agent algorithm).
/// Views point into the header text the parser was given.
struct set_cookie {
    std::string_view name;
    std::string_view value;
    std::optional<std::string_view> domain;  ///< as sent, leading dot removed (§5.2.3)
    std::optional<std::string_view> path;    ///< as sent, only if it starts with '/' (§5.2.4)
    std::optional<std::int64_t> max_age;     ///< seconds (§5.2.2), may be <= 0
    std::optional<std::int64_t> expires;     ///< unix seconds from a §5.1.1 cookie-date
    bool secure = false;
    bool http_only = false;
    std::optional<std::string_view> same_site;  ///< value as sent ("Lax", "Strict", "None")
};

/// Parses one Set-Cookie header value. Returns nullopt when RFC 6265 §5.2 says to ignore the
/// whole header (no '=' in the name-value pair, or an empty name). Input is untrusted: any
/// bytes, any length; never throws. Attribute names are case-insensitive; the last of each
/// wins.
std::optional<set_cookie> parse_set_cookie(std::string_view header);

/// Parses a cookie-date per RFC 6265 §5.1.1 ("Wed, 21 Oct 2015 07:28:00 GMT" and the many
/// variants the algorithm accepts). Returns unix seconds, or nullopt when the algorithm fails.
/// Untrusted input; never throws.
std::optional<std::int64_t> parse_cookie_date(std::string_view text);

/// A `Set-Cookie` value that makes the browser delete cookie `name` at `path` / `domain`
/// (empty = no attribute): `name=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; ...`.
/// Secure is added when `secure` (needed for __Secure-/__Host- names and SameSite=None ones).
std::string expiring_set_cookie(std::string_view name, std::string_view path,
                                std::string_view domain, bool secure);

}  // namespace cg::consent
