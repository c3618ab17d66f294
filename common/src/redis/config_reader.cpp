// The `redis` block of the configuration (STYLE.md §6). The messages are the ones consent
// printed when it owned this block; tests/unit/common/redis_config_test.cpp checks them.
#include "redis/config_reader.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

namespace cg::redis {

namespace {

using json = nlohmann::json;
using json_config::child;
using json_config::got;
using json_config::literal;
using json_config::member;
using json_config::reader;

constexpr std::array<std::string_view, 15> redis_keys{"host",
                                                      "port",
                                                      "socket",
                                                      "username",
                                                      "password",
                                                      "database",
                                                      "connect_timeout_ms",
                                                      "command_timeout_ms",
                                                      "key_prefix",
                                                      "sentinels",
                                                      "master_name",
                                                      "sentinel_username",
                                                      "sentinel_password",
                                                      "min_replicas",
                                                      "tls"};
constexpr std::array<std::string_view, 4> tls_keys{"ca_file", "cert_file", "key_file",
                                                   "server_name"};
constexpr std::size_t max_key_prefix = 64;
// sockaddr_un::sun_path holds 108 bytes on Linux, including the terminating NUL.
constexpr std::size_t max_socket_path = 107;
// A default Redis server has 16 databases (the `databases` setting).
constexpr json_config::uint_range redis_databases{0, 15};

bool is_ipv6_literal(const std::string& s) {
    std::array<unsigned char, 16> bytes{};
    return ::inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1;
}

// "host:port" or "[v6]:port" (the port is required: sentinels usually listen on 26379).
std::optional<redis_config::sentinel_address> parse_sentinel(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
        return std::nullopt;
    }
    std::string host = text.substr(0, colon);
    if (host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned port = 0;
    for (const char c : text.substr(colon + 1)) {
        if (c < '0' || c > '9' || port > 65535) {
            return std::nullopt;
        }
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (host.empty() || port == 0 || port > 65535 ||
        std::any_of(host.begin(), host.end(), [](char c) {
            return !(json_config::is_alnum(c) || c == '.' || c == '-' || c == ':');
        })) {
        return std::nullopt;
    }
    return redis_config::sentinel_address{host, static_cast<std::uint16_t>(port)};
}

void read_sentinels(reader& r, const json& v, const std::string& pointer, redis_config& out) {
    const json* list = member(v, "sentinels");
    const json* name = member(v, "master_name");
    if (list == nullptr) {
        for (const std::string_view key : {"master_name", "sentinel_username", "sentinel_password"}) {
            if (member(v, key) != nullptr) {
                r.fail(child(pointer, key), "is only used with " + child(pointer, "sentinels"));
            }
        }
        return;
    }
    const std::string here = child(pointer, "sentinels");
    if (!list->is_array() || list->empty() || list->size() > 16) {
        r.fail(here, "must be a list of 1 to 16 \"host:port\" strings" + got(*list));
        return;
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
        const json& e = (*list)[i];
        const auto address = e.is_string() ? parse_sentinel(e.get<std::string>()) : std::nullopt;
        if (!address) {
            r.fail(child(here, i), "must be \"host:port\" such as \"10.0.0.5:26379\"" + got(e));
            continue;
        }
        out.sentinels.push_back(*address);
    }
    if (const std::string* n = r.read_string(v, pointer, "master_name")) {
        if (n->empty() || n->size() > 128 ||
            !std::all_of(n->begin(), n->end(), [](char c) {
                return json_config::is_alnum(c) || c == '-' || c == '_' || c == '.';
            })) {
            r.fail(child(pointer, "master_name"),
                   "must be 1-128 letters, digits, '-', '_' or '.'" + got(json(*n)));
        } else {
            out.master_name = *n;
        }
    } else if (name == nullptr) {
        r.fail(child(pointer, "master_name"), "required with " + here);
    }
    for (const std::string_view key : {"host", "port", "socket"}) {
        if (member(v, key) != nullptr) {
            r.fail(child(pointer, key), "must not be set together with " + here);
        }
    }
    if (const std::string* user = r.read_string(v, pointer, "sentinel_username")) {
        out.sentinel_username = *user;
    }
    if (const json* password = member(v, "sentinel_password")) {
        if (!password->is_string()) {
            r.fail(child(pointer, "sentinel_password"), "must be a string");  // never quoted
        } else {
            out.sentinel_password = password->get<std::string>();
        }
    }
}

// `redis.tls`: an object (empty: the system's CA store, the host's name) turns TLS on. The
// files must be readable now; a client certificate needs its key.
void read_tls(reader& r, const json& v, const std::string& pointer,
              const std::filesystem::path& base_dir, redis_config& out) {
    const json* t = member(v, "tls");
    if (t == nullptr) {
        return;
    }
    const std::string here = child(pointer, "tls");
    if (!r.check_object(*t, here, tls_keys)) {
        return;
    }
    out.tls.enabled = true;
    for (const auto& [key, field] : {std::pair{"ca_file", &out.tls.ca_file},
                                     std::pair{"cert_file", &out.tls.cert_file},
                                     std::pair{"key_file", &out.tls.key_file}}) {
        if (auto path = r.read_path(*t, here, key, base_dir)) {
            std::error_code ec;
            if (!std::filesystem::is_regular_file(*path, ec)) {
                r.fail(child(here, key), literal(path->string()) + " is not a readable file");
            } else {
                *field = path->string();
            }
        }
    }
    if ((member(*t, "cert_file") == nullptr) != (member(*t, "key_file") == nullptr)) {
        r.fail(here, "cert_file and key_file go together");
    }
    if (const std::string* name = r.read_string(*t, here, "server_name")) {
        out.tls.server_name = *name;
    }
    if (!out.socket.empty()) {
        r.fail(here, "must not be set together with " + child(pointer, "socket"));
    }
}

}  // namespace

redis_config read_redis_config(reader& r, const json& v, const std::string& pointer,
                               const std::filesystem::path& base_dir) {
    redis_config out;
    if (!r.check_object(v, pointer, redis_keys)) {
        return out;
    }
    if (const std::string* host = r.read_string(v, pointer, "host")) {
        if (!json_config::is_name_or_ipv4(*host) && !is_ipv6_literal(*host)) {
            r.fail(child(pointer, "host"),
                   "must be a host name or IP address such as 127.0.0.1" + got(json(*host)));
        } else {
            out.host = *host;
        }
    }
    r.read_uint(v, pointer, "port", out.port, {1, 65535});
    if (auto socket = r.read_path(v, pointer, "socket", base_dir)) {
        if (socket->string().size() > max_socket_path) {
            r.fail(child(pointer, "socket"),
                   "must be at most " + std::to_string(max_socket_path) +
                       " bytes long, the limit of a Unix socket path (got " +
                       literal(socket->string()) + ")");
        } else {
            out.socket = socket->string();
        }
        for (const std::string_view key : {"host", "port"}) {
            if (member(v, key) != nullptr) {
                r.fail(child(pointer, key),
                       "must not be set together with " + child(pointer, "socket"));
            }
        }
    }
    if (const std::string* user = r.read_string(v, pointer, "username")) {
        out.username = *user;
    }
    if (const json* password = member(v, "password")) {
        if (!password->is_string()) {
            r.fail(child(pointer, "password"), "must be a string");  // a secret: never quoted
        } else {
            out.password = password->get<std::string>();
        }
    }
    r.read_uint(v, pointer, "database", out.database, redis_databases);
    r.read_millis(v, pointer, "connect_timeout_ms", out.connect_timeout);
    r.read_millis(v, pointer, "command_timeout_ms", out.command_timeout);
    if (const std::string* prefix = r.read_string(v, pointer, "key_prefix")) {
        const bool ok =
            !prefix->empty() && prefix->size() <= max_key_prefix &&
            std::all_of(prefix->begin(), prefix->end(), [](char c) {
                return json_config::is_alnum(c) || c == ':' || c == '_' || c == '-' || c == '.';
            });
        if (!ok) {
            r.fail(child(pointer, "key_prefix"),
                   "must be 1-64 letters, digits, ':', '_', '-' or '.'" + got(json(*prefix)));
        } else {
            out.key_prefix = *prefix;
        }
    }
    read_sentinels(r, v, pointer, out);
    read_tls(r, v, pointer, base_dir, out);
    r.read_uint(v, pointer, "min_replicas", out.min_replicas, {0, 16});
    return out;
}

}  // namespace cg::redis
