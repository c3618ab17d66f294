#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

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
    /// TLS to Redis (and to the sentinels), `redis.tls`; off unless `enabled`. Not with a Unix
    /// socket.
    struct tls_settings {
        bool enabled = false;
        std::string ca_file;      ///< trust anchors (PEM); empty: the system's store
        std::string cert_file;    ///< a client certificate (PEM chain) for tls-auth-clients
        std::string key_file;     ///< its key (with cert_file)
        std::string server_name;  ///< the name the certificate must carry; empty: the host
    };
    tls_settings tls;
    /// Redis Sentinel (issue 11): when set, the master is asked of these (in turn, the last
    /// one that answered first) before each connection, and host, port and socket are not
    /// used. The connection checks that the server it reached is a master (ROLE), so a
    /// failover is followed at the next reconnect.
    struct sentinel_address {
        std::string host;
        std::uint16_t port = 26379;
    };
    std::vector<sentinel_address> sentinels;
    std::string master_name;  ///< the name the sentinels monitor (required with sentinels)
    std::string sentinel_username;  ///< ACL user on the sentinels; empty = the default user
    std::string sentinel_password;  ///< AUTH on the sentinels (their requirepass); empty = none
    /// A consent record counts as stored only once this many replicas have it too (WAIT);
    /// until then it stays in the journal and is replayed (idempotently). 0: the master's
    /// acknowledgement is enough (a failover may then lose the last writes).
    unsigned min_replicas = 0;
};

}  // namespace cg::redis
