#include "admin.hpp"

#include <memory>
#include <string>
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

#include <nlohmann/json.hpp>

#include "async.hpp"
#include "consent/await.hpp"
#include "gateway/request_guard.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

namespace {

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

using response = http::response<http::string_body>;

response make(unsigned status, std::string_view type, std::string body, unsigned version) {
    response res{static_cast<http::status>(status), version};
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

// A query parameter's raw value (ids and site names need no percent-decoding).
std::string_view param(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto piece = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (piece.size() > key.size() && piece.starts_with(key) && piece[key.size()] == '=') {
            return piece.substr(key.size() + 1);
        }
    }
    return {};
}

void append_escaped_label(std::string& out, std::string_view s) {
    for (const char c : s) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

// Set-Cookie drops per cookie name (names come from upstreams: label-escaped) and the record
// store's counters, appended to the gateway's own metrics.
std::string consent_metrics(const shared_state& shared) {
    std::string out =
        "# HELP cg_set_cookie_dropped_total Set-Cookie headers dropped for lack of consent.\n"
        "# TYPE cg_set_cookie_dropped_total counter\n";
    for (const auto& site : shared.consent_sites) {
        for (const auto& [name, n] : site->observations().dropped_counts()) {
            out += "cg_set_cookie_dropped_total{site=\"";
            append_escaped_label(out, site->site());
            out += "\",cookie=\"";
            append_escaped_label(out, name);
            out += "\"} " + std::to_string(n) + "\n";
        }
    }
    const auto st = shared.records.status();
    out +=
        "# HELP cg_consent_events_total Consent decisions by where they were recorded.\n"
        "# TYPE cg_consent_events_total counter\n";
    out += "cg_consent_events_total{outcome=\"stored\"} " + std::to_string(st.stored) + "\n";
    out += "cg_consent_events_total{outcome=\"journaled\"} " + std::to_string(st.journaled) + "\n";
    out += "cg_consent_events_total{outcome=\"failed\"} " + std::to_string(st.failed) + "\n";
    out += "cg_consent_events_total{outcome=\"replayed\"} " + std::to_string(st.replayed) + "\n";
    out +=
        "# HELP cg_consent_journal_events Consent events waiting in the journal for Redis.\n"
        "# TYPE cg_consent_journal_events gauge\n"
        "cg_consent_journal_events " +
        std::to_string(st.journal_events) + "\n";
    out +=
        "# HELP cg_consent_journal_bytes Size of the consent journal.\n"
        "# TYPE cg_consent_journal_bytes gauge\n"
        "cg_consent_journal_bytes " +
        std::to_string(st.journal_bytes) + "\n";
    out +=
        "# HELP cg_redis_up Whether the consent record store reaches Redis.\n"
        "# TYPE cg_redis_up gauge\n"
        "cg_redis_up " +
        std::string(st.redis_up ? "1" : "0") + "\n";
    return out;
}

const consent::site_context* site_named(const shared_state& shared, std::string_view name) {
    for (const auto& s : shared.consent_sites) {
        if (s->site() == name) {
            return s.get();
        }
    }
    return nullptr;
}

json counts_json(const consent::cookie_observations::counts& counts) {
    json o = json::object();
    for (const auto& [name, n] : counts) {
        o[name] = n;
    }
    return o;
}

// The privacy officer's and operator's views of consent (DESIGN §2): a consent id's history
// for a data-subject request, decision counts per site, and what each site's cookies are.
net::awaitable<response> consent_admin(shared_state& shared, std::string_view path,
                                       std::string_view query, unsigned v) {
    const auto bad = [v](std::string text) { return make(400, "text/plain", text + "\n", v); };
    if (path == "/consent/history") {
        const auto* site = site_named(shared, param(query, "site"));
        const auto id = param(query, "id");
        if (site == nullptr || id.empty() || id.size() > 64) {
            co_return bad("give ?site=<site name>&id=<consent id>");
        }
        const std::string consent_id{id};
        auto history = co_await consent::from_store<std::optional<consent::consent_history>>(
            [&shared, site, &consent_id](auto done) {
                shared.records.history(site->site(), consent_id, std::move(done));
            });
        if (!history) {
            co_return make(503, "text/plain", "redis is unreachable\n", v);
        }
        json events = json::array();
        for (const auto& e : history->events) {
            events.push_back(json::parse(consent::to_json(e), nullptr, false));
        }
        co_return make(200, "application/json",
                       json{{"site", site->site()}, {"consent_id", id}, {"events", events}}.dump(),
                       v);
    }
    if (path == "/consent/counts") {
        json out = json::object();
        for (const auto& site : shared.consent_sites) {
            auto counts =
                co_await consent::from_store<std::optional<std::map<std::string, std::uint64_t>>>(
                    [&shared, &site](auto done) {
                        shared.records.counts(site->site(), std::move(done));
                    });
            if (!counts) {
                co_return make(503, "text/plain", "redis is unreachable\n", v);
            }
            out[site->site()] = *counts;
        }
        co_return make(200, "application/json", out.dump(), v);
    }
    if (path == "/consent/cookies") {
        json out = json::object();
        for (const auto& site : shared.consent_sites) {
            json rules = json::array();
            for (const auto& r : site->policy().cookies) {
                rules.push_back({{"name", r.name},
                                 {"category", consent::name_of(r.cat)},
                                 {"provider", r.provider},
                                 {"purpose", r.purpose},
                                 {"lifetime", r.lifetime},
                                 {"justification", r.justification}});
            }
            out[site->site()] = {
                {"policy_version", site->policy().policy_version},
                {"site_rules", rules},
                {"catalogue_rules", site->cookies().rules().size() - rules.size()},
                {"unknown_cookies_seen", counts_json(site->observations().unknown_counts())},
                {"set_cookie_dropped", counts_json(site->observations().dropped_counts())}};
        }
        co_return make(200, "application/json", out.dump(), v);
    }
    co_return make(404, "text/plain",
                   "not found: /consent/history, /consent/counts, /consent/cookies\n", v);
}

net::awaitable<response> handle(shared_state& shared, const http::request<http::string_body>& req) {
    const auto& cfg = *shared.cfg;
    const std::string_view target{req.target().data(), req.target().size()};
    const auto path = path_of(target);
    const unsigned v = req.version();
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
        auto res = make(405, "text/plain", "method not allowed\n", v);
        res.set(http::field::allow, "GET, HEAD");
        co_return res;
    }
    if (path == "/healthz") {
        co_return make(200, "text/plain", "ok\n", v);
    }
    if (path == "/readyz") {
        if (shared.draining.load()) {
            co_return make(503, "application/json",
                           R"({"ready":false,"reason":"draining"})"
                           "\n",
                           v);
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
        // taking every gateway out of rotation would take the sites down with it.
        const auto rec = shared.records.status();
        body.append(all ? "true" : "false")
            .append(R"(,"upstreams":{)")
            .append(sites)
            .append(R"(},"consent_store":{"redis":")")
            .append(rec.redis_up ? "up" : "down")
            .append(R"(","journal_events":)")
            .append(std::to_string(rec.journal_events))
            .append("}}\n");
        co_return make(all ? 200 : 503, "application/json", std::move(body), v);
    }
    // Everything past health and readiness is for the operator only (DESIGN §5: authenticated).
    if (!cfg.admin.token.empty()) {
        const auto auth = req[http::field::authorization];
        if (!auth.starts_with("Bearer ") || !token_matches(auth.substr(7), cfg.admin.token)) {
            auto res = make(401, "text/plain", "a bearer token is required\n", v);
            res.set(http::field::www_authenticate, R"(Bearer realm="consent-gateway admin")");
            co_return res;
        }
    }
    if (path == "/metrics") {
        co_return make(200, "text/plain; version=0.0.4",
                       shared.stats.render(cfg) + consent_metrics(shared), v);
    }
    if (path.starts_with("/consent/")) {
        co_return co_await consent_admin(shared, path, query_of(target), v);
    }
    co_return make(404, "text/plain",
                   "not found: try /healthz, /readyz, /metrics, /consent/counts, "
                   "/consent/history?site=S&id=ID, /consent/cookies\n",
                   v);
}

net::awaitable<void> serve_admin(shared_state& shared, tcp::socket socket) {
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
        auto res = co_await handle(shared, req);
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

net::awaitable<void> accept_admin(shared_state& shared, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_ec);
        if (!acceptor.is_open()) {
            co_return;
        }
        if (!ec) {
            net::co_spawn(acceptor.get_executor(), serve_admin(shared, std::move(socket)),
                          net::detached);
        }
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
    net::co_spawn(ioc_, accept_admin(shared_, acceptor_), net::detached);
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
