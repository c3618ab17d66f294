#include "analytics/page_view.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "text.hpp"
#include "xxh3.hpp"

namespace cg::analytics {

namespace {

using detail::find_any;
using detail::find_char;
using detail::lower;
using detail::trim;

constexpr std::size_t max_path_bytes = 512;
constexpr std::size_t max_value_bytes = 100;

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

bool icontains(std::string_view haystack, std::string_view needle) noexcept {
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                       [](char x, char y) { return lower(x) == lower(y); }) != haystack.end();
}

// The media type of a Content-Type value, without parameters.
std::string_view media_type(std::string_view content_type) noexcept {
    return trim(content_type.substr(0, find_char(content_type, ';')));
}

int hex(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

// Appends `s` keeping only valid UTF-8 (each bad byte becomes U+FFFD), stopping before `cap`
// bytes without cutting a character.
void append_utf8(std::string& out, std::string_view s, std::size_t cap) {
    std::size_t i = 0;
    while (i < s.size()) {
        // Printable ASCII, by far the most common, goes in runs.
        std::size_t run = i;
        while (run < s.size() && s[run] >= 0x20 && s[run] < 0x7F) {
            ++run;
        }
        if (run > i) {
            const std::size_t n = std::min(run - i, cap - std::min(cap, out.size()));
            out.append(s.data() + i, n);
            if (n < run - i) {
                return;
            }
            i = run;
            continue;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80           ? 1
                        : (c >> 5) == 0x6  ? 2
                        : (c >> 4) == 0xE  ? 3
                        : (c >> 3) == 0x1E ? 4
                                           : 0;
        bool ok = n != 0 && i + n <= s.size() && c != 0xC0 && c != 0xC1 && c < 0xF5;
        for (std::size_t k = 1; ok && k < n; ++k) {
            ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        }
        if (ok && n == 3) {  // no overlong forms, no surrogates
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
        } else if (ok && n == 4) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
        }
        const std::string_view piece = ok ? s.substr(i, n) : std::string_view{"\xEF\xBF\xBD"};
        if (out.size() + piece.size() > cap) {
            return;
        }
        if (ok && n == 1) {
            out += ' ';  // control characters (and DEL) have no place in a report
        } else {
            out += piece;
        }
        i += ok ? n : 1;
    }
}

// A query parameter's value into `out`: %XX and '+' decoded, then valid UTF-8, lower-cased
// ASCII, trimmed, at most max_value_bytes.
void decode_value(std::string_view v, std::string& out) {
    char raw[4 * max_value_bytes];
    std::size_t n = 0;
    for (std::size_t i = 0; i < v.size() && n < sizeof raw; ++i) {
        char c = v[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < v.size() && hex(v[i + 1]) >= 0 && hex(v[i + 2]) >= 0) {
            c = static_cast<char>(hex(v[i + 1]) * 16 + hex(v[i + 2]));
            i += 2;
        }
        raw[n++] = lower(c);
    }
    append_utf8(out, trim(std::string_view{raw, n}), max_value_bytes);
}

// The host of an absolute http(s) URL into `host` (empty before), lower case, without port,
// user info or "www."; left empty when it is none.
void host_of(std::string_view url, std::string& host) {
    const auto scheme_end = find_char(url, ':');
    if (scheme_end == std::string_view::npos || url.substr(scheme_end, 3) != "://" ||
        !(iequals(url.substr(0, scheme_end), "http") ||
          iequals(url.substr(0, scheme_end), "https"))) {
        return;
    }
    std::string_view rest = url.substr(scheme_end + 3);
    rest = rest.substr(0, find_any(rest, "/?#"));
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        rest.remove_prefix(at + 1);
    }
    if (!rest.empty() && rest.front() == '[') {
        rest = rest.substr(0, find_char(rest, ']') + 1);  // an IPv6 literal keeps its colons
    } else {
        rest = rest.substr(0, find_char(rest, ':'));
    }
    while (!rest.empty() && rest.back() == '.') {
        rest.remove_suffix(1);
    }
    if (rest.size() > 253) {
        return;
    }
    if (rest.size() > 4 && iequals(rest.substr(0, 4), "www.")) {
        rest.remove_prefix(4);
    }
    for (const char c : rest) {
        const char l = lower(c);
        if (!((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '.' || l == '-' ||
              l == '[' || l == ']' || l == ':')) {
            host.clear();
            return;  // not a host name we report
        }
        host += l;
    }
}

// Whether `host` is `domain` or one of its subdomains.
bool under(std::string_view host, std::string_view domain) noexcept {
    return host == domain || (host.size() > domain.size() && host.ends_with(domain) &&
                              host[host.size() - domain.size() - 1] == '.');
}

constexpr std::array<std::string_view, 11> search_engines{"google", "bing",   "duckduckgo", "yahoo",
                                                          "yandex", "ecosia", "startpage",  "baidu",
                                                          "qwant",  "kvasir", "brave"};
constexpr std::array<std::string_view, 15> social_sites{
    "facebook.com", "fb.com",        "instagram.com", "linkedin.com", "lnkd.in",
    "t.co",         "twitter.com",   "x.com",         "reddit.com",   "youtube.com",
    "tiktok.com",   "pinterest.com", "snapchat.com",  "threads.net",  "bsky.app"};
constexpr std::array<std::string_view, 6> mail_sites{"mail.google.com",    "outlook.live.com",
                                                     "outlook.office.com", "mail.yahoo.com",
                                                     "mail.proton.me",     "webmail.online.no"};

// The channel a campaign's utm_medium (not empty) names.
channel channel_of_medium(std::string_view medium) noexcept {
    if (medium == "email" || medium == "e-mail" || medium == "newsletter") {
        return channel::email;
    }
    if (medium == "social" || medium == "social-media" || medium == "sm") {
        return channel::social;
    }
    if (medium == "organic") {
        return channel::organic_search;
    }
    return channel::campaign;  // cpc, display, banner, affiliate, ...
}

// The channel a referrer host (reported, so "" when none or own) implies.
channel channel_of_host(std::string_view host) noexcept {
    if (host.empty()) {
        return channel::direct;
    }
    for (const auto site : mail_sites) {
        if (under(host, site)) {
            return channel::email;
        }
    }
    // A search engine's name as any label but the last: "google.no", "www.google.co.uk".
    for (std::size_t at = 0, dot = find_char(host, '.'); dot != std::string_view::npos;
         at = dot + 1, dot = find_char(host, '.', at)) {
        const std::string_view label = host.substr(at, dot - at);
        if (std::find(search_engines.begin(), search_engines.end(), label) !=
            search_engines.end()) {
            return channel::organic_search;
        }
    }
    for (const auto site : social_sites) {
        if (under(host, site)) {
            return channel::social;
        }
    }
    return channel::referral;
}

// Whether `path` matches `pattern` (segments literal, `:name` for one, a final `*` for the
// rest).
bool matches(std::string_view pattern, std::string_view path) noexcept {
    while (!pattern.empty()) {
        if (pattern == "/*") {
            return true;
        }
        if (path.empty() || pattern.front() != '/' || path.front() != '/') {
            return false;
        }
        pattern.remove_prefix(1);
        path.remove_prefix(1);
        const auto p_end = std::min(find_char(pattern, '/'), pattern.size());
        const auto s_end = std::min(find_char(path, '/'), path.size());
        const std::string_view p = pattern.substr(0, p_end);
        const std::string_view s = path.substr(0, s_end);
        if (p.starts_with(':') ? s.empty() : p != s) {
            return false;
        }
        pattern.remove_prefix(p_end);
        path.remove_prefix(s_end);
    }
    return path.empty();
}

// The referrer host of `referer` (none when it is one of `own_hosts`) and its channel.
void read_referrer(std::string_view referer, const std::vector<std::string>& own_hosts,
                   std::string& host, channel& source) {
    host.clear();
    host_of(referer, host);
    if (std::any_of(own_hosts.begin(), own_hosts.end(), [&](const std::string& own) {
            return own == host || (own.size() == host.size() + 4 && own.starts_with("www.") &&
                                   own.ends_with(host));
        })) {
        host.clear();
    }
    source = channel_of_host(host);
}

}  // namespace

std::string_view referrer_origin(std::string_view referer) noexcept {
    // What host_of reads of a URL: up to the path, query or fragment.
    const auto colon = find_char(referer, ':');
    if (colon == std::string_view::npos || referer.substr(colon, 3) != "://") {
        return {};
    }
    const std::string_view rest = referer.substr(colon + 3);
    return referer.substr(0, colon + 3 + std::min(find_any(rest, "/?#"), rest.size()));
}

void referrer_memo::read(std::string_view referer, const std::vector<std::string>& own_hosts,
                         std::string& host, channel& source) {
    const std::string_view origin = referrer_origin(referer);
    if (origin.empty()) {
        read_referrer({}, own_hosts, host, source);  // no host: nothing to remember
        return;
    }
    entry& e = entries_[XXH3_64bits(origin.data(), origin.size()) % entries_.size()];
    if (e.own_hosts != &own_hosts || e.origin != origin) {
        read_referrer(origin, own_hosts, e.host, e.source);
        e.origin.assign(origin);
        e.own_hosts = &own_hosts;
    }
    host.assign(e.host);
    source = e.source;
}

void referrer_memo::forget() noexcept {
    for (entry& e : entries_) {
        e.own_hosts = nullptr;
    }
}

std::string_view name_of(not_counted r) noexcept {
    switch (r) {
        case not_counted::method:
            return "method";
        case not_counted::status:
            return "status";
        case not_counted::not_html:
            return "not_html";
        case not_counted::not_a_page:
            return "not_a_page";
        case not_counted::prefetch:
            return "prefetch";
        case not_counted::bot:
            return "bot";
        case not_counted::no_language:
            return "no_language";
        case not_counted::ua_loading:
            break;
    }
    return "ua_loading";
}

std::string_view name_of(channel c) noexcept {
    switch (c) {
        case channel::organic_search:
            return "organic search";
        case channel::social:
            return "social";
        case channel::email:
            return "email";
        case channel::referral:
            return "referral";
        case channel::campaign:
            return "campaign";
        case channel::direct:
            break;
    }
    return "direct";
}

std::optional<not_counted> classify_request(const exchange_facts& f) noexcept {
    if (f.method != "GET") {
        return not_counted::method;
    }
    const auto dest = trim(f.sec_fetch_dest);
    if (dest.empty() ? !icontains(f.accept, "text/html") : !iequals(dest, "document")) {
        return not_counted::not_a_page;  // an iframe, a fetch() or a subresource
    }
    if (icontains(f.sec_purpose, "prefetch") || icontains(f.sec_purpose, "prerender")) {
        return not_counted::prefetch;
    }
    if (f.bot) {
        return not_counted::bot;
    }
    if (trim(f.accept_language).empty()) {
        return not_counted::no_language;
    }
    return std::nullopt;
}

std::optional<not_counted> classify_answer(std::optional<not_counted> request, unsigned status,
                                           std::string_view content_type) noexcept {
    // The reasons in classify()'s order: the method, the status and the type, then the rest.
    if (request == not_counted::method) {
        return request;
    }
    if (status < 200 || status > 299) {
        return not_counted::status;
    }
    if (content_type.starts_with("text/html") &&
        (content_type.size() == 9 || content_type[9] == ';')) {
        return request;  // the usual spelling, with or without parameters
    }
    const auto type = media_type(content_type);
    if (!iequals(type, "text/html") && !iequals(type, "application/xhtml+xml")) {
        return not_counted::not_html;
    }
    return request;
}

std::optional<not_counted> classify(const exchange_facts& f) noexcept {
    return classify_answer(classify_request(f), f.status, f.content_type);
}

void read_dimensions(page_dimensions& d, std::string_view target, std::string_view referer,
                     const std::vector<std::string>& own_hosts, const std::vector<path_rule>& rules,
                     referrer_memo* memo) {
    d.path.clear();
    d.utm_source.clear();
    d.utm_medium.clear();
    d.utm_campaign.clear();
    const auto query_at = find_any(target, "?#");
    const std::string_view path = target.substr(0, query_at);
    std::string_view query;
    if (query_at != std::string_view::npos && target[query_at] == '?') {
        query = target.substr(query_at + 1);
        query = query.substr(0, find_char(query, '#'));
    }
    const auto rule = std::find_if(rules.begin(), rules.end(),
                                   [&](const path_rule& r) { return matches(r.pattern, path); });
    if (rule != rules.end()) {
        d.path = rule->pattern;
    } else {
        append_utf8(d.path, path.empty() ? std::string_view{"/"} : path, max_path_bytes);
    }
    while (!query.empty()) {
        const auto amp = std::min(find_char(query, '&'), query.size());
        const std::string_view pair = query.substr(0, amp);
        query.remove_prefix(std::min(amp + 1, query.size()));
        const auto eq = find_char(pair, '=');
        if (eq == std::string_view::npos || !pair.starts_with("utm_")) {
            continue;
        }
        const std::string_view key = pair.substr(0, eq);
        const int which = key == "utm_source"     ? 0
                          : key == "utm_medium"   ? 1
                          : key == "utm_campaign" ? 2
                                                  : -1;
        std::string* const into[] = {&d.utm_source, &d.utm_medium, &d.utm_campaign};
        if (which >= 0 && into[which]->empty()) {  // the first that says something counts
            decode_value(pair.substr(eq + 1), *into[which]);
        }
    }
    channel from_host = channel::direct;
    if (memo != nullptr) {
        memo->read(referer, own_hosts, d.referrer_host, from_host);
    } else {
        read_referrer(referer, own_hosts, d.referrer_host, from_host);
    }
    d.source = d.utm_medium.empty() ? from_host : channel_of_medium(d.utm_medium);
    if (d.source == channel::direct && !d.utm_source.empty()) {
        d.source = channel::campaign;  // utm_source alone: a tagged link
    }
}

page_dimensions dimensions_of(std::string_view target, std::string_view referer,
                              const std::vector<std::string>& own_hosts,
                              const std::vector<path_rule>& rules) {
    page_dimensions d;
    read_dimensions(d, target, referer, own_hosts, rules);
    return d;
}

}  // namespace cg::analytics
