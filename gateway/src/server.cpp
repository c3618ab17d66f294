#include "gateway/server.hpp"

#include "gateway/pipeline.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "admin.hpp"
#include "banner_filter.hpp"
#include "async.hpp"
#include "responses.hpp"
#include "service_manager.hpp"
#include "session.hpp"
#include "upstream_monitor.hpp"
#include "worker.hpp"

namespace cg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

shared_state::shared_state(std::shared_ptr<const config> c, std::size_t workers,
                           std::vector<body_filter> filters)
    : cfg(std::move(c)),
      stats(workers, cfg->sites.size()),
      log(1, cfg->log.level, stats.log_lines_dropped),
      records(cfg->consent.redis, cfg->consent.journal, revoked),
      consent_limits(cfg->consent.limits),
      body_filters(std::move(filters)) {
    current_ = build_generation(cfg, nullptr, {body_filters, revoked, &stats, &log});
    if (std::any_of(cfg->sites.begin(), cfg->sites.end(),
                    [](const site_config& s) { return s.analytics.enabled; })) {
        analytics = std::make_unique<analytics::shared_analytics>();
        analytics->user_agents =
            std::make_unique<analytics::lazy_ua_database>(cfg->analytics.ua_regexes);
        if (!cfg->analytics.geoip_db.empty()) {
            analytics->countries =
                std::make_unique<const analytics::country_database>(cfg->analytics.geoip_db);
        }
        for (const auto& site : cfg->sites) {
            analytics->sites.push_back({site.name, site.analytics.enabled,
                                        analytics::site_calendar{site.analytics.time_zone},
                                        site.analytics.retention_days, site.analytics.k});
        }
        analytics::recorder_options o;
        o.flush_interval = std::chrono::milliseconds(cfg->analytics.flush_interval_ms);
        analytics_writer = std::make_unique<analytics::recorder>(
            cfg->consent.redis, analytics->sites, analytics->keys, o);
        stats_reader = std::make_unique<analytics::stats_reader>(
            cfg->consent.redis, analytics->sites, analytics_writer.get());
        if (!cfg->analytics.forward.empty()) {
            // Each closed day, thresholded (C4), to the configured endpoints.
            forwarder = std::make_unique<analytics::forwarder>(
                cfg->consent.redis, analytics->sites, cfg->analytics.forward, *stats_reader);
        }
    }
}

std::shared_ptr<const generation> shared_state::current() const {
    const std::lock_guard lock(current_mutex_);
    return current_;
}

void shared_state::make_current(std::shared_ptr<const generation> g) {
    const std::lock_guard lock(current_mutex_);
    current_ = std::move(g);
}

worker::worker(std::size_t i, shared_state& s) : index(i), shared(s), access_log(s.log) {
    if (s.analytics) {
        analytics.emplace(*s.analytics);
    }
    follow_generation();
    acceptor.emplace(ioc);
}

void worker::follow_generation() {
    auto g = shared.current();
    if (gen && gen->shared == g) {
        return;
    }
    auto next = std::make_shared<worker_generation>(
        std::move(g), ioc.get_executor(), [this](std::size_t site) -> site_counters& {
            return counters(site);
        });
    if (gen) {
        for (auto& pool : gen->upstreams) {
            pool->retire();  // requests still on the old generation finish on their connections
        }
    }
    gen = std::move(next);
}

worker::~worker() {
    acceptor.reset();
    redirect_acceptor.reset();
    gen.reset();
}

namespace {

// A connection over limits.max_connections gets a short 503 instead of silence.
net::awaitable<void> refuse(tcp::socket socket) {
    const std::string busy =
        "HTTP/1.1 503 Service Unavailable\r\nDate: " + http_date_now() +
        "\r\nContent-Type: text/plain\r\nContent-Length: 31\r\n"
        "Connection: close\r\nRetry-After: 1\r\n\r\nThe gateway is at its limit.\r\n\r\n";
    co_await net::async_write(socket, net::buffer(busy), use_ec);
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
}

net::awaitable<void> accept_loop(worker& w, tcp::acceptor& acceptor, listener_kind kind) {
    auto& open = w.shared.stats.open_connections;
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_ec);
        if (!acceptor.is_open() || ec == net::error::operation_aborted) {
            co_return;
        }
        if (ec) {
            // Out of file descriptors and the like: back off instead of spinning.
            log_line line{log_level::warn, "accept failed"};
            line.str("error", ec.message());
            w.shared.log.write(log_level::warn, line);
            net::steady_timer pause(w.ioc, std::chrono::milliseconds(50));
            co_await pause.async_wait(use_ec);
            continue;
        }
        const auto max = static_cast<std::int64_t>(w.gen->cfg().limits.max_connections);
        if (open.fetch_add(1, std::memory_order_relaxed) >= max) {
            open.fetch_sub(1, std::memory_order_relaxed);
            w.shared.stats.refused_connections.fetch_add(1, std::memory_order_relaxed);
            net::co_spawn(w.ioc, refuse(std::move(socket)), net::detached);
            continue;
        }
        // serve() catches what a request throws; this catches what the session itself might.
        net::co_spawn(w.ioc, serve(w, std::move(socket), kind), [&w](const std::exception_ptr& e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    internal_error(w, ex.what());
                } catch (...) {
                    internal_error(w, "unknown exception");
                }
            }
        });
    }
}

// Flushes the access-log batch a few times a second and closes expired pooled connections.
// Hands the worker's analytics counts to the Redis writer (DESIGN §4: flush in batches),
// first ending the visits that have been idle for 30 minutes.
void flush_analytics(worker& w, bool all) {
    if (w.analytics && w.shared.analytics_writer) {
        w.analytics->sweep(gateway::unix_now(), all);
        w.shared.analytics_writer->submit(w.analytics->drain());
    }
}

net::awaitable<void> housekeeping(worker& w) {
    net::steady_timer timer(w.ioc);
    const unsigned flush_ticks = std::max(1U, w.shared.cfg->analytics.flush_interval_ms / 250);
    for (unsigned tick = 1;; ++tick) {
        timer.expires_after(std::chrono::milliseconds(250));
        auto [ec] = co_await timer.async_wait(use_ec);
        if (ec) {
            co_return;
        }
        w.access_log.flush();
        if (tick % flush_ticks == 0) {
            flush_analytics(w, false);
        }
        if (tick % 4 == 0) {
            for (auto& pool : w.gen->upstreams) {
                pool->sweep();
            }
        }
    }
}

std::string endpoint_text(const tcp::endpoint& ep) {
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
           std::to_string(ep.port());
}

void log_listening(log_sink& log, std::string_view listener, const tcp::endpoint& ep,
                   bool https = false) {
    log_line line{log_level::info, "listening"};
    line.str("listener", listener).str("address", ep.address().to_string()).num("port", ep.port());
    line.str("scheme", https ? "https" : "http");
    log.write(log_level::info, line);
}

/// Redis as the record store last saw it: what watch_records logs a change of.
enum class redis_state { up, slow, down };

redis_state state_of(const consent::store_status& s) {
    if (s.redis_slow) {
        return redis_state::slow;  // slow wins: the connection was dropped for it, not lost
    }
    return s.redis_up ? redis_state::up : redis_state::down;
}

// The store has no logger of its own: its state changes (Redis lost, slow or back, journal
// problems) are logged from here, once each, without any personal data. Slow and down are
// told apart (issue 8): a slow Redis needs a look at its load, a down one at the network.
net::awaitable<void> watch_records(shared_state& shared) {
    net::steady_timer timer(co_await net::this_coro::executor);
    // The first look is after the store's first connection attempt has had time to finish.
    consent::store_status last;
    auto last_state = redis_state::up;  // so that "unreachable at start" is logged too
    for (;;) {
        timer.expires_after(std::chrono::seconds(1));
        if (auto [ec] = co_await timer.async_wait(use_ec); ec) {
            co_return;
        }
        const auto now = shared.records.status();
        if (const auto state = state_of(now); state != last_state) {
            const auto level = state == redis_state::up     ? log_level::info
                               : state == redis_state::slow ? log_level::warn
                                                            : log_level::error;
            const char* text = "redis reachable; consent records go to redis";
            if (state == redis_state::slow) {
                text =
                    "redis slow (connection open, no reply within the command timeout); "
                    "consent records go to the journal until it answers in time";
            } else if (state == redis_state::down) {
                text = "redis unreachable; consent records go to the journal until it is back";
            }
            log_line line{level, text};
            line.num("journal_events", static_cast<std::int64_t>(now.journal_events));
            shared.log.write(level, line);
            last_state = state;
        }
        if (now.refusing != last.refusing) {
            const auto level = now.refusing ? log_level::error : log_level::info;
            log_line line{level, now.refusing ? "consent records are being lost: neither redis "
                                                "nor the journal takes them"
                                              : "consent records are taken again"};
            shared.log.write(level, line);
        }
        if (!now.last_error.empty() && now.last_error != last.last_error) {
            log_line line{log_level::warn, "consent record store"};
            line.str("error", now.last_error);
            shared.log.write(log_level::warn, line);
        }
        last = now;
    }
}

}  // namespace

static std::size_t worker_count(const config& cfg) {
    if (cfg.workers != 0) {
        return cfg.workers;
    }
    return std::max(1U, std::thread::hardware_concurrency());
}

struct server::impl {
    impl(std::shared_ptr<const config> c, std::vector<body_filter> filters)
        : shared(c, worker_count(*c), std::move(filters)), admin(admin_ioc, shared) {}

    net::awaitable<void> drain();
    void monitor_upstreams(const std::shared_ptr<const generation>& g) {
        gateway::monitor_upstreams(admin_ioc.get_executor(), g,
                                   [this] { return shared.current(); });
    }
    void post_to_workers(auto fn) {
        for (auto& w : workers) {
            net::post(w->ioc, [&w = *w, fn] { fn(w); });
        }
    }

    shared_state shared;
    std::vector<std::unique_ptr<worker>> workers;
    net::io_context admin_ioc{1};
    admin_listener admin;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> admin_work;
    std::optional<net::signal_set> signals;
    config_source reload_source;
    std::mutex reload_mutex;
    std::vector<std::thread> threads;
    std::atomic<bool> stopping{false};
};

// Runs on the admin thread: waits for in-flight requests up to the deadline, then closes what
// is left and stops every loop.
net::awaitable<void> server::impl::drain() {
    const auto deadline = clock::now() + shared.current()->cfg->shutdown_timeout;
    post_to_workers([](worker& w) {
        w.acceptor->close();
        if (w.redirect_acceptor) {
            w.redirect_acceptor->close();
        }
        for (auto* c : w.connections) {
            if (c->idle) {
                c->stream.cancel();  // keep-alive connections waiting for a request: close now
            }
        }
    });
    net::steady_timer timer(admin_ioc);
    auto& open = shared.stats.open_connections;
    while (open.load() > 0 && clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(use_ec);
    }
    if (open.load() > 0) {
        log_line line{log_level::warn, "shutdown deadline reached; closing connections"};
        line.num("open", open.load());
        shared.log.write(log_level::warn, line);
        post_to_workers([](worker& w) {
            for (auto* c : w.connections) {
                c->stream.close();
                if (c->upstream != nullptr) {
                    c->upstream->stream.close();  // wakes a session waiting for its upstream
                }
            }
        });
        for (int i = 0; i < 50 && open.load() > 0; ++i) {
            timer.expires_after(std::chrono::milliseconds(20));
            co_await timer.async_wait(use_ec);
        }
    }
    post_to_workers([](worker& w) {
        for (auto& pool : w.gen->upstreams) {
            pool->clear();
        }
        w.access_log.flush();
        w.ioc.stop();
    });
    admin.close();
    signals.reset();
    admin_work.reset();
    log_line line{log_level::info, "stopped"};
    shared.log.write(log_level::info, line);
    admin_ioc.stop();  // open admin keep-alive connections must not hold the process
}

server::server(std::shared_ptr<const config> cfg, std::vector<body_filter> body_filters)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(body_filters))) {}

server::~server() {
    if (!impl_->threads.empty()) {
        shutdown();
        wait();
    }
}

// SO_REUSEPORT: each worker has its own accept queue and the kernel spreads connections,
// like nginx's `listen ... reuseport`. With port 0 the first bind picks the port and the
// others join it: `ep` is updated to the bound one. Throws naming the listener.
void bind_reuseport(tcp::acceptor& acceptor, tcp::endpoint& ep, std::string_view listener) {
    beast::error_code ec;
    acceptor.open(ep.protocol(), ec);
    if (!ec) {
        acceptor.set_option(net::socket_base::reuse_address(true), ec);
        acceptor.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true),
                            ec);
        acceptor.bind(ep, ec);
    }
    if (!ec) {
        acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        throw std::runtime_error(std::string{listener} + " listener " + endpoint_text(ep) + ": " +
                                 ec.message());
    }
    ep = acceptor.local_endpoint();
}

void server::start() {
    auto& m = *impl_;
    const auto& cfg = *m.shared.cfg;
    const auto n = worker_count(cfg);
    const auto address = net::ip::make_address(cfg.listen.address);
    tcp::endpoint ep{address, cfg.listen.port};
    tcp::endpoint redirect_ep{address, cfg.listen.tls.redirect_port};
    for (std::size_t i = 0; i < n; ++i) {
        auto w = std::make_unique<worker>(i, m.shared);
        bind_reuseport(*w->acceptor, ep, "proxy");
        if (cfg.listen.tls.redirect_port != 0) {
            w->redirect_acceptor.emplace(w->ioc);
            bind_reuseport(*w->redirect_acceptor, redirect_ep, "redirect");
        }
        m.workers.push_back(std::move(w));
    }
    m.shared.proxy_port.store(ep.port());
    m.admin.open();
    log_listening(m.shared.log, "proxy", ep, cfg.listen.tls.enabled());
    if (cfg.listen.tls.redirect_port != 0) {
        log_listening(m.shared.log, "redirect", redirect_ep);  // 308 to the proxy's https
    }
    log_listening(m.shared.log, "admin", m.admin.endpoint());

    m.admin_work.emplace(m.admin_ioc.get_executor());
    m.admin.start();
    m.shared.records.start();
    if (m.shared.analytics_writer) {
        m.shared.analytics_writer->start();
        m.shared.stats_reader->start();
        if (m.shared.forwarder) {
            m.shared.forwarder->start();
        }
    }
    net::co_spawn(m.admin_ioc, watch_records(m.shared), net::detached);
    m.monitor_upstreams(m.shared.current());
    for (auto& w : m.workers) {
        net::co_spawn(w->ioc,
                      accept_loop(*w, *w->acceptor,
                                  cfg.listen.tls.enabled() ? listener_kind::tls
                                                           : listener_kind::plain),
                      net::detached);
        if (w->redirect_acceptor) {
            net::co_spawn(w->ioc, accept_loop(*w, *w->redirect_acceptor, listener_kind::redirect),
                          net::detached);
        }
        net::co_spawn(w->ioc, housekeeping(*w), net::detached);
        m.threads.emplace_back([&ioc = w->ioc] { ioc.run(); });
    }
    m.threads.emplace_back([&m] { m.admin_ioc.run(); });
    notify_service_manager("READY=1");  // systemd's Type=notify: `systemctl start` returns now
}

tcp::endpoint server::proxy_endpoint() const {
    return impl_->workers.front()->acceptor->local_endpoint();
}

tcp::endpoint server::admin_endpoint() const {
    return impl_->admin.endpoint();
}

void server::handle_signals(config_source source) {
    auto& m = *impl_;
    m.reload_source = std::move(source);
    m.signals.emplace(m.admin_ioc, SIGINT, SIGTERM, SIGHUP);
    wait_for_signal();
}

void server::wait_for_signal() {
    auto& m = *impl_;
    m.signals->async_wait([this, &m](const beast::error_code& ec, int sig) {
        if (ec) {
            return;
        }
        if (sig != SIGHUP) {
            shutdown();
            return;
        }
        if (!m.reload_source) {
            log_line line{log_level::warn, "SIGHUP ignored: this gateway has no file to reload"};
            m.shared.log.write(log_level::warn, line);
        } else {
            // On the admin thread: reading and building take milliseconds, and the admin
            // routes then see either the old or the new configuration, never half of each.
            notify_service_manager("RELOADING=1");
            try {
                reload(std::make_shared<const config>(m.reload_source()));
            } catch (const config_error& e) {
                m.shared.reloads_refused.fetch_add(1);
                m.shared.last_reload_ok.store(false);
                for (const auto& p : e.problems()) {
                    log_line line{log_level::error, "reload refused; still running on the "
                                                    "previous configuration"};
                    line.str("problem", p);
                    m.shared.log.write(log_level::error, line);
                }
            }
            notify_service_manager("READY=1");
        }
        wait_for_signal();
    });
}

server::reload_result server::reload(std::shared_ptr<const config> next) {
    auto& m = *impl_;
    const std::lock_guard lock(m.reload_mutex);
    const auto previous = m.shared.current();
    reload_result out;
    out.problems = restart_only_changes(*m.shared.cfg, *next);
    std::shared_ptr<const generation> g;
    if (out.problems.empty()) {
        try {
            g = build_generation(std::move(next), previous.get(),
                                 {m.shared.body_filters, m.shared.revoked, &m.shared.stats,
                                  &m.shared.log});
        } catch (const std::exception& e) {
            out.problems.push_back(std::string{"the new configuration cannot be used: "} +
                                   e.what());
        }
    }
    if (!out.problems.empty()) {
        m.shared.reloads_refused.fetch_add(1);
        m.shared.last_reload_ok.store(false);
        for (const auto& p : out.problems) {
            log_line line{log_level::error,
                          "reload refused; still running on the previous configuration"};
            line.str("problem", p);
            m.shared.log.write(log_level::error, line);
        }
        out.generation = previous->number;
        return out;
    }
    m.shared.make_current(g);
    m.post_to_workers([](worker& w) { w.follow_generation(); });
    m.monitor_upstreams(g);
    m.shared.reloads_applied.fetch_add(1);
    m.shared.last_reload_ok.store(true);
    out.applied = true;
    out.generation = g->number;
    log_line line{log_level::info, "configuration reloaded"};
    line.num("generation", static_cast<std::int64_t>(g->number));
    m.shared.log.write(log_level::info, line);
    return out;
}

void server::shutdown() {
    auto& m = *impl_;
    if (m.stopping.exchange(true)) {
        return;
    }
    m.shared.draining.store(true);
    notify_service_manager("STOPPING=1");
    log_line line{log_level::info, "shutting down"};
    line.num("open_connections", m.shared.stats.open_connections.load());
    m.shared.log.write(log_level::info, line);
    net::co_spawn(m.admin_ioc, m.drain(), net::detached);
}

void server::wait() {
    for (auto& t : impl_->threads) {
        if (t.joinable()) {
            t.join();
        }
    }
    // Decisions still queued are stored or journaled before the process goes; the counts of
    // every worker (open visits ended) get one last try at Redis.
    impl_->shared.records.stop();
    for (auto& w : impl_->workers) {
        flush_analytics(*w, true);
    }
    if (impl_->shared.analytics_writer) {
        if (impl_->shared.forwarder) {
            impl_->shared.forwarder->stop();  // first: it waits on the reader for batches
        }
        impl_->shared.stats_reader->stop();
        impl_->shared.analytics_writer->stop();
    }
    impl_->shared.log.flush();
}

}  // namespace cg::gateway
