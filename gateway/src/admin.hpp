#pragma once
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "worker.hpp"

namespace cg::gateway {

/// The admin listener (own address, own thread): /healthz, /readyz, /metrics.
/// /metrics needs `Authorization: Bearer <admin.token>` when a token is configured.
class admin_listener {
  public:
    admin_listener(boost::asio::io_context& ioc, shared_state& shared);

    /// Binds admin.address:admin.port. Throws std::system_error on failure.
    void open();
    void start();
    void close();
    boost::asio::ip::tcp::endpoint endpoint() const;

  private:
    boost::asio::io_context& ioc_;
    shared_state& shared_;
    boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace cg::gateway
