#pragma once
#include <string>
#include <string_view>

namespace cg::text {

/// The character reference that stands for `ch` in HTML text and quoted attribute values
/// (& < > " '), or "" when `ch` stands for itself.
constexpr std::string_view html_reference(char ch) noexcept {
    switch (ch) {
        case '&':
            return "&amp;";
        case '<':
            return "&lt;";
        case '>':
            return "&gt;";
        case '"':
            return "&quot;";
        case '\'':
            return "&#39;";
        default:
            return {};
    }
}

/// `text` with & < > " ' replaced by character references, for HTML text and quoted attribute
/// values. Bytes are otherwise copied as they are (UTF-8 stays UTF-8). Never throws except
/// std::bad_alloc; untrusted input is fine.
inline std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const std::string_view ref = html_reference(ch);
        if (ref.empty()) {
            out += ch;
        } else {
            out += ref;
        }
    }
    return out;
}

}  // namespace cg::text
