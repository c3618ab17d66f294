// Set-Cookie parsing per RFC 6265 §5.2, the user-agent algorithm: we must read upstream headers
// the way the browser will, not the way §4.1 says servers should write them, or a cookie could
// slip past the filter under a name the browser sees differently.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "consent/cookie.hpp"
#include "cookie_text.hpp"

namespace cg::consent {
namespace {

// ASCII case-insensitive comparison with a lower-case literal (§5.2: attribute names are
// matched case-insensitively; a locale must not change what "SECURE" means).
bool equals_lower(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size()) {
        return false;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != lower[i]) {
            return false;
        }
    }
    return true;
}

// RFC 6265 §5.2.2: the first character must be a DIGIT or '-', the rest DIGITs, otherwise the
// attribute is ignored. A lone "-" has no digits to convert and is ignored too. Values beyond
// int64 saturate instead of wrapping: "99999999999999999999" must stay a far-future lifetime.
std::optional<std::int64_t> parse_max_age(std::string_view v) {
    bool negative = false;
    if (!v.empty() && v.front() == '-') {
        negative = true;
        v.remove_prefix(1);
    }
    if (v.empty()) {
        return std::nullopt;
    }
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
    std::int64_t magnitude = 0;
    for (const char c : v) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        const int digit = c - '0';
        magnitude = magnitude > (max - digit) / 10 ? max : magnitude * 10 + digit;
    }
    if (negative) {
        // -max rather than min keeps the result negatable; any value <= 0 means "expired".
        return -magnitude;
    }
    return magnitude;
}

// An attribute's name and value, both WSP-trimmed (§5.2 steps 2-5 of the attribute loop).
// Without '=' the value is empty (§5.2 step 4); an empty view at the end keeps every view the
// parser returns inside the header.
std::pair<std::string_view, std::string_view> split_attribute(std::string_view av) {
    std::string_view name = av;
    std::string_view value = av.substr(av.size());
    if (const auto eq = av.find('='); eq != std::string_view::npos) {
        name = av.substr(0, eq);
        value = av.substr(eq + 1);
    }
    return {trim_wsp(name), trim_wsp(value)};
}

void apply_attribute(set_cookie& cookie, std::string_view av) {
    const auto [name, raw_value] = split_attribute(av);
    std::string_view value = raw_value;

    if (equals_lower(name, "expires")) {
        // §5.2.1: a value that fails to parse as a cookie-date ignores the attribute.
        if (auto t = parse_cookie_date(value)) {
            cookie.expires = t;
        }
    } else if (equals_lower(name, "max-age")) {
        if (auto seconds = parse_max_age(value)) {
            cookie.max_age = seconds;
        }
    } else if (equals_lower(name, "domain")) {
        // §5.2.3: an empty value SHOULD make the user agent ignore the attribute entirely (so an
        // earlier Domain stays); a leading dot is dropped.
        if (value.empty()) {
            return;
        }
        if (value.front() == '.') {
            value.remove_prefix(1);
        }
        cookie.domain = value;
    } else if (equals_lower(name, "path")) {
        // §5.2.4: an empty value, or one not starting with '/', is not ignored: it sets the path
        // to the default-path, and being later it overrides an earlier valid Path.
        if (!value.empty() && value.front() == '/') {
            cookie.path = value;
        } else {
            cookie.path.reset();
        }
    } else if (equals_lower(name, "secure")) {
        cookie.secure = true;  // §5.2.5: any value is allowed and ignored
    } else if (equals_lower(name, "httponly")) {
        cookie.http_only = true;  // §5.2.6
    } else if (equals_lower(name, "samesite")) {
        cookie.same_site = value;  // RFC 6265bis "SameSite"; the caller interprets it
    }
    // §5.2 step 6 of the attribute loop: unknown attributes are ignored.
}

bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_ascii_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// `Wdy, DD Mon YYYY HH:MM:SS GMT` (RFC 1123, what RFC 6265 §4.1.1 has servers send), or with
// '-' around the month (the Netscape form older PHP sends): the one shape that every
// browser's date parser reads alike. The values themselves are checked by parse_cookie_date.
bool has_fixed_date_shape(std::string_view v) {
    // 'A': an ASCII letter, '0': a digit, '-': ' ' or '-' (the same both times); else itself.
    constexpr std::string_view shape = "AAA, 00-AAA-0000 00:00:00 GMT";
    if (v.size() != shape.size() || v[7] != v[11] || (v[7] != ' ' && v[7] != '-')) {
        return false;
    }
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const char want = shape[i];
        const bool ok = want == 'A'   ? is_ascii_letter(v[i])
                        : want == '0' ? is_ascii_digit(v[i])
                        : want == '-' ? true  // checked above
                                      : v[i] == want;
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool is_deletion(std::string_view header) {
    // A control byte makes browsers reject the line (Chromium) or cut it there (older ones,
    // which then store what came before): never a sure deletion.
    for (const char ch : header) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            return false;
        }
    }
    if (!parse_set_cookie(header)) {
        return false;
    }
    constexpr std::int64_t year_2000 = 946'684'800;
    // Chromium ignores attribute values over 1024 bytes; a valid Max-Age needs at most 20.
    constexpr std::size_t max_max_age = 20;
    bool max_age = false;
    bool expires = false;
    bool fixed_dates = true;
    std::string_view attributes = header.substr(std::min(header.find(';'), header.size()));
    while (!attributes.empty()) {
        attributes.remove_prefix(1);
        const auto next = attributes.find(';');
        const auto [name, value] = split_attribute(attributes.substr(0, next));
        attributes = next == std::string_view::npos ? std::string_view{} : attributes.substr(next);
        if (equals_lower(name, "max-age")) {
            // RFC 6265 §5.3 lets the last valid one win, Chromium the last one whatever it
            // holds: every one must be a valid value that expires the cookie.
            max_age = true;
            const auto seconds = value.size() <= max_max_age ? parse_max_age(value) : std::nullopt;
            if (!seconds || *seconds > 0) {
                return false;
            }
        } else if (equals_lower(name, "expires")) {
            expires = true;
            const auto t = parse_cookie_date(value);
            if (!t || *t >= year_2000) {
                return false;
            }
            fixed_dates = fixed_dates && has_fixed_date_shape(value);
        }
    }
    if (max_age) {
        return true;  // §5.3 step 3: Max-Age beats Expires (and every Expires is past anyway)
    }
    return expires && fixed_dates;
}

std::optional<set_cookie> parse_set_cookie(std::string_view header) {
    // §5.2 step 1: the name-value-pair runs to the first ';'. Only ';' separates: commas are
    // data here (Expires dates contain them, and folded headers are not split on them).
    const auto semicolon = header.find(';');
    const std::string_view pair = header.substr(0, semicolon);
    std::string_view attributes =
        semicolon == std::string_view::npos ? std::string_view{} : header.substr(semicolon);

    // Step 2: no '=' ignores the whole header (RFC 6265; 6265bis would treat it as a value).
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
        return std::nullopt;
    }
    set_cookie cookie;
    // Steps 3 and 4: split at the first '=', so a value may contain '='; trim WSP both sides.
    cookie.name = trim_wsp(pair.substr(0, eq));
    cookie.value = trim_wsp(pair.substr(eq + 1));
    // Step 5: an empty name ignores the whole header.
    if (cookie.name.empty()) {
        return std::nullopt;
    }

    // §5.2 attribute loop. Each byte is looked at a bounded number of times, so the work is
    // linear in the header length however many attributes there are.
    while (!attributes.empty()) {
        attributes.remove_prefix(1);  // the ';' that starts this cookie-av
        const auto next = attributes.find(';');
        apply_attribute(cookie, attributes.substr(0, next));
        attributes = next == std::string_view::npos ? std::string_view{} : attributes.substr(next);
    }
    return cookie;
}

}  // namespace cg::consent
