#include "decision_input.hpp"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "json_config/reader.hpp"

namespace cg::consent {

namespace {

using json = nlohmann::json;

/// A decision is an object holding one array of strings; a few levels more still get the
/// precise message about what is wrong, anything deeper is refused before it is parsed.
constexpr std::size_t max_json_depth = 8;

/// Error messages quote at most this much of what the visitor sent.
constexpr std::size_t max_quoted = 40;

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (json_config::ascii_lower(a[i]) != json_config::ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = json_config::ascii_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// application/x-www-form-urlencoded decoding (WHATWG URL §5.1): '+' is a space.
std::string form_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
                   hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The length of the UTF-8 sequence starting at s[i], 0 when none starts there (RFC 3629 §4:
// no overlong forms, no surrogates, nothing beyond U+10FFFF).
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b = byte(i);
    if (b < 0x80) {
        return 1;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        lo = b == 0xE0 ? 0xA0 : 0x80;
        hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        lo = b == 0xF0 ? 0x90 : 0x80;
        hi = b == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (i + n > s.size() || byte(i + 1) < lo || byte(i + 1) > hi) {
        return 0;
    }
    for (std::size_t k = 2; k < n; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
            return 0;
        }
    }
    return n;
}

// What the visitor sent, for a message: at most max_quoted bytes of it, cut between characters,
// with bytes that are not UTF-8 and control characters shown as U+FFFD, so that every error
// is valid UTF-8 (for JSON and the HTML page alike) whatever the body held.
std::string quote_input(std::string_view text) {
    constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out = "\"";
    std::size_t used = 0;
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8_length(text, i);
        const bool control =
            n == 1 && (static_cast<unsigned char>(text[i]) < 0x20 || text[i] == 0x7F);
        const bool bad = n == 0 || control;
        const std::size_t shown = bad ? replacement.size() : n;
        if (used + shown > max_quoted) {
            out += "...";
            break;
        }
        out += bad ? replacement : text.substr(i, n);
        used += shown;
        i += bad ? 1 : n;
    }
    out += '"';
    return out;
}

std::string offered_text(category_set offered) {
    std::string out;
    for (const auto c : all_categories) {
        if (offered.contains(c)) {
            out += out.empty() ? "" : ", ";
            out += name_of(c);
        }
    }
    return out;
}

// What a body says before it is interpreted, the same for JSON and form posts, so that both
// mean the same (issue 12).
struct raw_decision {
    std::optional<std::string> action;
    bool categories_given = false;
    category_set listed{category::necessary};
};

void add_category(decision_input& d, raw_decision& raw, std::string_view name,
                  category_set offered) {
    raw.categories_given = true;
    const auto cat = category_named(name);
    if (!cat || !offered.contains(*cat)) {
        d.error = "unknown category " + quote_input(name) +
                  " (this site offers: " + offered_text(offered) + ")";
        return;
    }
    raw.listed.insert(*cat);
}

// The action, and whether it agrees with the categories sent with it. An action that fixes the
// categories (accept-all, reject-all, gpc) together with categories that say otherwise is
// ambiguous: refused rather than guessed, whichever order the fields came in.
void interpret(decision_input& d, const raw_decision& raw, category_set offered) {
    const std::string_view action = raw.action ? std::string_view{*raw.action} : "";
    std::optional<category_set> fixed;
    if (action == "accept-all") {
        d.accept_all = true;
        fixed = offered;
        fixed->insert(category::necessary);
    } else if (action == "reject-all" || action == "gpc") {
        fixed = category_set{category::necessary};
        d.gpc_method = action == "gpc";
    } else if (!action.empty() && action != "save") {
        d.error = "unknown action " + quote_input(action) +
                  " (allowed: accept-all, reject-all, save, gpc)";
        return;
    }
    if (fixed && raw.categories_given && raw.listed != *fixed) {
        d.gpc_method = false;
        d.error = "action " + quote_input(action) + " contradicts the categories sent with it (" +
                  offered_text(raw.listed) +
                  "): send the action alone, or action \"save\" "
                  "with the categories";
        return;
    }
    d.granted = fixed.value_or(raw.listed);
}

void read_json(decision_input& d, std::string_view body, category_set offered) {
    constexpr std::string_view not_object =
        "the body must be a JSON object such as {\"categories\": [\"analytics\"]}";
    if (json_config::offset_beyond_depth(body, max_json_depth) != body.size()) {
        d.error = not_object;
        return;
    }
    // nlohmann keeps the last of duplicate keys; a decision must not depend on which one a
    // reader keeps (issue 12), so duplicates are found while parsing and refused.
    std::vector<std::string> top_keys;
    std::string duplicate;
    const json::parser_callback_t note_keys = [&](int depth, json::parse_event_t event,
                                                  json& parsed) {
        if (event == json::parse_event_t::key && depth == 1 && parsed.is_string()) {
            const auto& k = parsed.get_ref<const std::string&>();
            if (std::find(top_keys.begin(), top_keys.end(), k) != top_keys.end()) {
                duplicate = duplicate.empty() ? k : duplicate;
            } else if (top_keys.size() < 16) {
                top_keys.push_back(k);
            }
        }
        return true;
    };
    const json doc = json::parse(body, note_keys, /*allow_exceptions=*/false);
    if (!doc.is_object()) {
        d.error = not_object;
        return;
    }
    if (!duplicate.empty()) {
        d.error = "the field " + quote_input(duplicate) + " is given more than once";
        return;
    }
    raw_decision raw;
    for (const auto& [key, value] : doc.items()) {
        if (key == "categories" && value.is_array()) {
            raw.categories_given = true;
            for (const auto& v : value) {
                if (!v.is_string()) {
                    d.error = "/categories: every entry must be a category name";
                    return;
                }
                add_category(d, raw, v.get_ref<const std::string&>(), offered);
                if (!d.error.empty()) {
                    return;
                }
            }
        } else if (key == "action" && value.is_string()) {
            raw.action = value.get<std::string>();
        } else if (key == "language" && value.is_string()) {
            d.language = value.get<std::string>();
        } else {
            d.error = "unexpected field " + quote_input(key) +
                      " (allowed: categories (array), action, language (strings))";
            return;
        }
    }
    if (!raw.categories_given && !raw.action) {
        d.error = "say what the visitor chose: \"categories\" or \"action\"";
        return;
    }
    interpret(d, raw, offered);
}

// A single-valued form field given again: the same value is harmless (a form that repeats a
// hidden input), another value is ambiguous and refused.
bool set_once(decision_input& d, std::optional<std::string>& field, std::string_view name,
              const std::string& value) {
    if (field && *field != value) {
        d.error =
            "the field " + quote_input(name) + " is given more than once with different values";
        return false;
    }
    field = value;
    return true;
}

void read_form(decision_input& d, std::string_view body, category_set offered) {
    raw_decision raw;
    std::optional<std::string> language;
    std::optional<std::string> return_to;
    for (const auto& [key, value] : form_fields(body)) {
        if (key == "category" || key == "categories") {
            add_category(d, raw, value, offered);  // repeated on purpose: one per checkbox
        } else if (key == "action") {
            set_once(d, raw.action, key, value);
        } else if (key == "language") {
            set_once(d, language, key, value);
        } else if (key == "return_to") {
            set_once(d, return_to, key, value);
        }
        // Other fields (a site's own hidden inputs) are ignored, as HTML forms expect.
        if (!d.error.empty()) {
            return;
        }
    }
    d.language = language.value_or("");
    d.return_to = return_to.value_or("");
    interpret(d, raw, offered);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> form_fields(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!text.empty()) {
        const auto amp = text.find('&');
        const auto piece = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
        if (piece.empty()) {
            continue;
        }
        const auto eq = piece.find('=');
        out.emplace_back(form_decode(piece.substr(0, eq)), eq == std::string_view::npos
                                                               ? std::string{}
                                                               : form_decode(piece.substr(eq + 1)));
    }
    return out;
}

decision_input read_decision(std::string_view content_type, std::string_view body,
                             category_set offered) {
    decision_input d;
    const std::string_view type = content_type.substr(0, content_type.find(';'));
    if (iequals_ascii(type, "application/json")) {
        read_json(d, body, offered);
    } else if (iequals_ascii(type, "application/x-www-form-urlencoded")) {
        d.form = true;
        read_form(d, body, offered);
    } else {
        d.status = 415;
        d.error = "send application/json or application/x-www-form-urlencoded";
        return d;
    }
    if (!d.error.empty()) {
        d.status = 400;
    }
    return d;
}

}  // namespace cg::consent
