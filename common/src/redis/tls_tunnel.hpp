#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "redis/config.hpp"

struct ssl_ctx_st;
struct ssl_st;

namespace cg::redis::detail {

/// TLS to Redis for hiredis 0.14, which has none (issue 11): a TLS connection made with
/// OpenSSL and a socket pair; hiredis talks plain RESP on one end (redisConnectFd) while a
/// thread of the tunnel moves the bytes between the other end and the TLS connection. Its
/// timeouts (on every socket read and write) are the command timeout. Ends when either side
/// closes; hiredis then sees the connection drop and the link reconnects.
class tls_tunnel {
  public:
    /// Connects to host:port within `connect_timeout`, completes the handshake (server
    /// certificate verified against tls.ca_file or the system's store, its name against
    /// tls.server_name or `host`; TLS 1.2 or newer; the client certificate when configured)
    /// and starts the pump. Null with `error` in words (OpenSSL's reason, never key material)
    /// on failure.
    static std::unique_ptr<tls_tunnel> open(const redis_config::tls_settings& tls,
                                            const std::string& host, std::uint16_t port,
                                            std::chrono::microseconds connect_timeout,
                                            std::chrono::microseconds io_timeout,
                                            std::string& error);
    ~tls_tunnel();
    tls_tunnel(const tls_tunnel&) = delete;
    tls_tunnel& operator=(const tls_tunnel&) = delete;

    /// The plain end for redisConnectFd, once; hiredis owns (and closes) it from then on.
    int take_plain_fd() noexcept;

  private:
    tls_tunnel() = default;
    void pump() noexcept;
    bool write_tls(const char* data, std::size_t n) noexcept;

    ssl_ctx_st* ctx_ = nullptr;
    ssl_st* ssl_ = nullptr;
    int tcp_fd_ = -1;
    int inner_fd_ = -1;  ///< the tunnel's end of the pair
    int outer_fd_ = -1;  ///< hiredis's end, until taken
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace cg::redis::detail
