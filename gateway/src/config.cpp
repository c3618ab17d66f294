#include "gateway/config.hpp"

#include "tls.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/system/error_code.hpp>

#include "admin_auth.hpp"
#include "banner/config_reader.hpp"
#include "consent/config_reader.hpp"
#include "json_config/reader.hpp"

namespace cg::gateway {

namespace {

namespace ip = boost::asio::ip;
using json = nlohmann::json;
using json_config::ascii_lower;
using json_config::child;
using json_config::got;
using json_config::is_digit;
using json_config::is_host_name;
using json_config::is_name_or_ipv4;
using json_config::literal;
using json_config::lower;
using json_config::member;

// A configuration file is a few KiB; the cap also stops load_config on /dev/zero and the like.
constexpr std::size_t max_file_bytes = 16 * 1024 * 1024;

constexpr std::array<std::string_view, 11> top_keys{
    "listen", "admin",   "workers", "shutdown_timeout_ms", "trusted_proxies", "limits", "log",
    "sites",  "consent", "redis",   "analytics"};
constexpr std::array<std::string_view, 3> listen_keys{"address", "port", "tls"};
constexpr std::array<std::string_view, 2> tls_keys{"certificates", "redirect_port"};
constexpr std::array<std::string_view, 2> certificate_keys{"cert_file", "key_file"};
constexpr std::array<std::string_view, 6> admin_keys{"address",         "port",  "token",
                                                     "max_connections", "users", "secure_cookie"};
constexpr std::array<std::string_view, 3> admin_user_keys{"name", "role", "password_hash"};
constexpr std::array<std::string_view, 2> admin_role_names{"marketing", "admin"};
constexpr std::array<std::string_view, 9> limits_keys{
    "header_bytes",         "header_count",           "body_bytes",
    "request_buffer_bytes", "header_timeout_ms",      "idle_timeout_ms",
    "body_timeout_ms",      "tunnel_idle_timeout_ms", "max_connections"};
constexpr std::array<std::string_view, 2> log_keys{"level", "access"};
constexpr std::array<std::string_view, 8> site_keys{
    "name",          "hosts",   "upstream", "upstream_options",
    "preserve_host", "consent", "banner",   "analytics"};
constexpr std::array<std::string_view, 9> upstream_option_keys{
    "connect_timeout_ms", "read_timeout_ms",     "idle_timeout_ms",
    "max_idle",           "balance",             "max_fails",
    "fail_timeout_ms",    "resolve_interval_ms", "health_check"};
constexpr std::array<std::string_view, 2> upstream_server_keys{"url", "weight"};
constexpr std::array<std::string_view, 2> balance_names{"round_robin", "least_connections"};
constexpr std::array<std::string_view, 5> health_check_keys{"path", "interval_ms", "timeout_ms",
                                                            "fails", "passes"};

// ---------------------------------------------------------------------------------------------
// Host and address helpers (the generic JSON and text helpers are in json_config)

bool starts_with_icase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

// Decimal 1-65535 without sign or spaces.
std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), is_digit)) {
        return std::nullopt;
    }
    unsigned value = 0;
    for (const char c : s) {
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value < 1 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

bool is_ipv6_literal(std::string_view s) {
    boost::system::error_code ec;
    ip::make_address_v6(std::string(s), ec);
    return !ec;
}

std::optional<ip::address> parse_ip(std::string_view s) {
    boost::system::error_code ec;
    auto a = ip::make_address(std::string(s), ec);
    if (ec) {
        return std::nullopt;
    }
    return a;
}

bool is_loopback(const ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        return ip::make_address_v4(ip::v4_mapped, a.to_v6()).is_loopback();
    }
    return a.is_loopback();
}

template <std::size_t N>
std::array<unsigned char, N> masked(std::array<unsigned char, N> bytes, unsigned prefix) {
    for (std::size_t i = 0; i < N; ++i) {
        const std::size_t first_bit = i * 8;
        if (prefix <= first_bit) {
            bytes[i] = 0;
        } else if (prefix < first_bit + 8) {
            const unsigned keep = prefix - static_cast<unsigned>(first_bit);
            bytes[i] = static_cast<unsigned char>(bytes[i] & (0xFFU << (8 - keep)));
        }
    }
    return bytes;
}

// The network address with the bits past the prefix cleared, so "10.1.2.3/8" means 10.0.0.0/8.
ip::address network_of(const ip::address& a, unsigned prefix) {
    if (a.is_v4()) {
        return ip::address_v4(masked(a.to_v4().to_bytes(), prefix));
    }
    return ip::address_v6(masked(a.to_v6().to_bytes(), prefix));
}

// ---------------------------------------------------------------------------------------------
// Validation

// The gateway's own part of the document; the consent module reads its parts itself
// (STYLE.md §6), with the same reader so that every problem lands in one list.
class validator {
  public:
    validator(json_config::reader& r, std::filesystem::path base_dir)
        : r_(r), base_dir_(std::move(base_dir)) {}

    config read(const json& doc) {
        config c;
        if (!doc.is_object()) {
            r_.fail_document("the document must be a JSON object" + got(doc));
            return c;
        }
        r_.check_object(doc, "", top_keys);
        if (const json* v = member(doc, "listen")) {
            read_listen(*v, "/listen", c.listen);
        }
        std::optional<ip::address> admin_address = ip::address(ip::address_v4::loopback());
        if (const json* v = member(doc, "admin")) {
            admin_address = read_admin(*v, "/admin", c.admin);
        }
        if (admin_address && !is_loopback(*admin_address) && c.admin.token.empty()) {
            r_.fail("/admin/token", "required when the admin listener is not on loopback");
        }
        r_.read_uint(doc, "", "workers", c.workers, {0, 1024});
        r_.read_millis(doc, "", "shutdown_timeout_ms", c.shutdown_timeout);
        if (const json* v = member(doc, "trusted_proxies")) {
            read_trusted_proxies(*v, "/trusted_proxies", c.trusted_proxies);
        }
        if (const json* v = member(doc, "limits")) {
            read_limits(*v, "/limits", c.limits);
        }
        if (const json* v = member(doc, "log")) {
            read_log(*v, "/log", c.log);
        }
        read_sites(doc, c.sites);
        c.consent =
            consent::read_settings(r_, member(doc, "consent"), member(doc, "redis"), base_dir_);
        c.analytics = analytics::read_settings(r_, member(doc, "analytics"), base_dir_);
        return c;
    }

  private:
    // Returns the parsed address: the one read, the default if absent, nullopt if invalid.
    std::optional<ip::address> read_ip(const json& object, const std::string& pointer,
                                       std::string& out) {
        const json* v = member(object, "address");
        if (v == nullptr) {
            return parse_ip(out);
        }
        const std::string here = child(pointer, "address");
        if (!v->is_string()) {
            r_.fail(here, "must be a string" + got(*v));
            return std::nullopt;
        }
        const auto& s = v->get_ref<const std::string&>();
        auto a = parse_ip(s);
        if (!a) {
            r_.fail(here, "must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1" + got(*v));
            return std::nullopt;
        }
        out = s;
        return a;
    }

    void read_listen(const json& v, const std::string& pointer, listen_config& out) {
        if (!r_.check_object(v, pointer, listen_keys)) {
            return;
        }
        read_ip(v, pointer, out.address);
        // 0 lets the kernel choose; the chosen port is logged in the "listening" line.
        r_.read_uint(v, pointer, "port", out.port, {0, 65535});
        if (const json* tls = member(v, "tls")) {
            read_tls(*tls, child(pointer, "tls"), out);
        }
    }

    // listen.tls: every certificate is loaded and checked against its key now, so a bad file
    // fails --check-config (and a reload) instead of the first handshake.
    void read_tls(const json& v, const std::string& pointer, listen_config& out) {
        if (!r_.check_object(v, pointer, tls_keys)) {
            return;
        }
        r_.read_uint(v, pointer, "redirect_port", out.tls.redirect_port, {0, 65535});
        if (out.tls.redirect_port != 0 && out.tls.redirect_port == out.port) {
            r_.fail(child(pointer, "redirect_port"), "must differ from /listen/port");
        }
        const json* list = member(v, "certificates");
        const std::string here = child(pointer, "certificates");
        if (list == nullptr || !list->is_array() || list->empty() || list->size() > 100) {
            r_.fail(here, "must be an array of 1 to 100 objects with cert_file and key_file" +
                              (list == nullptr ? std::string{} : got(*list)));
            return;
        }
        for (std::size_t i = 0; i < list->size(); ++i) {
            const json& e = (*list)[i];
            const std::string at = child(here, i);
            if (!r_.check_object(e, at, certificate_keys)) {
                continue;
            }
            const auto cert = r_.read_path(e, at, "cert_file", base_dir_);
            const auto key = r_.read_path(e, at, "key_file", base_dir_);
            if (!cert || !key) {
                if (!cert && member(e, "cert_file") == nullptr) {
                    r_.fail(child(at, "cert_file"), "required field is missing");
                }
                if (!key && member(e, "key_file") == nullptr) {
                    r_.fail(child(at, "key_file"), "required field is missing");
                }
                continue;
            }
            if (auto reason = check_certificate_pair(*cert, *key); !reason.empty()) {
                r_.fail(at, reason);
                continue;
            }
            out.tls.certificates.push_back({*cert, *key});
        }
    }

    std::optional<ip::address> read_admin(const json& v, const std::string& pointer,
                                          admin_config& out) {
        if (!r_.check_object(v, pointer, admin_keys)) {
            return std::nullopt;  // the token rule cannot be judged without an address
        }
        auto address = read_ip(v, pointer, out.address);
        r_.read_uint(v, pointer, "port", out.port, {0, 65535});
        r_.read_uint(v, pointer, "max_connections", out.max_connections, {1, 10000});
        r_.read_bool(v, pointer, "secure_cookie", out.secure_cookie);
        if (const json* users = member(v, "users")) {
            read_admin_users(*users, child(pointer, "users"), out.users);
        }
        if (const std::string* token = r_.read_string(v, pointer, "token")) {
            out.token = *token;
        } else if (member(v, "token") != nullptr) {
            return std::nullopt;  // already reported as the wrong type
        }
        return address;
    }

    // admin.users (DESIGN §5). Users need no rule of their own about where the listener may
    // listen: the token rule above still applies with users, because without a token /metrics
    // is open to anyone who reaches the port, and a log-in does not change that.
    void read_admin_users(const json& v, const std::string& pointer, std::vector<admin_user>& out) {
        if (!v.is_array()) {
            r_.fail(pointer, "must be a list of users" + got(v));
            return;
        }
        std::map<std::string, std::string> owner;  // name → pointer of the first user
        for (std::size_t i = 0; i < v.size(); ++i) {
            const json& u = v[i];
            const std::string here = child(pointer, i);
            if (!r_.check_object(u, here, admin_user_keys)) {
                continue;
            }
            admin_user user;
            bool ok = true;
            for (const std::string_view key : admin_user_keys) {
                if (member(u, key) == nullptr) {
                    r_.fail(child(here, key), "required field is missing");
                    ok = false;
                }
            }
            if (const std::string* name = r_.read_string(u, here, "name")) {
                if (!is_user_name(*name)) {
                    r_.fail(child(here, "name"),
                            "must be 1-64 characters of letters, digits, '.', '_', '@' and '-' "
                            "(got " +
                                literal(*name) + ")");
                    ok = false;
                } else if (const auto [it, fresh] = owner.emplace(*name, here); !fresh) {
                    r_.fail(child(here, "name"),
                            literal(*name) + " is already the name of " + it->second);
                    ok = false;
                } else {
                    user.name = *name;
                }
            } else {
                ok = false;
            }
            if (const auto role = r_.read_choice(u, here, "role", admin_role_names)) {
                user.role = *role == 0 ? admin_user_role::marketing : admin_user_role::admin;
            } else {
                ok = false;
            }
            // A hash is guessed at offline: messages never quote it.
            if (const json* hash = member(u, "password_hash"); hash != nullptr) {
                if (!hash->is_string()) {
                    r_.fail(child(here, "password_hash"), "must be a string");
                    ok = false;
                } else if (const auto problem =
                               password_hash_problem(hash->get_ref<const std::string&>())) {
                    r_.fail(child(here, "password_hash"),
                            *problem + " (make one with consent-gateway --hash-password)");
                    ok = false;
                } else {
                    user.password_hash = hash->get_ref<const std::string&>();
                }
            }
            if (ok) {
                out.push_back(std::move(user));
            }
        }
    }

    void read_trusted_proxies(const json& v, const std::string& pointer, std::vector<cidr>& out) {
        if (!v.is_array()) {
            r_.fail(pointer, "must be a list of addresses or CIDR ranges" + got(v));
            return;
        }
        for (std::size_t i = 0; i < v.size(); ++i) {
            const json& e = v[i];
            const std::string here = child(pointer, i);
            if (!e.is_string()) {
                r_.fail(here, "must be a string" + got(e));
                continue;
            }
            if (auto range = parse_cidr(e.get_ref<const std::string&>(), here)) {
                out.push_back(*range);
            }
        }
    }

    std::optional<cidr> parse_cidr(std::string_view s, const std::string& here) {
        const auto slash = s.find('/');
        const auto address = parse_ip(s.substr(0, slash));
        if (!address) {
            r_.fail(here, literal(s) + " is not an IP address or CIDR range (like 10.0.0.0/8)");
            return std::nullopt;
        }
        const unsigned width = address->is_v4() ? 32 : 128;
        unsigned prefix = width;
        if (slash != std::string_view::npos) {
            const auto digits = s.substr(slash + 1);
            bool ok = !digits.empty() && digits.size() <= 3 &&
                      std::all_of(digits.begin(), digits.end(), is_digit);
            if (ok) {
                prefix = 0;
                for (const char c : digits) {
                    prefix = prefix * 10 + static_cast<unsigned>(c - '0');
                }
                ok = prefix <= width;
            }
            if (!ok) {
                r_.fail(here, "prefix must be 0-" + std::to_string(width) + " for an " +
                                  (address->is_v4() ? "IPv4" : "IPv6") + " range (got " +
                                  literal(s) + ")");
                return std::nullopt;
            }
        }
        return cidr{network_of(*address, prefix), prefix};
    }

    void read_limits(const json& v, const std::string& pointer, limits_config& out) {
        if (!r_.check_object(v, pointer, limits_keys)) {
            return;
        }
        r_.read_uint(v, pointer, "header_bytes", out.header_bytes, {1024, 1024 * 1024});
        r_.read_uint(v, pointer, "header_count", out.header_count, {1, 10000});
        r_.read_uint(v, pointer, "body_bytes", out.body_bytes,
                     {0, std::numeric_limits<std::uint64_t>::max()});
        r_.read_uint(v, pointer, "request_buffer_bytes", out.request_buffer_bytes,
                     {0, 16 * 1024 * 1024});
        r_.read_millis(v, pointer, "header_timeout_ms", out.header_timeout);
        r_.read_millis(v, pointer, "idle_timeout_ms", out.idle_timeout);
        r_.read_millis(v, pointer, "body_timeout_ms", out.body_timeout);
        r_.read_millis(v, pointer, "tunnel_idle_timeout_ms", out.tunnel_idle_timeout);
        r_.read_uint(v, pointer, "max_connections", out.max_connections, {1, 1'000'000});
    }

    void read_log(const json& v, const std::string& pointer, log_config& out) {
        if (!r_.check_object(v, pointer, log_keys)) {
            return;
        }
        static constexpr std::array<std::string_view, 4> names{"debug", "info", "warn", "error"};
        static constexpr std::array<log_level, 4> levels{log_level::debug, log_level::info,
                                                         log_level::warn, log_level::error};
        if (const auto level = r_.read_choice(v, pointer, "level", names)) {
            out.level = levels[*level];
        }
        r_.read_bool(v, pointer, "access", out.access);
    }

    void read_sites(const json& doc, std::vector<site_config>& out) {
        const std::string pointer = "/sites";
        const json* v = member(doc, "sites");
        if (v != nullptr && !v->is_array()) {
            r_.fail(pointer, "must be a list of sites" + got(*v));
            return;
        }
        if (v == nullptr || v->empty()) {
            r_.fail(pointer, "must list at least one site");
            return;
        }
        std::map<std::string, std::string> name_owner;  // name → pointer of the first site
        std::map<std::string, std::pair<std::size_t, std::string>> host_owner;  // → site, label
        for (std::size_t i = 0; i < v->size(); ++i) {
            const json& s = (*v)[i];
            const std::string here = child(pointer, i);
            site_config site;
            if (!r_.check_object(s, here, site_keys)) {
                continue;
            }
            const bool name_ok = read_site_name(s, here, site.name);
            if (name_ok) {
                if (const auto [it, fresh] = name_owner.emplace(site.name, here); !fresh) {
                    r_.fail(child(here, "name"),
                            literal(site.name) + " is already the name of " + it->second);
                }
            }
            const std::string label =
                name_ok ? "site " + literal(site.name) : "the site at " + here;
            read_hosts(s, here, site.hosts);
            for (std::size_t h = 0; h < site.hosts.size(); ++h) {
                const auto [it, fresh] = host_owner.emplace(site.hosts[h], std::pair{i, label});
                if (fresh) {
                    continue;
                }
                const std::string at = child(child(here, "hosts"), h);
                if (it->second.first == i) {
                    r_.fail(at, literal(site.hosts[h]) + " is listed twice in " + label);
                } else {
                    r_.fail(at, literal(site.hosts[h]) + " is listed by both " + it->second.second +
                                    " and " + label);
                }
            }
            read_upstream(s, here, site.upstream);
            if (const json* options = member(s, "upstream_options")) {
                read_upstream_options(*options, child(here, "upstream_options"), site.upstream);
            }
            r_.read_bool(s, here, "preserve_host", site.preserve_host);
            if (const json* policy = member(s, "consent")) {
                site.consent = consent::read_site_policy(r_, *policy, child(here, "consent"));
            } else {
                site.consent = consent::default_site_policy();
            }
            if (const json* b = member(s, "banner")) {
                site.banner = banner::read_site_banner(r_, *b, child(here, "banner"));
            }  // else no banner: pages pass unchanged (startup warns)
            if (const json* a = member(s, "analytics")) {
                site.analytics = analytics::read_site_settings(r_, *a, child(here, "analytics"));
            }
            out.push_back(std::move(site));
        }
    }

    bool read_site_name(const json& s, const std::string& pointer, std::string& out) {
        const std::string here = child(pointer, "name");
        if (member(s, "name") == nullptr) {
            r_.fail(here, "required field is missing");
            return false;
        }
        const std::string* name = r_.read_string(s, pointer, "name");
        if (name == nullptr) {
            return false;
        }
        if (name->empty()) {
            r_.fail(here, "must not be empty");
            return false;
        }
        // Names become metric labels and log fields, so keep them to a safe alphabet.
        const bool ok = std::all_of(name->begin(), name->end(), [](char c) {
            const char l = ascii_lower(c);
            return (l >= 'a' && l <= 'z') || is_digit(l) || l == '_' || l == '.' || l == '-';
        });
        if (!ok) {
            r_.fail(here,
                    "must use only letters, digits, '_', '.' and '-' (got " + literal(*name) + ")");
            return false;
        }
        out = *name;
        return true;
    }

    static constexpr std::string_view bad_host =
        "must be a host name or IP address, optionally with a leading \"*.\" or a :port";

    void read_hosts(const json& s, const std::string& pointer, std::vector<std::string>& out) {
        const std::string here = child(pointer, "hosts");
        const json* v = member(s, "hosts");
        if (v == nullptr) {
            r_.fail(here, "required field is missing");
            return;
        }
        if (!v->is_array()) {
            r_.fail(here, "must be a list of host names" + got(*v));
            return;
        }
        if (v->empty()) {
            r_.fail(here, "must list at least one host");
            return;
        }
        for (std::size_t i = 0; i < v->size(); ++i) {
            const json& e = (*v)[i];
            const std::string at = child(here, i);
            if (!e.is_string()) {
                r_.fail(at, "must be a string" + got(e));
                continue;
            }
            std::string host = lower(e.get_ref<const std::string&>());
            if (host.empty()) {
                r_.fail(at, "must not be empty");
                continue;
            }
            if (!is_site_host(host)) {
                r_.fail(at, std::string(bad_host) + got(e));
                continue;
            }
            out.push_back(std::move(host));
        }
    }

    // What a Host header can carry: name, IPv4 or [IPv6], optional :port; plus "*." wildcards.
    static bool is_site_host(std::string_view h) {
        const bool wildcard = h.starts_with("*.");
        if (wildcard) {
            h.remove_prefix(2);
        }
        std::string_view port;
        if (h.starts_with("[")) {
            const auto close = h.find(']');
            if (wildcard || close == std::string_view::npos ||
                !is_ipv6_literal(h.substr(1, close - 1))) {
                return false;
            }
            const auto rest = h.substr(close + 1);
            if (!rest.empty()) {
                if (rest.front() != ':') {
                    return false;
                }
                port = rest.substr(1);
                if (!parse_port(port)) {
                    return false;
                }
            }
            return true;
        }
        if (const auto colon = h.find(':'); colon != std::string_view::npos) {
            if (!parse_port(h.substr(colon + 1))) {
                return false;
            }
            h = h.substr(0, colon);
        }
        return wildcard ? is_host_name(h) : is_name_or_ipv4(h);
    }

    // "upstream": a URL, or a list of servers, each a URL or {"url": ..., "weight": n}.
    void read_upstream(const json& s, const std::string& pointer, upstream_config& out) {
        const std::string here = child(pointer, "upstream");
        const json* v = member(s, "upstream");
        if (v == nullptr) {
            r_.fail(here, "required field is missing");
            return;
        }
        out.servers.clear();
        if (v->is_string()) {
            read_upstream_server(*v, here, out);
            return;
        }
        if (!v->is_array() || v->empty() || v->size() > upstream_config::max_servers) {
            r_.fail(here, "must be an http:// URL or a list of 1-" +
                              std::to_string(upstream_config::max_servers) +
                              " servers (URLs or {\"url\": ..., \"weight\": n})");
            return;
        }
        for (std::size_t i = 0; i < v->size(); ++i) {
            read_upstream_server((*v)[i], child(here, i), out);
        }
    }

    void read_upstream_server(const json& v, const std::string& here, upstream_config& out) {
        upstream_server server;
        const json* url = &v;
        if (v.is_object()) {
            if (!r_.check_object(v, here, upstream_server_keys)) {
                return;
            }
            url = member(v, "url");
            if (url == nullptr) {
                r_.fail(child(here, "url"), "required field is missing");
                return;
            }
            r_.read_uint(v, here, "weight", server.weight, {1, 1000});
        }
        const std::string at = v.is_object() ? child(here, "url") : here;
        if (!url->is_string()) {
            r_.fail(at, "must be an http:// URL");
            return;
        }
        const std::string text = url->get<std::string>();
        if (auto reason = parse_upstream(text, server)) {
            r_.fail(at, *reason);
            return;
        }
        for (const auto& other : out.servers) {
            if (other.host == server.host && other.port == server.port) {
                r_.fail(at, literal(text) + " is listed twice");
                return;
            }
        }
        out.servers.push_back(std::move(server));
    }

    static constexpr std::string_view https_unsupported =
        "https upstreams are not supported yet; terminate TLS in front or use http://";

    // Fills url, host and port from "http://host[:port][/]"; returns the problem if any.
    static std::optional<std::string> parse_upstream(std::string_view url, upstream_server& out) {
        const std::string q = literal(url);
        if (starts_with_icase(url, "https://")) {
            return std::string(https_unsupported) + " (got " + q + ")";
        }
        if (!starts_with_icase(url, "http://")) {
            return q + " is not an http:// URL";
        }
        auto rest = url.substr(7);
        const auto end = rest.find_first_of("/?#");
        auto authority = rest.substr(0, end);
        if (end != std::string_view::npos && rest.substr(end) != "/") {
            return q + " has a path, query or fragment; only http://host[:port] is allowed";
        }
        if (authority.find('@') != std::string_view::npos) {
            return q + " must not contain user info";
        }
        std::string_view host;
        std::optional<std::string_view> port;
        if (authority.starts_with("[")) {
            const auto close = authority.find(']');
            if (close == std::string_view::npos ||
                !is_ipv6_literal(authority.substr(1, close - 1))) {
                return q + " has an invalid host";
            }
            host = authority.substr(1, close - 1);
            const auto after = authority.substr(close + 1);
            if (!after.empty()) {
                if (after.front() != ':') {
                    return q + " has an invalid host";
                }
                port = after.substr(1);
            }
        } else {
            const auto colon = authority.find(':');
            if (colon != authority.rfind(':')) {
                return q + " needs brackets around an IPv6 host, like http://[::1]:8081";
            }
            host = authority.substr(0, colon);
            if (colon != std::string_view::npos) {
                port = authority.substr(colon + 1);
            }
            if (host.empty()) {
                return q + " has no host";
            }
            if (!is_name_or_ipv4(host)) {
                return q + " has an invalid host";
            }
        }
        std::uint16_t number = 80;
        if (port) {
            const auto parsed = parse_port(*port);
            if (!parsed) {
                return q + " has an invalid port (must be 1-65535)";
            }
            number = *parsed;
        }
        out.url = std::string(url);
        out.host = std::string(host);
        out.port = number;
        return std::nullopt;
    }

    void read_upstream_options(const json& v, const std::string& pointer, upstream_config& out) {
        if (!r_.check_object(v, pointer, upstream_option_keys)) {
            return;
        }
        r_.read_millis(v, pointer, "connect_timeout_ms", out.connect_timeout);
        r_.read_millis(v, pointer, "read_timeout_ms", out.read_timeout);
        r_.read_millis(v, pointer, "idle_timeout_ms", out.idle_timeout);
        r_.read_uint(v, pointer, "max_idle", out.max_idle, {0, 100'000});
        if (const auto b = r_.read_choice(v, pointer, "balance", balance_names)) {
            out.balance = static_cast<balance_method>(*b);
        }
        r_.read_uint(v, pointer, "max_fails", out.max_fails, {0, 1000});
        r_.read_millis(v, pointer, "fail_timeout_ms", out.fail_timeout);
        std::uint64_t resolve_ms = static_cast<std::uint64_t>(out.resolve_interval.count());
        if (r_.read_uint(v, pointer, "resolve_interval_ms", resolve_ms, {0, 86'400'000})) {
            out.resolve_interval = millis{static_cast<millis::rep>(resolve_ms)};
        }
        if (const json* h = member(v, "health_check")) {
            read_health_check(*h, child(pointer, "health_check"), out.health_check);
        }
    }

    void read_health_check(const json& v, const std::string& pointer, health_check_config& out) {
        if (!r_.check_object(v, pointer, health_check_keys)) {
            return;
        }
        const std::string* path = r_.read_string(v, pointer, "path");
        if (path == nullptr) {
            if (member(v, "path") == nullptr) {
                r_.fail(child(pointer, "path"), "required field is missing");
            }
            return;
        }
        const bool printable = std::all_of(path->begin(), path->end(), [](char c) {
            return c > ' ' && c < 0x7f;
        });
        if (!path->starts_with("/") || !printable) {
            r_.fail(child(pointer, "path"),
                    literal(*path) + " must start with / and hold no spaces or control bytes");
            return;
        }
        out.path = *path;
        r_.read_millis(v, pointer, "interval_ms", out.interval);
        r_.read_millis(v, pointer, "timeout_ms", out.timeout);
        r_.read_uint(v, pointer, "fails", out.fails, {1, 100});
        r_.read_uint(v, pointer, "passes", out.passes, {1, 100});
        if (out.timeout > out.interval) {
            r_.fail(child(pointer, "timeout_ms"), "must not be longer than interval_ms");
        }
    }

    json_config::reader& r_;
    std::filesystem::path base_dir_;  // relative paths in the consent settings start here
};

config parse_checked(std::string_view text, std::string_view source) {
    const std::string src(source);
    json_config::document doc;
    try {
        doc = json_config::parse_document(text, src);
    } catch (const json_config::syntax_error& e) {
        throw config_error({e.what()});
    }
    json_config::reader r(src);
    r.report_duplicates(doc);
    validator v(r, std::filesystem::path(src).parent_path());
    config c = v.read(doc.root);
    if (!r.problems().empty()) {
        throw config_error(r.take_problems());
    }
    return c;
}

}  // namespace

std::string upstream_server::authority() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool cidr::contains(const ip::address& a) const noexcept {
    const auto matches = [](const ip::address& net, unsigned bits, const ip::address& x) {
        if (net.is_v4() != x.is_v4()) {
            return false;
        }
        if (net.is_v4()) {
            bits = std::min(bits, 32U);
            return masked(net.to_v4().to_bytes(), bits) == masked(x.to_v4().to_bytes(), bits);
        }
        bits = std::min(bits, 128U);
        return masked(net.to_v6().to_bytes(), bits) == masked(x.to_v6().to_bytes(), bits);
    };
    // A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d; compare such addresses, and
    // ranges written that way (::ffff:10.0.0.0/104), as IPv4.
    const auto as_v4 = [](const ip::address& x) {
        return x.is_v6() && x.to_v6().is_v4_mapped()
                   ? ip::address(ip::make_address_v4(ip::v4_mapped, x.to_v6()))
                   : x;
    };
    if (matches(network, prefix, a)) {
        return true;
    }
    ip::address net = network;
    unsigned bits = prefix;
    if (net.is_v6() && net.to_v6().is_v4_mapped()) {
        if (bits < 96) {
            return false;
        }
        net = as_v4(net);
        bits -= 96;
    }
    return matches(net, bits, as_v4(a));
}

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(json_config::join_lines(problems)), problems_(std::move(problems)) {}

config parse_config(std::string_view json_text, std::string_view source) {
    try {
        return parse_checked(json_text, source);
    } catch (const config_error&) {
        throw;
    } catch (const std::exception& e) {
        // Only allocation failures are expected here; the contract is config_error or nothing.
        throw config_error({std::string(source) + ": cannot load configuration: " + e.what()});
    }
}

config load_config(const std::filesystem::path& file) {
    std::string error;
    auto text = json_config::read_file(file, max_file_bytes, error);
    if (!text) {
        throw config_error({file.string() + ": cannot read: " + error});
    }
    return parse_config(*text, file.string());
}

}  // namespace cg::gateway
