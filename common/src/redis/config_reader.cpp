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

constexpr std::array<std::string_view, 9> redis_keys{"host",
                                                     "port",
                                                     "socket",
                                                     "username",
                                                     "password",
                                                     "database",
                                                     "connect_timeout_ms",
                                                     "command_timeout_ms",
                                                     "key_prefix"};
constexpr std::size_t max_key_prefix = 64;
// sockaddr_un::sun_path holds 108 bytes on Linux, including the terminating NUL.
constexpr std::size_t max_socket_path = 107;
// A default Redis server has 16 databases (the `databases` setting).
constexpr json_config::uint_range redis_databases{0, 15};

bool is_ipv6_literal(const std::string& s) {
    std::array<unsigned char, 16> bytes{};
    return ::inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1;
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
    return out;
}

}  // namespace cg::redis
