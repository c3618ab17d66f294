#pragma once
#include <chrono>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "gateway/config.hpp"
#include "metrics.hpp"

namespace cg::gateway {

class upstream_server_state;

/// One connection to an upstream server, with the read buffer that belongs to it.
struct upstream_connection {
    /// Capacity of `buffer`: Beast sizes each read by the free capacity, so a small response
    /// arrives head and body in one read, and a large one in a few.
    static constexpr std::size_t buffer_bytes = 64 * 1024;

    upstream_connection(const boost::asio::any_io_executor& ex, upstream_server_state& to,
                        std::size_t index)
        : stream(ex), server(&to), server_index(index) {
        buffer.reserve(buffer_bytes);
    }
    ~upstream_connection();
    upstream_connection(const upstream_connection&) = delete;
    upstream_connection& operator=(const upstream_connection&) = delete;

    /// Counts the connection as in use by a request (upstream_server_state::active) until
    /// set_idle() or its end.
    void set_in_use() noexcept;
    void set_idle() noexcept;

    boost::beast::tcp_stream stream;
    boost::beast::flat_buffer buffer;
    upstream_server_state* server;
    std::size_t server_index;            ///< in its site's server list
    std::uint64_t address_version = 0;   ///< of the addresses it was connected with
    bool reused = false;  ///< taken from the pool rather than freshly connected
    bool in_use = false;
};

/// Keep-alive connections to one upstream server, owned by one worker thread (not thread-safe:
/// every call happens on that worker's io_context). Idle connections are reused most-recent
/// first and closed after upstream_config::idle_timeout, when the upstream has closed them, or
/// when the server's name now resolves to other addresses.
class upstream_pool {
  public:
    upstream_pool(boost::asio::any_io_executor ex, const upstream_config& cfg,
                  upstream_server_state& server, std::size_t index, site_counters& stats);
    ~upstream_pool();

    /// A pooled connection if there is one (unless `fresh`), else a new connection made within
    /// connect_timeout, counted as in use by a request. With `verify`, a pooled connection is
    /// first checked for having been closed by the upstream (one extra system call); callers
    /// that can retry skip it. On failure returns null, sets `failure` (connect or timeout) and
    /// counts a failure of the server (passive health).
    boost::asio::awaitable<std::unique_ptr<upstream_connection>> acquire(bool fresh, bool verify,
                                                                         upstream_failure& failure);

    /// Returns a connection whose last exchange ended cleanly; keeps it if there is room.
    void release(std::unique_ptr<upstream_connection> c);

    /// Closes idle connections older than the idle timeout. Called from a worker timer.
    void sweep();

    /// Closes every idle connection (shutdown).
    void clear();

    /// The pool of a replaced generation (a reload): closes its idle connections and keeps
    /// none from now on; requests still using it finish on their connections.
    void retire();

    std::size_t idle() const noexcept { return idle_.size(); }

  private:
    struct idle_entry {
        std::unique_ptr<upstream_connection> conn;
        std::chrono::steady_clock::time_point since;
    };

    boost::asio::awaitable<std::unique_ptr<upstream_connection>> connect(upstream_failure& failure);
    /// Drops idle connections matching `stale` and keeps cg_upstream_pool_idle (a per-worker
    /// sum over the site's pools) in step.
    template <typename Pred>
    void drop_idle(Pred stale);

    boost::asio::any_io_executor ex_;
    const upstream_config& cfg_;
    upstream_server_state& server_;
    std::size_t index_;
    site_counters& stats_;
    std::vector<idle_entry> idle_;
    boost::asio::ip::tcp::endpoint literal_;  ///< set when the host is an IP literal
    bool host_is_literal_ = false;
    bool retired_ = false;
};

}  // namespace cg::gateway
