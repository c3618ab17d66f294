#pragma once
// Small text helpers shared by the analytics sources (not part of the public headers).
#include <cstddef>
#include <string_view>

namespace cg::analytics::detail {

/// `s` without leading and trailing spaces and tabs.
constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

/// The first position in `s` of any character of `set`, or npos. A plain loop: the standard
/// library's find_first_of calls memchr on `set` once per character of `s`, which showed in
/// the tap's profile.
constexpr std::size_t find_any(std::string_view s, std::string_view set) noexcept {
    for (std::size_t i = 0; i < s.size(); ++i) {
        for (const char c : set) {
            if (s[i] == c) {
                return i;
            }
        }
    }
    return std::string_view::npos;
}

/// The first position of `c` in `s` from `from` on, or npos: a plain loop, as for find_any
/// (the values the tap reads are short, where a call to memchr costs more than it finds).
constexpr std::size_t find_char(std::string_view s, char c, std::size_t from = 0) noexcept {
    for (std::size_t i = from; i < s.size(); ++i) {
        if (s[i] == c) {
            return i;
        }
    }
    return std::string_view::npos;
}

/// ASCII lower case of `c`.
constexpr char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace cg::analytics::detail
