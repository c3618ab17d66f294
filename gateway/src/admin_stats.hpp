#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "worker.hpp"

namespace cg::gateway {

/// An answer of the statistics pages, before the admin listener makes it a response.
struct admin_page {
    unsigned status = 200;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  ///< besides Content-Type
};

/// GET /stats (303 to /stats/), /stats/ (the dashboard), /stats/<file> (its scripts and
/// styles, with the dashboard's CSP), /stats/api/<report>?... (docs/stats-api.md, answered
/// by shared.stats off the admin thread). `path` starts with "/stats"; `query` is untrusted.
boost::asio::awaitable<admin_page> stats_page(shared_state& shared, std::string_view path,
                                              std::string_view query);

/// The analytics writer's and visit table's figures for /metrics ("" without analytics).
std::string analytics_metrics(const shared_state& shared);

/// GET /privacy/evidence: what the analytics collect and keep, per site, as JSON for the
/// privacy officer's records (DESIGN C14).
admin_page privacy_evidence(const shared_state& shared);

}  // namespace cg::gateway
