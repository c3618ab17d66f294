#include "banner/inline_snippets.hpp"

#include <array>
#include <string>

namespace cg::banner {

namespace {

// A URL written in a script is at most this long where it matters: the host and a path prefix.
constexpr std::size_t max_candidate_bytes = 512;

bool is_ident(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

bool is_js_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_quote(char c) noexcept {
    return c == '\'' || c == '"' || c == '`';
}

bool is_host_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

// Where a URL literal ends in script text: a string's closing quote, whitespace, or the
// punctuation that joins a literal to the code around it.
bool ends_candidate(char c) noexcept {
    return is_quote(c) || is_js_space(c) || c == '<' || c == '>' || c == '(' || c == ')' ||
           c == '+' || c == ',' || c == ';';
}

// Collects `text` from `from` into `buffer` as "https://" plus the literal, with JSON's `\/`
// read as `/`, and asks the catalogue.
const tracker* match_from(std::string_view text, std::size_t from,
                          const tracker_catalogue& catalogue, std::string& buffer) {
    buffer.assign("https://");
    for (std::size_t i = from; i < text.size() && buffer.size() < max_candidate_bytes; ++i) {
        char c = text[i];
        if (c == '\\' && i + 1 < text.size() && text[i + 1] == '/') {
            c = '/';
            ++i;
        } else if (ends_candidate(c) || c == '\\') {
            break;
        }
        buffer += c;
    }
    return catalogue.match(buffer);
}

// True when a quoted string starting at `from` begins like "host.name/..." or "host.name".
bool looks_like_host(std::string_view text, std::size_t from) noexcept {
    bool dot = false;
    std::size_t i = from;
    for (; i < text.size() && i - from < 256; ++i) {
        const char c = text[i];
        if (c == '.') {
            dot = true;
        } else if (!is_host_char(c)) {
            break;
        }
    }
    if (!dot || i == from || text[from] == '.') {
        return false;
    }
    return i == text.size() || text[i] == '/' || is_quote(text[i]) || text[i] == ':';
}

template <typename Visit>
bool each_url_literal(std::string_view text, const tracker_catalogue& catalogue, Visit&& visit) {
    std::string buffer;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        std::size_t from = std::string_view::npos;
        if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
            // A run of slashes is one candidate (URL parsers skip extra ones anyway).
            while (i + 1 < text.size() && text[i + 1] == '/') {
                ++i;
            }
            from = i + 1;
        } else if (c == '\\' && text.substr(i, 4) == "\\/\\/") {
            from = i + 4;
            i += 3;
        } else if (is_quote(c) && looks_like_host(text, i + 1)) {
            from = i + 1;
        }
        if (from == std::string_view::npos || from >= text.size() ||
            !(is_host_char(text[from]) || text[from] == '%' || text[from] == '\\')) {
            continue;  // a host starts here, or nothing catalogued does
        }
        if (const tracker* t = match_from(text, from, catalogue, buffer); t != nullptr) {
            if (visit(t)) {
                return true;
            }
        }
    }
    return false;
}

// True when `name` is called in `text` (not as a member or part of a longer identifier) with a
// quoted first argument that is one of `first` (any argument when `first` is empty).
bool calls(std::string_view text, std::string_view name,
           std::initializer_list<std::string_view> first) noexcept {
    for (std::size_t at = text.find(name); at != std::string_view::npos;
         at = text.find(name, at + 1)) {
        if (at > 0 && (is_ident(text[at - 1]) || text[at - 1] == '.')) {
            continue;
        }
        std::size_t i = at + name.size();
        while (i < text.size() && is_js_space(text[i])) {
            ++i;
        }
        if (i >= text.size() || text[i] != '(') {
            continue;
        }
        if (first.size() == 0) {
            return true;
        }
        ++i;
        while (i < text.size() && is_js_space(text[i])) {
            ++i;
        }
        if (i >= text.size() || !is_quote(text[i])) {
            continue;
        }
        const char quote = text[i];
        for (const std::string_view word : first) {
            const std::size_t close = i + 1 + word.size();
            if (text.substr(i + 1, word.size()) == word && close < text.size() &&
                text[close] == quote) {
                return true;
            }
        }
    }
    return false;
}

// True when `word` occurs as a whole identifier (or the content of a string) in `text`.
bool mentions(std::string_view text, std::string_view word) noexcept {
    for (std::size_t at = text.find(word); at != std::string_view::npos;
         at = text.find(word, at + 1)) {
        const std::size_t after = at + word.size();
        if ((at == 0 || !is_ident(text[at - 1])) &&
            (after == text.size() || !is_ident(text[after]))) {
            return true;
        }
    }
    return false;
}

struct signature {
    std::string_view reason;
    std::string_view url;  // looked up in the catalogue
    bool (*found)(std::string_view text) noexcept;
};

// The snippets as their vendors publish them (tests/unit/banner/inline_snippets_test.cpp has
// each in full).
constexpr std::array<signature, 7> signatures{{
    {"gtag", "https://www.google-analytics.com/g/collect",
     [](std::string_view t) noexcept {
         return calls(t, "gtag", {"config", "js"});
     }},
    {"gtm", "https://www.googletagmanager.com/gtm.js",
     [](std::string_view t) noexcept {
         return t.find("'gtm.start'") != std::string_view::npos ||
                t.find("\"gtm.start\"") != std::string_view::npos;
     }},
    {"fbq", "https://connect.facebook.net/en_US/fbevents.js",
     [](std::string_view t) noexcept {
         return calls(t, "fbq", {"init", "track"});
     }},
    {"hotjar", "https://static.hotjar.com/c/hotjar-",
     [](std::string_view t) noexcept { return mentions(t, "_hjSettings") || mentions(t, "hjid"); }},
    {"linkedin", "https://snap.licdn.com/li.lms-analytics/insight.min.js",
     [](std::string_view t) noexcept { return mentions(t, "_linkedin_partner_id"); }},
    {"clarity", "https://www.clarity.ms/tag/",
     [](std::string_view t) noexcept {
         return t.find("\"clarity\"") != std::string_view::npos ||
                t.find("'clarity'") != std::string_view::npos || calls(t, "clarity", {});
     }},
    {"ttq", "https://analytics.tiktok.com/i18n/pixel/events.js",
     [](std::string_view t) noexcept {
         return t.find("ttq.load(") != std::string_view::npos ||
                t.find("ttq.page(") != std::string_view::npos;
     }},
}};

}  // namespace

std::optional<inline_match> find_inline_tracker(std::string_view script_text,
                                                const tracker_catalogue& catalogue,
                                                const inline_tracker_filter& accept) {
    std::optional<inline_match> found;
    each_url_literal(script_text, catalogue, [&](const tracker* t) {
        if (accept && !accept(*t)) {
            return false;
        }
        found = inline_match{t, "url"};
        return true;
    });
    if (found) {
        return found;
    }
    for (const signature& s : signatures) {
        if (!s.found(script_text)) {
            continue;
        }
        const tracker* t = catalogue.match(s.url);
        if (t != nullptr && (!accept || accept(*t))) {
            return inline_match{t, s.reason};
        }
    }
    return std::nullopt;
}

}  // namespace cg::banner
