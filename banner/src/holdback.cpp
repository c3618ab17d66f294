#include "banner/holdback.hpp"

#include "banner/inline_snippets.hpp"
#include "text/html_escape.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <memory>
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

// The first tracker among the URLs of a tag that the visitor has not granted (or, for a
// script with consent mode on, a Google tag whatever the grants).
struct held_by {
    const tracker_catalogue& catalogue;
    granted_trackers granted;
    bool google_always = false;
    const tracker* found = nullptr;

    bool wanted(const tracker& t) const noexcept {
        return !granted.has(t.category) || (google_always && t.consent_mode);
    }

    void check(std::string_view url) noexcept {
        if (found != nullptr) {
            return;
        }
        const tracker* t = catalogue.match(url);
        if (t != nullptr && wanted(*t)) {
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

// The names a held tag gets from us: a page's own attribute of the same name is dropped.
struct held_shape {
    std::span<const std::string_view> urls;  // attributes renamed to data-consent-<name>
    bool script = false;
    bool google = false;
};

constexpr std::string_view consent_prefix = "data-consent-";

bool is_renamed_target(std::string_view name, const held_shape& shape) noexcept {
    if (!name.starts_with(consent_prefix)) {
        return false;
    }
    name.remove_prefix(consent_prefix.size());
    for (const std::string_view u : shape.urls) {
        if (name == u) {
            return true;
        }
    }
    return false;
}

bool is_added_name(std::string_view name, const held_shape& shape) noexcept {
    if (name == "data-consent-category" || name == "data-consent-vendor") {
        return true;
    }
    if (shape.google && name == "data-consent-google") {
        return true;
    }
    if (shape.script && (name == "type" || name == "data-consent-type")) {
        return true;
    }
    return is_renamed_target(name, shape);
}

bool is_url_attribute(std::string_view name, const held_shape& shape) noexcept {
    for (const std::string_view u : shape.urls) {
        if (name == u) {
            return true;
        }
    }
    return false;
}

std::string serialise_held(const html_token& tag, const tracker& held, const held_shape& shape) {
    std::string out;
    out.reserve(static_cast<std::size_t>(tag.end - tag.begin) + 160);
    out += '<';
    out += tag.name;
    if (shape.script) {
        out += " type=\"text/plain\"";
        if (const html_attribute* type = tag.find("type"); type != nullptr) {
            // The banner script restores it (module scripts must stay modules).
            bool type_bare = false;
            append_raw_attribute(out, "data-consent-type", type->raw_value, type_bare);
        }
    }
    append_text_attribute(out, "data-consent-category", name_of(held.category));
    append_text_attribute(out, "data-consent-vendor", held.vendor);
    if (shape.google) {
        out += " data-consent-google=\"\"";
    }
    bool bare = false;
    std::string renamed_name;
    for (const html_attribute& attribute : tag.attributes) {
        std::string_view name = attribute.name;
        if (is_url_attribute(name, shape)) {
            renamed_name.assign(consent_prefix);
            renamed_name += name;
            name = renamed_name;
        } else if (is_added_name(name, shape)) {
            // A page's own data-consent-* (or type) would clash with ours, and the first of
            // two equal names wins in the browser (§13.2.5.33): drop the page's copy.
            continue;
        }
        append_raw_attribute(out, name, attribute.raw_value, bare);
    }
    out += tag.self_closing ? " />" : ">";
    return out;
}

// The URL attributes of each element that loads something by itself (HTML §4.8). `srcset`
// holds a list of candidates; every other one a single URL.
struct element_urls {
    std::string_view element;
    std::array<std::string_view, 2> attributes;
};

constexpr std::array<element_urls, 9> loading_elements{{
    {"iframe", {"src", ""}},
    {"img", {"src", "srcset"}},
    {"source", {"src", "srcset"}},
    {"video", {"src", "poster"}},
    {"audio", {"src", ""}},
    {"embed", {"src", ""}},
    {"object", {"data", ""}},
    {"track", {"src", ""}},
    {"link", {"href", ""}},
}};

constexpr std::array<std::string_view, 1> script_urls{"src"};

struct held_result {
    std::string markup;
    const tracker* entry = nullptr;
};

std::optional<held_result> hold_back(const html_token& tag, const tracker_catalogue& catalogue,
                                     granted_trackers granted, const holdback_options& options) {
    if (tag.kind != html_token_kind::start_tag || tag.truncated) {
        return std::nullopt;
    }
    const bool script = tag.name == "script";
    if (granted.everything() && !(script && options.consent_mode)) {
        return std::nullopt;
    }
    held_by held{catalogue, granted, script && options.consent_mode};
    if (script) {
        const html_attribute* src = tag.find("src");
        if (src == nullptr || !runs_as_script(tag.find("type"))) {
            return std::nullopt;  // inline scripts and text/plain placeholders stay as they are
        }
        held.check(src->value);
        if (held.found == nullptr) {
            return std::nullopt;
        }
        const held_shape shape{script_urls, true, options.consent_mode && held.found->consent_mode};
        return held_result{serialise_held(tag, *held.found, shape), held.found};
    }
    for (const element_urls& e : loading_elements) {
        if (tag.name != e.element) {
            continue;
        }
        if (e.element == "link") {
            const html_attribute* rel = tag.find("rel");
            if (rel == nullptr || !link_fetches_early(rel->value)) {
                return std::nullopt;
            }
        }
        std::size_t count = 0;
        for (const std::string_view name : e.attributes) {
            if (name.empty()) {
                break;
            }
            ++count;
            if (const html_attribute* a = tag.find(name); a != nullptr) {
                if (name == "srcset") {
                    held.check_srcset(a->value);
                } else {
                    held.check(a->value);
                }
            }
        }
        if (held.found == nullptr) {
            return std::nullopt;
        }
        const held_shape shape{std::span<const std::string_view>{e.attributes.data(), count}, false,
                               false};
        return held_result{serialise_held(tag, *held.found, shape), held.found};
    }
    return std::nullopt;
}

// What a placeholder says in one language.
struct placeholder_texts {
    std::string_view language;
    std::string_view category_names[3];                    // preferences, analytics, marketing
    std::string_view video, map, post, chat, form, other;  // "This video" etc.
    std::string_view sentence;                             // {what} {vendor} {category}
    std::string_view button;                               // {category}
};

// UTF-8 literals; append_ascii_html turns them into references.
constexpr std::array<placeholder_texts, 3> texts{{
    {"nb",
     {"Preferanser", "Statistikk", "Markedsf\u00f8ring"},
     "Denne videoen",
     "Dette kartet",
     "Dette innlegget",
     "Denne chatten",
     "Dette skjemaet",
     "Dette innholdet",
     "{what} fra {vendor} vises f\u00f8rst n\u00e5r du har samtykket til kategorien "
     "\u00ab{category}\u00bb.",
     "Tillat \u00ab{category}\u00bb og vis"},
    {"nn",
     {"Preferansar", "Statistikk", "Marknadsf\u00f8ring"},
     "Denne videoen",
     "Dette kartet",
     "Dette innlegget",
     "Denne chatten",
     "Dette skjemaet",
     "Dette innhaldet",
     "{what} fr\u00e5 {vendor} blir vist f\u00f8rst n\u00e5r du har samtykt til kategorien "
     "\u00ab{category}\u00bb.",
     "Tillat \u00ab{category}\u00bb og vis"},
    {"en",
     {"Preferences", "Statistics", "Marketing"},
     "This video",
     "This map",
     "This post",
     "This chat",
     "This form",
     "This content",
     "{what} from {vendor} is shown only after you consent to the category "
     "\u201c{category}\u201d.",
     "Allow \u201c{category}\u201d and show"},
}};

const placeholder_texts& texts_for(std::string_view language) noexcept {
    for (const placeholder_texts& t : texts) {
        if (t.language == language) {
            return t;
        }
    }
    return texts[2];
}

std::string_view what_for(const placeholder_texts& t, std::string_view kind) noexcept {
    if (kind == "video") {
        return t.video;
    }
    if (kind == "map") {
        return t.map;
    }
    if (kind == "social") {
        return t.post;
    }
    if (kind == "chat") {
        return t.chat;
    }
    if (kind == "forms") {
        return t.form;
    }
    return t.other;
}

// Writes `pattern` with each {name} replaced by the escaped value; the pattern is ours.
void append_filled(std::string& out, std::string_view pattern, std::string_view what,
                   std::string_view vendor, std::string_view category) {
    while (!pattern.empty()) {
        const std::size_t open = pattern.find('{');
        append_ascii_html(out, pattern.substr(0, open));
        if (open == std::string_view::npos) {
            return;
        }
        const std::size_t close = pattern.find('}', open);
        const std::string_view name = pattern.substr(open + 1, close - open - 1);
        if (name == "what") {
            append_ascii_html(out, what);
        } else if (name == "vendor") {
            append_ascii_html(out, vendor);
        } else {
            append_ascii_html(out, category);
        }
        pattern.remove_prefix(close + 1);
    }
}

std::string_view known_language(std::string_view tag) noexcept {
    tag = trim_space(tag);
    const std::size_t end = tag.find_first_of("-_");
    const std::string_view primary = tag.substr(0, end);
    if (iequals(primary, "nb") || iequals(primary, "no")) {
        return "nb";
    }
    if (iequals(primary, "nn")) {
        return "nn";
    }
    if (iequals(primary, "en")) {
        return "en";
    }
    return {};
}

// What one response's replacers share: the page language, from the first `<html lang>`.
struct page_language {
    std::string language;
    bool seen = false;
};

start_tag_replacer make_replacer(const tracker_catalogue& catalogue, granted_trackers granted,
                                 std::shared_ptr<const holdback_options> options,
                                 bool placeholders) {
    auto shared = std::make_shared<page_language>();
    shared->language = std::string(placeholder_language("", options->fallback_language));
    return [&catalogue, granted, options = std::move(options), placeholders,
            shared](const html_token& tag) -> std::optional<std::string> {
        try {
            if (tag.name == "html" && !shared->seen && tag.kind == html_token_kind::start_tag) {
                // HTML §13.2.6.4.7: a later <html> only adds attributes the first lacked, so the
                // first lang seen is the page's.
                if (const html_attribute* lang = tag.find("lang"); lang != nullptr) {
                    shared->seen = true;
                    shared->language =
                        std::string(placeholder_language(lang->value, options->fallback_language));
                }
                return std::nullopt;
            }
            auto held = hold_back(tag, catalogue, granted, *options);
            if (!held) {
                return std::nullopt;
            }
            if (!placeholders || tag.name != "iframe") {
                return std::move(held->markup);
            }
            std::string out = iframe_placeholder(*held->entry, shared->language, *options);
            out += held->markup;
            return out;
        } catch (const std::exception&) {
            return std::nullopt;  // only bad_alloc: keeping the tag needs no memory
        }
    };
}

}  // namespace

std::optional<std::string> hold_back_tag(const html_token& tag, const tracker_catalogue& catalogue,
                                         granted_trackers granted) noexcept {
    return hold_back_tag(tag, catalogue, granted, holdback_options{});
}

std::optional<std::string> hold_back_tag(const html_token& tag, const tracker_catalogue& catalogue,
                                         granted_trackers granted,
                                         const holdback_options& options) noexcept {
    try {
        if (auto held = hold_back(tag, catalogue, granted, options)) {
            return std::move(held->markup);
        }
        return std::nullopt;
    } catch (const std::exception&) {
        // Only bad_alloc can get here; keeping the tag is the one answer that needs no memory.
        return std::nullopt;
    }
}

std::optional<std::string> hold_back_inline_script(const html_token& start_tag,
                                                   std::string_view script_text,
                                                   const tracker_catalogue& catalogue,
                                                   granted_trackers granted,
                                                   const holdback_options& options) noexcept {
    try {
        if (start_tag.kind != html_token_kind::start_tag || start_tag.name != "script" ||
            start_tag.truncated || start_tag.find("src") != nullptr ||
            !runs_as_script(start_tag.find("type"))) {
            return std::nullopt;
        }
        if (granted.everything() && !options.consent_mode) {
            return std::nullopt;
        }
        const held_by wanted{catalogue, granted, options.consent_mode};
        const auto match = find_inline_tracker(
            script_text, catalogue, [&wanted](const tracker& t) { return wanted.wanted(t); });
        if (!match) {
            return std::nullopt;
        }
        const held_shape shape{{}, true, options.consent_mode && match->entry->consent_mode};
        return serialise_held(start_tag, *match->entry, shape);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string serialize_start_tag(const html_token& tag) {
    std::string out;
    out.reserve(static_cast<std::size_t>(tag.end - tag.begin) + 16);
    out += '<';
    out += tag.name;
    bool bare = false;
    for (const html_attribute& attribute : tag.attributes) {
        append_raw_attribute(out, attribute.name, attribute.raw_value, bare);
    }
    out += tag.self_closing ? " />" : ">";
    return out;
}

void append_ascii_html(std::string& out, std::string_view text) {
    auto reference = [&out](std::uint32_t code_point) {
        out += "&#";
        out += std::to_string(code_point);
        out += ';';
    };
    constexpr std::uint32_t replacement = 0xFFFD;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b = static_cast<unsigned char>(text[i]);
        if (b < 0x80) {
            const auto c = static_cast<char>(b);
            if (const std::string_view ref = text::html_reference(c); !ref.empty()) {
                out += ref;
            } else if ((b < 0x20 && c != '\t' && c != '\n' && c != '\r') || b == 0x7f) {
                reference(replacement);  // HTML §13.2.5.80: control references are errors
            } else {
                out += c;
            }
            ++i;
            continue;
        }
        // RFC 3629 §4: the only valid sequences; anything else is one replacement per byte.
        std::size_t length = 0;
        std::uint32_t cp = 0;
        std::uint32_t min = 0;
        if (b >= 0xc2 && b <= 0xdf) {
            length = 2;
            cp = b & 0x1fU;
            min = 0x80;
        } else if (b >= 0xe0 && b <= 0xef) {
            length = 3;
            cp = b & 0x0fU;
            min = 0x800;
        } else if (b >= 0xf0 && b <= 0xf4) {
            length = 4;
            cp = b & 0x07U;
            min = 0x10000;
        }
        bool valid = length != 0 && i + length <= text.size();
        for (std::size_t k = 1; valid && k < length; ++k) {
            const auto c = static_cast<unsigned char>(text[i + k]);
            if ((c & 0xc0U) != 0x80U) {
                valid = false;
            } else {
                cp = (cp << 6U) | (c & 0x3fU);
            }
        }
        if (valid && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) {
            valid = false;
        }
        if (!valid) {
            reference(replacement);
            ++i;
            continue;
        }
        // HTML §13.2.5.80: references to C1 controls are remapped (&#128; is €), so none.
        reference(cp <= 0x9f ? replacement : cp);
        i += length;
    }
}

std::string ascii_html(std::string_view text) {
    std::string out;
    append_ascii_html(out, text);
    return out;
}

std::string_view placeholder_language(std::string_view lang, std::string_view fallback) noexcept {
    if (const std::string_view known = known_language(lang); !known.empty()) {
        return known;
    }
    if (const std::string_view known = known_language(fallback); !known.empty()) {
        return known;
    }
    return "en";
}

std::string iframe_placeholder(const tracker& entry, std::string_view language,
                               const holdback_options& options) {
    const placeholder_texts& t = texts_for(language);
    const auto index = static_cast<std::size_t>(entry.category);
    std::string_view category = t.category_names[index];
    if (const auto it = options.category_names.find(t.language);
        it != options.category_names.end()) {
        const std::string* names[3] = {&it->second.preferences, &it->second.analytics,
                                       &it->second.marketing};
        if (!names[index]->empty()) {
            category = *names[index];
        }
    }
    const std::string_view id = name_of(entry.category);
    std::string out;
    out.reserve(400);
    out += "<div class=\"cg-placeholder\" data-consent-placeholder=\"";
    out += id;
    out += "\" lang=\"";
    out += t.language;
    out += "\"><p>";
    append_filled(out, t.sentence, what_for(t, entry.kind), entry.vendor, category);
    out += "</p><button type=\"button\" class=\"cg-btn\" data-consent-allow=\"";
    out += id;
    out += "\">";
    append_filled(out, t.button, {}, {}, category);
    out += "</button></div>";
    return out;
}

start_tag_replacer make_holdback(const tracker_catalogue& catalogue, granted_trackers granted) {
    return [&catalogue, granted](const html_token& tag) {
        return hold_back_tag(tag, catalogue, granted);
    };
}

start_tag_replacer make_holdback(const tracker_catalogue& catalogue, granted_trackers granted,
                                 const holdback_options& options) {
    return make_holdback(catalogue, granted, std::make_shared<const holdback_options>(options));
}

start_tag_replacer make_holdback(const tracker_catalogue& catalogue, granted_trackers granted,
                                 std::shared_ptr<const holdback_options> options) {
    const bool placeholders = options->placeholders;
    return make_replacer(catalogue, granted, std::move(options), placeholders);
}

bool holdback_replaces(std::string_view name) noexcept {
    // Asked for every tag of every page: most names are one or two letters.
    return name.size() >= 3 && name.size() <= 6 &&
           (name == "script" || name == "html" ||
            std::any_of(loading_elements.begin(), loading_elements.end(),
                        [name](const element_urls& e) { return e.element == name; }));
}

void install_holdback(html_rewriter& rewriter, const tracker_catalogue& catalogue,
                      granted_trackers granted, const holdback_options& options) {
    install_holdback(rewriter, catalogue, granted,
                     std::make_shared<const holdback_options>(options));
}

void install_holdback(html_rewriter& rewriter, const tracker_catalogue& catalogue,
                      granted_trackers granted, std::shared_ptr<const holdback_options> options) {
    rewriter.set_replaced_tags(&holdback_replaces);
    rewriter.set_start_tag_replacer(
        make_replacer(catalogue, granted, options, options->placeholders));
    rewriter.set_noscript_replacer(make_replacer(catalogue, granted, options, false));
    if (granted.everything() && !options->consent_mode) {
        rewriter.set_inline_script_replacer({});  // nothing to find: no lookahead either
        return;
    }
    rewriter.set_inline_script_replacer(
        [&catalogue, granted, options = std::move(options)](const html_token& tag,
                                                            std::string_view text) {
            return hold_back_inline_script(tag, text, catalogue, granted, *options);
        });
}

}  // namespace cg::banner
