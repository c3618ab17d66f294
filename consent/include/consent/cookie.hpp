#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cg::consent {

/// One name=value pair of a `Cookie` request header. Views into the header text: they are valid
/// only as long as that text is.
struct cookie_pair {
    std::string_view name;
    std::string_view value;
};

/// Splits a `Cookie` header value into its pairs (RFC 6265 §4.2, parsed leniently as browsers
/// send it: `;` separated, SP/HTAB around names and values trimmed, split at the first `=`;
/// pairs without `=` have an empty name per §5.2 and are kept as a name-less value). Empty
/// pieces (";;") are skipped. Quotes, commas, control characters and NUL bytes are kept as data.
/// Input is untrusted: any bytes, any length; linear time; never throws; no allocation beyond
/// the returned vector. Pure function, safe from any thread.
std::vector<cookie_pair> parse_cookie_header(std::string_view header);

/// parse_cookie_header appending to `out` (kept as is before the new pairs), so a caller can
/// reuse one vector's storage across requests. Never throws except std::bad_alloc.
void parse_cookie_header(std::string_view header, std::vector<cookie_pair>& out);

/// A `Set-Cookie` response header parsed per RFC 6265 §5.2 (the user-agent algorithm).
/// Views point into the header text the parser was given. When both `max_age` and `expires`
/// are present, Max-Age wins (§5.3 step 3): that choice is left to the caller.
struct set_cookie {
    std::string_view name;   ///< never empty; quotes kept as sent
    std::string_view value;  ///< may be empty; quotes kept as sent
    /// As sent, one leading dot removed (§5.2.3); not lower-cased, so compare it
    /// case-insensitively. An empty `Domain=` is ignored; "Domain=." gives "".
    std::optional<std::string_view> domain;
    /// As sent, only if it starts with '/' (§5.2.4). A later Path that does not start with '/'
    /// resets it to nullopt, meaning the default-path of the request URI.
    std::optional<std::string_view> path;
    /// Seconds (§5.2.2), may be <= 0 (expire now). Values beyond int64 saturate to
    /// INT64_MAX / -INT64_MAX, so add it to a time with overflow in mind.
    std::optional<std::int64_t> max_age;
    std::optional<std::int64_t> expires;  ///< unix seconds from a §5.1.1 cookie-date
    bool secure = false;
    bool http_only = false;
    std::optional<std::string_view> same_site;  ///< value as sent ("Lax", "Strict", "None")
};

/// Parses one Set-Cookie header value. Returns nullopt when RFC 6265 §5.2 says to ignore the
/// whole header (no '=' in the name-value pair, or an empty name). Only `;` separates: commas
/// (as in Expires dates) are data. Attribute names are case-insensitive; the last valid one of
/// each wins, and invalid Expires/Max-Age/empty Domain values are ignored. Control characters
/// and NUL bytes are kept as data (RFC 6265; 6265bis would reject the header), so a name
/// compared exactly never matches a catalogue entry by accident. Input is untrusted: any bytes,
/// any length; linear time; never throws; no allocation. Pure function, safe from any thread.
std::optional<set_cookie> parse_set_cookie(std::string_view header);

/// Whether every browser will treat this Set-Cookie value as deleting its cookie rather than
/// storing one: only then may it pass for a visitor who has not consented to the cookie. Reads
/// the header as parse_set_cookie does (RFC 6265 §5.2: the last valid Max-Age and Expires win,
/// Max-Age beats Expires) and also as browsers do where they differ from the RFC (Chromium
/// takes the last Max-Age attribute even when it is invalid, falling back to Expires or a
/// session cookie then, reads "+5" as 5, and ignores attribute values over 1024 bytes;
/// tests/e2e/set_cookie_deletion.mjs checks this against chromium), and says yes only when no
/// reading keeps the cookie:
/// - the header parses, and holds no control byte other than HTAB;
/// - at least one Max-Age or Expires attribute, and every Max-Age is a valid §5.2.2 value
///   (DIGITs with an optional leading '-', at most 20 characters) of 0 or less;
/// - every Expires is a cookie-date before the year 2000; without Max-Age it must also have the
///   shape every browser parses alike: `Wdy, DD Mon YYYY HH:MM:SS GMT` (or with '-' between
///   day, month and year).
/// Input is untrusted: any bytes; linear time; never throws; no allocation. Pure function.
bool is_deletion(std::string_view header);

/// Parses a cookie-date per RFC 6265 §5.1.1 ("Wed, 21 Oct 2015 07:28:00 GMT" and the many
/// variants the algorithm accepts; errata 4148 applied). Returns unix seconds (always UTC,
/// years 1601-9999; no locale or time zone is consulted), or nullopt when the algorithm fails,
/// including for dates that do not exist such as 31 Apr. Untrusted input; linear time; never
/// throws. Pure function, safe from any thread.
std::optional<std::int64_t> parse_cookie_date(std::string_view text);

/// A `Set-Cookie` value that makes the browser delete cookie `name` at `path` / `domain`
/// (empty = no attribute): `name=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT` then
/// `; Path=`, `; Domain=` and `; Secure` (needed for __Secure-/__Host- names and SameSite=None
/// ones), or `; SameSite=Lax` when not secure. The browser deletes only a cookie whose name,
/// domain and path all match, so pass them as the cookie was set (a __Host- cookie: path "/",
/// no domain, secure). The arguments come from validated configuration, not from requests:
/// they must not contain ';', CR, LF or NUL, nor `name` an '=' (asserted in debug builds).
/// Never throws except std::bad_alloc. Pure function, safe from any thread.
std::string expiring_set_cookie(std::string_view name, std::string_view path,
                                std::string_view domain, bool secure);

}  // namespace cg::consent
