#pragma once
#include <memory>
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

    /// Stops on SIGTERM or SIGINT by calling shutdown(); SIGHUP is logged and ignored until
    /// reloading exists. Call before start().
    void handle_signals();

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
