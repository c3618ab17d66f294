#include "admin.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/crypto.h>

#include "access_log.hpp"
#include "admin_stats.hpp"
#include "async.hpp"
#include "async/from_thread.hpp"
#include "banner/site_banner.hpp"
#include "consent/admin_views.hpp"
#include "gateway/request_guard.hpp"
#include "responses.hpp"
#include "text/html_escape.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// One TCP connect per upstream server within a second: "reachable" is what readiness promises.
net::awaitable<bool> reachable(const upstream_server& up) {
    auto ex = co_await net::this_coro::executor;
    beast::tcp_stream s(ex);
    s.expires_after(std::chrono::seconds(1));
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(up.host, std::to_string(up.port), use_ec);
    if (rec) {
        co_return false;
    }
    auto [ec, ep] = co_await s.async_connect(results, use_ec);
    co_return !ec;
}

// Probes every server of every site at once, so /readyz answers within about a second however
// many are down: up[site][server]. The state is shared with the probes: one still resolving a
// name when the wait ends must not outlive what it writes to.
net::awaitable<std::vector<std::vector<char>>> probe_all(const config& cfg) {
    struct state {
        explicit state(const net::any_io_executor& ex) : done(ex) {}
        std::vector<std::vector<char>> up;
        std::size_t pending = 0;
        net::steady_timer done;
    };
    auto ex = co_await net::this_coro::executor;
    auto st = std::make_shared<state>(ex);
    for (const auto& site : cfg.sites) {
        st->up.emplace_back(site.upstream.servers.size(), 0);
        st->pending += site.upstream.servers.size();
    }
    for (std::size_t i = 0; i < cfg.sites.size(); ++i) {
        const auto& servers = cfg.sites[i].upstream.servers;
        for (std::size_t k = 0; k < servers.size(); ++k) {
            net::co_spawn(
                ex,
                [st, i, k, &up = servers[k]]() -> net::awaitable<void> {
                    st->up[i][k] = co_await reachable(up) ? 1 : 0;
                    if (--st->pending == 0) {
                        st->done.cancel();
                    }
                },
                net::detached);
        }
    }
    if (st->pending != 0) {
        st->done.expires_after(std::chrono::seconds(2));
        co_await st->done.async_wait(use_ec);
    }
    co_return st->up;
}

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

response make(unsigned status, std::string_view type, std::string body, unsigned version) {
    response res{static_cast<http::status>(status), version};
    res.set(http::field::date, http_date_now());
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response from_consent(consent::admin_answer a, unsigned version) {
    return make(a.status, a.content_type, std::move(a.body), version);
}

std::string_view view(boost::core::string_view s) {
    return {s.data(), s.size()};
}

// --- The route table ------------------------------------------------------------------------

/// The HTTP methods a route answers; a plain value type.
class method_set {
  public:
    constexpr method_set(std::initializer_list<http::verb> methods) {
        for (const auto m : methods) {
            bits_ |= bit(m);
        }
    }
    constexpr bool contains(http::verb m) const noexcept { return (bits_ & bit(m)) != 0; }
    /// The Allow field of a 405 (RFC 9110 §10.2.1): "GET, HEAD".
    std::string allow() const {
        std::string out;
        for (unsigned v = 0; v < 64; ++v) {
            if ((bits_ & (std::uint64_t{1} << v)) != 0) {
                out += out.empty() ? "" : ", ";
                out += view(http::to_string(static_cast<http::verb>(v)));
            }
        }
        return out;
    }

  private:
    static constexpr std::uint64_t bit(http::verb m) noexcept {
        return std::uint64_t{1} << (static_cast<unsigned>(m) & 63U);
    }
    std::uint64_t bits_ = 0;
};

/// What every handler may use: the gateway's shared state and the listener's error count.
struct admin_context {
    shared_state& shared;
    std::atomic<std::uint64_t>& errors;
    std::atomic<std::size_t>& open;
    std::atomic<std::uint64_t>& refused;
    admin_login_state& login;
};

/// One request as a handler sees it: views into the parsed request, which outlives the call.
struct admin_request {
    const request& req;
    std::string_view path;
    std::string_view query;
    unsigned version;
    /// The peer address (IPv4 as IPv4-mapped IPv6), for the log-in limit only: kept in memory,
    /// never logged (DESIGN: no IP addresses in logs).
    login_limiter::client_key client;
};

using admin_handler = net::awaitable<response> (*)(admin_context&, const admin_request&);

enum class match { exact, prefix };

/// One row of the table: requests for `path` (the whole path, or everything below a prefix
/// ending in '/') with one of `methods` from a caller with one of `roles` go to `handler`.
/// `open_without_token`: anyone may ask when no admin.token is configured.
struct admin_route {
    std::string_view path;
    match kind;
    method_set methods;
    admin_roles roles;
    bool open_without_token;
    std::string_view hint;  ///< how a 404 lists it; "" = not listed
    admin_handler handler;
};

net::awaitable<response> healthz(admin_context&, const admin_request& r);
net::awaitable<response> readyz(admin_context& ctx, const admin_request& r);
// The configuration's generation and the reloads' outcomes (issue 11).
std::string reload_metrics(const shared_state& shared, const generation& gen) {
    return "# HELP cg_config_generation The configuration generation new requests use: 1 at "
           "start, +1 per applied reload.\n"
           "# TYPE cg_config_generation gauge\n"
           "cg_config_generation " +
           std::to_string(gen.number) +
           "\n# HELP cg_config_reloads_total Reloads (SIGHUP) by outcome; refused: the running "
           "configuration was kept and the problems were logged.\n"
           "# TYPE cg_config_reloads_total counter\n"
           "cg_config_reloads_total{outcome=\"applied\"} " +
           std::to_string(shared.reloads_applied.load()) +
           "\ncg_config_reloads_total{outcome=\"refused\"} " +
           std::to_string(shared.reloads_refused.load()) +
           "\n# HELP cg_config_last_reload_ok 1 when the last reload was applied (or there was "
           "none), 0 when it was refused.\n"
           "# TYPE cg_config_last_reload_ok gauge\n"
           "cg_config_last_reload_ok " +
           (shared.last_reload_ok.load() ? "1" : "0") + "\n";
}

net::awaitable<response> metrics_page(admin_context& ctx, const admin_request& r);
net::awaitable<response> consent_history(admin_context& ctx, const admin_request& r);
net::awaitable<response> consent_counts(admin_context& ctx, const admin_request& r);
net::awaitable<response> consent_cookies(admin_context& ctx, const admin_request& r);
net::awaitable<response> not_found_below(admin_context&, const admin_request& r);
net::awaitable<response> stats(admin_context& ctx, const admin_request& r);
net::awaitable<response> evidence(admin_context& ctx, const admin_request& r);
constexpr admin_roles readers{admin_role::marketing, admin_role::admin};
net::awaitable<response> login(admin_context& ctx, const admin_request& r);
net::awaitable<response> logout(admin_context& ctx, const admin_request& r);

constexpr method_set get_head{http::verb::get, http::verb::head};
constexpr method_set get_head_post{http::verb::get, http::verb::head, http::verb::post};
constexpr method_set post_only{http::verb::post};
constexpr admin_roles everyone = admin_roles::everyone();
// DESIGN §5: metrics and the consent look-ups are for admins (the bearer token or an admin
// user's session).
constexpr admin_roles operators{admin_role::admin};

// Exact paths win over prefixes; among prefixes the longest wins. A 404 lists the hints in
// this order.
constexpr std::array<admin_route, 12> admin_routes{{
    {"/healthz", match::exact, get_head, everyone, true, "/healthz", healthz},
    {"/readyz", match::exact, get_head, everyone, true, "/readyz", readyz},
    {"/login", match::exact, get_head_post, everyone, true, "/login", login},
    {"/logout", match::exact, post_only, everyone, true, "", logout},
    {"/metrics", match::exact, get_head, operators, true, "/metrics", metrics_page},
    {"/consent/counts", match::exact, get_head, operators, false, "/consent/counts",
     consent_counts},
    {"/consent/history", match::exact, get_head, operators, false,
     "/consent/history?site=S&id=ID", consent_history},
    {"/consent/cookies", match::exact, get_head, operators, false, "/consent/cookies",
     consent_cookies},
    // Below /consent/ only operators learn what is not there (401 first, as before roles).
    {"/consent/", match::prefix, get_head, operators, false, "", not_found_below},
    // DESIGN §5: the statistics are for marketing and admin (issue 10).
    {"/stats", match::exact, get_head, readers, false, "", stats},
    {"/stats/", match::prefix, get_head, readers, false, "/stats/", stats},
    {"/privacy/evidence", match::exact, get_head, operators, false, "/privacy/evidence",
     evidence},
}};

const admin_route* find_route(std::string_view path) {
    for (const auto& r : admin_routes) {
        if (r.kind == match::exact && path == r.path) {
            return &r;
        }
    }
    const admin_route* best = nullptr;
    for (const auto& r : admin_routes) {
        if (r.kind == match::prefix && path.starts_with(r.path) &&
            (best == nullptr || r.path.size() > best->path.size())) {
            best = &r;
        }
    }
    return best;
}

// "not found: try /healthz, /readyz, ..." for the listed routes below `prefix` ("" = all).
response not_found(std::string_view prefix, unsigned version) {
    std::string body = prefix.empty() ? "not found: try " : "not found: ";
    bool first = true;
    for (const auto& r : admin_routes) {
        if (!r.hint.empty() && r.hint.starts_with(prefix)) {
            body.append(first ? "" : ", ").append(r.hint);
            first = false;
        }
    }
    body += "\n";
    return make(404, "text/plain", std::move(body), version);
}

// --- Who is asking --------------------------------------------------------------------------

using steady = std::chrono::steady_clock;

constexpr std::string_view session_cookie = "cg_admin";
constexpr std::string_view after_login = "/stats/";  // DESIGN §5: the dashboard

// Compares a presented token without leaking through timing how much of it matched.
bool token_matches(std::string_view presented, std::string_view expected) {
    if (presented.size() != expected.size()) {
        return false;
    }
    unsigned char diff = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        diff |= static_cast<unsigned char>(presented[i] ^ expected[i]);
    }
    return diff == 0;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// The cg_admin values in the request's Cookie fields (RFC 6265 §5.4: "name=value; ..."), at
// most four: a browser sends one, and each costs a SHA-256 and a scan of the session table.
std::vector<std::string_view> session_cookies(const request& req) {
    constexpr std::size_t most = 4;
    std::vector<std::string_view> values;
    const auto [first, last] = req.equal_range(http::field::cookie);
    for (auto f = first; f != last && values.size() < most; ++f) {
        std::string_view rest = view(f->value());
        while (!rest.empty() && values.size() < most) {
            const auto semi = rest.find(';');
            const auto pair = trim(rest.substr(0, semi));
            rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            const auto eq = pair.find('=');
            if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == session_cookie) {
                values.push_back(trim(pair.substr(eq + 1)));
            }
        }
    }
    return values;
}

const admin_user* find_user(const config& cfg, std::string_view name);

// The live session the request's cookie names, if any (its idle timer restarts). A session
// whose user a reload removed or gave another role no longer counts.
const admin_session* find_session(admin_context& ctx, const request& req) {
    const auto gen = ctx.shared.current();
    if (gen->cfg->admin.users.empty()) {
        return nullptr;
    }
    const auto now = steady::now();
    for (const auto token : session_cookies(req)) {
        if (const auto* s = ctx.login.sessions.find(token, now)) {
            const auto* user = find_user(*gen->cfg, s->user);
            if (user != nullptr && user->role == s->role) {
                return s;
            }
        }
    }
    return nullptr;
}

admin_role role_of(admin_user_role r) {
    return r == admin_user_role::admin ? admin_role::admin : admin_role::marketing;
}

std::string_view name_of(admin_user_role r) {
    return r == admin_user_role::admin ? "admin" : "marketing";
}

// The bearer token makes the caller an admin; a session cookie the user's role (DESIGN §5);
// everyone else is `anyone`.
admin_role caller_role(admin_context& ctx, const request& req) {
    const auto gen = ctx.shared.current();
    const auto& cfg = *gen->cfg;
    if (!cfg.admin.token.empty()) {
        const auto auth = view(req[http::field::authorization]);
        if (auth.starts_with("Bearer ") && token_matches(auth.substr(7), cfg.admin.token)) {
            return admin_role::admin;
        }
    }
    if (const auto* s = find_session(ctx, req)) {
        return role_of(s->role);
    }
    return admin_role::anyone;
}

bool contains_icase(std::string_view text, std::string_view needle) {
    return std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
               const auto l = [](char c) {
                   return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return l(a) == l(b);
           }) != text.end();
}

// A browser navigating asks for HTML; scripts and scrapers do not.
bool wants_html(const request& req) {
    return contains_icase(view(req[http::field::accept]), "text/html");
}

response refused(admin_context& ctx, const admin_request& r, admin_role caller) {
    const auto gen = ctx.shared.current();
    const auto& cfg = *gen->cfg;
    const bool users = !cfg.admin.users.empty();
    if (caller != admin_role::anyone) {
        return make(403, "text/plain", "this page is not for your role\n", r.version);
    }
    if (users && wants_html(r.req)) {
        // A person with a browser: the log-in form, then back here.
        std::string back(r.path);
        if (!r.query.empty()) {
            back.append("?").append(r.query);
        }
        auto res = make(303, "text/plain", "log in first\n", r.version);
        res.set(http::field::location, "/login?next=" + percent_encode(back));
        return res;
    }
    if (!cfg.admin.token.empty()) {
        auto res = make(401, "text/plain",
                        users ? "a bearer token or a log-in session (/login) is required\n"
                              : "a bearer token is required\n",
                        r.version);
        res.set(http::field::www_authenticate, R"(Bearer realm="consent-gateway admin")");
        return res;
    }
    if (users) {
        // No token to challenge for (RFC 9110 §15.5.2 wants one with a 401): a plain 403.
        return make(403, "text/plain",
                    "log in at /login first (no admin.token is configured for scripts)\n",
                    r.version);
    }
    return make(403, "text/plain",
                "the consent look-ups need a bearer token: set admin.token in the "
                "configuration\n",
                r.version);
}

// CSRF (DESIGN §5). SameSite=Strict keeps the session cookie off requests another site starts,
// but two POSTs need no cookie to do harm: a forged log-in puts the victim in the attacker's
// account (login CSRF), a forged log-out ends a session. So every unsafe request must come
// from this origin: a browser sends Origin with every POST; a browser too old for that but new
// enough for Fetch Metadata says where the request came from in Sec-Fetch-Site. A request with
// neither is not from a browser form of another site (curl, scripts): allowed.
bool cross_site(const request& req) {
    if (req.count(http::field::origin) > 0) {
        return req.count(http::field::origin) != 1 ||
               !same_origin(view(req[http::field::origin]), view(req[http::field::host]));
    }
    const auto site = req.find("Sec-Fetch-Site");
    if (site == req.end()) {
        return false;
    }
    const auto v = view(site->value());
    return !(v == "same-origin" || v == "none");
}

bool is_safe(http::verb m) {
    return m == http::verb::get || m == http::verb::head || m == http::verb::options;
}

// Route, method, cross-site check, role, then the handler. `matched` says which route took
// the request (for the log line if the handler throws).
net::awaitable<response> dispatch(admin_context& ctx, const request& req,
                                  const login_limiter::client_key& client,
                                  const admin_route*& matched) {
    const std::string_view target = view(req.target());
    const admin_request r{req, path_of(target), query_of(target), req.version(), client};
    if (!is_safe(req.method()) && cross_site(req)) {
        co_return make(403, "text/plain",
                       "cross-site request refused: the Origin is not this listener\n", r.version);
    }
    matched = find_route(r.path);
    if (matched == nullptr) {
        co_return not_found({}, r.version);
    }
    if (!matched->methods.contains(req.method())) {
        auto res = make(405, "text/plain", "method not allowed\n", r.version);
        res.set(http::field::allow, matched->methods.allow());
        co_return res;
    }
    const bool open = matched->roles.contains(admin_role::anyone) ||
                      (matched->open_without_token && ctx.shared.current()->cfg->admin.token.empty());
    const admin_role caller = open ? admin_role::anyone : caller_role(ctx, req);
    if (!open && !matched->roles.contains(caller)) {
        co_return refused(ctx, r, caller);
    }
    co_return co_await matched->handler(ctx, r);
}

// A handler that throws (it must not: STYLE §4) is a bug in this process, not the caller's
// fault: 500, a count, and a log line with the route and method only (no query, no address).
response internal_error(admin_context& ctx, const request& req, const admin_route* matched) {
    ctx.errors.fetch_add(1, std::memory_order_relaxed);
    log_line line{log_level::error, "admin request failed"};
    line.str("route", matched != nullptr ? matched->path : "-")
        .str("method", view(http::to_string(req.method())));
    ctx.shared.log.write(log_level::error, line);
    return make(500, "text/plain", "internal error\n", req.version());
}

// --- Handlers -------------------------------------------------------------------------------

net::awaitable<response> healthz(admin_context&, const admin_request& r) {
    co_return make(200, "text/plain", "ok\n", r.version);
}

net::awaitable<response> readyz(admin_context& ctx, const admin_request& r) {
    const auto gen = ctx.shared.current();  // kept while the probes run: a reload may come
    const auto& cfg = *gen->cfg;
    if (ctx.shared.draining.load()) {
        co_return make(503, "application/json",
                       R"({"ready":false,"reason":"draining"})"
                       "\n",
                       r.version);
    }
    const auto up = co_await probe_all(cfg);
    std::string body = R"({"ready":)";
    std::string sites;
    std::string servers;
    bool all = true;
    const auto now = upstream_server_state::clock::now();
    for (std::size_t i = 0; i < cfg.sites.size(); ++i) {
        const auto& site = cfg.sites[i];
        // A site is reachable when one of its servers is: the balancer routes around the rest.
        const bool ok = std::find(up[i].begin(), up[i].end(), 1) != up[i].end();
        all = all && ok;
        sites.append(sites.empty() ? "\"" : ",\"")
            .append(site.name)
            .append("\":\"")
            .append(ok ? "reachable" : "unreachable")
            .append("\"");
        servers.append(servers.empty() ? "\"" : ",\"").append(site.name).append("\":{");
        const auto& states = gen->servers[i]->servers;
        for (std::size_t k = 0; k < states.size(); ++k) {
            const auto& st = *states[k];
            const char* health = !st.check_ok()             ? "unhealthy"
                                 : st.passively_down(now) ? "ejected"
                                                          : "in_service";
            servers.append(k == 0 ? "\"" : ",\"")
                .append(st.label())
                .append(R"(":{"reachable":)")
                .append(up[i][k] != 0 ? "true" : "false")
                .append(R"(,"health":")")
                .append(health)
                .append("\"}");
        }
        servers.append("}");
    }
    // Redis being down does not make the gateway unready: decisions go to the journal and
    // taking every gateway out of rotation would take the sites down with it. A store that
    // refuses decisions (Redis down and the journal full) does: visitors here can neither
    // consent nor withdraw (DESIGN L6), and a balancer should send them to a gateway that can.
    const auto rec = ctx.shared.records.status();
    all = all && !rec.refusing;
    body.append(all ? "true" : "false")
        .append(R"(,"upstreams":{)")
        .append(sites)
        .append(R"(},"servers":{)")
        .append(servers)
        .append(R"(},"consent_store":{"redis":")")
        .append(rec.redis_up ? "up" : (rec.redis_slow ? "slow" : "down"))
        .append(R"(","decisions":")")
        .append(rec.refusing ? "refused" : "accepted")
        .append(R"(","journal_events":)")
        .append(std::to_string(rec.journal_events))
        .append("}}\n");
    co_return make(all ? 200 : 503, "application/json", std::move(body), r.version);
}

net::awaitable<response> metrics_page(admin_context& ctx, const admin_request& r) {
    const auto& shared = ctx.shared;
    const auto gen = shared.current();
    std::string body = shared.stats.render(*gen->cfg);
    body += consent::metrics_text(gen->consent_sites, shared.records.status());
    body += reload_metrics(shared, *gen);
    body += upstream_server_metrics(*gen->cfg, gen->servers);
    body += certificate_metrics(gen->tls.get());
    body +=
        "# HELP cg_admin_errors_total Admin requests answered 500 because their handler "
        "failed.\n"
        "# TYPE cg_admin_errors_total counter\n"
        "cg_admin_errors_total " +
        std::to_string(ctx.errors.load(std::memory_order_relaxed)) +
        "\n"
        "# HELP cg_admin_connections_refused_total Admin connections closed at once because "
        "admin.max_connections were open.\n"
        "# TYPE cg_admin_connections_refused_total counter\n"
        "cg_admin_connections_refused_total " +
        std::to_string(ctx.refused.load(std::memory_order_relaxed)) + "\n";
    const auto& l = ctx.login;
    body +=
        "# HELP cg_admin_logins_total Log-ins on the admin listener by outcome (limited: "
        "refused without checking the password, for too many failures or too many at once).\n"
        "# TYPE cg_admin_logins_total counter\n"
        "cg_admin_logins_total{outcome=\"ok\"} " +
        std::to_string(l.ok.load(std::memory_order_relaxed)) +
        "\ncg_admin_logins_total{outcome=\"failed\"} " +
        std::to_string(l.failed.load(std::memory_order_relaxed)) +
        "\ncg_admin_logins_total{outcome=\"limited\"} " +
        std::to_string(l.limited.load(std::memory_order_relaxed)) + "\n";
    body += analytics_metrics(shared);
    co_return make(200, "text/plain; version=0.0.4", std::move(body), r.version);
}

// Each handler keeps the generation it started with while it awaits Redis.
net::awaitable<response> consent_history(admin_context& ctx, const admin_request& r) {
    const auto gen = ctx.shared.current();
    co_return from_consent(
        co_await consent::history_view(gen->consent_sites, ctx.shared.records, r.query),
        r.version);
}

net::awaitable<response> consent_counts(admin_context& ctx, const admin_request& r) {
    const auto gen = ctx.shared.current();
    co_return from_consent(co_await consent::counts_view(gen->consent_sites, ctx.shared.records),
                           r.version);
}

net::awaitable<response> consent_cookies(admin_context& ctx, const admin_request& r) {
    const auto gen = ctx.shared.current();
    co_return from_consent(consent::cookies_view(gen->consent_sites), r.version);
}

response from_page(admin_page p, unsigned version) {
    auto res = make(p.status, p.content_type, std::move(p.body), version);
    for (const auto& [name, value] : p.headers) {
        res.set(name, value);
    }
    return res;
}

net::awaitable<response> stats(admin_context& ctx, const admin_request& r) {
    co_return from_page(co_await stats_page(ctx.shared, r.path, r.query), r.version);
}

net::awaitable<response> evidence(admin_context& ctx, const admin_request& r) {
    co_return from_page(privacy_evidence(ctx.shared), r.version);
}

net::awaitable<response> not_found_below(admin_context&, const admin_request& r) {
    const auto* route = find_route(r.path);
    co_return not_found(route != nullptr ? route->path : std::string_view{}, r.version);
}

// --- Log-in and log-out (DESIGN §5) ---------------------------------------------------------

/// The languages of the log-in page.
enum class page_language { nb, en };

struct login_texts {
    std::string_view lang, title, heading, user, password, submit, wrong, limited_before,
        limited_minute, limited_minutes, busy, logged_in_as, logout;
};

constexpr login_texts texts_nb{"nb",
                               "Logg inn – consent-gateway",
                               "Logg inn",
                               "Brukernavn",
                               "Passord",
                               "Logg inn",
                               "Feil brukernavn eller passord.",
                               "For mange mislykkede innlogginger. Prøv igjen om ",
                               " minutt.",
                               " minutter.",
                               "For mange innlogginger akkurat nå. Prøv igjen om litt.",
                               "Du er logget inn som ",
                               "Logg ut"};
constexpr login_texts texts_en{"en",
                               "Log in – consent-gateway",
                               "Log in",
                               "User name",
                               "Password",
                               "Log in",
                               "Wrong user name or password.",
                               "Too many failed log-ins. Try again in ",
                               " minute.",
                               " minutes.",
                               "Too many log-ins at this moment. Try again shortly.",
                               "You are logged in as ",
                               "Log out"};

// Bokmål for nb, nn and no (the page has no nynorsk text: bokmål is closer than English),
// English for everything else.
const login_texts& texts_for(const request& req) {
    const auto l = banner::language_of_accept(view(req[http::field::accept_language]));
    return l && *l != banner::language::en ? texts_nb : texts_en;
}

using text::html_escape;

/// What the log-in page shows besides the form.
struct login_view {
    std::string_view next;       ///< the hidden field (already checked to be local, or "")
    std::string_view user;       ///< the user name to fill in again after a failure
    std::string message;         ///< an error, shown as an alert; "" = none
    std::string_view logged_in;  ///< the session's user name; "" = not logged in
};

// A small page without scripts or outside resources: labels for every field, the error in a
// role="alert" paragraph the fields point to, autocomplete hints for password managers.
std::string login_html(const login_texts& t, const login_view& v) {
    const bool error = !v.message.empty();
    std::string h;
    h.reserve(2048);
    h.append("<!DOCTYPE html>\n<html lang=\"").append(t.lang).append("\">\n<head>\n");
    h.append("<meta charset=\"utf-8\">\n");
    h.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.append("<title>").append(t.title).append("</title>\n");
    h.append(
        "<style>body{font-family:system-ui,sans-serif;line-height:1.5;max-width:22rem;"
        "margin:3rem auto;padding:0 1rem;color:#111;background:#fff}"
        "label{display:block;margin-top:1rem;font-weight:600}"
        "input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;"
        "border:1px solid #555;border-radius:4px}"
        "button{font:inherit;margin-top:1.25rem;padding:.5rem 1.25rem;cursor:pointer}"
        ".error{color:#a00000;font-weight:600}"
        ":focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}</style>\n");
    h.append("</head>\n<body>\n<main>\n<h1>").append(t.heading).append("</h1>\n");
    if (error) {
        h.append("<p id=\"login-error\" class=\"error\" role=\"alert\">")
            .append(html_escape(v.message))
            .append("</p>\n");
    }
    if (!v.logged_in.empty()) {
        h.append("<form method=\"post\" action=\"/logout\">\n<p>")
            .append(t.logged_in_as)
            .append("<strong>")
            .append(html_escape(v.logged_in))
            .append("</strong>.</p>\n<button type=\"submit\">")
            .append(t.logout)
            .append("</button>\n</form>\n");
    }
    const std::string_view described = error ? " aria-describedby=\"login-error\"" : "";
    h.append("<form method=\"post\" action=\"/login\">\n");
    h.append("<input type=\"hidden\" name=\"next\" value=\"")
        .append(html_escape(v.next))
        .append("\">\n");
    h.append("<label for=\"username\">").append(t.user).append("</label>\n");
    h.append(
         "<input id=\"username\" name=\"username\" autocomplete=\"username\" "
         "autocapitalize=\"none\" "
         "spellcheck=\"false\" required autofocus")
        .append(described)
        .append(" value=\"")
        .append(html_escape(v.user))
        .append("\">\n");
    h.append("<label for=\"password\">").append(t.password).append("</label>\n");
    h.append(
         "<input id=\"password\" name=\"password\" type=\"password\" "
         "autocomplete=\"current-password\" required")
        .append(described)
        .append(">\n");
    h.append("<button type=\"submit\">").append(t.submit).append("</button>\n");
    h.append("</form>\n</main>\n</body>\n</html>\n");
    return h;
}

response login_page(unsigned status, const login_texts& t, const login_view& v, unsigned version) {
    auto res = make(status, "text/html; charset=utf-8", login_html(t, v), version);
    res.set(http::field::content_language, t.lang);
    res.set(http::field::vary, "Accept-Language");
    // The page needs nothing from elsewhere and must never be framed (clickjacking).
    res.set("Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'");
    res.set(http::field::x_frame_options, "DENY");
    res.set("Referrer-Policy", "same-origin");  // "no-referrer" makes chromium send Origin: null
    return res;
}

// The cg_admin cookie (DESIGN §5): HttpOnly (no script reads it), SameSite=Strict (no other
// site's request carries it), Path=/ (the whole listener), Secure only when configured (the
// listener speaks plain HTTP on loopback today). `value` "" with max_age 0 expires it.
std::string session_set_cookie(const admin_config& a, std::string_view value,
                               std::int64_t max_age) {
    std::string c(session_cookie);
    c.append("=").append(value).append("; Path=/; HttpOnly; SameSite=Strict; Max-Age=");
    c.append(std::to_string(max_age));
    if (a.secure_cookie) {
        c.append("; Secure");
    }
    return c;
}

const admin_user* find_user(const config& cfg, std::string_view name) {
    for (const auto& u : cfg.admin.users) {
        if (u.name == name) {
            return &u;
        }
    }
    return nullptr;
}

// The first value of each field of interest; later repeats are ignored.
struct login_form {
    std::string username;
    std::string password;
    std::string next;
};

login_form read_login_form(std::string_view body) {
    login_form f;
    bool user_seen = false;
    bool password_seen = false;
    bool next_seen = false;
    for (auto& [name, value] : parse_form(body)) {
        if (name == "username" && !user_seen) {
            f.username = std::move(value);
            user_seen = true;
        } else if (name == "password" && !password_seen) {
            f.password = std::move(value);
            password_seen = true;
        } else if (name == "next" && !next_seen) {
            f.next = std::move(value);
            next_seen = true;
        } else {
            OPENSSL_cleanse(value.data(), value.size());
        }
    }
    return f;
}

// The media type without parameters ("; charset=UTF-8"), case ignored (RFC 9110 §8.3.1).
bool is_form(std::string_view content_type) {
    constexpr std::string_view form = "application/x-www-form-urlencoded";
    const auto media = trim(content_type.substr(0, content_type.find(';')));
    return media.size() == form.size() && contains_icase(media, form);
}

enum class password_check { match, mismatch, busy };

// PBKDF2 costs a few hundred ms: it runs on the verifier's threads (two at once, a few
// waiting, else busy) while this coroutine waits without holding the admin thread.
net::awaitable<password_check> check_password(verify_pool& pool, const std::string& password,
                                              const std::string& stored) {
    co_return co_await async::from_thread<password_check>([&pool, &password, &stored](auto done) {
        // The job owns copies: it may outlive this coroutine's frame at shutdown.
        auto job = [pw = password, st = stored, done](bool run) mutable {
            const auto result = !run                      ? password_check::busy
                                : verify_password(pw, st) ? password_check::match
                                                          : password_check::mismatch;
            OPENSSL_cleanse(pw.data(), pw.size());
            done(result);
        };
        if (!pool.try_post(std::move(job))) {
            done(password_check::busy);
        }
    });
}

std::string limited_message(const login_texts& t, std::chrono::seconds wait) {
    const auto minutes = (wait.count() + 59) / 60;
    std::string m(t.limited_before);
    m.append(std::to_string(minutes)).append(minutes == 1 ? t.limited_minute : t.limited_minutes);
    return m;
}

net::awaitable<response> login_submit(admin_context& ctx, const admin_request& r) {
    const auto gen = ctx.shared.current();  // kept while the password check runs
    const auto& cfg = *gen->cfg;
    const auto& t = texts_for(r.req);
    if (!is_form(view(r.req[http::field::content_type]))) {
        co_return make(415, "text/plain",
                       "send the log-in form as application/x-www-form-urlencoded\n", r.version);
    }
    auto form = read_login_form(r.req.body());
    const std::string next(local_redirect(form.next, ""));
    const admin_user* user = find_user(cfg, form.username);
    // A name that cannot be a user is limited by client only: it names no account to protect.
    // (Both arms string_view: `? form.username : ""` would make a temporary std::string.)
    const std::string_view user_key =
        is_user_name(form.username) ? std::string_view{form.username} : std::string_view{};
    const auto started = steady::now();
    const auto wait = ctx.login.limiter.begin(user_key, r.client, started);
    if (wait.count() > 0) {
        ctx.login.limited.fetch_add(1, std::memory_order_relaxed);
        OPENSSL_cleanse(form.password.data(), form.password.size());
        auto res =
            login_page(429, t, {next, form.username, limited_message(t, wait), {}}, r.version);
        res.set(http::field::retry_after, std::to_string(wait.count()));
        co_return res;
    }
    auto outcome = password_check::mismatch;
    // Known or not, the name costs one PBKDF2 of the same iteration count (the dummy hash), so
    // timing does not tell which names exist. With no users at all there is nothing to hide.
    if (!cfg.admin.users.empty() && form.password.size() <= max_password_bytes) {
        const std::string& stored = user != nullptr ? user->password_hash : ctx.login.dummy_hash();
        outcome = co_await check_password(ctx.login.verifier, form.password, stored);
    }
    OPENSSL_cleanse(form.password.data(), form.password.size());
    if (outcome == password_check::busy) {
        ctx.login.limiter.withdraw(user_key, r.client, started);  // not checked: no failure
        ctx.login.limited.fetch_add(1, std::memory_order_relaxed);
        auto res = login_page(503, t, {next, form.username, std::string(t.busy), {}}, r.version);
        res.set(http::field::retry_after, "1");
        co_return res;
    }
    if (outcome != password_check::match || user == nullptr) {
        ctx.login.failed.fetch_add(1, std::memory_order_relaxed);
        // Never which of the two was wrong.
        co_return login_page(401, t, {next, form.username, std::string(t.wrong), {}}, r.version);
    }
    ctx.login.limiter.withdraw(user_key, r.client, started);
    // A session the browser already had ends: one browser, one session.
    for (const auto old : session_cookies(r.req)) {
        ctx.login.sessions.remove(old);
    }
    const auto token = ctx.login.sessions.create(user->name, user->role, steady::now());
    if (!token) {
        co_return make(503, "text/plain", "cannot start a session now\n", r.version);
    }
    ctx.login.ok.fetch_add(1, std::memory_order_relaxed);
    log_line line{log_level::info, "admin log-in"};
    line.str("user", user->name).str("role", name_of(user->role));
    ctx.shared.log.write(log_level::info, line);
    const auto max_age = std::max<std::int64_t>(
        1, std::chrono::ceil<std::chrono::seconds>(cfg.admin.session_lifetime).count());
    auto res = make(303, "text/plain", "logged in\n", r.version);
    res.set(http::field::location, local_redirect(next, after_login));
    res.set(http::field::set_cookie, session_set_cookie(cfg.admin, *token, max_age));
    co_return res;
}

net::awaitable<response> login(admin_context& ctx, const admin_request& r) {
    if (r.req.method() == http::verb::post) {
        co_return co_await login_submit(ctx, r);
    }
    std::string next;
    for (auto& [name, value] : parse_form(r.query)) {
        if (name == "next") {
            next = local_redirect(value, "");
            break;
        }
    }
    const auto* s = find_session(ctx, r.req);
    const std::string_view who = s != nullptr ? std::string_view{s->user} : std::string_view{};
    co_return login_page(200, texts_for(r.req), {next, {}, {}, who}, r.version);
}

net::awaitable<response> logout(admin_context& ctx, const admin_request& r) {
    for (const auto token : session_cookies(r.req)) {
        if (const auto ended = ctx.login.sessions.remove(token)) {
            log_line line{log_level::info, "admin log-out"};
            line.str("user", ended->user);
            ctx.shared.log.write(log_level::info, line);
        }
    }
    auto res = make(303, "text/plain", "logged out\n", r.version);
    res.set(http::field::location, "/login");
    res.set(http::field::set_cookie, session_set_cookie(ctx.shared.current()->cfg->admin, "", 0));
    co_return res;
}

// --- Connections ----------------------------------------------------------------------------

// The peer address as 16 bytes (IPv4 mapped into IPv6), for the log-in limit.
login_limiter::client_key client_of(const tcp::socket& socket) {
    login_limiter::client_key key{};
    beast::error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    if (ec) {
        return key;  // already gone: every such peer shares one key
    }
    const auto a = ep.address();
    key = a.is_v4() ? net::ip::make_address_v6(net::ip::v4_mapped, a.to_v4()).to_bytes()
                    : a.to_v6().to_bytes();
    return key;
}

net::awaitable<void> serve_admin(admin_context ctx, tcp::socket socket) {
    const auto client = client_of(socket);
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(8 * 1024);
        parser.body_limit(4 * 1024);
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_ec);
        if (ec) {
            break;
        }
        auto req = parser.release();
        const admin_route* matched = nullptr;
        response res;
        bool failed = false;
        try {
            res = co_await dispatch(ctx, req, client, matched);
        } catch (...) {
            failed = true;  // co_await is not allowed in a handler: answered below
        }
        if (failed) {
            res = internal_error(ctx, req, matched);
        }
        res.keep_alive(req.keep_alive());
        stream.expires_after(std::chrono::seconds(30));
        if (req.method() == http::verb::head) {
            http::response_serializer<http::string_body> sr{res};
            std::tie(ec, n) = co_await http::async_write_header(stream, sr, use_ec);
        } else {
            std::tie(ec, n) = co_await http::async_write(stream, res, use_ec);
        }
        if (ec || !res.keep_alive()) {
            break;
        }
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_admin(admin_context ctx, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_ec);
        if (!acceptor.is_open()) {
            co_return;
        }
        if (ec) {
            continue;
        }
        // STYLE §5: a bound on everything a client can make us hold. Closing at once (no
        // answer) costs nothing and cannot be made to wait.
        if (ctx.open.load(std::memory_order_relaxed) >= ctx.shared.cfg->admin.max_connections) {
            ctx.refused.fetch_add(1, std::memory_order_relaxed);
            beast::error_code ignored;
            socket.close(ignored);
            continue;
        }
        ctx.open.fetch_add(1, std::memory_order_relaxed);
        // Whatever escapes a connection (not a handler: those are answered 500) is counted
        // rather than dropped without a trace.
        net::co_spawn(acceptor.get_executor(), serve_admin(ctx, std::move(socket)),
                      [&errors = ctx.errors, &open = ctx.open](const std::exception_ptr& e) {
                          open.fetch_sub(1, std::memory_order_relaxed);
                          if (e) {
                              errors.fetch_add(1, std::memory_order_relaxed);
                          }
                      });
    }
}

}  // namespace

admin_login_state::admin_login_state(const admin_config& cfg)
    : sessions(session_limits{1000, cfg.session_idle_timeout, cfg.session_lifetime}),
      dummy_iterations_(cfg.users.empty()
                            ? password_iterations
                            : password_hash_iterations(cfg.users.front().password_hash)
                                  .value_or(password_iterations)) {}

const std::string& admin_login_state::dummy_hash() {
    if (dummy_hash_.empty()) {
        dummy_hash_ = dummy_password_hash(dummy_iterations_);  // throws only if RAND fails
    }
    return dummy_hash_;
}

admin_listener::admin_listener(net::io_context& ioc, shared_state& shared)
    : ioc_(ioc), shared_(shared), acceptor_(ioc), login_(shared.cfg->admin) {}

void admin_listener::open() {
    const auto& a = shared_.cfg->admin;
    const tcp::endpoint ep{net::ip::make_address(a.address), a.port};
    beast::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) {
        acceptor_.set_option(net::socket_base::reuse_address(true), ec);
        acceptor_.bind(ep, ec);
    }
    if (!ec) {
        acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        throw std::runtime_error("admin listener " + a.address + ":" + std::to_string(a.port) +
                                 ": " + ec.message());
    }
}

void admin_listener::start() {
    net::co_spawn(ioc_,
                  accept_admin(admin_context{shared_, errors_, open_connections_,
                                             refused_connections_, login_},
                               acceptor_),
                  net::detached);
}

void admin_listener::close() {
    beast::error_code ignored;
    acceptor_.close(ignored);
}

tcp::endpoint admin_listener::endpoint() const {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec);
}

}  // namespace cg::gateway
