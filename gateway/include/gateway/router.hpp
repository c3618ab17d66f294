#pragma once
#include <span>
#include <string_view>
#include <vector>

#include "gateway/config.hpp"

namespace cg::gateway {

/// Maps a request's Host to the site configured for it.
/// Matching is case-insensitive. A configured host with a port ("localhost:8080") matches only
/// that port; one without a port matches any port; "*.example.no" matches any subdomain of
/// example.no (not example.no itself). Exact entries win over wildcards.
/// No allocation, no I/O; safe to call from any thread once constructed.
class router {
  public:
    explicit router(const std::vector<site_config>& sites);

    /// The site for `host` (a Host header value or an absolute-form authority, untrusted), or
    /// nullptr when no site claims it. Returns the site's index in config::sites via `index`.
    const site_config* find(std::string_view host, std::size_t* index = nullptr) const noexcept;

  private:
    const std::vector<site_config>& sites_;
};

/// Which of `prefixes` owns `path`: the longest one that equals it or is followed in it by '/'
/// ("/_consent" owns "/_consent" and "/_consent/state", not "/_consentx"). Returns its index,
/// or prefixes.size() when none does. No allocation.
std::size_t match_prefix(std::span<const std::string_view> prefixes,
                         std::string_view path) noexcept;

/// Splits "host[:port]" (IPv6 in brackets) into host and port text. Untrusted input.
struct host_port {
    std::string_view host;
    std::string_view port;  ///< empty when absent
};
host_port split_host_port(std::string_view authority) noexcept;

}  // namespace cg::gateway
