#include "redis/config_reader.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cg::redis {
namespace {

using lines = std::vector<std::string>;
using namespace std::chrono_literals;

struct read_result {
    redis_config value;
    lines problems;
};

// What read_redis_config makes of `text` as the object at `pointer`, relative to /etc/cg.
read_result read(std::string_view text, const std::string& pointer = "/redis") {
    read_result out;
    out.problems = json_config::problems_in(
        text, "t.json", [&](json_config::reader& r, const nlohmann::json& v) {
            out.value = read_redis_config(r, v, pointer, "/etc/cg");
        });
    return out;
}

lines problems(std::string_view text) {
    return read(text).problems;
}

redis_config read_ok(std::string_view text) {
    auto r = read(text);
    EXPECT_EQ(r.problems, lines{});
    return r.value;
}

TEST(RedisConfig, UsesDefaultsForAnEmptyObject) {
    const auto c = read_ok("{}");

    EXPECT_EQ(c.host, "127.0.0.1");
    EXPECT_EQ(c.port, 6379);
    EXPECT_EQ(c.socket, "");
    EXPECT_EQ(c.username, "");
    EXPECT_EQ(c.password, "");
    EXPECT_EQ(c.database, 0U);
    EXPECT_EQ(c.connect_timeout, 1000ms);
    EXPECT_EQ(c.command_timeout, 2000ms);
    EXPECT_EQ(c.key_prefix, "cg:");
}

TEST(RedisConfig, ReadsEveryField) {
    const auto c = read_ok(R"({"host": "redis.internal", "port": 6380, "username": "gw",
        "password": "pw", "database": 3, "connect_timeout_ms": 500, "command_timeout_ms": 750,
        "key_prefix": "site-a:cg."})");

    EXPECT_EQ(c.host, "redis.internal");
    EXPECT_EQ(c.port, 6380);
    EXPECT_EQ(c.username, "gw");
    EXPECT_EQ(c.password, "pw");
    EXPECT_EQ(c.database, 3U);
    EXPECT_EQ(c.connect_timeout, 500ms);
    EXPECT_EQ(c.command_timeout, 750ms);
    EXPECT_EQ(c.key_prefix, "site-a:cg.");
}

TEST(RedisConfig, RejectsUnknownFieldsAndNonObjects) {
    EXPECT_EQ(problems(R"({"url": "redis://"})"),
              lines{"t.json: /redis/url: unknown field (allowed: host, port, socket, username, "
                    "password, database, connect_timeout_ms, command_timeout_ms, key_prefix, "
                    "sentinels, master_name, sentinel_username, sentinel_password, "
                    "min_replicas, tls)"});
    EXPECT_EQ(problems(R"("localhost")"),
              lines{"t.json: /redis: must be an object (got \"localhost\")"});
}

TEST(RedisConfig, ValidatesEveryField) {
    EXPECT_EQ(problems(R"({"host": "redis server", "port": 0, "database": 16,
        "username": 7, "password": 12345, "connect_timeout_ms": 0, "command_timeout_ms": 1.5,
        "key_prefix": "cg/"})"),
              (lines{"t.json: /redis/host: must be a host name or IP address such as 127.0.0.1 "
                     "(got \"redis server\")",
                     "t.json: /redis/port: must be 1-65535 (got 0)",
                     "t.json: /redis/username: must be a string (got 7)",
                     "t.json: /redis/password: must be a string",
                     "t.json: /redis/database: must be 0-15 (got 16)",
                     "t.json: /redis/connect_timeout_ms: must be 1-86400000 (got 0)",
                     "t.json: /redis/command_timeout_ms: must be a whole number (got 1.5)",
                     "t.json: /redis/key_prefix: must be 1-64 letters, digits, ':', '_', '-' or "
                     "'.' (got \"cg/\")"}));
    EXPECT_EQ(problems(R"({"host": "999.0.0.1", "key_prefix": ""})"),
              (lines{"t.json: /redis/host: must be a host name or IP address such as 127.0.0.1 "
                     "(got \"999.0.0.1\")",
                     "t.json: /redis/key_prefix: must be 1-64 letters, digits, ':', '_', '-' or "
                     "'.' (got \"\")"}));
    EXPECT_EQ(read_ok(R"({"host": "::1"})").host, "::1");
}

TEST(RedisConfig, NeverQuotesThePassword) {
    const auto found = problems(R"({"password": ["s3cret-pass"]})");

    ASSERT_EQ(found, lines{"t.json: /redis/password: must be a string"});
}

TEST(RedisConfig, ReadsAUnixSocketInsteadOfHostAndPort) {
    EXPECT_EQ(read_ok(R"({"socket": "run/redis.sock"})").socket, "/etc/cg/run/redis.sock");
    EXPECT_EQ(read_ok(R"({"socket": "/run/redis/redis.sock"})").socket, "/run/redis/redis.sock");
    EXPECT_EQ(problems(R"({"socket": "/run/r.sock", "host": "a", "port": 1})"),
              (lines{"t.json: /redis/host: must not be set together with /redis/socket",
                     "t.json: /redis/port: must not be set together with /redis/socket"}));
    EXPECT_EQ(problems(R"({"socket": "/)" + std::string(107, 's') + "\"}"),
              lines{"t.json: /redis/socket: must be at most 107 bytes long, the limit of a Unix "
                    "socket path (got \"/sssssssssssssssssssssssssssssssssss...)"});
    EXPECT_EQ(problems(R"({"socket": ""})"), lines{"t.json: /redis/socket: must not be empty"});
    EXPECT_EQ(problems(R"({"socket": "a\nb"})"),
              lines{"t.json: /redis/socket: must not contain control characters (got "
                    "\"a\\u000ab\")"});
}

TEST(RedisConfig, NamesTheObjectWhereverItIs) {
    EXPECT_EQ(read(R"({"socket": "/run/r.sock", "port": 1})", "/analytics/redis").problems,
              lines{"t.json: /analytics/redis/port: must not be set together with "
                    "/analytics/redis/socket"});
}

TEST(RedisConfig, ReadsSentinelsTheMasterNameAndMinReplicas) {
    const auto c = read_ok(R"({"sentinels": ["10.0.0.5:26379", "[::1]:26380", "sentinel-3:26381"],
        "master_name": "cg-main", "min_replicas": 1, "sentinel_username": "watcher",
        "sentinel_password": "s3cret"})");
    ASSERT_EQ(c.sentinels.size(), 3U);
    EXPECT_EQ(c.sentinels[0].host, "10.0.0.5");
    EXPECT_EQ(c.sentinels[0].port, 26379);
    EXPECT_EQ(c.sentinels[1].host, "::1");
    EXPECT_EQ(c.sentinels[2].port, 26381);
    EXPECT_EQ(c.master_name, "cg-main");
    EXPECT_EQ(c.min_replicas, 1U);
    EXPECT_EQ(c.sentinel_username, "watcher");
    EXPECT_EQ(c.sentinel_password, "s3cret");
}

TEST(RedisConfig, ValidatesTheSentinelFields) {
    EXPECT_EQ(problems(R"({"sentinels": ["10.0.0.5", "a b:1", 7], "host": "x"})"),
              (lines{"t.json: /redis/sentinels/0: must be \"host:port\" such as "
                     "\"10.0.0.5:26379\" (got \"10.0.0.5\")",
                     "t.json: /redis/sentinels/1: must be \"host:port\" such as "
                     "\"10.0.0.5:26379\" (got \"a b:1\")",
                     "t.json: /redis/sentinels/2: must be \"host:port\" such as "
                     "\"10.0.0.5:26379\" (got 7)",
                     "t.json: /redis/master_name: required with /redis/sentinels",
                     "t.json: /redis/host: must not be set together with /redis/sentinels"}));
    EXPECT_EQ(problems(R"({"master_name": "m", "sentinel_password": "p"})"),
              (lines{"t.json: /redis/master_name: is only used with /redis/sentinels",
                     "t.json: /redis/sentinel_password: is only used with /redis/sentinels"}));
    EXPECT_EQ(problems(R"({"sentinels": ["s:1"], "master_name": "m", "sentinel_password": 5})"),
              (lines{"t.json: /redis/sentinel_password: must be a string"}));
    EXPECT_EQ(problems(R"({"sentinels": [], "master_name": "m", "min_replicas": 17})"),
              (lines{"t.json: /redis/sentinels: must be a list of 1 to 16 \"host:port\" strings "
                     "(got [])",
                     "t.json: /redis/min_replicas: must be 0-16 (got 17)"}));
}

TEST(RedisConfig, ReadsTls) {
    // Any readable file stands in for the PEM files here; they are loaded at connect.
    const std::string file = "/proc/self/status";
    const auto c = read_ok(R"({"host": "redis.internal", "tls": {"ca_file": ")" + file +
                           R"(", "cert_file": ")" + file + R"(", "key_file": ")" + file +
                           R"(", "server_name": "redis.example"}})");
    EXPECT_TRUE(c.tls.enabled);
    EXPECT_EQ(c.tls.ca_file, file);
    EXPECT_EQ(c.tls.cert_file, file);
    EXPECT_EQ(c.tls.server_name, "redis.example");
    EXPECT_TRUE(read_ok(R"({"tls": {}})").tls.enabled);  // the system's CA store
    EXPECT_FALSE(read_ok("{}").tls.enabled);
}

TEST(RedisConfig, ValidatesTls) {
    EXPECT_EQ(problems(R"({"tls": {"ca_file": "/nonexistent/ca.pem",
                                    "cert_file": "/proc/self/status"}})"),
              (lines{"t.json: /redis/tls/ca_file: \"/nonexistent/ca.pem\" is not a readable file",
                     "t.json: /redis/tls: cert_file and key_file go together"}));
    EXPECT_EQ(problems(R"({"tls": {"verify": false}})"),
              (lines{"t.json: /redis/tls/verify: unknown field (allowed: ca_file, cert_file, "
                     "key_file, server_name)"}));
    EXPECT_EQ(problems(R"({"socket": "/run/r.sock", "tls": {}})"),
              (lines{"t.json: /redis/tls: must not be set together with /redis/socket"}));
}

}  // namespace
}  // namespace cg::redis
