#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace cg::redis {

/// How to reach Redis (the top-level `redis` object of the gateway config). Shared by every
/// module that keeps data in Redis; read with read_redis_config (redis/config_reader.hpp).
struct redis_config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string socket;    ///< a Unix socket path; when set, host and port are not used
    std::string username;  ///< ACL user (Redis 6+); empty = the default user
    std::string password;  ///< AUTH; empty = none
    unsigned database = 0;
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds command_timeout{2000};  ///< a batch slower than this has failed
    std::string key_prefix = "cg:";                   ///< in front of every key we write
};

}  // namespace cg::redis
