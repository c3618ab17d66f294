#include "admin_stats.hpp"

#include <nlohmann/json.hpp>

#include "analytics/dashboard.hpp"
#include "async/from_thread.hpp"
#include "gateway/pipeline.hpp"
#include "json_config/dump.hpp"

namespace cg::gateway {

namespace {

using json = nlohmann::json;

admin_page json_page(unsigned status, const json& j) {
    return {status, "application/json; charset=utf-8", json_config::dump(j) + "\n", {}};
}

}  // namespace

boost::asio::awaitable<admin_page> stats_page(shared_state& shared, std::string_view path,
                                              std::string_view query) {
    if (path == "/stats") {
        co_return admin_page{303, "text/plain; charset=utf-8", "see /stats/\n",
                             {{"Location", "/stats/"}}};
    }
    if (!shared.stats_reader) {
        co_return json_page(404, json{{"error", "no site has analytics on"}});
    }
    constexpr std::string_view api = "/stats/api/";
    if (path.starts_with(api)) {
        const std::string report{path.substr(api.size())};
        const std::string q{query};
        const std::int64_t now = unix_now();
        auto a = co_await async::from_thread<analytics::stats_answer>(
            [&shared, &report, &q, now](auto done) {
                shared.stats_reader->answer(report, q, now, std::move(done));
            });
        admin_page p{a.status, std::move(a.content_type), std::move(a.body), {}};
        if (!a.filename.empty()) {
            p.headers.emplace_back("Content-Disposition",
                                   "attachment; filename=\"" + a.filename + "\"");
        }
        co_return p;
    }
    const auto* file = analytics::dashboard_file_named(path.substr(7));  // after "/stats/"
    if (file == nullptr) {
        co_return admin_page{404, "text/plain; charset=utf-8", "not found\n", {}};
    }
    co_return admin_page{200,
                         std::string{file->content_type},
                         std::string{file->body},
                         {{"Content-Security-Policy", std::string{analytics::dashboard_csp}},
                          {"X-Content-Type-Options", "nosniff"},
                          {"Referrer-Policy", "same-origin"}}};
}

std::string analytics_metrics(const shared_state& shared) {
    if (!shared.analytics_writer) {
        return {};
    }
    const auto s = shared.analytics_writer->status();
    std::string out;
    const auto line = [&out](std::string_view name, std::string_view type, std::string_view help,
                             std::uint64_t value) {
        out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
        out.append(name).append(" ").append(type).append("\n").append(name).append(" ");
        out.append(std::to_string(value)).append("\n");
    };
    line("cg_analytics_redis_up", "gauge",
         "1 when the analytics writer's last exchange with Redis succeeded.", s.redis_up ? 1 : 0);
    line("cg_analytics_batches_written_total", "counter",
         "Analytics batches (one site-day each) Redis applied.", s.batches_written);
    line("cg_analytics_write_failures_total", "counter",
         "Analytics exchanges with Redis that failed; their batches are retried.",
         s.write_failures);
    line("cg_analytics_pending", "gauge",
         "Analytics counters and batches waiting in memory for Redis.", s.pending_counters);
    line("cg_analytics_dropped_total", "counter",
         "Breakdown counts dropped because the memory bound was reached (Redis down too long).",
         s.dropped);
    line("cg_analytics_folded_days_total", "counter",
         "Site-days whose unique-visitor HyperLogLogs were folded into numbers and deleted.",
         s.folded_days);
    line("cg_analytics_local_day_keys_total", "counter",
         "Day keys this gateway made itself because Redis could not be asked.", s.local_keys);
    if (shared.forwarder) {
        const auto f = shared.forwarder->status();
        line("cg_analytics_forward_delivered_total", "counter",
             "Day batches an analytics.forward target accepted (2xx).", f.delivered);
        line("cg_analytics_forward_failures_total", "counter",
             "Day batch deliveries that failed; retried with backoff.", f.failures);
        line("cg_analytics_forward_rejected_total", "counter",
             "Failed deliveries refused with 4xx other than 408/429 (check URL and token).",
             f.rejected);
        line("cg_analytics_forward_pending_days", "gauge",
             "Closed days not yet delivered, over all targets and sites.", f.pending_days);
    }
    line("cg_analytics_day_keys_unshared", "gauge",
         "Day keys in use that Redis has not confirmed yet (0: every gateway uses the same).",
         s.unshared_keys);
    line("cg_analytics_visits_open", "gauge", "Visits held in memory (30-minute state).",
         shared.analytics->visits.size());
    line("cg_analytics_visits_evicted_total", "counter",
         "Visits ended early because the visit table was full.",
         shared.analytics->visits.evicted());
    return out;
}

admin_page privacy_evidence(const shared_state& shared) {
    const auto gen = shared.current();
    const auto& cfg = *gen->cfg;
    json sites = json::array();
    for (const auto& site : cfg.sites) {
        const auto& a = site.analytics;
        json s{{"site", site.name},
               {"hosts", site.hosts},
               {"consent_records",
                {{"kept_in", "the operator's own Redis"},
                 {"retention_days", site.consent.retention.count() / 86400},
                 {"contents",
                  "random consent id, time, categories, policy version, hash of the banner "
                  "text shown, how it was given, language; no IP address, no user agent"}}}};
        json an{{"enabled", a.enabled}};
        if (a.enabled) {
            an["legal_basis"] =
                "exempt audience measurement (CNIL conditions C1-C14): nothing is stored on or "
                "read from the visitor's device";
            an["collected"] = {"page views per path per hour",
                               "per day: entry pages, referrer host, channel, utm_source, "
                               "utm_medium, utm_campaign, country, device class, browser "
                               "family, operating system family",
                               "visits: count, bounces, pages, duration",
                               "consent banner statistics: shown, accept all, reject all, "
                               "custom, GPC, opt-ins per category"};
            an["never_stored"] = {"IP address", "user-agent string", "cookies",
                                  "query parameters other than utm_source, utm_medium, "
                                  "utm_campaign", "click ids"};
            an["unique_visitors"] =
                "HMAC-SHA256(day key; site, address, SHA-256 of the user agent) added to Redis "
                "HyperLogLogs; folded into plain numbers and deleted after two days";
            an["day_key"] =
                "32 random bytes per site and day, shared by the gateways through Redis, "
                "expiring at the day's end (at most 25 hours), never written to disk or logs, "
                "dropped from memory at the day's end";
            an["visits"] = "30-minute state in gateway memory only, folded into counters";
            an["k"] = a.k;
            an["small_groups"] =
                "no report, export or forwarded batch holds a breakdown row of fewer than k "
                "unique visitors on a day; such rows join \"(other)\", shown only from k";
            an["retention_days"] = a.retention_days;
            an["time_zone"] = a.time_zone;
            an["location"] = cfg.analytics.geoip_db.empty()
                                 ? json("not looked up")
                                 : json("country only (MaxMind DB lookup in memory)");
            json targets = json::array();
            for (const auto& t : cfg.analytics.forward) {
                targets.push_back(t.name);  // never the URL or its headers: they hold secrets
            }
            an["forwarded_to"] = std::move(targets);
            an["forwarded"] = "closed days as thresholded aggregates only (C4)";
            an["objections"] =
                "Sec-GPC: 1, DNT: 1 or analytics refused in the banner: one anonymous page view "
                "in the totals, nothing else";
        }
        s["analytics"] = std::move(an);
        sites.push_back(std::move(s));
    }
    return json_page(200, json{{"sites", std::move(sites)}});
}

}  // namespace cg::gateway
