#pragma once
#include <string>
#include <string_view>

namespace cg::text {

/// `text` with & < > " ' replaced by character references, for HTML text and quoted attribute
/// values. Bytes are otherwise copied as they are (UTF-8 stays UTF-8). Never throws except
/// std::bad_alloc; untrusted input is fine.
inline std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        switch (ch) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += ch;
        }
    }
    return out;
}

}  // namespace cg::text
