// The consent part of the configuration (STYLE.md §6: the module owns its config and its
// parser) and the built-in category texts.
#include "consent/config_reader.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <map>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "cookie_text.hpp"
#include "redis/config_reader.hpp"

namespace cg::consent {

namespace {

using json = nlohmann::json;
using json_config::child;
using json_config::got;
using json_config::is_alnum;
using json_config::literal;
using json_config::member;
using json_config::reader;

constexpr std::array<std::string_view, 9> consent_keys{
    "keys",        "key_file",    "retired_keys", "retired_key_file", "cookie_name",
    "host_prefix", "rate_limits", "catalogue",    "journal"};
constexpr std::array<std::string_view, 2> rate_limit_keys{"per_consent_id", "per_address"};
constexpr std::array<std::string_view, 2> journal_keys{"path", "max_bytes"};
constexpr std::array<std::string_view, 7> site_keys{
    "policy_version",  "lifetime_days", "retention_days", "default_language",
    "unknown_cookies", "categories",    "cookies"};
constexpr std::array<std::string_view, 4> category_names{"necessary", "preferences", "analytics",
                                                         "marketing"};
constexpr std::array<std::string_view, 3> language_codes{"nb", "nn", "en"};
constexpr std::array<std::string_view, 2> text_keys{"name", "description"};
constexpr std::array<std::string_view, 6> rule_keys{"name",    "category", "provider",
                                                    "purpose", "lifetime", "justification"};
constexpr std::array<std::string_view, 2> unknown_cookie_choices{"after_accept_all", "never"};

// HMAC-SHA256 keys shorter than the hash output (32 bytes) weaken it (RFC 2104 §3).
constexpr std::size_t min_key_bytes = 32;
constexpr std::string_view short_key =
    "must be at least 32 characters; generate one with: openssl rand -base64 48";
// A key file holds a few lines; the cap only stops a wrong path such as /dev/zero.
constexpr std::size_t max_key_file_bytes = 1024 * 1024;
// Same cap as for the configuration file itself.
constexpr std::size_t max_catalogue_bytes = 16 * 1024 * 1024;
constexpr std::size_t max_cookie_name = 64;
constexpr std::size_t max_policy_version = 32;
constexpr std::size_t min_justification = 20;
constexpr std::string_view missing_justification =
    "required for a necessary cookie: say why the site cannot work without it (classing "
    "tracking cookies as necessary is the most common consent violation)";

// Norwegian practice (Datatilsynet) and the EDPB expect consent to be asked for again after
// at most 12-13 months; 400 days leaves room for that and no more. Browsers cap cookie
// lifetimes at 400 days too (RFC 6265bis §5.5).
constexpr json_config::uint_range lifetime_days{1, 400};
// Ten years: proof of consent may be needed for as long as claims can be brought.
constexpr json_config::uint_range retention_days{1, 3660};
constexpr json_config::uint_range journal_bytes{1024ULL * 1024, 64ULL * 1024 * 1024 * 1024};
// Requests per minute; 0 switches a limit off. A million a minute is no limit at all either.
constexpr json_config::uint_range per_minute{0, 1'000'000};

// RFC 6265 §4.1.1: cookie-name = token, and RFC 2616 §2.2: token = 1*<any CHAR except CTLs or
// separators>. '*' is a token character, so catalogue patterns need no extra allowance.
bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

std::string_view trim(std::string_view s) {
    constexpr std::string_view space = " \t\r\n";
    const auto first = s.find_first_not_of(space);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(space) - first + 1);
}

// Characters as a reader counts them: UTF-8 code points, not bytes (æ, ø and å take two).
std::size_t code_points(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

// ---------------------------------------------------------------------------------------------
// Built-in category texts, in the order of `language` (nb, nn, en). They say what the cookies
// are for and whether they can be refused (DESIGN L2, L5).

struct builtin_text {
    std::string_view name;
    std::string_view description;
};

constexpr std::array<std::array<builtin_text, 3>, 4> builtin_texts{{
    {{
        {"Nødvendige",
         "Nødvendige informasjonskapsler får nettstedet til å fungere, for eksempel innlogging, "
         "sikkerhet og lagring av valgene du gjør her. De kan ikke slås av."},
        {"Naudsynte",
         "Naudsynte informasjonskapslar får nettstaden til å fungere, til dømes innlogging, "
         "tryggleik og lagring av vala du gjer her. Dei kan ikkje slåast av."},
        {"Necessary",
         "Necessary cookies make the website work, for example signing in, security and "
         "remembering the choices you make here. They cannot be switched off."},
    }},
    {{
        {"Preferanser",
         "Preferansekapsler husker innstillinger du har valgt, for eksempel visning eller "
         "region, slik at du slipper å velge dem på nytt."},
        {"Preferansar",
         "Preferansekapslar hugsar innstillingar du har valt, til dømes vising eller region, "
         "slik at du slepp å velje dei på nytt."},
        {"Preferences",
         "Preference cookies remember settings you have chosen, such as display options or "
         "region, so that you do not have to choose them again."},
    }},
    {{
        {"Statistikk",
         "Statistikkapsler hjelper oss å forstå hvordan nettstedet brukes, for eksempel hvilke "
         "sider som besøkes, slik at vi kan gjøre det bedre. Opplysningene kan behandles av "
         "leverandøren av analyseverktøyet."},
        {"Statistikk",
         "Statistikkapslar hjelper oss å forstå korleis nettstaden blir brukt, til dømes kva "
         "sider som blir besøkte, slik at vi kan gjere nettstaden betre. Opplysningane kan "
         "bli behandla av leverandøren av analyseverktøyet."},
        {"Statistics",
         "Statistics cookies help us understand how the website is used, for example which "
         "pages are visited, so that we can improve it. The data may be processed by the "
         "provider of the analytics tool."},
    }},
    {{
        {"Markedsføring",
         "Markedsføringskapsler brukes til å vise deg annonser som er relevante for deg, også "
         "på andre nettsteder, og til å måle hvor godt annonsene virker. De settes ofte av "
         "tredjeparter, som kan koble opplysningene med det de vet om deg fra før."},
        {"Marknadsføring",
         "Marknadsføringskapslar blir brukte til å vise deg annonsar som er relevante for deg, "
         "også på andre nettstader, og til å måle kor godt annonsane verkar. Dei blir ofte "
         "sette av tredjepartar, som kan kople opplysningane med det dei veit om deg frå før."},
        {"Marketing",
         "Marketing cookies are used to show you ads that are relevant to you, also on other "
         "websites, and to measure how well the ads work. They are often set by third parties, "
         "who may combine the data with what they already know about you."},
    }},
}};

category_info builtin_info(category c) {
    category_info info;
    info.id = c;
    const auto& texts = builtin_texts[static_cast<std::size_t>(c)];
    for (std::size_t l = 0; l < texts.size(); ++l) {
        info.texts[l] = {std::string(texts[l].name), std::string(texts[l].description)};
    }
    return info;
}

// ---------------------------------------------------------------------------------------------
// Reading

// Keys are secrets: no message quotes them or their neighbours.
// `required`: an empty list or file is an error (the signing keys; retired ones may be none).
void read_key_list(reader& r, const json& keys, const std::string& here,
                   std::vector<std::string>& out, bool required) {
    if (!keys.is_array()) {
        r.fail(here, "must be a list of strings");
        return;
    }
    if (keys.empty() && required) {
        r.fail(here, "must list at least one key (leave it out for a random key per process)");
        return;
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const json& k = keys[i];
        if (!k.is_string()) {
            r.fail(child(here, i), "must be a string");
        } else if (k.get_ref<const std::string&>().size() < min_key_bytes) {
            r.fail(child(here, i), short_key);
        } else {
            out.push_back(k.get<std::string>());
        }
    }
}

// One key per line; blank lines and lines starting with '#' are skipped. Surrounding spaces
// and a CR (a file written on Windows) are not part of the key.
void read_key_file(reader& r, const std::filesystem::path& file, const std::string& here,
                   std::vector<std::string>& out, bool required) {
    // A key that others on the machine can read lets them sign anyone's consent.
    std::error_code status_error;
    const auto status = std::filesystem::status(file, status_error);
    if (!status_error && std::filesystem::is_regular_file(status)) {
        using std::filesystem::perms;
        const perms mode = status.permissions();
        if ((mode & (perms::group_all | perms::others_all)) != perms::none) {
            char octal[8];
            std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & perms::mask));
            r.fail(here, file.string() + " is accessible to group or others (mode " + octal +
                             "); it holds secret keys: run chmod 600 " + file.string());
            return;
        }
    }
    std::string error;
    const auto text = json_config::read_file(file, max_key_file_bytes, error);
    if (!text) {
        r.fail(here, "cannot read " + file.string() + ": " + error);
        return;
    }
    std::size_t line_number = 0;
    std::size_t start = 0;
    const std::size_t before = out.size();
    while (start < text->size()) {
        const auto end = std::min(text->find('\n', start), text->size());
        const auto line = trim(std::string_view(*text).substr(start, end - start));
        start = end + 1;
        ++line_number;
        if (line.empty() || line.front() == '#') {
            continue;
        }
        if (line.size() < min_key_bytes) {
            r.fail(here, file.string() + " line " + std::to_string(line_number) + ": key " +
                             std::string(short_key));
            continue;
        }
        out.emplace_back(line);
    }
    if (out.size() == before && required) {
        r.fail(here, file.string() + " contains no keys");
    }
}

// `list` or `file` (a list of keys inline, or a file of them), into `out`.
void read_keys(reader& r, const json& c, std::string_view list, std::string_view file,
               std::vector<std::string>& out, const std::filesystem::path& base_dir) {
    const json* keys = member(c, list);
    const bool has_file = member(c, file) != nullptr;
    const std::string pointer = "/consent";
    if (keys != nullptr && has_file) {
        r.fail(child(pointer, file),
               "must not be set together with " + child(pointer, list) + " (use one)");
        return;
    }
    if (keys != nullptr) {
        read_key_list(r, *keys, child(pointer, list), out, list == "keys");
    } else if (const auto path = r.read_path(c, pointer, file, base_dir)) {
        read_key_file(r, *path, child(pointer, file), out, list == "keys");
    }
}

void read_rate_limits(reader& r, const json& v, rate_limits& out) {
    const std::string pointer = "/consent/rate_limits";
    if (!r.check_object(v, pointer, rate_limit_keys)) {
        return;
    }
    r.read_uint(v, pointer, "per_consent_id", out.per_consent_id, per_minute);
    r.read_uint(v, pointer, "per_address", out.per_address, per_minute);
}

void read_catalogue(reader& r, const std::filesystem::path& file, settings& out) {
    std::string error;
    const auto text = json_config::read_file(file, max_catalogue_bytes, error);
    if (!text) {
        r.fail("/consent/catalogue", "cannot read " + file.string() + ": " + error);
        return;
    }
    try {
        out.catalogue = parse_catalogue(*text, file.string());
    } catch (const catalogue_error& e) {
        for (const auto& line : e.problems()) {
            r.add_problem(line);
        }
    }
}

void read_journal(reader& r, const json& j, journal_config& out,
                  const std::filesystem::path& base_dir) {
    const std::string pointer = "/consent/journal";
    if (!r.check_object(j, pointer, journal_keys)) {
        return;
    }
    if (auto path = r.read_path(j, pointer, "path", base_dir)) {
        out.path = std::move(*path);
    }
    r.read_uint(j, pointer, "max_bytes", out.max_bytes, journal_bytes);
}

void read_consent(reader& r, const json& c, settings& out, const std::filesystem::path& base_dir,
                  bool& catalogue_given) {
    const std::string pointer = "/consent";
    if (!r.check_object(c, pointer, consent_keys)) {
        return;
    }
    read_keys(r, c, "keys", "key_file", out.keys, base_dir);
    read_keys(r, c, "retired_keys", "retired_key_file", out.retired_keys, base_dir);
    r.read_bool(c, pointer, "host_prefix", out.host_prefix);
    if (const json* limits = member(c, "rate_limits")) {
        read_rate_limits(r, *limits, out.limits);
    }
    if (const std::string* name = r.read_string(c, pointer, "cookie_name")) {
        if (name->size() > max_cookie_name || !is_token(*name)) {
            r.fail(child(pointer, "cookie_name"),
                   "must be 1-64 characters of a cookie name (letters, digits and "
                   "!#$%&'*+-.^_`|~; RFC 6265 §4.1.1)" +
                       got(json(*name)));
        } else {
            out.cookie_name = *name;
        }
    }
    if (member(c, "catalogue") != nullptr) {
        catalogue_given = true;
        if (const auto file = r.read_path(c, pointer, "catalogue", base_dir)) {
            read_catalogue(r, *file, out);
        }
    }
    if (const json* j = member(c, "journal")) {
        read_journal(r, *j, out.journal, base_dir);
    }
}

// A language's texts override the built-in ones field by field.
void read_texts(reader& r, const json& v, const std::string& pointer, category_info& info) {
    if (!r.check_object(v, pointer, language_codes)) {
        return;
    }
    for (const auto l : all_languages) {
        const json* texts = member(v, name_of(l));
        if (texts == nullptr) {
            continue;
        }
        const std::string here = child(pointer, name_of(l));
        if (!r.check_object(*texts, here, text_keys)) {
            continue;
        }
        auto& target = info.texts[static_cast<std::size_t>(l)];
        for (const auto key : text_keys) {
            const std::string* s = r.read_string(*texts, here, key);
            if (s == nullptr) {
                continue;
            }
            if (trim(*s).empty()) {
                r.fail(child(here, key), "must not be empty");
                continue;
            }
            (key == "name" ? target.name : target.description) = *s;
        }
    }
}

void read_categories(reader& r, const json& v, const std::string& pointer,
                     std::vector<category_info>& out) {
    if (!v.is_object()) {
        r.fail(pointer, "must be an object whose keys are category names" + got(v));
        return;
    }
    std::array<std::optional<category_info>, all_categories.size()> offered;
    offered[static_cast<std::size_t>(category::necessary)] = builtin_info(category::necessary);
    for (auto it = v.begin(); it != v.end(); ++it) {
        const auto c = category_named(it.key());
        if (!c) {
            r.fail(child(pointer, it.key()),
                   "unknown category (allowed: " + json_config::join(category_names) + ")");
            continue;
        }
        auto& info = offered[static_cast<std::size_t>(*c)];
        if (!info) {
            info = builtin_info(*c);
        }
        read_texts(r, it.value(), child(pointer, it.key()), *info);
    }
    out.clear();
    for (auto& info : offered) {
        if (info) {
            out.push_back(std::move(*info));
        }
    }
}

std::string offered_list(category_set offered) {
    std::string out;
    for (const auto c : all_categories) {
        if (offered.contains(c)) {
            out += (out.empty() ? "" : ", ") + std::string(name_of(c));
        }
    }
    return out;
}

// Returns the rule when everything in it is valid.
std::optional<cookie_rule> read_rule(reader& r, const json& e, const std::string& at,
                                     category_set offered) {
    if (!r.check_object(e, at, rule_keys)) {
        return std::nullopt;
    }
    cookie_rule rule;
    bool ok = true;
    bool category_known = false;
    if (member(e, "name") == nullptr) {
        r.fail(child(at, "name"), "required field is missing");
        ok = false;
    } else if (const std::string* name = r.read_string(e, at, "name")) {
        if (!is_token(*name)) {
            r.fail(child(at, "name"),
                   "must be a cookie name (letters, digits and !#$%&'*+-.^_`|~; RFC 6265 "
                   "§4.1.1), where '*' stands for any run of characters" +
                       got(json(*name)));
            ok = false;
        } else if (name->find_first_not_of('*') == std::string::npos) {
            r.fail(child(at, "name"), "a pattern of only '*' would match every cookie");
            ok = false;
        } else {
            rule.name = *name;
        }
    } else {
        ok = false;
    }
    if (member(e, "category") == nullptr) {
        r.fail(child(at, "category"), "required field is missing");
        ok = false;
    } else if (const auto index = r.read_choice(e, at, "category", category_names)) {
        rule.cat = all_categories[*index];
        category_known = true;
        if (!offered.contains(rule.cat)) {
            r.fail(child(at, "category"),
                   literal(name_of(rule.cat)) +
                       " is not offered by this site (offered: " + offered_list(offered) + ")");
            ok = false;
        }
    } else {
        ok = false;
    }
    for (const auto& [key, field] :
         {std::pair{"provider", &rule.provider}, std::pair{"purpose", &rule.purpose},
          std::pair{"lifetime", &rule.lifetime}, std::pair{"justification", &rule.justification}}) {
        if (const std::string* s = r.read_string(e, at, key)) {
            *field = *s;
        } else if (member(e, key) != nullptr) {
            ok = false;
        }
    }
    // DESIGN L1: only what is strictly necessary may be set without consent, so a site that
    // claims a cookie is necessary has to say why, where the privacy officer can read it.
    const json* why_given = member(e, "justification");
    if (category_known && rule.cat == category::necessary &&
        (why_given == nullptr || why_given->is_string())) {
        const auto why = trim(rule.justification);
        if (why.empty()) {
            r.fail(child(at, "justification"), missing_justification);
            ok = false;
        } else if (code_points(why) < min_justification) {
            r.fail(child(at, "justification"),
                   "must be at least 20 characters: say why the site cannot work without it" +
                       got(json(rule.justification)));
            ok = false;
        }
    }
    return ok ? std::optional{std::move(rule)} : std::nullopt;
}

void read_rules(reader& r, const json& v, const std::string& pointer, category_set offered,
                std::vector<cookie_rule>& out) {
    if (!v.is_array()) {
        r.fail(pointer, "must be a list of cookie rules" + got(v));
        return;
    }
    std::map<std::string, std::string, std::less<>> name_owner;  // name → pointer of the first
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string at = child(pointer, i);
        auto rule = read_rule(r, v[i], at, offered);
        // A duplicate name is reported even when another field of the rule is wrong.
        const json* name = member(v[i], "name");
        if (name != nullptr && name->is_string()) {
            const auto& n = name->get_ref<const std::string&>();
            if (const auto [it, fresh] = name_owner.emplace(n, at); !fresh) {
                r.fail(child(at, "name"), literal(n) + " is already the name of " + it->second);
                continue;
            }
        }
        if (rule) {
            out.push_back(std::move(*rule));
        }
    }
}

}  // namespace

category_set site_policy::offered() const noexcept {
    category_set s;
    for (const auto& c : categories) {
        s.insert(c.id);
    }
    return s;
}

std::vector<category_info> default_categories() {
    std::vector<category_info> out;
    out.reserve(all_categories.size());
    for (const auto c : all_categories) {
        out.push_back(builtin_info(c));
    }
    return out;
}

site_policy default_site_policy() {
    site_policy p;
    p.categories = default_categories();
    return p;
}

settings read_settings(reader& r, const json* consent_obj, const json* redis_obj,
                       const std::filesystem::path& base_dir) {
    settings s;
    // The default journal lies next to the configuration, like every relative path in it, and
    // not in whatever directory the process was started from.
    s.journal.path = base_dir / s.journal.path;
    bool catalogue_given = false;
    if (consent_obj != nullptr) {
        read_consent(r, *consent_obj, s, base_dir, catalogue_given);
    }
    if (!catalogue_given) {
        try {
            s.catalogue = parse_catalogue(builtin_catalogue_json(), "built-in catalogue");
        } catch (const catalogue_error& e) {
            for (const auto& line : e.problems()) {
                r.add_problem(line);
            }
        }
    }
    if (redis_obj != nullptr) {
        s.redis = redis::read_redis_config(r, *redis_obj, "/redis", base_dir);
    }
    return s;
}

site_policy read_site_policy(reader& r, const json& v, const std::string& pointer) {
    site_policy p = default_site_policy();
    if (!r.check_object(v, pointer, site_keys)) {
        return p;
    }
    if (const std::string* version = r.read_string(v, pointer, "policy_version")) {
        const bool ok = !version->empty() && version->size() <= max_policy_version &&
                        std::all_of(version->begin(), version->end(), [](char c) {
                            return is_alnum(c) || c == '.' || c == '_' || c == '-';
                        });
        if (!ok) {
            r.fail(child(pointer, "policy_version"),
                   "must be 1-32 letters, digits, '.', '_' or '-'" + got(json(*version)));
        } else {
            p.policy_version = *version;
        }
    }
    std::uint64_t days = 0;
    if (r.read_uint(v, pointer, "lifetime_days", days, lifetime_days)) {
        p.lifetime = std::chrono::days{static_cast<std::chrono::days::rep>(days)};
    }
    if (r.read_uint(v, pointer, "retention_days", days, retention_days)) {
        p.retention = std::chrono::days{static_cast<std::chrono::days::rep>(days)};
    }
    // DESIGN L7: a consent in use must stay provable, so its record may not expire before the
    // cookie that carries it.
    if (p.retention < p.lifetime) {
        r.fail(
            child(pointer, "retention_days"),
            "must be at least lifetime_days (" +
                std::to_string(std::chrono::duration_cast<std::chrono::days>(p.lifetime).count()) +
                "): a consent must stay provable for as long as its cookie is used");
    }
    if (const auto l = r.read_choice(v, pointer, "default_language", language_codes)) {
        p.default_language = all_languages[*l];
    }
    if (const auto u = r.read_choice(v, pointer, "unknown_cookies", unknown_cookie_choices)) {
        p.unknown = *u == 0 ? unknown_cookies::after_accept_all : unknown_cookies::never;
    }
    if (const json* c = member(v, "categories")) {
        read_categories(r, *c, child(pointer, "categories"), p.categories);
    }
    if (const json* c = member(v, "cookies")) {
        read_rules(r, *c, child(pointer, "cookies"), p.offered(), p.cookies);
    }
    return p;
}

}  // namespace cg::consent
