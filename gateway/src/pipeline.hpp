#pragma once
#include <string_view>

#include <boost/beast/http/message.hpp>

#include "consent/site_context.hpp"
#include "gateway/forwarding.hpp"
#include "gateway/pool_allocator.hpp"

namespace cg::gateway {

using request_head = boost::beast::http::header<true, pooled_fields>;
using response_head = boost::beast::http::header<false, pooled_fields>;

/// The request stages, in order (STYLE §2): hop-by-hop fields out, X-Forwarded-* set, then
/// consent: the visitor's decision read from the signed cookie, non-consented cookies
/// removed from Cookie and Consent-Categories set. Returns the decision for the response
/// stages. No I/O; `now` is unix seconds.
consent::visitor_consent request_stages(request_head& up, const consent::site_context& site,
                                        const client_info& client, std::string_view host,
                                        bool websocket, std::int64_t now);

/// The response stages, in reverse order: Set-Cookie filtered by the visitor's decision, then
/// hop-by-hop fields out (`keep_upgrade` for a 101 answer). No I/O.
void response_stages(response_head& res, const consent::site_context& site,
                     const consent::visitor_consent& visitor, bool keep_upgrade);

/// True when the visitor reached the site over HTTPS: the gateway has no TLS of its own, so
/// only a trusted proxy's X-Forwarded-Proto can say so.
template <class Fields>
bool visitor_used_https(const Fields& request, const client_info& client) {
    if (!client.trusted) {
        return false;
    }
    const auto proto = request["X-Forwarded-Proto"];
    const std::string_view p{proto.data(), proto.size()};
    return p.substr(0, p.find(',')) == "https";
}

/// Unix seconds now (the consent cookie's clock).
std::int64_t unix_now() noexcept;

}  // namespace cg::gateway
