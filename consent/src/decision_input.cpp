#include "decision_input.hpp"

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

void add_category(decision_input& d, std::string_view name, category_set offered) {
    const auto cat = category_named(name);
    if (!cat || !offered.contains(*cat)) {
        d.error = "unknown category \"" + std::string{name.substr(0, max_quoted)} +
                  "\" (this site offers: " + offered_text(offered) + ")";
        return;
    }
    d.granted.insert(*cat);
}

void apply_action(decision_input& d, std::string_view action, category_set offered) {
    if (action == "accept-all") {
        d.granted = offered;
        d.granted.insert(category::necessary);
    } else if (action == "reject-all") {
        d.granted = category_set{category::necessary};
    } else if (action == "gpc") {
        d.granted = category_set{category::necessary};
        d.gpc_method = true;
    } else if (!action.empty() && action != "save") {
        d.error = "unknown action \"" + std::string{action.substr(0, max_quoted)} +
                  "\" (allowed: accept-all, reject-all, save, gpc)";
    }
}

void read_json(decision_input& d, std::string_view body, category_set offered) {
    constexpr std::string_view not_object =
        "the body must be a JSON object such as {\"categories\": [\"analytics\"]}";
    if (json_config::offset_beyond_depth(body, max_json_depth) != body.size()) {
        d.error = not_object;
        return;
    }
    const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) {
        d.error = not_object;
        return;
    }
    for (const auto& [key, value] : doc.items()) {
        if (key == "categories" && value.is_array()) {
            for (const auto& v : value) {
                if (!v.is_string()) {
                    d.error = "/categories: every entry must be a category name";
                    return;
                }
                add_category(d, v.get_ref<const std::string&>(), offered);
                if (!d.error.empty()) {
                    return;
                }
            }
        } else if (key == "action" && value.is_string()) {
            apply_action(d, value.get_ref<const std::string&>(), offered);
        } else if (key == "language" && value.is_string()) {
            d.language = value.get<std::string>();
        } else {
            d.error = "unexpected field \"" + key.substr(0, max_quoted) +
                      "\" (allowed: categories (array), action, language (strings))";
        }
        if (!d.error.empty()) {
            return;
        }
    }
    if (!doc.contains("categories") && !doc.contains("action")) {
        d.error = "say what the visitor chose: \"categories\" or \"action\"";
    }
}

void read_form(decision_input& d, std::string_view body, category_set offered) {
    std::string action;
    for (const auto& [key, value] : form_fields(body)) {
        if (key == "category" || key == "categories") {
            add_category(d, value, offered);
        } else if (key == "action") {
            action = value;
        } else if (key == "language") {
            d.language = value;
        } else if (key == "return_to") {
            d.return_to = value;
        }
        // Other fields (a site's own hidden inputs) are ignored, as HTML forms expect.
        if (!d.error.empty()) {
            return;
        }
    }
    apply_action(d, action, offered);
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
