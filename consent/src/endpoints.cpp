#include "consent/endpoints.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>

#include "async/from_thread.hpp"
#include "consent/cookie.hpp"
#include "decision_input.hpp"
#include "iso_time.hpp"
#include "json_config/dump.hpp"
#include "json_config/reader.hpp"

namespace cg::consent {

namespace {

namespace net = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using boost::beast::iequals;

constexpr std::string_view base = endpoint_prefix;
constexpr std::size_t max_expiring_cookies = 64;

endpoint_response json_answer(unsigned status, const json& body) {
    endpoint_response r;
    r.status = status;
    r.body = json_config::dump(body);
    return r;
}

endpoint_response error_answer(unsigned status, std::string_view message) {
    return json_answer(status, json{{"error", message}});
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

std::string consent_set_cookie(const site_context& site, std::string_view value,
                               std::int64_t max_age, bool https) {
    std::string c{site.cookie_name()};
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
    for (const auto header : r.cookies) {
        for (const auto& pair : parse_cookie_header(header)) {
            if (pair.name.empty() || pair.name == site.cookie_name() ||
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

std::string back_to(const decision_input& c, const endpoint_request& r) {
    if (is_local_path(c.return_to)) {
        return location_text(c.return_to);
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
                                         store& records, std::int64_t now_ms) {
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
    const std::int64_t now = now_ms / 1000;
    const visitor_consent before = site.read_visitor(r.cookies, r.gpc, now);
    const language lang = pick_language(c.language, r.accept_language, site);

    consent_state state;
    state.id = before.state ? before.state->id : new_consent_id();
    state.granted = c.granted;
    state.policy_version = site.policy().policy_version;
    state.issued = now;
    state.kind = kind_of(c, before, site);

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
    out.set_cookies.push_back(consent_set_cookie(site,
                                                 encode_consent(state, site.site(), site.keys()),
                                                 site.policy().lifetime.count(), r.https));
    expire_withdrawn(site, r, state.granted, out);
    if (c.form) {
        out.status = 303;
        out.location = back_to(c, r);
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
    const visitor_consent v = site.read_visitor(r.cookies, r.gpc, now);
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
// expired or predates the current policy: the visitor's data is theirs either way.
std::optional<consent_state> credential(const endpoint_request& r, const site_context& site,
                                        std::int64_t now) {
    const cookie_check check{.site = site.site(),
                             .policy_version = {},
                             .lifetime_seconds = 0,
                             .now = now,
                             .offered = category_set::all()};
    for (const auto header : r.cookies) {
        for (const auto& pair : parse_cookie_header(header)) {
            if (pair.name == site.cookie_name()) {
                if (auto s = decode_consent(pair.value, check, site.keys())) {
                    return std::move(*s);
                }
            }
        }
    }
    return std::nullopt;
}

net::awaitable<endpoint_response> record_of(const endpoint_request& r, const site_context& site,
                                            store& records, std::int64_t now_ms) {
    const auto who = credential(r, site, now_ms / 1000);
    if (!who) {
        co_return error_answer(401,
                               "no valid consent cookie: the signed consent cookie this site "
                               "set is the only way to reach a consent record");
    }
    if (r.method == verb::delete_ && !r.origin.empty() && !same_site(r)) {
        co_return error_answer(403, "cross-site erasure requests are refused");
    }
    if (r.method == verb::delete_) {
        const bool erased = co_await async::from_thread<bool>([&records, &site, &who](auto done) {
            records.erase(site.site(), who->id, std::move(done));
        });
        if (!erased) {
            co_return error_answer(503,
                                   "the record store is unreachable; nothing was erased, "
                                   "please try again later");
        }
        endpoint_response out = json_answer(200, json{{"erased", true}, {"consent_id", who->id}});
        out.set_cookies.push_back(expiring_set_cookie(site.cookie_name(), "/", "", r.https));
        expire_withdrawn(site, r, category_set{category::necessary}, out);
        co_return out;
    }
    const auto history =
        co_await async::from_thread<std::optional<consent_history>>([&records, &site, &who](auto done) {
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
               {"retention_days", site.policy().retention.count() / 86400}}},
             {"events", std::move(events)}};
    endpoint_response out = json_answer(200, doc);
    out.content_disposition = "attachment; filename=\"consent-record.json\"";
    co_return out;
}

endpoint_response not_allowed(std::string allow) {
    endpoint_response r = error_answer(405, "method not allowed here (allowed: " + allow + ")");
    r.allow = std::move(allow);
    return r;
}

}  // namespace

net::awaitable<endpoint_response> handle_endpoint(const endpoint_request& request,
                                                  const site_context& site, store& records,
                                                  std::int64_t now_ms) {
    const std::string_view path = request.path;
    const std::string_view rest = path.substr(std::min(path.size(), base.size()));
    if (rest.empty() || rest == "/") {
        if (request.method != verb::post) {
            co_return not_allowed("POST");
        }
        co_return co_await decide(request, site, records, now_ms);
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
        co_return co_await record_of(request, site, records, now_ms);
    }
    co_return error_answer(404, "no such consent endpoint (see /_consent/state)");
}

}  // namespace cg::consent
