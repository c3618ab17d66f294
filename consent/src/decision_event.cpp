#include "consent/decision_event.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "hex.hpp"
#include "iso_time.hpp"
#include "json_config/dump.hpp"
#include "json_config/reader.hpp"

namespace cg::consent {

namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 5> kind_names{"accept-all", "reject-all", "custom",
                                                     "withdraw", "gpc"};

/// 9999-12-31T23:59:59.999Z: the last instant ISO-8601 writes with four year digits.
constexpr std::int64_t max_time_ms = 253402300799999;

/// A journal line or Redis value is at most a few hundred bytes; anything far larger is not
/// ours, and refusing it early bounds the work a damaged line can cause.
constexpr std::size_t max_event_text = 64 * 1024;

bool is_hex_lower(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_id_char(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_';
}

/// Event and consent ids: base64url or hex, 1-64 characters. They become parts of Redis
/// key names, so nothing else (no ':' or spaces) may appear.
bool valid_id(std::string_view s) noexcept {
    if (s.empty() || s.size() > 64) {
        return false;
    }
    for (const char c : s) {
        if (!is_id_char(c)) {
            return false;
        }
    }
    return true;
}

/// Site names are validated by the config loader; here only what keeps keys and JSON lines
/// sane: 1-253 printable ASCII characters without spaces.
bool valid_site(std::string_view s) noexcept {
    if (s.empty() || s.size() > 253) {
        return false;
    }
    for (const char c : s) {
        if (c <= ' ' || c > '~') {
            return false;
        }
    }
    return true;
}

/// config.hpp: letters, digits, '-', '_' and '.'; 1-32 characters (64 tolerated here so an
/// old journal written under a looser rule still replays).
bool valid_policy_version(std::string_view s) noexcept {
    if (s.empty() || s.size() > 64) {
        return false;
    }
    for (const char c : s) {
        if (!is_id_char(c) && c != '.') {
            return false;
        }
    }
    return true;
}

/// Hex SHA-256 (64 characters); empty when no banner was shown (a GPC signal alone).
bool valid_banner_hash(std::string_view s) noexcept {
    if (s.size() > 128) {
        return false;
    }
    for (const char c : s) {
        if (!is_hex_lower(c)) {
            return false;
        }
    }
    return true;
}

/// The string member `key`, or nullptr when it is missing or not a string.
const std::string* string_member(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
        return nullptr;
    }
    return &it->get_ref<const std::string&>();
}

}  // namespace

std::string_view name_of(decision_kind k) noexcept {
    const auto i = static_cast<std::size_t>(k);
    return i < kind_names.size() ? kind_names[i] : std::string_view{};
}

std::optional<decision_kind> decision_kind_named(std::string_view name) noexcept {
    for (std::size_t i = 0; i < kind_names.size(); ++i) {
        if (kind_names[i] == name) {
            return static_cast<decision_kind>(i);
        }
    }
    return std::nullopt;
}

std::string new_event_id() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        // OpenSSL's CSPRNG is seeded from the kernel; failing means the process cannot make
        // any secret safely, which is not a per-request condition to paper over.
        throw std::runtime_error("RAND_bytes failed: cannot make a random event id");
    }
    return to_hex(bytes);
}

std::string to_json(const decision_event& e) {
    json categories = json::array();
    for (const auto c : all_categories) {
        if (e.granted.contains(c)) {
            categories.push_back(name_of(c));
        }
    }
    json j = json::object();
    j["event_id"] = e.event_id;
    j["consent_id"] = e.consent_id;
    j["site"] = e.site;
    j["time"] = iso_time(e.time_ms);
    j["time_ms"] = e.time_ms;
    j["categories"] = std::move(categories);
    j["policy_version"] = e.policy_version;
    j["banner_hash"] = e.banner_hash;
    j["method"] = name_of(e.kind);
    j["language"] = name_of(e.lang);
    j["gpc"] = e.gpc;
    // Invalid UTF-8 must not throw from here; replacing it makes the event fail validation
    // in event_from_json, which is what the store checks before accepting it.
    return json_config::dump(j);
}

bool is_valid(const decision_event& e) noexcept {
    return valid_id(e.event_id) && valid_id(e.consent_id) && valid_site(e.site) && e.time_ms >= 0 &&
           e.time_ms <= max_time_ms && valid_policy_version(e.policy_version) &&
           valid_banner_hash(e.banner_hash) && !name_of(e.kind).empty() &&
           static_cast<std::size_t>(e.lang) < all_languages.size();
}

std::optional<decision_event> event_from_json(std::string_view text) {
    // nlohmann parses iteratively but its values nest, so a line of a million '[' is refused
    // before parsing. An event is an object holding one array: two levels.
    if (text.size() > max_event_text || json_config::offset_beyond_depth(text, 2) != text.size()) {
        return std::nullopt;
    }
    const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
        return std::nullopt;
    }
    decision_event e;

    const auto* event_id = string_member(j, "event_id");
    const auto* consent_id = string_member(j, "consent_id");
    const auto* site = string_member(j, "site");
    if (event_id == nullptr || !valid_id(*event_id) || consent_id == nullptr ||
        !valid_id(*consent_id) || site == nullptr || !valid_site(*site)) {
        return std::nullopt;
    }
    e.event_id = *event_id;
    e.consent_id = *consent_id;
    e.site = *site;

    const auto time_ms = j.find("time_ms");
    if (time_ms == j.end() || !time_ms->is_number_integer()) {
        return std::nullopt;
    }
    if (time_ms->is_number_unsigned()) {
        const auto u = time_ms->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(max_time_ms)) {
            return std::nullopt;
        }
        e.time_ms = static_cast<std::int64_t>(u);
    } else {
        e.time_ms = time_ms->get<std::int64_t>();
    }
    if (e.time_ms < 0 || e.time_ms > max_time_ms) {
        return std::nullopt;
    }
    // "time" is for people reading the record; it must agree with time_ms when present.
    if (const auto t = j.find("time"); t != j.end()) {
        if (!t->is_string() || t->get_ref<const std::string&>() != iso_time(e.time_ms)) {
            return std::nullopt;
        }
    }

    const auto categories = j.find("categories");
    if (categories == j.end() || !categories->is_array() || categories->size() > 16) {
        return std::nullopt;
    }
    e.granted = category_set{};
    for (const auto& c : *categories) {
        if (!c.is_string()) {
            return std::nullopt;
        }
        const auto named = category_named(c.get_ref<const std::string&>());
        if (!named) {
            return std::nullopt;
        }
        e.granted.insert(*named);
    }

    const auto* policy_version = string_member(j, "policy_version");
    const auto* banner_hash = string_member(j, "banner_hash");
    if (policy_version == nullptr || !valid_policy_version(*policy_version) ||
        banner_hash == nullptr || !valid_banner_hash(*banner_hash)) {
        return std::nullopt;
    }
    e.policy_version = *policy_version;
    e.banner_hash = *banner_hash;

    const auto* method = string_member(j, "method");
    const auto kind = method != nullptr ? decision_kind_named(*method) : std::nullopt;
    const auto* lang_code = string_member(j, "language");
    const auto lang = lang_code != nullptr ? language_named(*lang_code) : std::nullopt;
    if (!kind || !lang) {
        return std::nullopt;
    }
    e.kind = *kind;
    e.lang = *lang;

    const auto gpc = j.find("gpc");
    if (gpc == j.end() || !gpc->is_boolean()) {
        return std::nullopt;
    }
    e.gpc = gpc->get<bool>();
    return e;
}

}  // namespace cg::consent
