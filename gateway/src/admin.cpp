#include "admin.hpp"

#include <array>
#include <atomic>
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

#include "access_log.hpp"
#include "async.hpp"
#include "consent/admin_views.hpp"
#include "gateway/request_guard.hpp"
#include "responses.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// One TCP connect per upstream within a second: "reachable" is what readiness promises.
net::awaitable<bool> reachable(const upstream_config& up) {
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

// Probes every site's upstream at once, so /readyz answers within about a second however
// many upstreams are down. The state is shared with the probes: one still resolving a name
// when the wait ends must not outlive what it writes to.
net::awaitable<std::vector<char>> probe_all(const config& cfg) {
    struct state {
        explicit state(const net::any_io_executor& ex, std::size_t n) : up(n, 0), done(ex) {}
        std::vector<char> up;
        std::size_t pending = 0;
        net::steady_timer done;
    };
    auto ex = co_await net::this_coro::executor;
    auto st = std::make_shared<state>(ex, cfg.sites.size());
    st->pending = cfg.sites.size();
    for (std::size_t i = 0; i < cfg.sites.size(); ++i) {
        net::co_spawn(
            ex,
            [st, i, &up = cfg.sites[i].upstream]() -> net::awaitable<void> {
                st->up[i] = co_await reachable(up) ? 1 : 0;
                if (--st->pending == 0) {
                    st->done.cancel();
                }
            },
            net::detached);
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
};

/// One request as a handler sees it: views into the parsed request, which outlives the call.
struct admin_request {
    const request& req;
    std::string_view path;
    std::string_view query;
    unsigned version;
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
net::awaitable<response> metrics_page(admin_context& ctx, const admin_request& r);
net::awaitable<response> consent_history(admin_context& ctx, const admin_request& r);
net::awaitable<response> consent_counts(admin_context& ctx, const admin_request& r);
net::awaitable<response> consent_cookies(admin_context& ctx, const admin_request& r);
net::awaitable<response> not_found_below(admin_context&, const admin_request& r);

constexpr method_set get_head{http::verb::get, http::verb::head};
constexpr admin_roles everyone = admin_roles::everyone();
// DESIGN §5: metrics and the consent look-ups are for admins (today: the bearer token).
// /privacy/evidence joins these; /stats/ will admit {marketing, admin}.
constexpr admin_roles operators{admin_role::admin};

// Exact paths win over prefixes; among prefixes the longest wins. A 404 lists the hints in
// this order.
constexpr std::array<admin_route, 7> admin_routes{{
    {"/healthz", match::exact, get_head, everyone, true, "/healthz", healthz},
    {"/readyz", match::exact, get_head, everyone, true, "/readyz", readyz},
    {"/metrics", match::exact, get_head, operators, true, "/metrics", metrics_page},
    {"/consent/counts", match::exact, get_head, operators, false, "/consent/counts",
     consent_counts},
    {"/consent/history", match::exact, get_head, operators, false,
     "/consent/history?site=S&id=ID", consent_history},
    {"/consent/cookies", match::exact, get_head, operators, false, "/consent/cookies",
     consent_cookies},
    // Below /consent/ only operators learn what is not there (401 first, as before roles).
    {"/consent/", match::prefix, get_head, operators, false, "", not_found_below},
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

// The bearer token makes the caller an admin; everyone else is `anyone`. Session log-in
// (DESIGN §5: /login) adds marketing and admin users here.
admin_role caller_role(const config& cfg, const request& req) {
    if (cfg.admin.token.empty()) {
        return admin_role::anyone;
    }
    const auto auth = view(req[http::field::authorization]);
    if (auth.starts_with("Bearer ") && token_matches(auth.substr(7), cfg.admin.token)) {
        return admin_role::admin;
    }
    return admin_role::anyone;
}

response refused(const config& cfg, admin_role caller, unsigned version) {
    if (cfg.admin.token.empty()) {
        return make(403, "text/plain",
                    "the consent look-ups need a bearer token: set admin.token in the "
                    "configuration\n",
                    version);
    }
    if (caller == admin_role::anyone) {
        auto res = make(401, "text/plain", "a bearer token is required\n", version);
        res.set(http::field::www_authenticate, R"(Bearer realm="consent-gateway admin")");
        return res;
    }
    return make(403, "text/plain", "this page is not for your role\n", version);
}

// Route, method, role, then the handler. `matched` says which route took the request (for
// the log line if the handler throws).
net::awaitable<response> dispatch(admin_context& ctx, const request& req,
                                  const admin_route*& matched) {
    const std::string_view target = view(req.target());
    const admin_request r{req, path_of(target), query_of(target), req.version()};
    matched = find_route(r.path);
    if (matched == nullptr) {
        co_return not_found({}, r.version);
    }
    if (!matched->methods.contains(req.method())) {
        auto res = make(405, "text/plain", "method not allowed\n", r.version);
        res.set(http::field::allow, matched->methods.allow());
        co_return res;
    }
    const auto& cfg = *ctx.shared.cfg;
    const bool open = matched->roles.contains(admin_role::anyone) ||
                      (matched->open_without_token && cfg.admin.token.empty());
    const admin_role caller = open ? admin_role::anyone : caller_role(cfg, req);
    if (!open && !matched->roles.contains(caller)) {
        co_return refused(cfg, caller, r.version);
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
    const auto& cfg = *ctx.shared.cfg;
    if (ctx.shared.draining.load()) {
        co_return make(503, "application/json",
                       R"({"ready":false,"reason":"draining"})"
                       "\n",
                       r.version);
    }
    const auto up = co_await probe_all(cfg);
    std::string body = R"({"ready":)";
    std::string sites;
    bool all = true;
    for (std::size_t i = 0; i < cfg.sites.size(); ++i) {
        const auto& site = cfg.sites[i];
        const bool ok = up[i] != 0;
        all = all && ok;
        sites.append(sites.empty() ? "" : ",")
            .append("\"")
            .append(site.name)
            .append("\":\"")
            .append(ok ? "reachable" : "unreachable")
            .append("\"");
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
    std::string body = shared.stats.render(*shared.cfg);
    body += consent::metrics_text(shared.consent_sites, shared.records.status());
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
    co_return make(200, "text/plain; version=0.0.4", std::move(body), r.version);
}

net::awaitable<response> consent_history(admin_context& ctx, const admin_request& r) {
    co_return from_consent(
        co_await consent::history_view(ctx.shared.consent_sites, ctx.shared.records, r.query),
        r.version);
}

net::awaitable<response> consent_counts(admin_context& ctx, const admin_request& r) {
    co_return from_consent(
        co_await consent::counts_view(ctx.shared.consent_sites, ctx.shared.records), r.version);
}

net::awaitable<response> consent_cookies(admin_context& ctx, const admin_request& r) {
    co_return from_consent(consent::cookies_view(ctx.shared.consent_sites), r.version);
}

net::awaitable<response> not_found_below(admin_context&, const admin_request& r) {
    const auto* route = find_route(r.path);
    co_return not_found(route != nullptr ? route->path : std::string_view{}, r.version);
}

// --- Connections ----------------------------------------------------------------------------

net::awaitable<void> serve_admin(admin_context ctx, tcp::socket socket) {
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
            res = co_await dispatch(ctx, req, matched);
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

admin_listener::admin_listener(net::io_context& ioc, shared_state& shared)
    : ioc_(ioc), shared_(shared), acceptor_(ioc) {}

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
    net::co_spawn(ioc_, accept_admin(
                      admin_context{shared_, errors_, open_connections_, refused_connections_},
                      acceptor_), net::detached);
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
