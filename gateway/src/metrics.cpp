#include "metrics.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "analytics/page_view.hpp"
#include "gateway/config.hpp"

namespace cg::gateway {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

void bump(std::atomic<std::uint64_t>& c) noexcept {
    // One writer per shard: a load and a store are enough and cheaper than a locked add.
    c.store(c.load(relaxed) + 1, relaxed);
}

constexpr std::array<const char*, upstream_failure_kinds> failure_names{
    "none", "connect", "timeout", "reset", "bad_response"};

[[gnu::format(printf, 2, 3)]] void append(std::string& out, const char* fmt, ...) {
    char line[512];
    va_list args;
    va_start(args, fmt);
    const int n = std::vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    if (n > 0) {
        out.append(line, std::min(static_cast<std::size_t>(n), sizeof line - 1));
    }
}

}  // namespace

void site_counters::record(unsigned status, std::chrono::steady_clock::duration d) noexcept {
    const auto cls = std::clamp(status / 100, 1U, 5U) - 1;
    bump(by_class[cls]);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    const double seconds = static_cast<double>(us) / 1e6;
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(latency_bounds.begin(), latency_bounds.end(), seconds) -
        latency_bounds.begin());
    bump(latency[bucket]);
    latency_sum_us.store(latency_sum_us.load(relaxed) + static_cast<std::uint64_t>(us), relaxed);
}

void site_counters::fail(upstream_failure f) noexcept {
    bump(upstream_errors[static_cast<std::size_t>(f)]);
}

metrics::metrics(std::size_t workers, std::size_t sites)
    : workers_(workers),
      sites_(sites),
      shards_(new site_counters[workers * (sites + 1)]),
      pages_rewritten_(new std::atomic<std::uint64_t>[sites]{}),
      codings_broken_(new std::atomic<std::uint64_t>[sites]{}),
      pages_from_cache_(new std::atomic<std::uint64_t>[sites]{}) {}

void metrics::page_rewritten(std::size_t site) noexcept {
    if (site < sites_) {
        pages_rewritten_[site].fetch_add(1, std::memory_order_relaxed);
    }
}

void metrics::coding_broken(std::size_t site) noexcept {
    if (site < sites_) {
        codings_broken_[site].fetch_add(1, std::memory_order_relaxed);
    }
}

void metrics::page_from_cache(std::size_t site) noexcept {
    if (site < sites_) {
        pages_from_cache_[site].fetch_add(1, std::memory_order_relaxed);
    }
}

site_counters& metrics::at(std::size_t worker, std::size_t site) noexcept {
    return shards_[worker * (sites_ + 1) + site];
}

std::string metrics::render(const config& cfg) const {
    std::string out;
    out.reserve(8192);
    auto site_name = [&](std::size_t s) {
        return s < cfg.sites.size() ? cfg.sites[s].name.c_str() : "_unrouted";
    };
    auto sum = [&](std::size_t site, auto member) {
        std::uint64_t total = 0;
        for (std::size_t w = 0; w < workers_; ++w) {
            total += member(shards_[w * (sites_ + 1) + site]).load(relaxed);
        }
        return total;
    };

    out += "# HELP cg_requests_total Requests answered, by site and status class.\n";
    out += "# TYPE cg_requests_total counter\n";
    for (std::size_t s = 0; s <= sites_; ++s) {
        for (std::size_t c = 0; c < 5; ++c) {
            const auto n = sum(
                s, [c](const site_counters& x) -> auto& { return x.by_class[c]; });
            append(out, "cg_requests_total{site=\"%s\",class=\"%zuxx\"} %llu\n", site_name(s),
                   c + 1, static_cast<unsigned long long>(n));
        }
    }

    out += "# HELP cg_request_duration_seconds Time from request head to last response byte.\n";
    out += "# TYPE cg_request_duration_seconds histogram\n";
    for (std::size_t s = 0; s <= sites_; ++s) {
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b <= latency_bounds.size(); ++b) {
            cumulative += sum(
                s, [b](const site_counters& x) -> auto& { return x.latency[b]; });
            if (b < latency_bounds.size()) {
                append(out, "cg_request_duration_seconds_bucket{site=\"%s\",le=\"%g\"} %llu\n",
                       site_name(s), latency_bounds[b],
                       static_cast<unsigned long long>(cumulative));
            } else {
                append(out, "cg_request_duration_seconds_bucket{site=\"%s\",le=\"+Inf\"} %llu\n",
                       site_name(s), static_cast<unsigned long long>(cumulative));
            }
        }
        const auto us = sum(
            s, [](const site_counters& x) -> auto& { return x.latency_sum_us; });
        append(out, "cg_request_duration_seconds_sum{site=\"%s\"} %.6f\n", site_name(s),
               static_cast<double>(us) / 1e6);
        append(out, "cg_request_duration_seconds_count{site=\"%s\"} %llu\n", site_name(s),
               static_cast<unsigned long long>(cumulative));
    }

    out += "# HELP cg_upstream_errors_total Failed upstream exchanges, by site and kind.\n";
    out += "# TYPE cg_upstream_errors_total counter\n";
    for (std::size_t s = 0; s < sites_; ++s) {
        for (std::size_t k = 1; k < upstream_failure_kinds; ++k) {
            const auto n = sum(
                s, [k](const site_counters& x) -> auto& { return x.upstream_errors[k]; });
            append(out, "cg_upstream_errors_total{site=\"%s\",kind=\"%s\"} %llu\n", site_name(s),
                   failure_names[k], static_cast<unsigned long long>(n));
        }
    }

    struct simple {
        const char* name;
        const char* type;
        const char* help;
        std::atomic<std::uint64_t> site_counters::*member;
    };
    constexpr std::array simples{
        simple{"cg_upstream_pool_idle", "gauge", "Idle pooled upstream connections.",
               &site_counters::pool_idle},
        simple{"cg_upstream_pool_reused_total", "counter",
               "Requests sent on a reused pooled connection.", &site_counters::pool_reused},
        simple{"cg_upstream_connects_total", "counter", "New upstream connections opened.",
               &site_counters::pool_connects},
        simple{"cg_upstream_retries_total", "counter",
               "Idempotent requests retried after a stale pooled connection.",
               &site_counters::retries},
    };
    for (const auto& m : simples) {
        append(out, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.type);
        for (std::size_t s = 0; s < sites_; ++s) {
            const auto n = sum(
                s, [&m](const site_counters& x) -> auto& { return x.*m.member; });
            append(out, "%s{site=\"%s\"} %llu\n", m.name, site_name(s),
                   static_cast<unsigned long long>(n));
        }
    }

    append(out,
           "# HELP cg_connections_open Open client connections.\n"
           "# TYPE cg_connections_open gauge\ncg_connections_open %lld\n",
           static_cast<long long>(open_connections.load(relaxed)));
    append(out,
           "# HELP cg_connections_refused_total Connections refused over max_connections.\n"
           "# TYPE cg_connections_refused_total counter\ncg_connections_refused_total %llu\n",
           static_cast<unsigned long long>(refused_connections.load(relaxed)));
    append(out,
           "# HELP cg_log_lines_dropped_total Log lines dropped because stdout fell behind.\n"
           "# TYPE cg_log_lines_dropped_total counter\ncg_log_lines_dropped_total %llu\n",
           static_cast<unsigned long long>(log_lines_dropped.load(relaxed)));
    append(out,
           "# HELP cg_internal_errors_total Requests ended by an internal error (see the log).\n"
           "# TYPE cg_internal_errors_total counter\ncg_internal_errors_total %llu\n",
           static_cast<unsigned long long>(internal_errors.load(relaxed)));
    append(out,
           "# HELP cg_tls_handshakes_total TLS handshakes on the proxy listener by outcome "
           "(failed: a bad or foreign client, a timeout, no shared protocol or cipher).\n"
           "# TYPE cg_tls_handshakes_total counter\n"
           "cg_tls_handshakes_total{outcome=\"ok\"} %llu\n"
           "cg_tls_handshakes_total{outcome=\"failed\"} %llu\n",
           static_cast<unsigned long long>(tls_handshakes.load(relaxed)),
           static_cast<unsigned long long>(tls_handshakes_failed.load(relaxed)));
    append(out,
           "# HELP cg_tls_sessions_resumed_total TLS handshakes that resumed a session "
           "(ticket or cache).\n"
           "# TYPE cg_tls_sessions_resumed_total counter\ncg_tls_sessions_resumed_total %llu\n",
           static_cast<unsigned long long>(tls_sessions_resumed.load(relaxed)));
    out += "# HELP cg_analytics_page_views_total Page views counted by the gateway's analytics, by "
           "site.\n";
    out += "# TYPE cg_analytics_page_views_total counter\n";
    for (std::size_t s = 0; s < sites_; ++s) {
        append(out, "cg_analytics_page_views_total{site=\"%s\"} %llu\n", site_name(s),
               static_cast<unsigned long long>(
                   sum(s, [](const site_counters& x) -> auto& { return x.analytics[0]; })));
    }
    out += "# HELP cg_analytics_not_counted_total Answers of sites with analytics that are no page "
           "view, by site and reason.\n";
    out += "# TYPE cg_analytics_not_counted_total counter\n";
    for (std::size_t s = 0; s < sites_; ++s) {
        for (std::size_t r = 1; r < 9; ++r) {
            const auto reason = analytics::name_of(static_cast<analytics::not_counted>(r - 1));
            append(out, "cg_analytics_not_counted_total{site=\"%s\",reason=\"%.*s\"} %llu\n",
                   site_name(s), static_cast<int>(reason.size()), reason.data(),
                   static_cast<unsigned long long>(
                       sum(s, [r](const site_counters& x) -> auto& { return x.analytics[r]; })));
        }
    }
    out += "# HELP cg_banner_pages_total Pages that got the banner (and hold-back), by site.\n";
    out += "# TYPE cg_banner_pages_total counter\n";
    for (std::size_t s = 0; s < sites_; ++s) {
        append(out, "cg_banner_pages_total{site=\"%s\"} %llu\n", site_name(s),
               static_cast<unsigned long long>(pages_rewritten_[s].load(relaxed)));
    }
    out += "# HELP cg_banner_broken_encoding_total Pages whose gzip/deflate/br body was not a "
           "valid stream (passed on unchanged, or ended where it broke).\n";
    out += "# TYPE cg_banner_broken_encoding_total counter\n";
    for (std::size_t s = 0; s < sites_; ++s) {
        append(out, "cg_banner_broken_encoding_total{site=\"%s\"} %llu\n", site_name(s),
               static_cast<unsigned long long>(codings_broken_[s].load(relaxed)));
    }
    out += "# HELP cg_banner_cache_hits_total Pages whose rewrite came from the worker's cache of "
           "rewritten pages (same body, same visitor state), by site; included in "
           "cg_banner_pages_total.\n";
    out += "# TYPE cg_banner_cache_hits_total counter\n";
    for (std::size_t s = 0; s < sites_; ++s) {
        append(out, "cg_banner_cache_hits_total{site=\"%s\"} %llu\n", site_name(s),
               static_cast<unsigned long long>(pages_from_cache_[s].load(relaxed)));
    }
    return out;
}

}  // namespace cg::gateway
