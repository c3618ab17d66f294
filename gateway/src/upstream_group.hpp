#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/config.hpp"
#include "metrics.hpp"
#include "upstream_pool.hpp"

namespace cg::gateway {

/// What every worker knows about one upstream server (issue 11): its health, its addresses and
/// its counters. Shared by the workers and the admin thread's monitor, so all atomics.
class upstream_server_state {
  public:
    using clock = std::chrono::steady_clock;

    upstream_server_state(const upstream_server& server, const upstream_config& group);

    const upstream_server& cfg() const noexcept { return server_; }
    const std::string& label() const noexcept { return label_; }  ///< "host:port"

    /// Neither passively failed nor failing its active check.
    bool usable(clock::time_point now) const noexcept {
        return check_ok_.load(std::memory_order_relaxed) &&
               now.time_since_epoch().count() >= down_until_.load(std::memory_order_relaxed);
    }
    bool passively_down(clock::time_point now) const noexcept {
        return now.time_since_epoch().count() < down_until_.load(std::memory_order_relaxed);
    }
    bool check_ok() const noexcept { return check_ok_.load(std::memory_order_relaxed); }

    /// Takes over the health, addresses and counters of the same server in the generation a
    /// reload replaces, so a reload neither forgets a failing server nor resets counters.
    void inherit(const upstream_server_state& old);

    /// An exchange that ended well: the count of failures starts again.
    void succeeded() noexcept;
    /// A failed exchange (connect, timeout, reset, malformed answer). After max_fails in a row,
    /// each within fail_timeout of the last, the server is skipped for fail_timeout; the first
    /// exchange after that decides alone (one more failure and it is skipped again).
    void failed(clock::time_point now) noexcept;
    /// The active check's verdict (the monitor's `fails`/`passes` already applied).
    void set_check(bool ok) noexcept;

    /// The addresses last resolved for a host name (empty: none yet, or a literal host).
    std::vector<boost::asio::ip::tcp::endpoint> addresses() const;
    /// Stores newly resolved addresses; when they differ from the last ones the version moves
    /// on, and pooled connections to the old ones are not reused.
    void set_addresses(std::vector<boost::asio::ip::tcp::endpoint> a);
    std::uint64_t address_version() const noexcept {
        return address_version_.load(std::memory_order_acquire);
    }

    // Counters for /metrics.
    std::atomic<std::uint64_t> requests{0};   ///< exchanges started
    std::atomic<std::uint64_t> failures{0};   ///< exchanges that failed
    std::atomic<std::uint64_t> ejections{0};  ///< times taken out (passive or check)
    std::atomic<std::int64_t> active{0};      ///< connections in use now
    std::atomic<std::uint64_t> checks_failed{0};

  private:
    const upstream_server& server_;
    const upstream_config& group_;
    std::string label_;
    std::atomic<std::uint32_t> fails_{0};
    std::atomic<clock::rep> last_fail_{0};
    std::atomic<clock::rep> down_until_{0};
    std::atomic<bool> check_ok_{true};
    mutable std::mutex addresses_mutex_;
    std::vector<boost::asio::ip::tcp::endpoint> addresses_;
    std::atomic<std::uint64_t> address_version_{0};
};

/// A site's servers as every worker shares them; one per site in a generation.
struct site_upstreams {
    explicit site_upstreams(const upstream_config& c);
    const upstream_config& cfg;
    std::vector<std::unique_ptr<upstream_server_state>> servers;  ///< as cfg.servers
};

/// The per-server series for /metrics: cg_upstream_server_{up,active,requests_total,
/// failures_total,ejections_total,check_failures_total}{site,server}.
std::string upstream_server_metrics(const config& cfg,
                                    const std::vector<std::unique_ptr<site_upstreams>>& sites);

/// A worker's way to a site's upstream servers: one connection pool per server and the
/// balancer (smooth weighted round-robin as nginx does it, or least connections over all
/// workers). Worker thread only, like the pools.
class upstream_group {
  public:
    using tried_set = std::uint64_t;  ///< bit i: server i was tried for this request

    upstream_group(const boost::asio::any_io_executor& ex, site_upstreams& shared,
                   site_counters& stats);

    /// The server the next attempt goes to by the balancing method, skipping those in `tried`
    /// and those out of service; when every server is out of service and none was tried yet,
    /// all are candidates again (better to try a server that may have recovered than to
    /// refuse). -1 when none is left. Then pool(i).acquire(); a server that cannot be connected
    /// to joins `tried` (the pool has counted it as failed).
    int choose(tried_set tried) noexcept;
    upstream_pool& pool(std::size_t server) noexcept { return *pools_[server]; }

    /// True when a server not in `tried` is in service: a replayable request may go there.
    bool can_retry(tried_set tried) const noexcept;

    /// The exchange on `c` ended: well, or with a failure the server is to blame for.
    void succeeded(const upstream_connection& c) noexcept;
    void failed(const upstream_connection& c) noexcept;

    /// Returns a connection whose last exchange ended cleanly to its server's pool.
    void release(std::unique_ptr<upstream_connection> c);

    void sweep();   ///< closes idle connections past the idle timeout
    void clear();   ///< closes every idle connection (shutdown)
    void retire();  ///< a reload replaced this group (see upstream_pool::retire)

  private:
    site_upstreams& shared_;
    std::vector<std::unique_ptr<upstream_pool>> pools_;
    std::vector<std::int64_t> current_;  ///< smooth weighted round-robin state
    std::size_t next_ = 0;               ///< least connections: where ties start
};

}  // namespace cg::gateway
