#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "gateway/body_filter.hpp"
#include "gateway/config.hpp"

namespace cg::gateway {

/// The whole gateway: proxy workers (one event loop per thread), the admin listener, metrics
/// and the access log. Used by main and, in-process, by tests.
class server {
  public:
    /// `body_filters` are offered every response whose body may be transformed, in order
    /// (gateway/body_filter.hpp); the first that offers a transform gets the body.
    explicit server(std::shared_ptr<const config> cfg, std::vector<body_filter> body_filters = {});
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds every listener and starts the threads. Throws std::system_error when an address
    /// cannot be bound. After this the endpoints below are known (useful with port 0).
    void start();

    boost::asio::ip::tcp::endpoint proxy_endpoint() const;
    boost::asio::ip::tcp::endpoint admin_endpoint() const;

    /// What reload() did.
    struct reload_result {
        bool applied = false;
        std::uint64_t generation = 0;       ///< the one new requests use now
        std::vector<std::string> problems;  ///< why it was refused, one line each
    };

    /// Replaces the running configuration with `next` (issue 11) unless it changes what only a
    /// restart can (restart_only_changes: listeners, workers, Redis, the journal, analytics,
    /// the set of sites) or one of its parts cannot be built; then the running one stays and
    /// every problem is logged and returned. Applied: new requests (also on open keep-alive
    /// connections) use `next`, requests in flight finish on the configuration they started
    /// with; no connection is closed, consent records and analytics counts carry over.
    /// Any thread, after start(); reloads are serialised.
    reload_result reload(std::shared_ptr<const config> next);

    /// Where SIGHUP reads the new configuration (main: the file it started with). Throws
    /// config_error for a configuration that does not validate.
    using config_source = std::function<config()>;

    /// Stops on SIGTERM or SIGINT by calling shutdown(); SIGHUP reloads from `source` (logged
    /// and ignored without one). Call before start().
    void handle_signals(config_source source = {});

    /// Graceful shutdown, callable from any thread and more than once: stop accepting, close
    /// idle connections, let in-flight requests finish until config::shutdown_timeout, then
    /// close what is left.
    void shutdown();

    /// Blocks until shutdown has completed and every thread has ended.
    void wait();

  private:
    void wait_for_signal();

    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cg::gateway
