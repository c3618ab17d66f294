#include "banner/holdback.hpp"

#include <array>
#include <exception>
#include <span>
#include <string_view>
#include <utility>

namespace cg::banner {

namespace {

// WHATWG Infra: ASCII whitespace is TAB, LF, FF, CR and SPACE.
bool is_html_space(char c) noexcept {
    return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

std::string_view trim_space(std::string_view s) noexcept {
    while (!s.empty() && is_html_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_html_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// WHATWG MIME Sniffing §4.6: the JavaScript MIME type essences. HTML §4.12.1.1 runs a script
// whose type is one of them, empty, or absent, and "module" runs as a module script.
// Parameters (";charset=...") are tolerated here: holding back a script that would not have
// run is harmless, letting one run is not.
bool runs_as_script(const html_attribute* type) noexcept {
    static constexpr std::array<std::string_view, 17> javascript_types{"application/ecmascript",
                                                                       "application/javascript",
                                                                       "application/x-ecmascript",
                                                                       "application/x-javascript",
                                                                       "text/ecmascript",
                                                                       "text/javascript",
                                                                       "text/javascript1.0",
                                                                       "text/javascript1.1",
                                                                       "text/javascript1.2",
                                                                       "text/javascript1.3",
                                                                       "text/javascript1.4",
                                                                       "text/javascript1.5",
                                                                       "text/jscript",
                                                                       "text/livescript",
                                                                       "text/x-ecmascript",
                                                                       "text/x-javascript",
                                                                       "module"};
    if (type == nullptr) {
        return true;
    }
    std::string_view essence = trim_space(type->value);
    if (essence.empty()) {
        return true;
    }
    if (const auto semicolon = essence.find(';'); semicolon != std::string_view::npos) {
        essence = trim_space(essence.substr(0, semicolon));
    }
    for (const auto known : javascript_types) {
        if (iequals(essence, known)) {
            return true;
        }
    }
    return false;
}

// The first tracker among the URLs of a tag whose category the visitor has not granted.
struct held_by {
    const tracker_catalogue& catalogue;
    granted_trackers granted;
    const tracker* found = nullptr;

    void check(std::string_view url) noexcept {
        if (found != nullptr) {
            return;
        }
        const tracker* t = catalogue.match(url);
        if (t != nullptr && !granted.has(t->category)) {
            found = t;
        }
    }

    // HTML §4.8.4.3.10 "parse a srcset attribute", reduced to finding each candidate's URL:
    // skip whitespace and commas, take the run up to whitespace (trailing commas end the
    // candidate), then skip descriptors up to a comma outside parentheses.
    void check_srcset(std::string_view srcset) noexcept {
        std::size_t i = 0;
        while (i < srcset.size()) {
            while (i < srcset.size() && (is_html_space(srcset[i]) || srcset[i] == ',')) {
                ++i;
            }
            const std::size_t start = i;
            while (i < srcset.size() && !is_html_space(srcset[i])) {
                ++i;
            }
            std::string_view url = srcset.substr(start, i - start);
            if (url.empty()) {
                break;
            }
            const bool ends_candidate = url.back() == ',';
            while (!url.empty() && url.back() == ',') {
                url.remove_suffix(1);
            }
            check(url);
            if (ends_candidate) {
                continue;
            }
            bool in_parens = false;
            for (; i < srcset.size(); ++i) {
                const char c = srcset[i];
                if (c == '(') {
                    in_parens = true;
                } else if (c == ')') {
                    in_parens = false;
                } else if (c == ',' && !in_parens) {
                    ++i;
                    break;
                }
            }
        }
    }
};

// HTML §4.6.7: a link's rel is a set of space-separated, ASCII case-insensitive keywords.
bool link_fetches_early(std::string_view rel) noexcept {
    static constexpr std::array<std::string_view, 5> early{"preconnect", "dns-prefetch", "preload",
                                                           "prefetch", "modulepreload"};
    std::size_t i = 0;
    while (i < rel.size()) {
        while (i < rel.size() && is_html_space(rel[i])) {
            ++i;
        }
        const std::size_t start = i;
        while (i < rel.size() && !is_html_space(rel[i])) {
            ++i;
        }
        const std::string_view keyword = rel.substr(start, i - start);
        for (const auto e : early) {
            if (iequals(keyword, e)) {
                return true;
            }
        }
    }
    return false;
}

// Writes an attribute value between double quotes. `raw` is as written in the page, so its
// character references stay as they were; only the bytes that would end or change the value
// are escaped (HTML §13.2.5.36: in double quotes only `"` ends the value; `&quot;` decodes back
// to it and, starting with `&`, never completes an earlier partial reference differently).
void append_quoted(std::string& out, std::string_view raw) {
    out += '"';
    for (const char c : raw) {
        if (c == '"') {
            out += "&quot;";
        } else {
            out += c;
        }
    }
    out += '"';
}

// Our own values (catalogue text) are plain text, so `&` is escaped as well.
void append_text_attribute(std::string& out, std::string_view name, std::string_view text) {
    out += ' ';
    out += name;
    out += "=\"";
    for (const char c : text) {
        if (c == '"') {
            out += "&quot;";
        } else if (c == '&') {
            out += "&amp;";
        } else {
            out += c;
        }
    }
    out += '"';
}

// `bare` says whether the attribute written last had no value; it is updated.
void append_raw_attribute(std::string& out, std::string_view name, std::string_view raw,
                          bool& bare) {
    // HTML §13.2.5.34: after a name without a value, whitespace and then `=` start that
    // attribute's value, so a following attribute whose name begins with `=` (legal in the
    // before attribute name state) needs the previous one to carry an explicit empty value.
    if (bare && name.starts_with('=')) {
        out += "=\"\"";
    }
    out += ' ';
    out += name;
    // An attribute written without a value (`async`) and one with an empty value are the same
    // attribute; keep the short form.
    bare = raw.empty();
    if (!bare) {
        out += '=';
        append_quoted(out, raw);
    }
}

// The renames a held tag gets: original name, new name. `type` on a script is special-cased.
struct rename {
    std::string_view from;
    std::string_view to;
};

// The names a held tag gets from us: a page's own attribute of the same name is dropped.
bool is_added_name(std::string_view name, std::span<const rename> renames, bool script) noexcept {
    if (name == "data-consent-category" || name == "data-consent-vendor") {
        return true;
    }
    if (script && (name == "type" || name == "data-consent-type")) {
        return true;
    }
    for (const rename& r : renames) {
        if (name == r.to) {
            return true;
        }
    }
    return false;
}

std::string serialise_held(const html_token& tag, const tracker& held,
                           std::span<const rename> renames, bool script) {
    std::string out;
    out.reserve(static_cast<std::size_t>(tag.end - tag.begin) + 128);
    out += '<';
    out += tag.name;
    if (script) {
        out += " type=\"text/plain\"";
        if (const html_attribute* type = tag.find("type"); type != nullptr) {
            // The banner script restores it (module scripts must stay modules).
            bool type_bare = false;
            append_raw_attribute(out, "data-consent-type", type->raw_value, type_bare);
        }
    }
    append_text_attribute(out, "data-consent-category", name_of(held.category));
    append_text_attribute(out, "data-consent-vendor", held.vendor);
    bool bare = false;
    for (const html_attribute& attribute : tag.attributes) {
        std::string_view name = attribute.name;
        bool renamed = false;
        for (const rename& r : renames) {
            if (name == r.from) {
                name = r.to;
                renamed = true;
                break;
            }
        }
        // A page's own data-consent-* (or type) would clash with ours, and the first of two
        // equal names wins in the browser (§13.2.5.33): drop the page's copy.
        if (!renamed && is_added_name(name, renames, script)) {
            continue;
        }
        append_raw_attribute(out, name, attribute.raw_value, bare);
    }
    out += tag.self_closing ? " />" : ">";
    return out;
}

std::optional<std::string> hold_back(const html_token& tag, const tracker_catalogue& catalogue,
                                     granted_trackers granted) {
    if (tag.kind != html_token_kind::start_tag || tag.truncated || granted.everything()) {
        return std::nullopt;
    }
    held_by held{catalogue, granted};
    if (tag.name == "script") {
        const html_attribute* src = tag.find("src");
        if (src == nullptr || !runs_as_script(tag.find("type"))) {
            return std::nullopt;  // inline scripts and text/plain placeholders stay as they are
        }
        held.check(src->value);
        if (held.found == nullptr) {
            return std::nullopt;
        }
        static constexpr std::array<rename, 1> renames{{{"src", "data-consent-src"}}};
        return serialise_held(tag, *held.found, renames, true);
    }
    if (tag.name == "iframe") {
        if (const html_attribute* src = tag.find("src"); src != nullptr) {
            held.check(src->value);
        }
        if (held.found == nullptr) {
            return std::nullopt;
        }
        static constexpr std::array<rename, 1> renames{{{"src", "data-consent-src"}}};
        return serialise_held(tag, *held.found, renames, false);
    }
    if (tag.name == "img") {
        if (const html_attribute* src = tag.find("src"); src != nullptr) {
            held.check(src->value);
        }
        if (const html_attribute* srcset = tag.find("srcset"); srcset != nullptr) {
            held.check_srcset(srcset->value);
        }
        if (held.found == nullptr) {
            return std::nullopt;
        }
        static constexpr std::array<rename, 2> renames{
            {{"src", "data-consent-src"}, {"srcset", "data-consent-srcset"}}};
        return serialise_held(tag, *held.found, renames, false);
    }
    if (tag.name == "link") {
        const html_attribute* rel = tag.find("rel");
        const html_attribute* href = tag.find("href");
        if (rel == nullptr || href == nullptr || !link_fetches_early(rel->value)) {
            return std::nullopt;
        }
        held.check(href->value);
        if (held.found == nullptr) {
            return std::nullopt;
        }
        static constexpr std::array<rename, 1> renames{{{"href", "data-consent-href"}}};
        return serialise_held(tag, *held.found, renames, false);
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> hold_back_tag(const html_token& tag, const tracker_catalogue& catalogue,
                                         granted_trackers granted) noexcept {
    try {
        return hold_back(tag, catalogue, granted);
    } catch (const std::exception&) {
        // Only bad_alloc can get here; keeping the tag is the one answer that needs no memory.
        return std::nullopt;
    }
}

start_tag_replacer make_holdback(const tracker_catalogue& catalogue, granted_trackers granted) {
    return [&catalogue, granted](const html_token& tag) {
        return hold_back_tag(tag, catalogue, granted);
    };
}

}  // namespace cg::banner
