#pragma once
// Text helpers shared by the cookie parsers and the catalogue. Header-only, so the fuzz targets
// that compile those parsers directly need nothing more.
#include <string_view>

namespace cg::consent {

/// WSP as RFC 5234 defines it: SP or HTAB. RFC 6265 trims only these; other whitespace is
/// part of the text.
constexpr bool is_wsp(char c) noexcept {
    return c == ' ' || c == '\t';
}

/// `s` without leading and trailing WSP. A view into `s`; never throws.
constexpr std::string_view trim_wsp(std::string_view s) noexcept {
    while (!s.empty() && is_wsp(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_wsp(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

/// A `token` character (RFC 2616 §2.2: any CHAR except CTLs or separators), which RFC 6265
/// §4.1.1 requires of a cookie name: letters, digits and !#$%&'*+-.^_`|~. '*' is one, so
/// patterns with the `*` wildcard need no extra allowance.
constexpr bool is_token_char(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20U || u >= 0x7FU) {
        return false;
    }
    constexpr std::string_view separators = "()<>@,;:\\\"/[]?={}";
    return separators.find(c) == std::string_view::npos;
}

}  // namespace cg::consent
