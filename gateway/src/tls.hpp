#pragma once
#include <filesystem>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "gateway/config.hpp"

namespace cg::gateway {

/// Loads `cert_file` (PEM: the certificate, then its chain) and `key_file` (PEM private key)
/// and checks that they belong together. Returns "" when they do, else why not (no key
/// material in the text).
std::string check_certificate_pair(const std::filesystem::path& cert_file,
                                   const std::filesystem::path& key_file);

/// The server side of TLS for the proxy listener (issue 11): one context per configured
/// certificate, the one for the client's SNI name chosen during the handshake (the first
/// certificate when the client sends none or one that no certificate covers). TLS 1.2 and
/// 1.3 only, forward-secret AEAD ciphers only, no renegotiation, session resumption by
/// tickets and the server-side cache, ALPN "http/1.1". Read-only after construction; any
/// thread.
class tls_server {
  public:
    /// Throws std::runtime_error naming the file and the reason when a pair cannot be used.
    explicit tls_server(const std::vector<tls_certificate>& certificates);
    ~tls_server();
    tls_server(const tls_server&) = delete;
    tls_server& operator=(const tls_server&) = delete;

    /// The context a connection's stream starts with; the SNI callback may switch it.
    boost::asio::ssl::context& context() noexcept { return *contexts_.front(); }

  private:
    friend std::string certificate_metrics(const tls_server* tls);
    struct loaded {
        std::string file;
        std::int64_t not_after = 0;  ///< Unix seconds
    };

    static int on_server_name(SSL* ssl, int* alert, void* self);

    std::vector<std::unique_ptr<boost::asio::ssl::context>> contexts_;
    std::vector<loaded> loaded_;
};

/// cg_tls_certificate_expiry_timestamp_seconds{certificate="CERT_FILE"}: when each certificate
/// of `tls` stops being valid (notAfter), for the expiry alert; without TLS (null) the family
/// with no samples.
std::string certificate_metrics(const tls_server* tls);

}  // namespace cg::gateway
