#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "banner/site_banner.hpp"
#include "consent/revocations.hpp"
#include "consent/site_context.hpp"
#include "gateway/body_filter.hpp"
#include "gateway/config.hpp"
#include "gateway/router.hpp"
#include "tls.hpp"
#include "upstream_group.hpp"

namespace cg::gateway {

class log_sink;
class metrics;

/// Everything a configuration decides that a reload replaces (issue 11): the configuration
/// itself, each site's banner and consent context (with the consent keys), and the body
/// filters. Built whole, then read-only and shared by the workers and the admin thread; a
/// request keeps the generation it started on until it ends.
struct generation {
    std::shared_ptr<const config> cfg;
    std::uint64_t number = 1;  ///< 1 at start, +1 per applied reload
    /// Each site's banner, as cfg->sites; null where a site has none.
    std::vector<std::unique_ptr<const banner::site_banner>> banners;
    std::vector<std::unique_ptr<const consent::site_context>> consent_sites;  ///< as cfg->sites
    std::vector<body_filter> body_filters;  ///< the caller's, then the banner's
    /// The consent cookie keys. When none are configured, a random ring made at start and kept
    /// by every later generation (a reload must not void every visitor's choice).
    std::shared_ptr<const consent::key_ring> keys;
    /// TLS for the proxy listener (listen.tls), null without it; certificates are re-read by
    /// each reload.
    std::unique_ptr<tls_server> tls;
    /// Each site's upstream servers as all workers share them (health, addresses, counters),
    /// as cfg->sites. A reload starts them afresh.
    std::vector<std::unique_ptr<site_upstreams>> servers;
};

/// What build_generation needs besides the configuration: the parts that live as long as the
/// process.
struct generation_inputs {
    std::vector<body_filter> filters;  ///< offered every response before the banner's
    std::shared_ptr<consent::revocations> revoked;
    metrics* stats = nullptr;
    log_sink* log = nullptr;  ///< warnings: a site without a banner, a random consent key
};

/// Builds the generation after `previous` (null: the first) for `cfg`. Throws std::exception
/// when a part cannot be built.
std::shared_ptr<const generation> build_generation(std::shared_ptr<const config> cfg,
                                                   const generation* previous,
                                                   const generation_inputs& in);

/// The differences between `before` and `after` that a reload cannot apply (listeners,
/// workers, the Redis connection, the journal, the analytics settings, the set of sites...),
/// one message each naming the field as a JSON Pointer; empty when a reload can apply
/// `after`.
std::vector<std::string> restart_only_changes(const config& before, const config& after);

/// A worker's own part of a generation: its routes and its upstream groups (one per site, on
/// that worker's executor, with a connection pool per server). Touched only by the worker's
/// thread.
struct worker_generation {
    std::shared_ptr<const generation> shared;
    router routes;
    std::vector<std::unique_ptr<upstream_group>> upstreams;

    worker_generation(std::shared_ptr<const generation> g, const boost::asio::any_io_executor& ex,
                      const std::function<site_counters&(std::size_t)>& counters);
    ~worker_generation();
    worker_generation(const worker_generation&) = delete;
    worker_generation& operator=(const worker_generation&) = delete;

    const config& cfg() const noexcept { return *shared->cfg; }
};

}  // namespace cg::gateway
