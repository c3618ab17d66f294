#pragma once
#include <string_view>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/fields.hpp>

#include "gateway/head.hpp"

namespace cg::gateway {

/// What the gateway knows about the client connection a request came in on.
struct client_info {
    std::string_view address;     ///< peer address as text (never logged or stored)
    bool trusted = false;         ///< peer is in config::trusted_proxies
    boost::asio::ip::address ip;  ///< the peer address (never logged or stored)
    bool tls = false;             ///< arrived over TLS terminated here (HTTPS)
};

/// RFC 9110 §7.6.1: removes Connection, every field Connection names, and the fixed hop-by-hop
/// set (Keep-Alive, TE, Trailer, Upgrade, Proxy-Connection, Proxy-Authenticate,
/// Proxy-Authorization). With `keep_upgrade` the Upgrade field and a `Connection: upgrade` are
/// kept, for a WebSocket handshake or a 101 answer. Input is untrusted. No I/O.
template <class Fields>
void strip_hop_by_hop(Fields& f, bool keep_upgrade);

/// Sets X-Forwarded-For, -Proto and -Host for the upstream. Incoming values (and Forwarded,
/// X-Real-IP) are kept only from a trusted proxy; from anyone else they are replaced, so a
/// client cannot forge its address. `host` is the request's Host. No I/O.
template <class Fields>
void set_forwarded(Fields& f, const client_info& client, std::string_view host);

/// True when the request asks for a protocol switch to WebSocket (Connection: upgrade and
/// Upgrade: websocket). Input is untrusted.
template <class Fields>
bool is_websocket_upgrade(const Fields& f);

// Instantiated for Beast's default fields and for the proxy's flat ones (gateway/head.hpp).
#define CG_FORWARDING_FOR(F)                                                      \
    extern template void strip_hop_by_hop(F&, bool);                              \
    extern template void set_forwarded(F&, const client_info&, std::string_view); \
    extern template bool is_websocket_upgrade(const F&);
CG_FORWARDING_FOR(boost::beast::http::fields)
CG_FORWARDING_FOR(request_head)
CG_FORWARDING_FOR(response_head)
#undef CG_FORWARDING_FOR

}  // namespace cg::gateway
