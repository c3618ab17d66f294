#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
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
#include "gateway/router.hpp"
#include "metrics.hpp"
#include "upstream_pool.hpp"

namespace cg::gateway {

struct connection;

/// What every worker shares: the validated config, counters, the log sink, the drain flag and
/// the consent machinery (per-site contexts, read-only; the record store, thread-safe).
struct shared_state {
    /// Throws std::runtime_error when the consent journal cannot be opened, or (a
    /// ua_database_error) the User-Agent database when a site has analytics on.
    shared_state(std::shared_ptr<const config> c, std::size_t workers);

    std::shared_ptr<const config> cfg;
    metrics stats;
    log_sink log;
    std::atomic<bool> draining{false};
    /// Erased consent ids (issue 8): the store fills it (its own erasures at once, other
    /// gateways' by polling Redis); every site_context reads it. Before `records`, which uses it.
    std::shared_ptr<consent::revocations> revoked = std::make_shared<consent::revocations>();
    std::vector<std::unique_ptr<const consent::site_context>> consent_sites;  ///< as cfg->sites
    consent::store records;
    /// Limits on decisions and erasures, shared by every worker (in memory, bounded).
    consent::rate_limiter consent_limits;
    /// Each site's banner (issue 9), as cfg->sites; null where a site has none. Before
    /// consent_sites: a banner's policy hash is part of its site's policy version.
    std::vector<std::unique_ptr<const banner::site_banner>> banners;
    std::vector<body_filter> body_filters;  ///< set before the workers start; read-only then
    /// Analytics (issue 10), when any site has it on: the User-Agent database (loaded at the
    /// first page view, on its own thread), countries, day keys, open visits; and the thread
    /// that writes the workers' counts to Redis.
    std::unique_ptr<analytics::shared_analytics> analytics;
    std::unique_ptr<analytics::recorder> analytics_writer;
    std::unique_ptr<analytics::stats_reader> stats_reader;  ///< /stats/api, off the admin thread
    std::unique_ptr<analytics::forwarder> forwarder;  ///< closed days to analytics.forward (C4)
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

    std::size_t index;
    shared_state& shared;
    const config& cfg;
    router routes;
    log_batch access_log;
    scratch_pool scratch;
    /// Analytics (issue 10): this worker's tap and counts (when shared.analytics is set).
    std::optional<analytics::tap> analytics;
    std::unordered_set<connection*> connections;        ///< live client connections
    std::vector<std::unique_ptr<upstream_pool>> pools;  ///< one per site
    std::optional<boost::asio::ip::tcp::acceptor> acceptor;
    // Last, so it is destroyed first: abandoned session frames it destroys still find the
    // members above alive (pools and acceptor are released in ~worker before that).
    // One thread runs it, other threads only post to it: the reactor needs no locks.
    boost::asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
};

}  // namespace cg::gateway
