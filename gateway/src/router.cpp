#include "gateway/router.hpp"

#include <boost/beast/core/string.hpp>

namespace cg::gateway {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    return boost::beast::iequals(a, b);
}

// "*.example.no" matches "www.example.no" and "a.b.example.no", never "example.no".
bool wildcard_match(std::string_view pattern, std::string_view host) noexcept {
    const auto suffix = pattern.substr(1);  // ".example.no"
    return host.size() > suffix.size() && iequals(host.substr(host.size() - suffix.size()), suffix);
}

}  // namespace

host_port split_host_port(std::string_view authority) noexcept {
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return {authority, {}};
        }
        auto rest = authority.substr(close + 1);
        return {authority.substr(1, close - 1), rest.starts_with(':') ? rest.substr(1) : rest};
    }
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) {
        return {authority, {}};
    }
    return {authority.substr(0, colon), authority.substr(colon + 1)};
}

router::router(const std::vector<site_config>& sites) : sites_(sites) {}

const site_config* router::find(std::string_view host, std::size_t* index) const noexcept {
    const auto [name, port] = split_host_port(host);
    if (name.empty()) {
        return nullptr;
    }
    // RFC 3986 §3.2.2: a trailing dot names the same host.
    const auto bare = name.ends_with('.') ? name.substr(0, name.size() - 1) : name;
    const site_config* wildcard = nullptr;
    std::size_t wildcard_index = 0;
    for (std::size_t i = 0; i < sites_.size(); ++i) {
        for (const auto& h : sites_[i].hosts) {
            auto [want_name, want_port] = split_host_port(h);
            if (want_name.ends_with('.')) {
                want_name.remove_suffix(1);
            }
            if (!want_port.empty() && want_port != port) {
                continue;
            }
            if (want_name.starts_with("*.")) {
                if (wildcard == nullptr && wildcard_match(want_name, bare)) {
                    wildcard = &sites_[i];
                    wildcard_index = i;
                }
            } else if (iequals(want_name, bare)) {
                if (index != nullptr) {
                    *index = i;
                }
                return &sites_[i];
            }
        }
    }
    if (wildcard != nullptr && index != nullptr) {
        *index = wildcard_index;
    }
    return wildcard;
}

std::size_t match_prefix(std::span<const std::string_view> prefixes,
                         std::string_view path) noexcept {
    std::size_t best = prefixes.size();
    for (std::size_t i = 0; i < prefixes.size(); ++i) {
        const auto p = prefixes[i];
        if (path.starts_with(p) && (path.size() == p.size() || path[p.size()] == '/') &&
            (best == prefixes.size() || p.size() > prefixes[best].size())) {
            best = i;
        }
    }
    return best;
}

}  // namespace cg::gateway
