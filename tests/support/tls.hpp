#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/raw_client.hpp"

namespace cg::test {

/// Certificates made at test time with the `openssl` command line tool (Debian's openssl
/// package): a CA, and leaf certificates signed by it, all with EC P-256 keys and valid for
/// 2 days from now. Files live in `dir`, next to openssl.stdout/openssl.stderr of the last run.
/// Not thread safe (each call runs openssl in `dir`).
struct test_ca {
    /// Makes ca.key and ca.pem (self-signed, CN "cg test CA") in `dir`, creating `dir` if
    /// needed. Throws std::runtime_error with openssl's stderr if openssl fails.
    explicit test_ca(std::filesystem::path dir);

    /// The PEM file of the CA certificate (the trust anchor for tls_options::ca_file).
    std::filesystem::path ca_file() const;

    /// A leaf certificate for `names` (DNS subjectAltNames; the first is also the CN), signed by
    /// the CA, for serverAuth and clientAuth. Writes FILE_STEM.pem and FILE_STEM.key and returns
    /// {cert_file, key_file}. Throws std::invalid_argument for an empty `names`, a name outside
    /// [A-Za-z0-9.*-] or a file stem outside [A-Za-z0-9_-], std::runtime_error if openssl fails.
    std::pair<std::filesystem::path, std::filesystem::path> issue(
        const std::string& file_stem, const std::vector<std::string>& names) const;

    /// Like issue(), but self-signed: NOT from this CA (for "unknown issuer" tests).
    std::pair<std::filesystem::path, std::filesystem::path> self_signed(
        const std::string& file_stem, const std::vector<std::string>& names) const;

  private:
    std::filesystem::path dir_;
};

/// What a TLS client saw of one exchange.
struct tls_result {
    /// The HTTP answer. `ec` is set on any failure: boost::asio::error::timed_out when the
    /// deadline passed, a system error for connect or I/O, a code of category "openssl" (its
    /// message is OpenSSL's reason text) for TLS failures including certificate verification.
    raw_response response;
    /// Empty when connect, handshake and certificate verification succeeded; else what went
    /// wrong, with OpenSSL's reason text ("certificate verify failed: self-signed certificate").
    std::string handshake_error;
    /// CN of the certificate the server presented (filled only after a successful handshake).
    std::string peer_common_name;
    /// Its DNS subjectAltNames, in certificate order.
    std::vector<std::string> peer_dns_names;
    /// "TLSv1.2", "TLSv1.3", ... (SSL_get_version).
    std::string protocol;
    /// The negotiated cipher suite (SSL_CIPHER_get_name).
    std::string cipher;
    /// The server resumed the session offered from the previous connection.
    bool session_reused = false;
};

/// Options of a TLS client connection.
struct tls_options {
    /// Server name sent (SNI); empty: none sent.
    std::string sni;
    /// Name checked against the certificate (an IP literal is checked against IP SANs); empty:
    /// `sni`; both empty: no host check. Only checked when `ca_file` is set.
    std::string verify_host;
    /// Trust anchors (PEM); empty: the chain is not verified at all.
    std::filesystem::path ca_file;
    /// Lowest protocol offered, e.g. TLS1_2_VERSION from <openssl/ssl.h>; 0: library default.
    int min_version = 0;
    /// Highest protocol offered, e.g. TLS1_1_VERSION to test refusal; 0: library default.
    /// Below TLS 1.2 the client also drops to security level 0 (OpenSSL 3 refuses TLS 1.0/1.1
    /// otherwise) and lowers the minimum to TLS 1.0 if min_version is 0, so it really offers it.
    int max_version = 0;
    /// Bound on connect + handshake + request + response of one call.
    std::chrono::milliseconds timeout{5000};
};

/// A blocking TLS client of 127.0.0.1:`port` that sends requests exactly as given. Each call
/// makes a new connection and offers the session saved from the previous one for resumption
/// (saved only once the response has been read, so TLS 1.3 tickets have arrived, and only
/// when resumable). Every call is bounded by options.timeout; SIGPIPE is blocked in the
/// calling thread during a call. Not thread safe; one test thread at a time.
class tls_client {
  public:
    /// Throws std::runtime_error if the options cannot be applied (e.g. unreadable ca_file).
    explicit tls_client(std::uint16_t port, tls_options options);
    ~tls_client();
    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;

    /// Connects, handshakes, sends `request` bytes as they are, reads one HTTP/1.1 response
    /// (Content-Length, chunked or close-delimited; not for HEAD), closes (close_notify).
    /// Failures are reported in the result, never thrown.
    tls_result exchange(std::string_view request);

    /// Connects and handshakes only, then closes: the handshake part of exchange()'s result,
    /// with an empty response (response.ec set if the handshake failed).
    tls_result handshake_only();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// One GET of `target` with Host `host` and "Connection: close" over TLS to 127.0.0.1:`port`:
/// SNI and host check use `host`, the chain is verified against `ca_file` (empty: not
/// verified). Failures are reported in the result, never thrown.
tls_result https_get(std::uint16_t port, std::string_view host, std::string_view target,
                     const std::filesystem::path& ca_file,
                     std::chrono::milliseconds timeout = std::chrono::seconds{5});

}  // namespace cg::test
