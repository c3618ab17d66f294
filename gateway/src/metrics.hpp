#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway/transaction.hpp"

namespace cg::gateway {

struct config;


/// Histogram bounds for request duration, in seconds (Prometheus `le` labels).
inline constexpr std::array<double, 14> latency_bounds{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

/// Counters for one site on one worker. Written by that worker only (relaxed atomics so the
/// admin thread can read them without a lock).
struct site_counters {
    std::array<std::atomic<std::uint64_t>, 5> by_class{};                         ///< 1xx..5xx
    std::array<std::atomic<std::uint64_t>, latency_bounds.size() + 1> latency{};  ///< +Inf last
    std::atomic<std::uint64_t> latency_sum_us{0};
    std::array<std::atomic<std::uint64_t>, upstream_failure_kinds> upstream_errors{};
    std::atomic<std::uint64_t> pool_idle{0};      ///< gauge
    std::atomic<std::uint64_t> pool_reused{0};    ///< requests sent on a pooled connection
    std::atomic<std::uint64_t> pool_connects{0};  ///< new upstream connections
    std::atomic<std::uint64_t> retries{0};        ///< idempotent retries after a stale connection
    /// Analytics (issue 10): page views counted, then answers not counted, by
    /// analytics::not_counted (+1).
    std::array<std::atomic<std::uint64_t>, 9> analytics{};

    void record(unsigned status, std::chrono::steady_clock::duration d) noexcept;
    void fail(upstream_failure f) noexcept;
};

/// All counters of the process, sharded per worker so no two threads write one cache line.
/// Sites are indexed as in config::sites; one extra slot counts requests that matched no site.
class metrics {
  public:
    metrics(std::size_t workers, std::size_t sites);

    site_counters& at(std::size_t worker, std::size_t site) noexcept;
    std::size_t unrouted() const noexcept { return sites_; }

    std::atomic<std::int64_t> open_connections{0};
    std::atomic<std::uint64_t> refused_connections{0};  ///< over limits.max_connections
    std::atomic<std::uint64_t> log_lines_dropped{0};
    std::atomic<std::uint64_t> internal_errors{0};  ///< exceptions that ended a request
    std::atomic<std::uint64_t> tls_handshakes{0};         ///< completed (listen.tls)
    std::atomic<std::uint64_t> tls_handshakes_failed{0};  ///< failed or timed out
    std::atomic<std::uint64_t> tls_sessions_resumed{0};   ///< of the completed ones

    /// Banner pages (issue 9), per site: rewritten, and rewritten bodies whose content coding
    /// turned out broken (passed on unchanged or ended where they broke). Any thread.
    void page_rewritten(std::size_t site) noexcept;
    void coding_broken(std::size_t site) noexcept;
    void page_from_cache(std::size_t site) noexcept;

    /// Prometheus text exposition format (version 0.0.4).
    std::string render(const config& cfg) const;

  private:
    std::size_t workers_;
    std::size_t sites_;
    std::unique_ptr<site_counters[]> shards_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> pages_rewritten_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> codings_broken_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> pages_from_cache_;
};

}  // namespace cg::gateway
