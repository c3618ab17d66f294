#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "access_log.hpp"
#include "gateway/config.hpp"
#include "gateway/router.hpp"
#include "metrics.hpp"
#include "upstream_pool.hpp"

namespace cg::gateway {

struct connection;

/// What every worker shares: the validated config, counters, the log sink and the drain flag.
struct shared_state {
    shared_state(std::shared_ptr<const config> c, std::size_t workers);

    std::shared_ptr<const config> cfg;
    metrics stats;
    log_sink log;
    std::atomic<bool> draining{false};
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
    std::unordered_set<connection*> connections;          ///< live client connections
    std::vector<std::unique_ptr<upstream_pool>> pools;   ///< one per site
    std::optional<boost::asio::ip::tcp::acceptor> acceptor;
    // Last, so it is destroyed first: abandoned session frames it destroys still find the
    // members above alive (pools and acceptor are released in ~worker before that).
    boost::asio::io_context ioc{1};
};

}  // namespace cg::gateway
