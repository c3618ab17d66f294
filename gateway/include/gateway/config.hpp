#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "analytics/config.hpp"
#include "banner/site_banner.hpp"
#include "consent/config.hpp"

namespace cg::gateway {

using millis = std::chrono::milliseconds;

/// An address range such as 10.0.0.0/8 or ::1/128 (a bare address is a /32 or /128).
struct cidr {
    boost::asio::ip::address network;
    unsigned prefix = 0;

    /// True when `a` lies in the range. IPv4-mapped IPv6 addresses match IPv4 ranges.
    bool contains(const boost::asio::ip::address& a) const noexcept;
};

/// A certificate for the TLS listener: PEM files, the certificate followed by its chain.
struct tls_certificate {
    std::filesystem::path cert_file;
    std::filesystem::path key_file;
};

/// TLS termination on the proxy listener (`listen.tls`); off when `certificates` is empty.
struct tls_listen_config {
    /// Chosen by the client's SNI name; the first one when none matches.
    std::vector<tls_certificate> certificates;
    /// A plain HTTP listener on the same address that answers 308 to https:// (0: none).
    std::uint16_t redirect_port = 0;
    bool enabled() const noexcept { return !certificates.empty(); }
};

/// The client-facing listener. `address` is an IP literal ("0.0.0.0" or "::" for all).
struct listen_config {
    std::string address = "127.0.0.1";
    std::uint16_t port = 8080;
    tls_listen_config tls;
};

/// One server of a site's upstream (`upstream` as a URL, or each entry of a list).
struct upstream_server {
    std::string url;   ///< as written, e.g. "http://127.0.0.1:8081"
    std::string host;  ///< host part of url (name or literal; IPv6 without brackets)
    std::uint16_t port = 80;
    unsigned weight = 1;  ///< its share of the requests relative to the others (1-1000)
    /// "host:port", with brackets around an IPv6 literal: for a Host header and for labels.
    std::string authority() const;
};

/// How a request picks among a site's upstream servers.
enum class balance_method { round_robin, least_connections };

/// Active health checking of each upstream server (`upstream_options.health_check`); off while
/// `path` is empty.
struct health_check_config {
    std::string path;  ///< e.g. "/healthz": a GET that must answer 2xx or 3xx
    millis interval{5000};
    millis timeout{2000};
    unsigned fails = 2;   ///< consecutive failed checks that take a server out
    unsigned passes = 1;  ///< consecutive passed checks that bring it back
    bool enabled() const noexcept { return !path.empty(); }
};

/// Where a site's requests go and how long the gateway waits for that upstream.
struct upstream_config {
    static constexpr std::size_t max_servers = 64;
    std::vector<upstream_server> servers;  ///< at least one
    balance_method balance = balance_method::round_robin;
    /// Passive health: a server whose last `max_fails` exchanges failed (connect, timeout,
    /// reset, malformed answer), each within fail_timeout of the one before, is skipped for
    /// fail_timeout; then one request tries it again. 0 turns this off.
    unsigned max_fails = 3;
    millis fail_timeout{10000};
    /// Host names are resolved in the background this often and new connections use the
    /// addresses found; idle connections to addresses that went away are closed. 0: resolve
    /// on every new connection instead.
    millis resolve_interval{30000};
    health_check_config health_check;
    millis connect_timeout{3000};
    millis read_timeout{60000};  ///< per read of the upstream's answer; 504 when exceeded
    millis idle_timeout{30000};  ///< a pooled keep-alive connection older than this is closed
    std::size_t max_idle = 64;   ///< idle pooled connections kept per worker thread and server
};

/// One proxied site: requests whose Host matches one of `hosts` go to `upstream`.
struct site_config {
    std::string name;                ///< label used in logs and metrics
    std::vector<std::string> hosts;  ///< lower-case host names; "*.example.no" matches subdomains
    upstream_config upstream;
    bool preserve_host = true;     ///< send the client's Host upstream (else the upstream's)
    consent::site_policy consent;  ///< categories, policy version, lifetimes, cookie rules
    banner::site_banner_config banner;  ///< controller, texts, third parties, re-open button
    analytics::site_settings analytics;  ///< counting page views (on), path rules
};

/// Per-connection and per-request limits that protect the gateway from clients.
struct limits_config {
    std::size_t header_bytes = 16 * 1024;             ///< request line + headers; 431 above
    std::size_t header_count = 100;                   ///< 431 above
    std::uint64_t body_bytes = 100ULL * 1024 * 1024;  ///< request body; 413 above
    /// Request bodies up to this size are read whole (and checked) before an upstream
    /// connection is used; larger ones stream through. 0 streams every body.
    std::size_t request_buffer_bytes = 64 * 1024;
    millis header_timeout{10000};  ///< time to receive a whole request header; 408 then close
    millis idle_timeout{60000};    ///< keep-alive wait between requests
    millis body_timeout{60000};    ///< per read/write while relaying bodies to/from the client
    millis tunnel_idle_timeout{600000};   ///< an upgraded (WebSocket) connection with no traffic
    std::size_t max_connections = 10000;  ///< open client connections; extra ones get 503
};

/// What a user of the admin listener may see (DESIGN §5).
enum class admin_user_role : std::uint8_t {
    marketing,  ///< the statistics
    admin,      ///< everything: statistics, metrics, consent look-ups
};

/// One person who logs in on the admin listener (POST /login).
struct admin_user {
    std::string name;  ///< 1-64 of A-Z a-z 0-9 . _ @ -; unique; case matters
    admin_user_role role = admin_user_role::marketing;
    /// "pbkdf2-sha256$ITERATIONS$SALT$HASH" as `consent-gateway --hash-password` prints it;
    /// validated when the configuration is read.
    std::string password_hash;
};

/// The admin listener (serves /metrics). Validation requires a token unless it is on loopback.
struct admin_config {
    std::string address = "127.0.0.1";
    std::uint16_t port = 9090;
    /// Bearer token for /metrics and the consent look-ups (required off loopback). Empty =
    /// none: then /metrics is open to anyone on loopback, and the consent look-ups are served
    /// only to logged-in admin users (to nobody when there are none).
    std::string token;
    /// Open admin connections; more are closed at once (and counted).
    std::size_t max_connections = 64;
    /// People who log in with a password (session cookie). Users do not replace the token off
    /// loopback: without a token /metrics is open to whoever reaches the port.
    std::vector<admin_user> users;
    /// Mark the session cookie Secure. Off by default because the admin listener speaks plain
    /// HTTP (on loopback); turn it on when TLS is terminated in front of it.
    bool secure_cookie = false;
    /// Session timeouts. Not read from the configuration file (DESIGN fixes them at 30 minutes
    /// idle and 8 hours in all); tests shorten them.
    millis session_idle_timeout{30 * 60 * 1000};
    millis session_lifetime{8 * 60 * 60 * 1000};
};

/// Minimum severity written to the log.
enum class log_level { debug, info, warn, error };

/// What the gateway logs and how much.
struct log_config {
    log_level level = log_level::info;
    bool access = true;  ///< one JSON line per request (at info level)
};

/// The whole gateway configuration, validated. Shared read-only as shared_ptr<const config>.
struct config {
    listen_config listen;
    admin_config admin;
    unsigned workers = 0;               ///< 0 = one per core
    millis shutdown_timeout{10000};     ///< drain deadline after SIGTERM/SIGINT
    std::vector<cidr> trusted_proxies;  ///< X-Forwarded-* trusted only from these
    limits_config limits;
    log_config log;
    std::vector<site_config> sites;
    consent::settings consent;  ///< cookie keys, catalogue, Redis, journal
    analytics::settings analytics;  ///< the User-Agent database
};

/// Every problem found in a configuration, one line each, in the form
/// `FILE: /json/pointer: reason`. what() joins them with newlines.
class config_error : public std::runtime_error {
  public:
    explicit config_error(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const noexcept { return problems_; }

  private:
    std::vector<std::string> problems_;
};

/// Parses and validates a configuration document. `source` names it in messages (the file
/// path). Unknown keys, wrong types and out-of-range values are all reported, not just the
/// first. Throws config_error. Input is untrusted; never crashes on any byte sequence.
/// Host names are lower-cased and trusted ranges masked to their prefix. Thread-safe.
config parse_config(std::string_view json_text, std::string_view source);

/// Reads FILE and calls parse_config. Throws config_error (also for an unreadable file).
config load_config(const std::filesystem::path& file);

}  // namespace cg::gateway
