#include "gateway/forwarding.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <type_traits>

#include <boost/container/small_vector.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace cg::gateway {

namespace http = boost::beast::http;

namespace {

constexpr std::array hop_by_hop{
    http::field::keep_alive,
    http::field::te,
    http::field::trailer,
    http::field::proxy_connection,
    http::field::proxy_authenticate,
    http::field::proxy_authorization,
};

// Visits every value of `name`. Beast's equal_range spans the insertion-ordered list from the
// first to the last match, so it can include other fields in between; walk the list instead.
template <class Fields, class Fn>
void for_each_value(const Fields& f, std::string_view name, Fn&& fn) {
    for (const auto& field : f) {
        if (boost::beast::iequals(field.name_string(), name)) {
            fn(field.value());
        }
    }
}

constexpr std::string_view x_forwarded_for = "X-Forwarded-For";

bool list_contains(std::string_view list, std::string_view token) {
    for (auto t : http::token_list{list}) {
        if (boost::beast::iequals(t, token)) {
            return true;
        }
    }
    return false;
}

bool is_hop_by_hop(http::field f) noexcept {
    switch (f) {
        case http::field::connection:
        case http::field::keep_alive:
        case http::field::te:
        case http::field::trailer:
        case http::field::proxy_connection:
        case http::field::proxy_authenticate:
        case http::field::proxy_authorization:
            return true;
        default:
            return false;
    }
}

// A name listed in Connection: known names compare by enumerator, others by text, and only
// with fields whose names are unknown too.
struct connection_token {
    http::field known;
    std::string_view text;

    bool names(const head_field& f) const noexcept {
        return f.name() == known &&
               (known != http::field::unknown || boost::beast::iequals(f.name_string(), text));
    }
};

// The flat heads' version: one pass to read Connection, one to remove, instead of an erase (a
// pass) per name.
void strip_flat(head_fields& f, bool keep_upgrade) {
    boost::container::small_vector<connection_token, 4> named;
    bool upgrade_named = false;
    for (const auto& field : f) {
        if (field.name() != http::field::connection) {
            continue;
        }
        for (auto token : http::token_list{boost::core::string_view{field.value()}}) {
            if (boost::beast::iequals(token, "upgrade")) {
                upgrade_named = true;
            } else {
                const auto known = http::string_to_field(token);
                if (!is_hop_by_hop(known)) {  // those go anyway
                    named.push_back({known, {token.data(), token.size()}});
                }
            }
        }
    }
    const bool keep = keep_upgrade && upgrade_named && f.count(http::field::upgrade) != 0;
    f.erase_if([&](const head_field& field) {
        const auto name = field.name();
        if (is_hop_by_hop(name)) {
            return true;
        }
        if (name == http::field::upgrade) {
            return !keep;
        }
        return std::any_of(named.begin(), named.end(),
                           [&](const connection_token& t) { return t.names(field); });
    });
    if (keep) {
        f.set(http::field::connection, "upgrade");
    }
}

// Beast's basic_fields (tests and tools): an erase per name.
template <class Fields>
void strip_beast(Fields& f, bool keep_upgrade) {
    // Collect the names first: erasing while iterating the Connection values would invalidate
    // them. Several Connection fields are one comma-separated list (RFC 9110 §5.3).
    std::string named;
    bool upgrade_named = false;
    for_each_value(f, "Connection", [&](std::string_view value) {
        for (auto token : http::token_list{boost::core::string_view{value}}) {
            if (boost::beast::iequals(token, "upgrade")) {
                upgrade_named = true;
            } else {
                named.append(token).push_back(',');
            }
        }
    });
    for (auto token : http::token_list{named}) {
        f.erase(std::string_view{token.data(), token.size()});
    }
    f.erase(http::field::connection);
    for (auto name : hop_by_hop) {
        f.erase(name);
    }
    if (keep_upgrade && upgrade_named && f.count(http::field::upgrade) != 0) {
        f.set(http::field::connection, "upgrade");
    } else {
        f.erase(http::field::upgrade);
    }
}

}  // namespace

template <class Fields>
void strip_hop_by_hop(Fields& f, bool keep_upgrade) {
    if constexpr (std::is_base_of_v<head_fields, Fields>) {
        strip_flat(f, keep_upgrade);
    } else {
        strip_beast(f, keep_upgrade);
    }
}

template <class Fields>
void set_forwarded(Fields& f, const client_info& client, std::string_view host) {
    if (client.trusted) {
        // Append this hop to the chain the trusted proxy reported (several fields are one list).
        std::string chain;
        for_each_value(f, x_forwarded_for,
                       [&](std::string_view value) { chain.append(value).append(", "); });
        chain.append(client.address);
        f.set(x_forwarded_for, chain);
        if (f.count("X-Forwarded-Proto") == 0) {
            f.set("X-Forwarded-Proto", client.tls ? "https" : "http");
        }
        if (f.count("X-Forwarded-Host") == 0) {
            f.set("X-Forwarded-Host", host);
        }
        return;
    }
    f.erase(http::field::forwarded);
    f.erase("X-Real-IP");
    f.set(x_forwarded_for, client.address);
    f.set("X-Forwarded-Proto", client.tls ? "https" : "http");
    f.set("X-Forwarded-Host", host);
}

template <class Fields>
bool is_websocket_upgrade(const Fields& f) {
    bool connection_upgrade = false;
    for_each_value(f, "Connection", [&](std::string_view value) {
        connection_upgrade = connection_upgrade || list_contains(value, "upgrade");
    });
    auto up = f.find(http::field::upgrade);
    return connection_upgrade && up != f.end() && list_contains(up->value(), "websocket");
}

#define CG_FORWARDING_FOR(F)                                               \
    template void strip_hop_by_hop(F&, bool);                              \
    template void set_forwarded(F&, const client_info&, std::string_view); \
    template bool is_websocket_upgrade(const F&);
CG_FORWARDING_FOR(http::fields)
CG_FORWARDING_FOR(request_head)
CG_FORWARDING_FOR(response_head)
#undef CG_FORWARDING_FOR

}  // namespace cg::gateway
