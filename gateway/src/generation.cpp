#include "generation.hpp"

#include <algorithm>
#include <tuple>

#include "access_log.hpp"
#include "banner_filter.hpp"
#include "metrics.hpp"

namespace cg::gateway {

namespace {

std::shared_ptr<const consent::key_ring> consent_keys(const config& cfg, const generation* previous,
                                                      log_sink& log) {
    if (!cfg.consent.keys.empty()) {
        return std::make_shared<const consent::key_ring>(cfg.consent.keys,
                                                         cfg.consent.retired_keys);
    }
    if (previous != nullptr && previous->cfg->consent.keys.empty()) {
        return previous->keys;  // the random ring made at start: visitors' choices stay valid
    }
    log_line line{log_level::warn,
                  "no consent cookie key configured; using a random one: visitors' choices do not "
                  "survive a restart and other gateways cannot read them (set /consent/keys or "
                  "/consent/key_file)"};
    log.write(log_level::warn, line);
    return std::make_shared<const consent::key_ring>(consent::key_ring::random());
}

auto redis_fields(const redis::redis_config& r) {
    return std::tie(r.host, r.port, r.socket, r.username, r.password, r.database,
                    r.connect_timeout, r.command_timeout, r.key_prefix, r.master_name,
                    r.min_replicas);
}

bool same_redis(const redis::redis_config& a, const redis::redis_config& b) {
    return redis_fields(a) == redis_fields(b) &&
           std::equal(a.sentinels.begin(), a.sentinels.end(), b.sentinels.begin(),
                      b.sentinels.end(), [](const auto& x, const auto& y) {
                          return x.host == y.host && x.port == y.port;
                      });
}

auto forward_fields(const analytics::forward_target& t) {
    return std::tie(t.name, t.url, t.headers, t.timeout);
}

bool same_forward(const std::vector<analytics::forward_target>& a,
                  const std::vector<analytics::forward_target>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return forward_fields(x) == forward_fields(y);
    });
}

// A server keeps what was learnt about it (health, addresses, counters) across a reload when
// its site and its host:port stay.
void inherit_upstreams(site_upstreams& to, const std::string& site, const generation& previous) {
    const auto& sites = previous.cfg->sites;
    for (std::size_t s = 0; s < sites.size(); ++s) {
        if (sites[s].name != site) {
            continue;
        }
        for (const auto& fresh : to.servers) {
            for (const auto& old : previous.servers[s]->servers) {
                if (old->label() == fresh->label()) {
                    fresh->inherit(*old);
                }
            }
        }
    }
}

}  // namespace

std::shared_ptr<const generation> build_generation(std::shared_ptr<const config> cfg,
                                                   const generation* previous,
                                                   const generation_inputs& in) {
    auto g = std::make_shared<generation>();
    g->cfg = std::move(cfg);
    g->number = previous == nullptr ? 1 : previous->number + 1;
    const auto& c = *g->cfg;
    g->keys = consent_keys(c, previous, *in.log);
    for (const auto& site : c.sites) {
        g->banners.push_back(make_site_banner(site, c.consent));
        auto policy = site.consent;
        if (g->banners.back()) {
            // What the visitor is shown is part of what a consent is for (DESIGN L8): a change
            // of any text, category, cookie or third party asks every visitor again.
            policy.policy_version += "." + g->banners.back()->policy_hash();
        } else if (previous == nullptr) {
            log_line line{log_level::warn, "site has no banner: its pages pass unchanged"};
            line.str("site", site.name);
            in.log->write(log_level::warn, line);
        }
        g->consent_sites.push_back(std::make_unique<const consent::site_context>(
            site.name, std::move(policy), c.consent.cookie_name, c.consent.catalogue, g->keys,
            c.consent.host_prefix, in.revoked));
        g->servers.push_back(std::make_unique<site_upstreams>(site.upstream));
        if (previous != nullptr) {
            inherit_upstreams(*g->servers.back(), site.name, *previous);
        }
    }
    if (c.listen.tls.enabled()) {
        g->tls = std::make_unique<tls_server>(c.listen.tls.certificates);
    }
    g->body_filters = in.filters;
    g->body_filters.push_back(make_banner_filter(g->banners, *in.stats));
    return g;
}

std::vector<std::string> restart_only_changes(const config& before, const config& after) {
    std::vector<std::string> out;
    const auto needs = [&](bool changed, const std::string& pointer) {
        if (changed) {
            out.push_back(pointer + ": changed; this takes a restart, not a reload");
        }
    };
    needs(std::tie(before.listen.address, before.listen.port) !=
              std::tie(after.listen.address, after.listen.port),
          "/listen");
    needs(before.listen.tls.enabled() != after.listen.tls.enabled() ||
              before.listen.tls.redirect_port != after.listen.tls.redirect_port,
          "/listen/tls (turned on or off, or redirect_port)");
    needs(std::tie(before.admin.address, before.admin.port, before.admin.max_connections) !=
              std::tie(after.admin.address, after.admin.port, after.admin.max_connections),
          "/admin (address, port or max_connections)");
    needs(before.workers != after.workers, "/workers");
    needs(before.log.level != after.log.level, "/log/level");
    needs(!same_redis(before.consent.redis, after.consent.redis), "/redis");
    needs(std::tie(before.consent.journal.path, before.consent.journal.max_bytes) !=
              std::tie(after.consent.journal.path, after.consent.journal.max_bytes),
          "/consent/journal");
    needs(std::tie(before.consent.limits.per_consent_id, before.consent.limits.per_address) !=
              std::tie(after.consent.limits.per_consent_id, after.consent.limits.per_address),
          "/consent/rate_limits");
    const auto& ba = before.analytics;
    const auto& aa = after.analytics;
    needs(std::tie(ba.ua_regexes, ba.geoip_db, ba.flush_interval_ms) !=
                  std::tie(aa.ua_regexes, aa.geoip_db, aa.flush_interval_ms) ||
              !same_forward(ba.forward, aa.forward),
          "/analytics");
    if (before.sites.size() != after.sites.size()) {
        needs(true, "/sites (a site added or removed)");
        return out;
    }
    for (std::size_t i = 0; i < before.sites.size(); ++i) {
        const auto& b = before.sites[i];
        const auto& a = after.sites[i];
        const std::string at = "/sites/" + std::to_string(i);
        needs(b.name != a.name, at + "/name");
        needs(std::tie(b.analytics.enabled, b.analytics.k, b.analytics.retention_days,
                       b.analytics.time_zone) != std::tie(a.analytics.enabled, a.analytics.k,
                                                          a.analytics.retention_days,
                                                          a.analytics.time_zone),
              at + "/analytics (enabled, k, retention_days or time_zone)");
    }
    return out;
}

worker_generation::worker_generation(std::shared_ptr<const generation> g,
                                     const boost::asio::any_io_executor& ex,
                                     const std::function<site_counters&(std::size_t)>& counters)
    : shared(std::move(g)), routes(shared->cfg->sites) {
    const auto& sites = shared->cfg->sites;
    upstreams.reserve(sites.size());
    for (std::size_t site = 0; site < sites.size(); ++site) {
        upstreams.push_back(
            std::make_unique<upstream_group>(ex, *shared->servers[site], counters(site)));
    }
}

worker_generation::~worker_generation() = default;

}  // namespace cg::gateway
