#include "upstream_group.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace cg::gateway {

namespace net = boost::asio;
using tcp = net::ip::tcp;

upstream_server_state::upstream_server_state(const upstream_server& server,
                                             const upstream_config& group)
    : server_(server), group_(group), label_(server.authority()) {}

void upstream_server_state::inherit(const upstream_server_state& old) {
    const auto copy = [](auto& to, const auto& from) {
        to.store(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
    };
    copy(requests, old.requests);
    copy(failures, old.failures);
    copy(ejections, old.ejections);
    copy(checks_failed, old.checks_failed);
    copy(fails_, old.fails_);
    copy(last_fail_, old.last_fail_);
    copy(down_until_, old.down_until_);
    copy(check_ok_, old.check_ok_);
    const std::lock_guard lock(addresses_mutex_);
    addresses_ = old.addresses();
}

void upstream_server_state::succeeded() noexcept {
    if (fails_.load(std::memory_order_relaxed) != 0) {
        fails_.store(0, std::memory_order_relaxed);
    }
}

void upstream_server_state::failed(clock::time_point now) noexcept {
    failures.fetch_add(1, std::memory_order_relaxed);
    if (group_.max_fails == 0) {
        return;
    }
    // Races between workers can lose an increment; the count is a heuristic, not a ledger.
    const clock::rep t = now.time_since_epoch().count();
    const clock::rep window =
        std::chrono::duration_cast<clock::duration>(group_.fail_timeout).count();
    const clock::rep last = last_fail_.exchange(t, std::memory_order_relaxed);
    const std::uint32_t before = fails_.load(std::memory_order_relaxed);
    const bool on_trial = before >= group_.max_fails;  // back after a pause, not yet proven
    const std::uint32_t n = (on_trial || t - last <= window) ? before + 1 : 1;
    fails_.store(n, std::memory_order_relaxed);
    if (n >= group_.max_fails && down_until_.load(std::memory_order_relaxed) <= t) {
        down_until_.store(t + window, std::memory_order_relaxed);
        ejections.fetch_add(1, std::memory_order_relaxed);
    }
}

void upstream_server_state::set_check(bool ok) noexcept {
    const bool was = check_ok_.exchange(ok, std::memory_order_relaxed);
    if (was && !ok) {
        ejections.fetch_add(1, std::memory_order_relaxed);
    }
}

std::vector<tcp::endpoint> upstream_server_state::addresses() const {
    const std::lock_guard lock(addresses_mutex_);
    return addresses_;
}

void upstream_server_state::set_addresses(std::vector<tcp::endpoint> a) {
    std::sort(a.begin(), a.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
    const std::lock_guard lock(addresses_mutex_);
    if (a == addresses_) {
        return;
    }
    const bool first = addresses_.empty();
    addresses_ = std::move(a);
    if (!first) {
        address_version_.fetch_add(1, std::memory_order_release);
    }
}

site_upstreams::site_upstreams(const upstream_config& c) : cfg(c) {
    servers.reserve(c.servers.size());
    for (const auto& s : c.servers) {
        servers.push_back(std::make_unique<upstream_server_state>(s, c));
    }
}

std::string upstream_server_metrics(const config& cfg,
                                    const std::vector<std::unique_ptr<site_upstreams>>& sites) {
    struct series {
        const char* name;
        const char* type;
        const char* help;
        std::int64_t (*value)(const upstream_server_state&,
                              upstream_server_state::clock::time_point);
    };
    static constexpr auto load = [](const auto& a) {
        return static_cast<std::int64_t>(a.load(std::memory_order_relaxed));
    };
    static constexpr std::array<series, 6> all{{
        {"cg_upstream_server_up", "gauge",
         "1 while the server takes requests: not ejected after failures, not failing its "
         "health check.",
         [](const upstream_server_state& s, upstream_server_state::clock::time_point now) {
             return std::int64_t{s.usable(now) ? 1 : 0};
         }},
        {"cg_upstream_server_active", "gauge", "Connections to the server in use by requests.",
         [](const upstream_server_state& s, auto) { return load(s.active); }},
        {"cg_upstream_server_requests_total", "counter", "Exchanges started with the server.",
         [](const upstream_server_state& s, auto) { return load(s.requests); }},
        {"cg_upstream_server_failures_total", "counter",
         "Exchanges with the server that failed (connect, timeout, reset, malformed answer).",
         [](const upstream_server_state& s, auto) { return load(s.failures); }},
        {"cg_upstream_server_ejections_total", "counter",
         "Times the server was taken out of service (max_fails reached or health check failed).",
         [](const upstream_server_state& s, auto) { return load(s.ejections); }},
        {"cg_upstream_server_check_failures_total", "counter", "Failed active health checks.",
         [](const upstream_server_state& s, auto) { return load(s.checks_failed); }},
    }};
    const auto now = upstream_server_state::clock::now();
    std::string out;
    for (const auto& m : all) {
        out.append("# HELP ").append(m.name).append(" ").append(m.help).append("\n");
        out.append("# TYPE ").append(m.name).append(" ").append(m.type).append("\n");
        for (std::size_t i = 0; i < sites.size(); ++i) {
            for (const auto& s : sites[i]->servers) {
                out.append(m.name)
                    .append("{site=\"")
                    .append(cfg.sites[i].name)
                    .append("\",server=\"")
                    .append(s->label())
                    .append("\"} ")
                    .append(std::to_string(m.value(*s, now)))
                    .append("\n");
            }
        }
    }
    return out;
}

upstream_group::upstream_group(const net::any_io_executor& ex, site_upstreams& shared,
                               site_counters& stats)
    : shared_(shared), current_(shared.servers.size(), 0) {
    pools_.reserve(shared.servers.size());
    for (std::size_t i = 0; i < shared.servers.size(); ++i) {
        pools_.push_back(
            std::make_unique<upstream_pool>(ex, shared.cfg, *shared.servers[i], i, stats));
    }
}

int upstream_group::choose(tried_set tried) noexcept {
    const std::size_t n = pools_.size();
    if (n == 1) {
        return tried == 0 ? 0 : -1;  // the common case: no choice to make
    }
    const auto now = upstream_server_state::clock::now();
    tried_set candidates = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if ((tried & (1ULL << i)) == 0 && shared_.servers[i]->usable(now)) {
            candidates |= 1ULL << i;
        }
    }
    if (candidates == 0 && tried == 0) {
        candidates = n == 64 ? ~0ULL : (1ULL << n) - 1;  // all out of service: try them anyway
    }
    if (candidates == 0) {
        return -1;
    }
    const auto& servers = shared_.cfg.servers;
    int best = -1;
    if (shared_.cfg.balance == balance_method::least_connections) {
        // Fewest connections in use per unit of weight, over all workers; ties go round.
        double best_load = std::numeric_limits<double>::max();
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t i = (next_ + k) % n;
            if ((candidates & (1ULL << i)) == 0) {
                continue;
            }
            const auto active = shared_.servers[i]->active.load(std::memory_order_relaxed);
            const double load = static_cast<double>(active) / servers[i].weight;
            if (load < best_load) {
                best_load = load;
                best = static_cast<int>(i);
            }
        }
        next_ = (static_cast<std::size_t>(best) + 1) % n;
        return best;
    }
    // Smooth weighted round-robin: each candidate gains its weight, the largest is chosen and
    // pays back the total, which spreads a 5:1:1 split as a a b a c a a rather than in runs.
    std::int64_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if ((candidates & (1ULL << i)) == 0) {
            continue;
        }
        current_[i] += servers[i].weight;
        total += servers[i].weight;
        if (best < 0 || current_[i] > current_[static_cast<std::size_t>(best)]) {
            best = static_cast<int>(i);
        }
    }
    current_[static_cast<std::size_t>(best)] -= total;
    return best;
}

bool upstream_group::can_retry(tried_set tried) const noexcept {
    const auto now = upstream_server_state::clock::now();
    for (std::size_t i = 0; i < pools_.size(); ++i) {
        if ((tried & (1ULL << i)) == 0 && shared_.servers[i]->usable(now)) {
            return true;
        }
    }
    return false;
}

void upstream_group::succeeded(const upstream_connection& c) noexcept {
    c.server->succeeded();
}

void upstream_group::failed(const upstream_connection& c) noexcept {
    c.server->failed(upstream_server_state::clock::now());
}

void upstream_group::release(std::unique_ptr<upstream_connection> c) {
    const std::size_t i = c->server_index;
    pools_[i]->release(std::move(c));
}

void upstream_group::sweep() {
    for (auto& p : pools_) {
        p->sweep();
    }
}

void upstream_group::clear() {
    for (auto& p : pools_) {
        p->clear();
    }
}

void upstream_group::retire() {
    for (auto& p : pools_) {
        p->retire();
    }
}

}  // namespace cg::gateway
