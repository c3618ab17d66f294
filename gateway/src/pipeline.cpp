#include "pipeline.hpp"

#include <chrono>

#include "consent/cookie_filter.hpp"

namespace cg::gateway {

consent::visitor_consent request_stages(request_head& up, const consent::site_context& site,
                                        const client_info& client, std::string_view host,
                                        bool websocket, std::int64_t now) {
    strip_hop_by_hop(up, websocket);
    set_forwarded(up, client, host);
    return consent::filter_request_cookies(up, site, now);
}

void response_stages(response_head& res, const consent::site_context& site,
                     const consent::visitor_consent& visitor, bool keep_upgrade) {
    consent::filter_set_cookies(res, site, visitor.granted);
    strip_hop_by_hop(res, keep_upgrade);
}

std::int64_t unix_now() noexcept {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace cg::gateway
