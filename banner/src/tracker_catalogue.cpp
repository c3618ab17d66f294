#include "banner/tracker_catalogue.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <optional>
#include <span>
#include <utility>

#include "json_config/reader.hpp"

namespace cg::banner {

namespace {

using json = nlohmann::json;
using json_config::child;
using json_config::got;
using json_config::member;

constexpr std::array<std::string_view, 1> top_fields{"trackers"};
constexpr std::array<std::string_view, 7> entry_fields{"host", "paths",   "category",    "vendor",
                                                       "kind", "purpose", "consent_mode"};
constexpr std::array<std::string_view, 3> category_names{"preferences", "analytics", "marketing"};
constexpr std::array<std::string_view, 10> kind_names{
    "tag-manager", "analytics", "session-replay", "advertising", "social",
    "video",       "map",       "chat",           "reviews",     "forms"};
constexpr std::array<tracker_category, 3> all_categories{
    tracker_category::preferences, tracker_category::analytics, tracker_category::marketing};

// RFC 1035 §2.3.4: a name is at most 253 characters in text form (255 octets on the wire).
constexpr std::size_t max_host_size = 253;
constexpr std::size_t max_path_size = 200;
// Percent-encoding and full-width characters take up to 9 bytes per host character; a longer
// host cannot shrink to a valid name.
constexpr std::size_t max_raw_host_size = 9 * (max_host_size + 1);

bool is_control_or_space(char c) noexcept {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
}

// WHATWG URL §4.4 (basic URL parser): tabs and newlines anywhere in a URL are removed, leading
// and trailing C0 controls and spaces are stripped, and in http(s) URLs `\` counts as `/`.
bool is_ignored(char c) noexcept {
    return c == '\t' || c == '\n' || c == '\r';
}
bool is_slash(char c) noexcept {
    return c == '/' || c == '\\';
}
bool ends_authority(char c) noexcept {
    return is_slash(c) || c == '?' || c == '#';
}
bool is_alpha(char c) noexcept {
    const char l = json_config::ascii_lower(c);
    return l >= 'a' && l <= 'z';
}
bool is_scheme_char(char c) noexcept {
    return json_config::is_alnum(c) || c == '+' || c == '-' || c == '.';
}
int hex_value(char c) noexcept {
    if (json_config::is_digit(c)) {
        return c - '0';
    }
    const char l = json_config::ascii_lower(c);
    return (l >= 'a' && l <= 'f') ? l - 'a' + 10 : -1;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20) {
        s.remove_prefix(1);
    }
    while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20) {
        s.remove_suffix(1);
    }
    return s;
}

// The index of the first byte at or after `i` that is not a tab or newline.
std::size_t skip_ignored(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is_ignored(s[i])) {
        ++i;
    }
    return i;
}

// Where the authority of an http(s) or protocol-relative URL starts, or npos when `url` (already
// trimmed) is neither: relative, another scheme, or nothing at all.
std::size_t authority_start(std::string_view url) noexcept {
    std::size_t i = skip_ignored(url, 0);
    if (i < url.size() && is_slash(url[i])) {
        i = skip_ignored(url, i + 1);
        if (i >= url.size() || !is_slash(url[i])) {
            return std::string_view::npos;  // path-relative: "/gtm.js"
        }
    } else {
        // A scheme is a letter and then letters, digits, +, - and . up to ':'; anything else is
        // a relative URL. Only "http" and "https" matter, so at most 5 characters are kept.
        std::array<char, 5> scheme{};
        std::size_t length = 0;
        for (;; ++i) {
            if (i >= url.size()) {
                return std::string_view::npos;
            }
            const char c = url[i];
            if (is_ignored(c)) {
                continue;
            }
            if (c == ':') {
                break;
            }
            if (!is_scheme_char(c) || (length == 0 && !is_alpha(c)) || length == scheme.size()) {
                return std::string_view::npos;
            }
            scheme[length++] = json_config::ascii_lower(c);
        }
        const std::string_view name(scheme.data(), length);
        if (name != "http" && name != "https") {
            return std::string_view::npos;  // javascript:, data:, mailto:, blob:...
        }
        ++i;
    }
    // WHATWG "special authority ignore slashes state": any number of slashes may follow. With
    // none ("https:host") a browser reads a host unless the page's own scheme is the same; we
    // always read one, which can only hold back more, never less.
    while (i < url.size() && (is_slash(url[i]) || is_ignored(url[i]))) {
        ++i;
    }
    return i;
}

// Writes the host of `raw` (the authority minus user-info, up to the port) into `out` as a
// browser would see it: percent-decoded, full-width dots and ASCII mapped to ASCII, lower case.
// Returns the size written, or npos when it cannot be a catalogued name (too long, IPv6).
std::size_t normalise_host(std::string_view raw, std::span<char> decoded,
                           std::span<char> out) noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (is_ignored(c)) {
            continue;
        }
        if (c == '[') {
            return std::string_view::npos;  // an IPv6 literal: no catalogued host is one
        }
        if (c == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 &&
            hex_value(raw[i + 2]) >= 0) {
            c = static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
            i += 2;
        }
        if (n == decoded.size()) {
            return std::string_view::npos;
        }
        decoded[n++] = c;
    }
    // UTS #46 mapping, the part that matters for look-alikes of ASCII names: U+3002 and U+FF61
    // are dots, U+FF01-U+FF5E are full-width forms of ASCII 0x21-0x7E.
    std::size_t m = 0;
    for (std::size_t i = 0; i < n; ++i) {
        auto c = static_cast<unsigned char>(decoded[i]);
        if ((c == 0xe3 || c == 0xef) && i + 2 < n) {
            const auto b1 = static_cast<unsigned char>(decoded[i + 1]);
            const auto b2 = static_cast<unsigned char>(decoded[i + 2]);
            const unsigned cp = ((c & 0x0fU) << 12U) | ((b1 & 0x3fU) << 6U) | (b2 & 0x3fU);
            const bool continuation = (b1 & 0xc0U) == 0x80U && (b2 & 0xc0U) == 0x80U;
            if (continuation && (cp == 0x3002 || cp == 0xff61)) {
                c = '.';
                i += 2;
            } else if (continuation && cp >= 0xff01 && cp <= 0xff5e) {
                c = static_cast<unsigned char>(cp - 0xfee0);
                i += 2;
            }
        }
        if (m == out.size()) {
            return std::string_view::npos;
        }
        out[m++] = json_config::ascii_lower(static_cast<char>(c));
    }
    return m;
}

// True when the path at the start of `raw` (what follows the authority) begins with `prefix`
// at a segment boundary. The path ends at '?' or '#'; an empty path is "/".
bool path_has_prefix(std::string_view raw, std::string_view prefix) noexcept {
    if (prefix.empty()) {
        return true;
    }
    std::size_t j = 0;
    auto next = [&]() -> int {
        j = skip_ignored(raw, j);
        if (j >= raw.size() || raw[j] == '?' || raw[j] == '#') {
            return -1;
        }
        const char c = raw[j++];
        return c == '\\' ? '/' : static_cast<unsigned char>(c);
    };
    int c = next();
    if (c == -1) {
        return prefix == "/";
    }
    for (const char p : prefix) {
        if (c != static_cast<unsigned char>(p)) {
            return false;
        }
        c = next();
    }
    return prefix.back() == '/' || c == -1 || c == '/';
}

// A catalogued host: a lower-case DNS name of two or more labels.
std::optional<std::string> host_problem(const std::string& host) {
    if (host.empty()) {
        return "must not be empty";
    }
    if (host.find('*') != std::string::npos) {
        return "must not contain *: a host also matches its subdomains, so write \"*.example.com\""
               " as \"example.com\"";
    }
    if (host.find('/') != std::string::npos || host.find(':') != std::string::npos) {
        return "must be a host name alone, without scheme, port or path";
    }
    if (host.back() == '.') {
        return "must not end with a dot";
    }
    if (!json_config::is_host_name(host)) {
        return "must be a host name: labels of letters, digits, - and _ separated by single dots";
    }
    if (host != json_config::lower(host)) {
        return "must be lower case";
    }
    if (host.find('.') == std::string::npos) {
        return "must have at least two labels (a top-level domain alone would match too much)";
    }
    if (host.size() > max_host_size) {
        return "must be at most 253 characters";
    }
    return std::nullopt;
}

std::optional<std::string> path_problem(const std::string& path) {
    if (path.empty() || path.front() != '/') {
        return "must start with /";
    }
    if (std::any_of(path.begin(), path.end(), [](char c) {
            return c == '?' || c == '#' || c == '\\' || is_control_or_space(c);
        })) {
        return "must not contain ?, #, \\, spaces or control characters";
    }
    if (path.size() > max_path_size) {
        return "must be at most 200 characters";
    }
    return std::nullopt;
}

// Reads one document on top of the shared config reader, which words every problem and keeps
// them in document order.
class catalogue_reader {
  public:
    explicit catalogue_reader(json_config::reader& r) : r_(r) {}

    std::vector<tracker> read(const json& doc) {
        std::vector<tracker> out;
        if (!doc.is_object()) {
            r_.fail_document("the document must be a JSON object" + got(doc));
            return out;
        }
        r_.check_object(doc, "", top_fields);
        const json* trackers = member(doc, "trackers");
        if (trackers == nullptr) {
            r_.fail("/trackers", "required field is missing");
            return out;
        }
        if (!trackers->is_array()) {
            r_.fail("/trackers", "must be an array of trackers" + got(*trackers));
            return out;
        }
        out.reserve(trackers->size());
        for (std::size_t i = 0; i < trackers->size(); ++i) {
            if (auto t = read_entry((*trackers)[i], child("/trackers", i))) {
                out.push_back(std::move(*t));
            }
        }
        return out;
    }

  private:
    // Returns the entry only when it is wholly valid; every problem in it is still reported.
    std::optional<tracker> read_entry(const json& e, const std::string& pointer) {
        const std::size_t before = r_.problems().size();
        if (!r_.check_object(e, pointer, entry_fields)) {
            return std::nullopt;
        }
        tracker t;
        read_host(e, pointer, t.host);
        read_paths(e, pointer, t.paths);
        if (const auto i = read_required_choice(e, pointer, "category", category_names)) {
            t.category = all_categories[*i];
        }
        read_text(e, pointer, "vendor", t.vendor);
        if (const auto i = read_required_choice(e, pointer, "kind", tracker_catalogue::kinds())) {
            t.kind = std::string(tracker_catalogue::kinds()[*i]);
        }
        read_text(e, pointer, "purpose", t.purpose);
        r_.read_bool(e, pointer, "consent_mode", t.consent_mode);  // optional, default false
        if (r_.problems().size() != before) {
            return std::nullopt;
        }
        check_duplicates(t, pointer, e);
        if (r_.problems().size() != before) {
            return std::nullopt;
        }
        return t;
    }

    bool present(const json& e, const std::string& pointer, std::string_view key) {
        if (member(e, key) == nullptr) {
            r_.fail(child(pointer, key), "required field is missing");
            return false;
        }
        return true;
    }

    void read_host(const json& e, const std::string& pointer, std::string& out) {
        if (!present(e, pointer, "host")) {
            return;
        }
        const std::string* host = r_.read_string(e, pointer, "host");
        if (host == nullptr) {
            return;
        }
        if (const auto problem = host_problem(*host)) {
            r_.fail(child(pointer, "host"), *problem + got(*member(e, "host")));
            return;
        }
        out = *host;
    }

    void read_paths(const json& e, const std::string& pointer, std::vector<std::string>& out) {
        const json* paths = member(e, "paths");
        if (paths == nullptr) {
            return;
        }
        const std::string here = child(pointer, "paths");
        if (!paths->is_array()) {
            r_.fail(here, "must be an array of path prefixes" + got(*paths));
            return;
        }
        if (paths->empty()) {
            r_.fail(here, "must not be empty: leave paths out to match every path on the host");
            return;
        }
        for (std::size_t i = 0; i < paths->size(); ++i) {
            const json& p = (*paths)[i];
            if (!p.is_string()) {
                r_.fail(child(here, i), "must be a string" + got(p));
                continue;
            }
            const auto& path = p.get_ref<const std::string&>();
            if (const auto problem = path_problem(path)) {
                r_.fail(child(here, i), *problem + got(p));
                continue;
            }
            out.push_back(path);
        }
    }

    std::optional<std::size_t> read_required_choice(const json& e, const std::string& pointer,
                                                    std::string_view key,
                                                    std::span<const std::string_view> choices) {
        if (!present(e, pointer, key)) {
            return std::nullopt;
        }
        return r_.read_choice(e, pointer, key, choices);
    }

    void read_text(const json& e, const std::string& pointer, std::string_view key,
                   std::string& out) {
        if (!present(e, pointer, key)) {
            return;
        }
        const std::string* text = r_.read_string(e, pointer, key);
        if (text == nullptr) {
            return;
        }
        if (text->empty()) {
            r_.fail(child(pointer, key), "must not be empty");
            return;
        }
        out = *text;
    }

    // A host without paths, or one host and path prefix, may appear once per document.
    void check_duplicates(const tracker& t, const std::string& pointer, const json& e) {
        if (t.paths.empty()) {
            const std::string here = child(pointer, "host");
            const auto [first, inserted] = first_use_.try_emplace(t.host + ' ', here);
            if (!inserted) {
                r_.fail(here, "duplicate of " + first->second + got(*member(e, "host")));
            }
            return;
        }
        const std::string paths = child(pointer, "paths");
        for (std::size_t i = 0; i < t.paths.size(); ++i) {
            const std::string here = child(paths, i);
            const auto [first, inserted] = first_use_.try_emplace(t.host + ' ' + t.paths[i], here);
            if (!inserted) {
                r_.fail(here, "duplicate of " + first->second + " for host " +
                                  json_config::literal(t.host) + got((*member(e, "paths"))[i]));
            }
        }
    }

    json_config::reader& r_;
    std::unordered_map<std::string, std::string> first_use_;  // "host prefix" -> first pointer
};

std::vector<tracker> parse(std::string_view text, std::string_view source,
                           std::vector<std::string>& problems) {
    std::vector<tracker> out;
    auto found = json_config::problems_in(
        text, source,
        [&](json_config::reader& r, const json& root) { out = catalogue_reader(r).read(root); });
    std::move(found.begin(), found.end(), std::back_inserter(problems));
    return out;
}

}  // namespace

std::string_view name_of(tracker_category c) noexcept {
    return category_names[static_cast<std::size_t>(c)];
}

tracker_catalogue_error::tracker_catalogue_error(std::vector<std::string> problems)
    : std::invalid_argument(json_config::join_lines(problems)), problems_(std::move(problems)) {}

std::span<const std::string_view> tracker_catalogue::kinds() noexcept {
    return kind_names;
}

tracker_catalogue::tracker_catalogue(std::string_view json_text, std::string_view source) {
    std::vector<std::string> problems;
    trackers_ = parse(json_text, source, problems);
    if (!problems.empty()) {
        throw tracker_catalogue_error(std::move(problems));
    }
    build_index();
}

tracker_catalogue::tracker_catalogue(std::string_view builtin_json, std::string_view builtin_source,
                                     std::string_view site_json, std::string_view site_source) {
    std::vector<std::string> problems;
    auto builtin = parse(builtin_json, builtin_source, problems);
    trackers_ = parse(site_json, site_source, problems);
    if (!problems.empty()) {
        throw tracker_catalogue_error(std::move(problems));
    }
    trackers_.reserve(trackers_.size() + builtin.size());
    std::move(builtin.begin(), builtin.end(), std::back_inserter(trackers_));
    build_index();
}

const tracker_catalogue& tracker_catalogue::builtin() {
    static const tracker_catalogue catalogue(builtin_tracker_catalogue_json(),
                                             "configs/tracker-catalogue.json");
    return catalogue;
}

void tracker_catalogue::build_index() {
    for (std::size_t i = 0; i < trackers_.size(); ++i) {
        auto& rules = by_host_[trackers_[i].host];
        if (trackers_[i].paths.empty()) {
            rules.push_back({"", i});
        }
        for (const auto& p : trackers_[i].paths) {
            rules.push_back({p, i});
        }
    }
    for (auto& [host, rules] : by_host_) {
        // Stable: between prefixes of one length the site's entry (added first) wins.
        std::stable_sort(rules.begin(), rules.end(), [](const rule& a, const rule& b) {
            return a.prefix.size() > b.prefix.size();
        });
    }
}

const tracker* tracker_catalogue::match_host(std::string_view host,
                                             std::string_view raw_path) const noexcept {
    // www.googletagmanager.com, then googletagmanager.com, then com: the longest catalogued
    // suffix that ends at a label boundary wins, so "evilgoogletagmanager.com" never reaches
    // "googletagmanager.com".
    for (;;) {
        if (const auto it = by_host_.find(host); it != by_host_.end()) {
            for (const rule& r : it->second) {
                if (path_has_prefix(raw_path, r.prefix)) {
                    return &trackers_[r.index];
                }
            }
        }
        const auto dot = host.find('.');
        if (dot == std::string_view::npos) {
            return nullptr;
        }
        host.remove_prefix(dot + 1);
    }
}

const tracker* tracker_catalogue::match(std::string_view url) const noexcept {
    url = trim(url);
    const std::size_t start = authority_start(url);
    if (start == std::string_view::npos) {
        return nullptr;
    }
    std::size_t end = start;
    std::size_t host_begin = start;
    for (; end < url.size() && !ends_authority(url[end]); ++end) {
        if (url[end] == '@') {
            host_begin = end + 1;  // the last '@' ends the user-info (WHATWG authority state)
        }
    }
    std::size_t host_end = host_begin;
    while (host_end < end && url[host_end] != ':') {
        ++host_end;
    }
    const std::string_view raw_host = url.substr(host_begin, host_end - host_begin);
    if (raw_host.size() > max_raw_host_size) {
        return nullptr;
    }
    // Not zero-filled: only the bytes normalise_host writes are read.
    std::array<char, max_raw_host_size> decoded;  // NOLINT(cppcoreguidelines-pro-type-member-init)
    std::array<char, max_host_size + 1> buffer;   // NOLINT(cppcoreguidelines-pro-type-member-init)
    std::size_t size = normalise_host(raw_host, decoded, buffer);
    if (size == std::string_view::npos) {
        return nullptr;
    }
    if (size > 0 && buffer[size - 1] == '.') {
        --size;  // "googletagmanager.com." is the same host, written fully qualified
    }
    if (size == 0) {
        return nullptr;
    }
    return match_host(std::string_view(buffer.data(), size), url.substr(end));
}

}  // namespace cg::banner
