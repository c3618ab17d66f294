#include "consent/endpoints.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <utility>
#include <vector>

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>

#include "async/from_thread.hpp"
#include "consent/cookie.hpp"
#include "decision_input.hpp"
#include "iso_time.hpp"
#include "json_config/dump.hpp"
#include "json_config/reader.hpp"
#include "text/html_escape.hpp"

namespace cg::consent {

namespace {

namespace net = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using boost::beast::iequals;

constexpr std::string_view base = endpoint_prefix;
constexpr std::size_t max_expiring_cookies = 64;
// Bounds on the expiries sent against cookie tossing (each is one Set-Cookie line).
constexpr std::size_t max_parent_domains = 8;
constexpr std::size_t max_path_segments = 12;
constexpr std::size_t max_presented_cookies = 16;
constexpr std::string_view host_prefix = "__Host-";

endpoint_response json_answer(unsigned status, const json& body) {
    endpoint_response r;
    r.status = status;
    r.body = json_config::dump(body);
    return r;
}

endpoint_response error_answer(unsigned status, std::string_view message) {
    return json_answer(status, json{{"error", message}});
}

endpoint_response too_many(const rate_verdict& v, std::string_view what) {
    endpoint_response out =
        error_answer(429, "too many consent requests " + std::string{what} + "; try again in " +
                              std::to_string(v.retry_after.count()) + " seconds");
    out.retry_after = static_cast<std::uint32_t>(v.retry_after.count());
    return out;
}

std::string expected_origin(const endpoint_request& r) {
    return std::string{r.https ? "https://" : "http://"} + std::string{r.host};
}

// A cross-site page must not be able to record a decision for the visitor (CSRF). Browsers
// send Origin on every POST; Referer is the fallback for old ones. "null" origins are refused.
bool same_site(const endpoint_request& r) {
    const std::string expected = expected_origin(r);
    if (!r.origin.empty()) {
        return iequals(r.origin, expected);
    }
    if (r.referer.size() < expected.size() ||
        !iequals(r.referer.substr(0, expected.size()), expected)) {
        return false;
    }
    return r.referer.size() == expected.size() || r.referer[expected.size()] == '/';
}

json names(category_set s) {
    json a = json::array();
    for (const auto c : all_categories) {
        if (s.contains(c)) {
            a.push_back(name_of(c));
        }
    }
    return a;
}

std::string iso_seconds(std::int64_t unix_seconds) {
    return iso_time(unix_seconds * 1000, /*with_millis=*/false);
}

// The language for texts and for the record: an explicit choice, else the first of nb, nn,
// en (or "no") the browser asks for, else the site's default.
language pick_language(std::string_view chosen, std::string_view accept, const site_context& site) {
    if (auto l = language_named(chosen)) {
        return *l;
    }
    while (!accept.empty()) {
        const auto comma = accept.find(',');
        auto tag = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
        tag = tag.substr(0, tag.find(';'));
        while (!tag.empty() && tag.front() == ' ') {
            tag.remove_prefix(1);
        }
        tag = tag.substr(0, tag.find('-'));
        std::string code;
        for (const char c : tag.substr(0, 3)) {
            code += json_config::ascii_lower(c);
        }
        if (auto l = language_named(code)) {
            return *l;
        }
    }
    return site.policy().default_language;
}

// The consent cookie under `name` (site.consent_cookie_name(https)): host-only, Path=/ and, on
// HTTPS, Secure, as a __Host- name requires (RFC 6265bis §4.1.3.2).
std::string consent_set_cookie(std::string_view name, std::string_view value, std::int64_t max_age,
                               bool https) {
    std::string c{name};
    c += '=';
    c += value;
    c += "; Path=/; Max-Age=" + std::to_string(max_age) + "; SameSite=Lax; HttpOnly";
    if (https) {
        c += "; Secure";
    }
    return c;
}

bool needs_secure(std::string_view name, bool https) {
    return https || name.starts_with("__Secure-") || name.starts_with("__Host-");
}

// DESIGN L6: withdrawal must remove what is already stored, including HttpOnly cookies and
// those set under other paths or domains, which the banner script cannot reach: one expiry
// per Path/Domain variant the upstream was seen using.
void expire_withdrawn(const site_context& site, const endpoint_request& r, category_set granted,
                      endpoint_response& out) {
    std::vector<std::string> done;
    // The consent cookie under either name is ours: expire_consent_variants handles copies.
    const std::string prefixed = std::string{host_prefix} + std::string{site.cookie_name()};
    for (const auto header : r.cookies) {
        for (const auto& pair : parse_cookie_header(header)) {
            if (pair.name.empty() || pair.name == site.cookie_name() || pair.name == prefixed ||
                site.allowed(pair.name, granted) ||
                std::find(done.begin(), done.end(), pair.name) != done.end() ||
                done.size() >= max_expiring_cookies) {
                continue;
            }
            done.emplace_back(pair.name);
            auto variants = site.observations().variants(pair.name);
            if (std::none_of(variants.begin(), variants.end(),
                             [](const auto& v) { return v.first == "/" && v.second.empty(); })) {
                variants.emplace_back("/", "");  // what a script or an unseen upstream used
            }
            for (const auto& [path, domain] : variants) {
                out.set_cookies.push_back(
                    expiring_set_cookie(pair.name, path, domain, needs_secure(pair.name, r.https)));
            }
        }
    }
}

// The consent cookies the request holds, under either name (plain and __Host-), as sent.
struct presented_cookie {
    std::string name;
    std::string value;
};

std::vector<presented_cookie> presented_consent_cookies(const endpoint_request& r,
                                                        const site_context& site) {
    const std::string plain{site.cookie_name()};
    const std::string prefixed = std::string{host_prefix} + plain;
    std::vector<presented_cookie> out;
    for (const auto header : r.cookies) {
        for (const auto& pair : parse_cookie_header(header)) {
            if ((pair.name == plain || pair.name == prefixed) &&
                out.size() < max_presented_cookies) {
                out.push_back({std::string{pair.name}, std::string{pair.value}});
            }
        }
    }
    return out;
}

// The host and each parent domain of the Host header, lower case, without the port: the
// Domain attributes a sibling subdomain may have planted a cookie under. None for an IP
// address or anything that is not a plain host name.
std::vector<std::string> host_domains(std::string_view host) {
    std::vector<std::string> out;
    if (host.empty() || host.front() == '[') {
        return out;
    }
    host = host.substr(0, host.find(':'));
    std::string h;
    for (const char ch : host) {
        const char c = json_config::ascii_lower(ch);
        if (!json_config::is_alnum(c) && c != '-' && c != '.') {
            return {};
        }
        h += c;
    }
    if (h.empty() || h.find_first_not_of("0123456789.") == std::string::npos) {
        return {};  // an IPv4 address: no Domain attribute applies
    }
    std::string_view rest = h;
    while (rest.find('.') != std::string_view::npos && out.size() < max_parent_domains) {
        out.emplace_back(rest);
        rest.remove_prefix(rest.find('.') + 1);
    }
    return out;
}

// RFC 3986 pchar without ';' and ',' (they end a cookie attribute): the only bytes a Path we
// send back may hold.
bool is_cookie_path_char(char c) {
    return json_config::is_alnum(c) ||
           std::string_view{"-._~!$&'()*+=:@%/"}.find(c) != std::string_view::npos;
}

// Each ancestor of the path of the page the decision came from (the Referer, when it is this
// site), "/a", "/a/", "/a/b", ... up to the page itself, "/" excluded: the Paths a planted
// cookie can hide under so that the browser sends it before ours (RFC 6265 §5.4: longer paths
// first).
std::vector<std::string> referer_paths(const endpoint_request& r, std::string_view origin) {
    std::vector<std::string> out;
    if (r.referer.size() <= origin.size() || !iequals(r.referer.substr(0, origin.size()), origin) ||
        r.referer[origin.size()] != '/') {
        return out;
    }
    std::string_view path = r.referer.substr(origin.size());
    path = path.substr(0, path.find_first_of("?#"));
    if (!std::all_of(path.begin(), path.end(), is_cookie_path_char)) {
        return out;
    }
    std::size_t segments = 0;
    for (std::size_t i = 1; i <= path.size() && segments < max_path_segments; ++i) {
        if (i == path.size() || path[i] == '/') {
            if (path[i - 1] != '/') {
                out.emplace_back(path.substr(0, i));
                ++segments;
            }
            if (i < path.size()) {
                out.emplace_back(path.substr(0, i + 1));
            }
        }
    }
    return out;
}

// Issue 8 item 3: after cookie tossing the browser may hold our cookie under both names and
// other copies under any Domain or Path it accepts; expire each (the one just set excepted).
void expire_consent_variants(const site_context& site, const endpoint_request& r,
                             std::string_view set_name, endpoint_response& out) {
    const std::string plain{site.cookie_name()};
    const std::string prefixed = std::string{host_prefix} + plain;
    for (const auto& name : {plain, prefixed}) {
        if (name != set_name) {
            out.set_cookies.push_back(
                expiring_set_cookie(name, "/", "", needs_secure(name, r.https)));
        }
    }
    // A __Host- cookie can have neither Domain nor a Path other than "/": only the plain name
    // can hide there.
    const bool secure = needs_secure(plain, r.https);
    for (const auto& domain : host_domains(r.host)) {
        out.set_cookies.push_back(expiring_set_cookie(plain, "/", domain, secure));
    }
    for (const auto& path : referer_paths(r, expected_origin(r))) {
        out.set_cookies.push_back(expiring_set_cookie(plain, path, "", secure));
    }
}

// Only a path on this site: "//evil.example" and "/\evil" would leave it (open redirect).
bool is_local_path(std::string_view p) {
    return p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\") &&
           std::none_of(p.begin(), p.end(), [](char ch) {
               return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F || ch == '\\';
           });
}

// A Location value is a URI reference (RFC 9110 §10.2.2, RFC 3986 §2.1): a space or a byte
// beyond ASCII in the visitor's return path is percent-encoded rather than sent raw.
std::string location_text(std::string_view p) {
    constexpr std::string_view hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(p.size());
    for (const char ch : p) {
        const auto u = static_cast<unsigned char>(ch);
        if (u == ' ' || u >= 0x80) {
            out += '%';
            out += hex[u >> 4U];
            out += hex[u & 0x0FU];
        } else {
            out += ch;
        }
    }
    return out;
}

std::string back_to(std::string_view return_to, const endpoint_request& r) {
    if (is_local_path(return_to)) {
        return location_text(return_to);
    }
    const std::string origin = expected_origin(r);
    if (r.referer.size() > origin.size() && iequals(r.referer.substr(0, origin.size()), origin)) {
        const auto p = r.referer.substr(origin.size());
        if (is_local_path(p)) {
            return location_text(p);
        }
    }
    return "/";
}

decision_kind kind_of(const decision_input& c, const visitor_consent& before,
                      const site_context& site) {
    if (c.gpc_method) {
        return decision_kind::gpc;
    }
    if (before.state && !c.granted.includes(before.state->granted)) {
        return decision_kind::withdraw;  // DESIGN L7: a withdrawal is recorded as one
    }
    if (c.granted == site.offered()) {
        return decision_kind::accept_all;
    }
    if (c.granted == category_set{category::necessary}) {
        return decision_kind::reject_all;
    }
    return decision_kind::custom;
}

std::string_view outcome_name(record_outcome o) {
    switch (o) {
        case record_outcome::stored:
            return "stored";
        case record_outcome::journaled:
            return "journaled";
        case record_outcome::failed:
            break;
    }
    return "failed";
}

net::awaitable<endpoint_response> decide(const endpoint_request& r, const site_context& site,
                                         store& records, rate_limiter& limiter,
                                         std::int64_t now_ms) {
    if (!same_site(r)) {
        co_return error_answer(403,
                               "cross-site consent requests are refused: Origin or Referer "
                               "must be this site");
    }
    decision_input c = read_decision(r.content_type, r.body, site.offered());
    if (c.status == 0 && c.gpc_method && !r.gpc) {
        c.status = 400;
        c.error = "action \"gpc\" needs the request's Sec-GPC: 1 signal";
    }
    if (c.status != 0) {
        co_return error_answer(c.status, c.error);
    }
    if (c.accept_all && r.gpc) {
        // DESIGN L9: with Sec-GPC, "accept all" means all but marketing (the banner says so);
        // only marketing ticked explicitly in the settings layer grants it.
        c.granted.erase(category::marketing);
    }
    const std::int64_t now = now_ms / 1000;
    const visitor_consent before = site.read_visitor(r.cookies, r.gpc, r.https, now);
    if (before.state) {
        if (const auto v = limiter.take_consent_id(before.state->id, now_ms); !v.allowed) {
            co_return too_many(v, "for this consent id");
        }
    }
    const language lang = pick_language(c.language, r.accept_language, site);

    // Cookie tossing (issue 8 item 3): when the browser holds several consent cookies under the
    // name this connection uses, any of them may have been planted; continuing one's id would
    // file the visitor's decisions under someone else's: start a fresh one. Copies under the
    // other name (a plain one planted next to our __Host- one, or one from before host_prefix)
    // never count. Either way, clear every copy the browser may hold.
    const std::string cookie_name = site.consent_cookie_name(r.https);
    const auto presented = presented_consent_cookies(r, site);
    const presented_cookie* first_right = nullptr;
    bool conflicting = before.conflicting;
    bool stray = false;
    for (const auto& p : presented) {
        if (p.name != cookie_name) {
            stray = true;
        } else if (first_right == nullptr) {
            first_right = &p;
        } else if (p.value != first_right->value) {
            conflicting = true;
        }
    }
    const visitor_consent continued = conflicting ? visitor_consent{} : before;

    consent_state state;
    state.id = continued.state ? continued.state->id : new_consent_id();
    state.granted = c.granted;
    state.policy_version = site.policy().policy_version;
    state.issued = now;
    state.kind = kind_of(c, continued, site);

    decision_event e;
    e.event_id = new_event_id();
    e.consent_id = state.id;
    e.site = site.site();
    e.time_ms = now_ms;
    e.granted = state.granted;
    e.policy_version = state.policy_version;
    e.banner_hash = site.banner_hash(lang);
    e.kind = state.kind;
    e.lang = lang;
    e.gpc = r.gpc;
    const auto retention = site.policy().retention;
    const record_outcome outcome =
        co_await async::from_thread<record_outcome>([&records, &e, retention](auto done) {
            records.record(std::move(e), retention, std::move(done));
        });
    if (outcome == record_outcome::failed) {
        // Consent without proof is no consent (DESIGN L7): nothing changes for the visitor.
        co_return error_answer(503,
                               "the decision could not be recorded and was not applied; "
                               "please try again later");
    }

    endpoint_response out;
    out.decided.emplace();
    out.decided->method = name_of(state.kind);
    for (const auto& name : names(state.granted)) {
        if (name != "necessary") {
            out.decided->granted.push_back(name.get<std::string>());
        }
    }
    out.decided->gpc = r.gpc;
    out.set_cookies.push_back(consent_set_cookie(cookie_name,
                                                 encode_consent(state, site.site(), site.keys()),
                                                 site.policy().lifetime.count(), r.https));
    if (conflicting || stray) {
        expire_consent_variants(site, r, cookie_name, out);
    }
    expire_withdrawn(site, r, state.granted, out);
    if (c.form) {
        out.status = 303;
        out.location = back_to(c.return_to, r);
        out.content_type = "text/plain; charset=utf-8";
        out.body = "Your choice is saved.\n";
        co_return out;
    }
    out.body = json_config::dump(json{{"consent_id", state.id},
                                      {"granted", names(state.granted)},
                                      {"method", name_of(state.kind)},
                                      {"policy_version", state.policy_version},
                                      {"recorded", outcome_name(outcome)}});
    co_return out;
}

json category_texts(const site_context& site, language lang) {
    json a = json::array();
    for (const auto& c : site.policy().categories) {
        const auto& t = c.texts[static_cast<std::size_t>(lang)];
        a.push_back({{"id", name_of(c.id)}, {"name", t.name}, {"description", t.description}});
    }
    return a;
}

endpoint_response state_of(const endpoint_request& r, const site_context& site,
                           std::int64_t now_ms) {
    const std::int64_t now = now_ms / 1000;
    const visitor_consent v = site.read_visitor(r.cookies, r.gpc, r.https, now);
    std::string lang_param;
    for (const auto& [k, val] : form_fields(r.query)) {
        if (k == "lang") {
            lang_param = val;
        }
    }
    const language lang = pick_language(lang_param, r.accept_language, site);
    category_set refused;
    category_set undecided;
    for (const auto& c : site.policy().categories) {
        if (v.granted.contains(c.id)) {
            continue;
        }
        const bool gpc_refusal = c.id == category::marketing &&
                                 (v.gpc || (v.state && v.state->kind == decision_kind::gpc));
        const bool decided = v.state && v.state->kind != decision_kind::gpc;
        if (decided || gpc_refusal) {
            refused.insert(c.id);
        } else {
            undecided.insert(c.id);
        }
    }
    json body{{"decided", v.state.has_value() && v.state->kind != decision_kind::gpc},
              {"granted", names(v.granted)},
              {"refused", names(refused)},
              {"undecided", names(undecided)},
              {"gpc", v.gpc},
              {"policy_version", site.policy().policy_version},
              {"language", name_of(lang)},
              {"categories", category_texts(site, lang)}};
    if (v.state) {
        body["consent_id"] = v.state->id;
        body["method"] = name_of(v.state->kind);
        body["issued"] = iso_seconds(v.state->issued);
        body["expires"] = iso_seconds(v.state->issued + site.policy().lifetime.count());
    }
    return json_answer(200, body);
}

// The rights endpoints take any cookie this gateway signed for this site, also one that has
// expired, predates the current policy or was signed with a retired key: the visitor's data
// is theirs either way. The cookie under the name this connection uses counts; the other name
// only when there is none (consent given before `host_prefix` took effect).
struct credential_result {
    std::optional<consent_state> who;
    bool ambiguous = false;  ///< valid cookies naming different consent ids
};

credential_result credential(const endpoint_request& r, const site_context& site,
                             std::int64_t now) {
    const cookie_check check{.site = site.site(),
                             .policy_version = {},
                             .lifetime_seconds = 0,
                             .now = now,
                             .offered = category_set::all()};
    const std::string right = site.consent_cookie_name(r.https);
    const auto presented = presented_consent_cookies(r, site);
    credential_result out;
    for (const bool right_name : {true, false}) {
        for (const auto& p : presented) {
            if ((p.name == right) != right_name) {
                continue;
            }
            auto s = decode_consent(p.value, check, site.keys(), key_use::identity);
            if (!s) {
                continue;
            }
            if (!out.who) {
                out.who = std::move(*s);
            } else if (out.who->id != s->id) {
                out.ambiguous = true;
            }
        }
        if (out.who) {
            break;
        }
    }
    return out;
}

net::awaitable<endpoint_response> record_of(const endpoint_request& r, const site_context& site,
                                            store& records, rate_limiter& limiter,
                                            std::int64_t now_ms) {
    const auto found = credential(r, site, now_ms / 1000);
    if (!found.who) {
        co_return error_answer(401,
                               "no valid consent cookie: the signed consent cookie this site "
                               "set is the only way to reach a consent record");
    }
    if (found.ambiguous) {
        co_return error_answer(409,
                               "several consent cookies name different consent records, so "
                               "this one cannot be told apart; make a new consent decision "
                               "first (it clears the extra cookies), then try again");
    }
    const std::optional<consent_state>& who = found.who;
    if (r.method == verb::delete_ && !r.origin.empty() && !same_site(r)) {
        co_return error_answer(403, "cross-site erasure requests are refused");
    }
    if (r.method == verb::delete_) {
        if (const auto v = limiter.take_consent_id(who->id, now_ms); !v.allowed) {
            co_return too_many(v, "for this consent id");
        }
        // DESIGN §6: the revoked id is kept for as long as a copy of its cookie could count.
        const auto revoke_for = site.policy().lifetime;
        const bool erased =
            co_await async::from_thread<bool>([&records, &site, &who, revoke_for](auto done) {
                records.erase(site.site(), who->id, revoke_for, std::move(done));
            });
        if (!erased) {
            co_return error_answer(503,
                                   "the record store is unreachable; nothing was erased, "
                                   "please try again later");
        }
        endpoint_response out = json_answer(200, json{{"erased", true}, {"consent_id", who->id}});
        const std::string cookie_name = site.consent_cookie_name(r.https);
        out.set_cookies.push_back(
            expiring_set_cookie(cookie_name, "/", "", needs_secure(cookie_name, r.https)));
        expire_withdrawn(site, r, category_set{category::necessary}, out);
        co_return out;
    }
    const auto history = co_await async::from_thread<std::optional<consent_history>>(
        [&records, &site, &who](auto done) {
            records.history(site.site(), who->id, std::move(done));
        });
    if (!history) {
        co_return error_answer(503, "the record store is unreachable; please try again later");
    }
    json events = json::array();
    for (const auto& e : history->events) {
        events.push_back(json::parse(to_json(e), nullptr, false));
    }
    json doc{{"consent_id", who->id},
             {"site", site.site()},
             {"exported_at", iso_seconds(now_ms / 1000)},
             {"current_cookie",
              {{"granted", names(who->granted)},
               {"method", name_of(who->kind)},
               {"policy_version", who->policy_version},
               {"issued", iso_seconds(who->issued)}}},
             {"stored",
              {{"what",
                "consent decisions: time, categories, policy version, hash of "
                "the banner text shown, how given, language"},
               {"not_stored", "IP address, user agent, cookie values"},
               {"history",
                "the first decision and the latest " + std::to_string(history_cap) +
                    "; decisions in between are only counted (events_folded)"},
               {"retention_days", site.policy().retention.count() / 86400}}},
             {"events", std::move(events)},
             {"events_folded", history->folded}};
    endpoint_response out = json_answer(200, doc);
    out.content_disposition = "attachment; filename=\"consent-record.json\"";
    co_return out;
}

endpoint_response not_allowed(std::string allow) {
    endpoint_response r = error_answer(405, "method not allowed here (allowed: " + allow + ")");
    r.allow = std::move(allow);
    return r;
}

// The q value `accept` (an Accept header) gives `type` ("text/html"): from its most specific
// matching range (the type itself, "text/*", then "*/*", RFC 9110 §12.5.1); 0 when none
// matches. An empty header accepts everything equally (1).
double accept_q(std::string_view accept, std::string_view type) {
    if (accept.find_first_not_of(" \t") == std::string_view::npos) {
        return 1.0;
    }
    const std::string_view major = type.substr(0, type.find('/'));
    int best = 0;
    double q_best = 0.0;
    while (!accept.empty()) {
        const auto comma = accept.find(',');
        std::string_view item = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
        std::string_view range = item.substr(0, item.find(';'));
        while (!range.empty() && (range.front() == ' ' || range.front() == '\t')) {
            range.remove_prefix(1);
        }
        while (!range.empty() && (range.back() == ' ' || range.back() == '\t')) {
            range.remove_suffix(1);
        }
        int specificity = 0;
        if (iequals(range, type)) {
            specificity = 3;
        } else if (range.size() == major.size() + 2 &&
                   iequals(range.substr(0, major.size()), major) &&
                   range.substr(major.size()) == "/*") {
            specificity = 2;
        } else if (range == "*/*") {
            specificity = 1;
        }
        if (specificity <= best) {
            continue;
        }
        double q = 1.0;
        const auto first_semi = item.find(';');
        for (auto params = first_semi == std::string_view::npos ? std::string_view{}
                                                                : item.substr(first_semi + 1);
             !params.empty();) {
            const auto semi = params.find(';');
            auto param = params.substr(0, semi);
            params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
            while (!param.empty() && (param.front() == ' ' || param.front() == ';')) {
                param.remove_prefix(1);
            }
            if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
                // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
                q = 0.0;
                double scale = 1.0;
                bool fraction = false;
                for (const char ch : param.substr(2)) {
                    if (ch == '.' && !fraction) {
                        fraction = true;
                    } else if (json_config::is_digit(ch)) {
                        if (fraction) {
                            scale /= 10.0;
                            q += (ch - '0') * scale;
                        } else {
                            q = q * 10.0 + (ch - '0');
                        }
                    } else {
                        break;
                    }
                }
                q = std::min(q, 1.0);
            }
        }
        best = specificity;
        q_best = q;
    }
    return q_best;
}

bool is_form(std::string_view content_type) {
    const auto type = content_type.substr(0, content_type.find(';'));
    return iequals(type, "application/x-www-form-urlencoded");
}

// A form post comes from a page without JavaScript, whose browser shows what we answer (unless
// it asks for JSON first); so does any request that prefers HTML to JSON.
bool wants_html(const endpoint_request& r) {
    const double html = accept_q(r.accept, "text/html");
    const double json_q = accept_q(r.accept, "application/json");
    return html > json_q || (html == json_q && r.method == verb::post && is_form(r.content_type));
}

using text::html_escape;

struct page_texts {
    std::string_view decision_title;
    std::string_view other_title;
    std::string_view bad_request;
    std::string_view forbidden;
    std::string_view too_many;
    std::string_view unavailable;
    std::string_view other;
    std::string_view details;
    std::string_view back;
};

// In the order of `language`: nb, nn, en.
constexpr std::array<page_texts, 3> error_page_texts{{
    {"Valget ditt ble ikke lagret", "Forespørselen ble avvist",
     "Skjemaet inneholdt et valg vi ikke forstod.",
     "Valget kom fra en annen side enn denne og ble avvist.",
     "For mange forsøk på kort tid. Vent litt og prøv igjen.",
     "Valget kunne ikke lagres akkurat nå. Prøv igjen senere.",
     "Forespørselen kunne ikke behandles.", "Detaljer", "Tilbake til siden"},
    {"Valet ditt vart ikkje lagra", "Førespurnaden vart avvist",
     "Skjemaet inneheldt eit val vi ikkje forstod.",
     "Valet kom frå ei anna side enn denne og vart avvist.",
     "For mange forsøk på kort tid. Vent litt og prøv igjen.",
     "Valet kunne ikkje lagrast akkurat no. Prøv igjen seinare.",
     "Førespurnaden kunne ikkje handsamast.", "Detaljar", "Tilbake til sida"},
    {"Your choice was not saved", "The request was refused",
     "The form held a choice we did not understand.",
     "The choice came from another site than this one and was refused.",
     "Too many attempts in a short time. Please wait a moment and try again.",
     "Your choice could not be saved right now. Please try again later.",
     "The request could not be handled.", "Details", "Back to the page"},
}};

// Item 5 of the no-JavaScript contract: an error for a form post is a page the visitor can
// read, in the language of the banner they used, with a way back; status, Retry-After and
// Allow stay as they were.
endpoint_response html_error(endpoint_response json_error, const endpoint_request& r,
                             const site_context& site) {
    const json parsed = json::parse(json_error.body, nullptr, /*allow_exceptions=*/false);
    std::string message;
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) {
        message = parsed["error"].get<std::string>();
    }
    std::string chosen;
    std::string return_to;
    if (r.method == verb::post && is_form(r.content_type)) {
        for (const auto& [k, v] : form_fields(r.body)) {
            if (k == "language" && chosen.empty()) {
                chosen = v;
            } else if (k == "return_to" && return_to.empty()) {
                return_to = v;
            }
        }
    }
    const language lang = pick_language(chosen, r.accept_language, site);
    const page_texts& t = error_page_texts[static_cast<std::size_t>(lang)];
    const bool decision = r.method == verb::post;
    const auto status = json_error.status;
    const std::string_view summary = status == 400 || status == 415 ? t.bad_request
                                     : status == 403                ? t.forbidden
                                     : status == 429                ? t.too_many
                                     : status == 503                ? t.unavailable
                                                                    : t.other;
    const std::string title{decision ? t.decision_title : t.other_title};
    std::string page = "<!DOCTYPE html>\n<html lang=\"" + std::string{name_of(lang)} + "\">\n";
    page +=
        "<head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" "
        "content=\"noindex\"><title>" +
        html_escape(title) +
        "</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;"
        "padding:0 1em;color:#222}h1{font-size:1.4em}.details{font-size:.85em;color:#555}"
        "a{display:inline-block;margin-top:1em;padding:.5em 1em;border:1px solid #222;"
        "border-radius:4px;color:#222;text-decoration:none}</style></head>\n<body>\n<h1>" +
        html_escape(title) + "</h1>\n<p>" + html_escape(summary) + "</p>\n";
    if (!message.empty()) {
        // The reason is the JSON answer's text (English, for whoever debugs the form).
        page += "<p class=\"details\">" + html_escape(t.details) + ": " + html_escape(message) +
                "</p>\n";
    }
    page += "<p><a href=\"" + html_escape(back_to(return_to, r)) + "\">" + html_escape(t.back) +
            "</a></p>\n</body>\n</html>\n";
    json_error.content_type = "text/html; charset=utf-8";
    json_error.body = std::move(page);
    return json_error;
}

// Item 5: recording a decision or erasing a record costs Redis space or work; the limits
// bound what one client address can make the gateway do, before any of it is done.
std::optional<endpoint_response> address_limited(const endpoint_request& r, rate_limiter& limiter,
                                                 std::int64_t now_ms) {
    if (const auto v = limiter.take_address(r.client, now_ms); !v.allowed) {
        return too_many(v, "from this address");
    }
    return std::nullopt;
}

net::awaitable<endpoint_response> route(const endpoint_request& request, const site_context& site,
                                        store& records, rate_limiter& limiter,
                                        std::int64_t now_ms) {
    const std::string_view path = request.path;
    const std::string_view rest = path.substr(std::min(path.size(), base.size()));
    if (rest.empty() || rest == "/") {
        if (request.method != verb::post) {
            co_return not_allowed("POST");
        }
        if (auto limited = address_limited(request, limiter, now_ms)) {
            co_return std::move(*limited);
        }
        co_return co_await decide(request, site, records, limiter, now_ms);
    }
    if (rest == "/state") {
        if (request.method != verb::get && request.method != verb::head) {
            co_return not_allowed("GET, HEAD");
        }
        co_return state_of(request, site, now_ms);
    }
    if (rest == "/record") {
        if (request.method != verb::get && request.method != verb::delete_) {
            co_return not_allowed("GET, DELETE");
        }
        if (request.method == verb::delete_) {
            if (auto limited = address_limited(request, limiter, now_ms)) {
                co_return std::move(*limited);
            }
        }
        co_return co_await record_of(request, site, records, limiter, now_ms);
    }
    co_return error_answer(404, "no such consent endpoint (see /_consent/state)");
}

}  // namespace

net::awaitable<endpoint_response> handle_endpoint(const endpoint_request& request,
                                                  const site_context& site, store& records,
                                                  rate_limiter& limiter, std::int64_t now_ms) {
    endpoint_response out = co_await route(request, site, records, limiter, now_ms);
    if (out.status >= 400 && wants_html(request)) {
        out = html_error(std::move(out), request, site);
    }
    co_return out;
}

}  // namespace cg::consent
