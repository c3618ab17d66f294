#include "banner/site_banner.hpp"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "banner/assets.hpp"
#include "banner/config_reader.hpp"
#include "banner/html_rewriter.hpp"
#include "banner_text.hpp"

namespace cg::banner {

using json = nlohmann::json;
using json_config::child;
using json_config::member;

namespace {

constexpr std::array<std::string_view, 8> banner_keys{"enabled",  "controller", "third_parties",
                                                      "trackers", "reopen",     "consent_mode",
                                                      "texts",    "cache"};
constexpr std::array<std::string_view, 3> controller_keys{"name", "contact", "privacy_url"};
constexpr std::array<std::string_view, 3> reopen_names{"bottom-left", "bottom-right", "none"};
constexpr std::array<std::string_view, 3> consent_mode_names{"off", "basic", "advanced"};
constexpr std::array<std::string_view, 3> language_names{"nb", "nn", "en"};

// Phrases that claim consent from something other than a click (DESIGN L3, N1): a text that
// says them makes the banner non-compliant, whatever the buttons do.
constexpr std::array<std::string_view, 12> implied_consent{
    "by continuing",   "by using this",     "by browsing",       "browser settings",
    "ved å fortsette", "ved å bruke",       "ved å surfe",       "ved å halde fram",
    "ved å bruka",     "nettleserinnstill", "nettlesarinnstill", "ved videre bruk"};

constexpr std::size_t max_button_chars = 40;
constexpr std::size_t max_text_chars = 2000;

std::string lower_utf8(std::string_view s) {
    // ASCII lower-casing plus the three Norwegian capitals (UTF-8 Æ Ø Å), enough to match the
    // phrases above.
    std::string out = json_config::lower(s);
    const std::array<std::pair<std::string_view, std::string_view>, 3> caps{
        {{"\xC3\x86", "\xC3\xA6"}, {"\xC3\x98", "\xC3\xB8"}, {"\xC3\x85", "\xC3\xA5"}}};
    for (const auto& [upper, lowered] : caps) {
        for (auto at = out.find(upper); at != std::string::npos; at = out.find(upper, at)) {
            out.replace(at, upper.size(), lowered);
        }
    }
    return out;
}

std::size_t utf8_chars(std::string_view s) noexcept {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

void read_controller(json_config::reader& r, const json& v, const std::string& pointer,
                     controller& out) {
    if (!r.check_object(v, pointer, controller_keys)) {
        return;
    }
    for (const auto& [key, slot] :
         {std::pair{"name", &out.name}, std::pair{"contact", &out.contact},
          std::pair{"privacy_url", &out.privacy_url}}) {
        if (const std::string* s = r.read_string(v, pointer, key)) {
            *slot = *s;
        }
    }
}

void read_texts(json_config::reader& r, const json& v, const std::string& pointer,
                site_banner_config& c) {
    if (!r.check_object(v, pointer, language_names)) {
        return;
    }
    for (std::size_t l = 0; l < language_names.size(); ++l) {
        const json* texts = member(v, language_names[l]);
        if (texts == nullptr) {
            continue;
        }
        const auto here = child(pointer, language_names[l]);
        if (!r.check_object(*texts, here, text_keys())) {
            continue;
        }
        for (const auto& [key, value] : texts->items()) {
            if (const std::string* s = r.read_string(*texts, here, key)) {
                c.texts[l].emplace_back(key, *s);
            }
        }
    }
}

// The banner lint (issue 9): what would make the banner non-compliant, with the field to fix.
void lint(json_config::reader& r, const std::string& pointer, const site_banner_config& c) {
    if (c.who.name.empty() || c.who.contact.empty() || c.who.privacy_url.empty()) {
        r.fail(child(pointer, "controller"),
               "the banner must say who the controller is (DESIGN L2): give name, contact and "
               "privacy_url");
    } else if (!c.who.privacy_url.starts_with("https://") &&
               !c.who.privacy_url.starts_with("http://") && !c.who.privacy_url.starts_with("/")) {
        r.fail(child(child(pointer, "controller"), "privacy_url"),
               "must be an http(s) URL or a path on the site (got " +
                   json_config::literal(c.who.privacy_url) + ")");
    }
    for (std::size_t l = 0; l < language_names.size(); ++l) {
        const auto here = child(child(pointer, "texts"), language_names[l]);
        const auto text = [&](std::string_view key) -> std::string {
            for (const auto& [k, v] : c.texts[l]) {
                if (k == key) {
                    return v;
                }
            }
            return std::string{builtin_text(static_cast<language>(l), key)};
        };
        for (const auto& [key, value] : c.texts[l]) {
            const auto at = child(here, key);
            if (value.find_first_not_of(" \t\r\n") == std::string::npos) {
                r.fail(at, "must not be empty: the banner would hide it");
                continue;
            }
            if (utf8_chars(value) > max_text_chars) {
                r.fail(at, "is longer than 2000 characters");
            }
            const std::string lowered = lower_utf8(value);
            for (const auto phrase : implied_consent) {
                if (lowered.find(phrase) != std::string::npos) {
                    r.fail(at, "claims consent from \"" + std::string{phrase} +
                                   "\": only a click on the banner is consent (DESIGN L3, N1)");
                    break;
                }
            }
        }
        const std::string reject = text("reject_all");
        const std::string accept = text("accept_all");
        if (utf8_chars(reject) > max_button_chars) {
            r.fail(child(here, "reject_all"),
                   "must be a short button label (at most 40 characters), as plain as accept_all "
                   "(DESIGN T3)");
        }
        if (lower_utf8(reject) == lower_utf8(accept)) {
            r.fail(child(here, "reject_all"), "must differ from accept_all");
        }
    }
}

std::string vendor_list_problem(std::string_view vendor) {
    return "names no vendor of the tracker catalogue or the site's trackers (got " +
           json_config::literal(vendor) + ")";
}

// Rewrites `SOURCE: /trackers/...: reason` of the catalogue reader to the config's pointers.
std::string rebase_problem(std::string line, std::string_view source, const std::string& pointer) {
    const std::string from = std::string{source} + ": /trackers";
    if (line.starts_with(from)) {
        line.replace(0, from.size(), std::string{source} + ": " + pointer);
    }
    return line;
}

std::string site_trackers_document(const std::string& trackers_json) {
    return "{\"trackers\":" + (trackers_json.empty() ? std::string{"[]"} : trackers_json) + "}";
}

// localStorage keys well-known trackers of each category leave behind: withdrawal deletes them
// from the page's origin (the cookie catalogue names only cookies).
const std::vector<std::string>& local_storage_keys(std::string_view category) {
    static const std::vector<std::string> none;
    static const std::vector<std::string> analytics{
        "_hjid",         "_hjSession*", "_hjUser*", "_hjTLDTest", "_hjLocalStorageTest",
        "_hjViewportId", "_clck",       "_clsk"};
    static const std::vector<std::string> marketing{"_gcl_ls", "_uetsid*", "_uetvid*",
                                                    "tt_*",    "_fbp",     "li_*"};
    if (category == "analytics") {
        return analytics;
    }
    if (category == "marketing") {
        return marketing;
    }
    return none;
}

}  // namespace

std::string_view name_of(language l) noexcept {
    return language_names[static_cast<std::size_t>(l)];
}

std::optional<language> language_of_tag(std::string_view tag) noexcept {
    const auto primary = tag.substr(0, tag.find_first_of("-_"));
    if (primary.size() != 2) {
        return std::nullopt;
    }
    const char a = json_config::ascii_lower(primary[0]);
    const char b = json_config::ascii_lower(primary[1]);
    if (a == 'n' && (b == 'b' || b == 'o')) {
        return language::nb;
    }
    if (a == 'n' && b == 'n') {
        return language::nn;
    }
    if (a == 'e' && b == 'n') {
        return language::en;
    }
    return std::nullopt;
}

std::optional<language> language_of_accept(std::string_view accept) noexcept {
    while (!accept.empty()) {
        const auto comma = accept.find(',');
        auto tag = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
        tag = tag.substr(0, tag.find(';'));
        while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) {
            tag.remove_prefix(1);
        }
        while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) {
            tag.remove_suffix(1);
        }
        if (auto l = language_of_tag(tag)) {
            return l;
        }
    }
    return std::nullopt;
}

site_banner_config read_site_banner(json_config::reader& r, const json& v,
                                    const std::string& pointer) {
    site_banner_config c;
    c.enabled = true;
    if (!r.check_object(v, pointer, banner_keys)) {
        return c;
    }
    r.read_bool(v, pointer, "enabled", c.enabled);
    r.read_bool(v, pointer, "cache", c.cache);
    if (const json* who = member(v, "controller")) {
        read_controller(r, *who, child(pointer, "controller"), c.who);
    }
    if (const auto i = r.read_choice(v, pointer, "reopen", reopen_names)) {
        c.reopen = static_cast<reopen_position>(*i);
    }
    if (const auto i = r.read_choice(v, pointer, "consent_mode", consent_mode_names)) {
        c.google = static_cast<consent_mode>(*i);
    }
    if (const json* texts = member(v, "texts")) {
        read_texts(r, *texts, child(pointer, "texts"), c);
    }
    std::optional<tracker_catalogue> site_trackers;
    if (const json* trackers = member(v, "trackers")) {
        const auto here = child(pointer, "trackers");
        if (!trackers->is_array()) {
            r.fail(here, "must be an array of trackers" + json_config::got(*trackers));
        } else {
            c.trackers_json = trackers->dump();
            try {
                site_trackers.emplace(site_trackers_document(c.trackers_json), r.source());
            } catch (const tracker_catalogue_error& e) {
                for (const auto& line : e.problems()) {
                    r.add_problem(rebase_problem(line, r.source(), here));
                }
                c.trackers_json.clear();
            }
        }
    }
    if (const json* vendors = member(v, "third_parties")) {
        const auto here = child(pointer, "third_parties");
        if (!vendors->is_array()) {
            r.fail(here, "must be an array of vendor names" + json_config::got(*vendors));
        } else {
            for (std::size_t i = 0; i < vendors->size(); ++i) {
                const json& name = (*vendors)[i];
                const auto known = [&](const tracker_catalogue& cat) {
                    return std::any_of(cat.trackers().begin(), cat.trackers().end(),
                                       [&](const tracker& t) { return t.vendor == name; });
                };
                if (!name.is_string()) {
                    r.fail(child(here, i), "must be a vendor name" + json_config::got(name));
                } else if (!known(tracker_catalogue::builtin()) &&
                           !(site_trackers && known(*site_trackers))) {
                    r.fail(child(here, i), vendor_list_problem(name.get<std::string>()));
                } else {
                    c.third_parties.push_back(name.get<std::string>());
                }
            }
        }
    }
    if (c.enabled) {
        lint(r, pointer, c);
    }
    return c;
}

namespace {

struct third_party {
    std::string vendor;
    std::string category;
    std::string purpose;
};

std::string_view category_name(tracker_category c) noexcept {
    switch (c) {
        case tracker_category::preferences:
            return "preferences";
        case tracker_category::analytics:
            return "analytics";
        case tracker_category::marketing:
            break;
    }
    return "marketing";
}

// The third parties of a site: the named catalogue vendors, then the site's own trackers'.
std::vector<third_party> third_parties_of(const site_banner_config& c,
                                          const tracker_catalogue& all) {
    std::vector<third_party> out;
    const auto add = [&](const tracker& t) {
        const bool seen = std::any_of(out.begin(), out.end(),
                                      [&](const third_party& p) { return p.vendor == t.vendor; });
        if (!seen) {
            out.push_back({t.vendor, std::string{category_name(t.category)}, t.purpose});
        }
    };
    for (const auto& vendor : c.third_parties) {
        for (const auto& t : all.trackers()) {
            if (t.vendor == vendor) {
                add(t);
                break;
            }
        }
    }
    if (!c.trackers_json.empty()) {
        const tracker_catalogue own(site_trackers_document(c.trackers_json), "site trackers");
        for (const auto& t : own.trackers()) {
            add(t);
        }
    }
    return out;
}

json cookie_json(const cookie_info& c, language l) {
    return {{"name", c.name},
            {"provider", c.provider},
            {"purpose", c.purposes[static_cast<std::size_t>(l)].empty()
                            ? c.purpose
                            : c.purposes[static_cast<std::size_t>(l)]},
            {"lifetime", lifetime_in(l, c.lifetime)}};
}

json document_of(const site_banner_config& c, const site_facts& facts,
                 const std::vector<third_party>& parties, language l) {
    json texts = json::object();
    for (const auto key : text_keys()) {
        texts[std::string{key}] = resolved_text(c, l, key);
    }
    json categories = json::array();
    for (const auto& cat : facts.categories) {
        json cookies = json::array();
        json erase = json::array();
        for (const auto& ck : facts.cookies) {
            if (ck.category == cat.id) {
                cookies.push_back(cookie_json(ck, l));
                erase.push_back(ck.name);
            }
        }
        if (!cat.required) {
            for (const auto& ck : facts.catalogue) {
                if (ck.category == cat.id &&
                    std::find(erase.begin(), erase.end(), ck.name) == erase.end()) {
                    erase.push_back(ck.name);
                }
            }
        } else {
            erase = json::array();  // necessary cookies are never deleted by a withdrawal
        }
        json vendors = json::array();
        for (const auto& p : parties) {
            if (p.category == cat.id) {
                vendors.push_back({{"vendor", p.vendor}, {"purpose", p.purpose}});
            }
        }
        const auto i = static_cast<std::size_t>(l);
        categories.push_back(
            {{"id", cat.id},
             {"name", cat.names[i]},
             {"description", cat.descriptions[i]},
             {"required", cat.required},
             {"cookies", std::move(cookies)},
             {"third_parties", std::move(vendors)},
             {"erase",
              {{"cookies", std::move(erase)}, {"local_storage", local_storage_keys(cat.id)}}}});
    }
    return {
        {"language", name_of(l)},
        {"controller",
         {{"name", c.who.name}, {"contact", c.who.contact}, {"privacy_url", c.who.privacy_url}}},
        {"texts", std::move(texts)},
        {"categories", std::move(categories)},
        {"consent_mode", consent_mode_names[static_cast<std::size_t>(c.google)]},
        {"reopen", reopen_names[static_cast<std::size_t>(c.reopen)]},
        {"declaration_url", "/_consent/declaration"}};
}

}  // namespace

site_banner::site_banner(site_banner_config config, site_facts facts)
    : config_(std::move(config)), facts_(std::move(facts)) {
    try {
        trackers_ = std::make_unique<tracker_catalogue>(
            builtin_tracker_catalogue_json(), "built-in tracker catalogue",
            site_trackers_document(config_.trackers_json), "site trackers");
    } catch (const tracker_catalogue_error& e) {
        throw std::invalid_argument(e.what());
    }
    const auto parties = third_parties_of(config_, *trackers_);
    for (const auto& p : parties) {
        if (!third_party_names_.empty()) {
            third_party_names_ += ", ";
        }
        third_party_names_ += p.vendor;
    }
    holdback_options options;
    options.consent_mode = config_.google != consent_mode::off;
    for (const auto l : all_languages) {
        const auto i = static_cast<std::size_t>(l);
        category_display_names names;
        for (const auto& c : facts_.categories) {
            auto* slot = c.id == "preferences" ? &names.preferences
                         : c.id == "analytics" ? &names.analytics
                         : c.id == "marketing" ? &names.marketing
                                               : nullptr;
            if (slot != nullptr) {
                *slot = c.names[i];
            }
        }
        options.category_names.emplace(std::string{name_of(l)}, std::move(names));
    }
    for (const auto l : all_languages) {
        options.fallback_language = std::string{name_of(l)};
        holdback_options_[static_cast<std::size_t>(l)] =
            std::make_shared<const holdback_options>(options);
    }
    std::array<json, 3> docs;
    std::string hashed = facts_.policy_version;
    for (const auto l : all_languages) {
        const auto i = static_cast<std::size_t>(l);
        docs[i] = document_of(config_, facts_, parties, l);
        hashed += docs[i].dump();
    }
    policy_hash_ = sha256_hex(hashed, 6);
    for (const auto l : all_languages) {
        const auto i = static_cast<std::size_t>(l);
        docs[i]["policy"] = facts_.policy_version + "." + policy_hash_;
        documents_[i] = docs[i].dump();
        document_paths_[i] =
            "/_consent/site." + std::string{name_of(l)} + "." + policy_hash_ + ".json";
    }
    prepare_pages();
}

site_banner::~site_banner() = default;

const std::string& site_banner::document(language l) const noexcept {
    return documents_[static_cast<std::size_t>(l)];
}

const std::string& site_banner::document_path(language l) const noexcept {
    return document_paths_[static_cast<std::size_t>(l)];
}

}  // namespace cg::banner
