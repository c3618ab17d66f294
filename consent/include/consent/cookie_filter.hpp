#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/container/small_vector.hpp>

#include "consent/site_context.hpp"

namespace cg::consent {

/// Request stage (DESIGN §4): reads the visitor's decision, removes from `Cookie` every
/// cookie the visitor has not consented to (so the site cannot read an old tracking cookie
/// after a withdrawal, DESIGN L6), and replaces any `Consent-Categories` the client sent with
/// the granted categories. `https`: the request came over HTTPS (directly or per a trusted
/// proxy), which selects the consent cookie's name (site_context::consent_cookie_name).
/// `Fields` is a Beast basic_fields. No I/O; untrusted input.
template <class Fields>
visitor_consent filter_request_cookies(Fields& request, const site_context& site, bool https,
                                       std::int64_t now) {
    namespace http = boost::beast::http;
    // Browsers send one Cookie header (RFC 6265 §5.4); room for a few more without allocating.
    boost::container::small_vector<std::string_view, 4> values;
    std::optional<bool> gpc;  // the first Sec-GPC counts
    // Fields of one name are not adjacent in Beast's list when others sit between them. One
    // pass finds both; Sec-GPC is not a field Beast knows, so it is compared by name.
    for (const auto& f : request) {
        if (f.name() == http::field::cookie) {
            values.emplace_back(f.value().data(), f.value().size());
        } else if (!gpc && f.name() == http::field::unknown &&
                   boost::beast::iequals(f.name_string(), "Sec-GPC")) {
            gpc = std::string_view{f.value().data(), f.value().size()} == "1";
        }
    }
    auto filtered = site.filter_request_cookies(values, gpc.value_or(false), https, now);
    const visitor_consent& v = filtered.visitor;
    if (filtered.changed) {
        // One Cookie header, as RFC 6265 §5.4 has user agents send it.
        request.erase(http::field::cookie);
        if (!filtered.cookie.empty()) {
            request.insert(http::field::cookie, filtered.cookie);
        }
    }
    request.set("Consent-Categories", categories_header(v.granted));
    return std::move(filtered.visitor);
}

/// Response stage: drops every `Set-Cookie` whose cookie `visitor` (as filter_request_cookies
/// read it) has not consented to; an unknown cookie needs an explicit decision
/// (site_context::keep_set_cookie). Drops are counted per cookie name in site.observations().
/// No I/O; untrusted input.
template <class Fields>
void filter_set_cookies(Fields& response, const site_context& site,
                        const visitor_consent& visitor) {
    namespace http = boost::beast::http;
    for (auto it = response.begin(); it != response.end();) {
        if (it->name() != http::field::set_cookie ||
            site.keep_set_cookie(std::string_view{it->value().data(), it->value().size()},
                                 visitor)) {
            ++it;
        } else {
            it = response.erase(it);
        }
    }
}

}  // namespace cg::consent
