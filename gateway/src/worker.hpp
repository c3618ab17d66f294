#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "access_log.hpp"
#include "analytics/forwarder.hpp"
#include "analytics/recorder.hpp"
#include "analytics/stats.hpp"
#include "analytics/tap.hpp"
#include "banner/site_banner.hpp"
#include "consent/revocations.hpp"
#include "consent/rate_limiter.hpp"
#include "consent/site_context.hpp"
#include "consent/store.hpp"
#include "gateway/body_filter.hpp"
#include "gateway/config.hpp"
#include "generation.hpp"
#include "metrics.hpp"
#include "upstream_pool.hpp"

namespace cg::gateway {

struct connection;

/// What every worker shares: the configuration's current generation (generation.hpp),
/// counters, the log sink, the drain flag and the consent machinery that lives as long as the
/// process (the record store, thread-safe).
struct shared_state {
    /// Throws std::runtime_error when the consent journal cannot be opened, or (a
    /// ua_database_error) the User-Agent database when a site has analytics on.
    shared_state(std::shared_ptr<const config> c, std::size_t workers,
                 std::vector<body_filter> filters);

    /// The generation new requests use. Any thread; a caller that awaits keeps the pointer.
    std::shared_ptr<const generation> current() const;
    /// Makes `g` current (for the admin thread and for workers that look next). Any thread.
    void make_current(std::shared_ptr<const generation> g);

    /// The configuration read at start: what a reload cannot change (restart_only_changes),
    /// and what the threads started with it (the Redis writer, the stats reader) refer to.
    std::shared_ptr<const config> cfg;
    metrics stats;
    log_sink log;
    std::atomic<bool> draining{false};
    /// The proxy listener's port as bound (listen.port may be 0): redirects to https name it.
    std::atomic<std::uint16_t> proxy_port{0};
    /// Erased consent ids (issue 8): the store fills it (its own erasures at once, other
    /// gateways' by polling Redis); every site_context reads it. Before `records`, which uses it.
    std::shared_ptr<consent::revocations> revoked = std::make_shared<consent::revocations>();
    consent::store records;
    /// Limits on decisions and erasures, shared by every worker (in memory, bounded).
    consent::rate_limiter consent_limits;
    /// The caller's body filters; each generation offers responses to them before its banner's.
    std::vector<body_filter> body_filters;
    /// Analytics (issue 10), when any site has it on: the User-Agent database (loaded at the
    /// first page view, on its own thread), countries, day keys, open visits; and the thread
    /// that writes the workers' counts to Redis.
    std::unique_ptr<analytics::shared_analytics> analytics;
    std::unique_ptr<analytics::recorder> analytics_writer;
    std::unique_ptr<analytics::stats_reader> stats_reader;  ///< /stats/api, off the admin thread
    std::unique_ptr<analytics::forwarder> forwarder;  ///< closed days to analytics.forward (C4)
    /// Reloads (issue 11): applied and refused, and whether the last one was applied.
    std::atomic<std::uint64_t> reloads_applied{0};
    std::atomic<std::uint64_t> reloads_refused{0};
    std::atomic<bool> last_reload_ok{true};

  private:
    mutable std::mutex current_mutex_;
    std::shared_ptr<const generation> current_;
};

/// Relay buffers of one size, recycled per worker: a 64 KiB malloc and free per request showed
/// up in profiles (glibc consolidates such frees). Not thread-safe (one per worker).
class scratch_pool {
  public:
    static constexpr std::size_t buffer_bytes = 64 * 1024;

    /// A buffer on loan; goes back to the pool when destroyed.
    class lease {
      public:
        lease(scratch_pool& pool, std::unique_ptr<char[]> b) : pool_(pool), buf_(std::move(b)) {}
        ~lease() { pool_.put(std::move(buf_)); }
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        std::span<char> span() const noexcept { return {buf_.get(), buffer_bytes}; }

      private:
        scratch_pool& pool_;
        std::unique_ptr<char[]> buf_;
    };

    lease get() {
        if (free_.empty()) {
            return lease{*this, std::make_unique_for_overwrite<char[]>(buffer_bytes)};
        }
        auto b = std::move(free_.back());
        free_.pop_back();
        return lease{*this, std::move(b)};
    }

  private:
    void put(std::unique_ptr<char[]> b) {
        if (free_.size() < 32) {
            free_.push_back(std::move(b));
        }
    }
    std::vector<std::unique_ptr<char[]>> free_;
};

/// One event loop on one thread (DESIGN §7): its own acceptor (SO_REUSEPORT), upstream pools,
/// counters shard and access-log batch. Everything but `shared` is touched only by its thread.
struct worker {
    worker(std::size_t index, shared_state& shared);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    bool draining() const noexcept { return shared.draining.load(std::memory_order_relaxed); }
    site_counters& counters(std::size_t site) noexcept { return shared.stats.at(index, site); }
    /// Moves this worker to the shared state's current generation if it is not on it yet
    /// (new routes and upstream pools; the old pools keep no idle connection). Worker thread.
    void follow_generation();

    std::size_t index;
    shared_state& shared;
    /// The generation this worker gives new requests; a request keeps its own (connection::gen).
    std::shared_ptr<worker_generation> gen;
    log_batch access_log;
    scratch_pool scratch;
    /// Analytics (issue 10): this worker's tap and counts (when shared.analytics is set).
    std::optional<analytics::tap> analytics;
    std::unordered_set<connection*> connections;  ///< live client connections
    std::optional<boost::asio::ip::tcp::acceptor> acceptor;
    /// listen.tls.redirect_port's listener (answers 308 to https), when configured.
    std::optional<boost::asio::ip::tcp::acceptor> redirect_acceptor;
    // Last, so it is destroyed first: abandoned session frames it destroys still find the
    // members above alive (pools and acceptor are released in ~worker before that).
    // One thread runs it, other threads only post to it: the reactor needs no locks.
    boost::asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
};

}  // namespace cg::gateway
