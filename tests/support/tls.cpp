#include "support/tls.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "support/child_process.hpp"
#include "support/pattern.hpp"

namespace cg::test {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
namespace net = boost::asio;
using boost::system::error_code;
using steady = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Certificates

/// Runs `openssl ARGS...` in `dir`; throws with openssl's stderr when it fails.
void run_openssl(const fs::path& dir, std::vector<std::string> args) {
    const std::string command = args.empty() ? std::string{} : args.front();
    // argv goes to posix_spawn as is: no shell, so paths need no quoting.
    child_process openssl{"openssl", std::move(args), dir};
    const auto status = openssl.wait_exit(std::chrono::seconds{30});
    if (status != 0) {
        const std::string how =
            status ? "exit status " + std::to_string(*status) : "still running after 30 s";
        throw std::runtime_error("openssl " + command + " in " + dir.string() + " failed (" + how +
                                 "): " + openssl.stderr_text());
    }
}

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out{file, std::ios::binary | std::ios::trunc};
    out << text;
    out.close();
    if (!out) {
        throw std::runtime_error("cannot write " + file.string());
    }
}

bool made_of(std::string_view text, std::string_view punctuation) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               punctuation.find(c) != std::string_view::npos;
    });
}

/// Names go into an openssl config file and -subj: keep them to what a DNS name can hold, so
/// nothing needs escaping there.
void check_leaf_request(const std::string& file_stem, const std::vector<std::string>& names) {
    if (!made_of(file_stem, "_-") || file_stem == "ca") {
        throw std::invalid_argument("test_ca: bad file stem \"" + file_stem + "\"");
    }
    if (names.empty()) {
        throw std::invalid_argument("test_ca: a certificate needs at least one name");
    }
    for (const auto& name : names) {
        if (!made_of(name, ".*-")) {
            throw std::invalid_argument("test_ca: bad DNS name \"" + name + "\"");
        }
    }
}

/// The openssl config of a leaf: the subject, and the extensions in section [leaf].
std::string leaf_config(const std::vector<std::string>& names) {
    std::string alt_names;
    for (const auto& name : names) {
        alt_names.append(alt_names.empty() ? "DNS:" : ",DNS:").append(name);
    }
    return "[req]\ndistinguished_name = dn\nprompt = no\n"
           "[dn]\nCN = " +
           names.front() +
           "\n"
           "[leaf]\n"
           "basicConstraints = critical,CA:FALSE\n"
           "keyUsage = critical,digitalSignature\n"
           "extendedKeyUsage = serverAuth,clientAuth\n"
           "subjectAltName = " +
           alt_names +
           "\n"
           "subjectKeyIdentifier = hash\n"
           "authorityKeyIdentifier = keyid,issuer\n";
}

/// A random positive serial number: RFC 5280 §4.1.2.2 wants it unique per CA.
std::string random_serial() {
    std::random_device random;
    const std::uint64_t value =
        (std::uint64_t{random()} << 32U | std::uint64_t{random()}) & 0x3fffffffffffffffULL;
    return "0x" + hex64(value | 1U);
}

const std::vector<std::string> new_p256_key{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                            "-nodes"};

std::vector<std::string> concat(std::vector<std::string> head,
                                const std::vector<std::string>& tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
}

// ---------------------------------------------------------------------------------------------
// OpenSSL plumbing

struct ssl_ctx_free {
    void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
};
struct ssl_free {
    void operator()(SSL* p) const noexcept { SSL_free(p); }
};
struct session_free {
    void operator()(SSL_SESSION* p) const noexcept { SSL_SESSION_free(p); }
};
struct x509_free {
    void operator()(X509* p) const noexcept { X509_free(p); }
};
struct general_names_free {
    void operator()(GENERAL_NAMES* p) const noexcept { GENERAL_NAMES_free(p); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free>;
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;
using session_ptr = std::unique_ptr<SSL_SESSION, session_free>;

/// Codes of category "openssl" are packed OpenSSL error codes (ERR_get_error) of a library
/// error; the message is OpenSSL's reason text.
class openssl_category_impl final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "openssl"; }
    std::string message(int value) const override {
        const char* reason = ERR_reason_error_string(static_cast<unsigned long>(value));
        return reason != nullptr ? reason : "OpenSSL error " + std::to_string(value);
    }
};

const boost::system::error_category& openssl_category() noexcept {
    static const openssl_category_impl category;
    return category;
}

error_code system_error_code(int value) {
    return {value, boost::system::system_category()};
}

/// The text of OpenSSL's oldest queued error, or `fallback`; clears the queue.
std::string take_error_text(std::string_view fallback) {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
    return reason != nullptr ? reason : std::string{fallback};
}

/// A socket closed on destruction.
class unique_fd {
  public:
    unique_fd() = default;
    ~unique_fd() { reset(-1); }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    void reset(int fd) noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }
    int get() const noexcept { return fd_; }

  private:
    int fd_ = -1;
};

/// Blocks SIGPIPE in this thread for a scope: OpenSSL writes to the socket with write(2), so a
/// peer that has gone would otherwise kill the test binary. A SIGPIPE raised meanwhile is
/// taken (it is thread-directed) before the old mask comes back.
class sigpipe_blocked {
  public:
    sigpipe_blocked() noexcept {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~sigpipe_blocked() {
        const timespec zero{};
        while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    sigpipe_blocked(const sigpipe_blocked&) = delete;
    sigpipe_blocked& operator=(const sigpipe_blocked&) = delete;

  private:
    sigset_t pipe_{};
    sigset_t old_{};
};

/// Waits until `fd` is ready for `events`; false when `deadline` passes first. Errors count
/// as ready, so the next call reports them.
bool wait_ready(int fd, short events, steady::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now()).count();
        if (left <= 0) {
            return false;
        }
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::min<decltype(left)>(left, 60'000)));
        if (n > 0 || (n < 0 && errno != EINTR)) {
            return true;
        }
    }
}

/// How an OpenSSL call on the non-blocking socket ended.
struct io_outcome {
    int ret = 0;
    int ssl_error = SSL_ERROR_NONE;
    int sys_errno = 0;
    bool timed_out = false;
};

/// Repeats `op` (SSL_connect, SSL_read, SSL_write) until it returns > 0, fails, or `deadline`
/// passes, waiting for the socket as OpenSSL asks. Failure details stay in OpenSSL's queue.
template <class Op>
io_outcome drive(SSL* ssl, int fd, steady::time_point deadline, Op op) {
    for (;;) {
        ERR_clear_error();  // SSL_get_error reads the queue: it must hold this call's errors only
        errno = 0;
        const int ret = op();
        if (ret > 0) {
            return {ret, SSL_ERROR_NONE, 0, false};
        }
        const int sys_errno = errno;
        const int ssl_error = SSL_get_error(ssl, ret);
        short events = 0;
        if (ssl_error == SSL_ERROR_WANT_READ) {
            events = POLLIN;
        } else if (ssl_error == SSL_ERROR_WANT_WRITE) {
            events = POLLOUT;
        } else {
            return {ret, ssl_error, sys_errno, false};
        }
        if (!wait_ready(fd, events, deadline)) {
            return {ret, ssl_error, 0, true};
        }
    }
}

/// A failed call as an error code and text; clears OpenSSL's queue.
struct failure {
    error_code ec;
    std::string text;
};

failure describe(SSL* ssl, const io_outcome& outcome) {
    failure out;
    if (outcome.timed_out) {
        ERR_clear_error();
        out.ec = net::error::timed_out;
        out.text = "timed out";
        return out;
    }
    if (outcome.ssl_error == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        out.ec = net::error::eof;
        out.text = "connection closed by the peer (close_notify)";
        return out;
    }
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) {  // SSL_ERROR_SYSCALL with an empty queue: the socket itself failed
        out.ec = outcome.sys_errno != 0 ? system_error_code(outcome.sys_errno)
                                        : error_code{net::error::eof};
        out.text = outcome.sys_errno != 0 ? std::strerror(outcome.sys_errno)
                                          : "connection closed by the peer";
        return out;
    }
    if (ERR_SYSTEM_ERROR(e)) {
        out.ec = system_error_code(ERR_GET_REASON(e));
        out.text = out.ec.message();
        return out;
    }
    out.ec = error_code{static_cast<int>(e), openssl_category()};
    out.text = out.ec.message();
    if (ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        out.text.append(": ").append(X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
    }
    return out;
}

/// Connects a non-blocking socket to 127.0.0.1:port by `deadline`.
error_code connect_loopback(unique_fd& fd, std::uint16_t port, steady::time_point deadline) {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
        return system_error_code(errno);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
        return {};
    }
    if (errno != EINPROGRESS) {
        return system_error_code(errno);
    }
    if (!wait_ready(fd.get(), POLLOUT, deadline)) {
        return net::error::timed_out;
    }
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
        return system_error_code(errno);
    }
    return error != 0 ? system_error_code(error) : error_code{};
}

bool is_ip_literal(const std::string& host) {
    std::array<unsigned char, sizeof(in6_addr)> ignored{};
    return ::inet_pton(AF_INET, host.c_str(), ignored.data()) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), ignored.data()) == 1;
}

std::string text_of(const ASN1_STRING* s) {
    return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
            static_cast<std::size_t>(ASN1_STRING_length(s))};
}

/// Protocol, cipher, resumption and the names of the server's certificate.
void read_peer(SSL* ssl, tls_result& out) {
    out.protocol = SSL_get_version(ssl);
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
        out.cipher = SSL_CIPHER_get_name(cipher);
    }
    out.session_reused = SSL_session_reused(ssl) == 1;
    const std::unique_ptr<X509, x509_free> cert{SSL_get1_peer_certificate(ssl)};
    if (!cert) {
        return;
    }
    const X509_NAME* subject = X509_get_subject_name(cert.get());
    if (const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); at >= 0) {
        out.peer_common_name = text_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
    }
    const std::unique_ptr<GENERAL_NAMES, general_names_free> names{static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr))};
    const int count = names ? sk_GENERAL_NAME_num(names.get()) : 0;
    for (int i = 0; i < count; ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        if (name->type == GEN_DNS) {
            out.peer_dns_names.push_back(text_of(name->d.dNSName));
        }
    }
}


}  // namespace

// ---------------------------------------------------------------------------------------------
// test_ca

test_ca::test_ca(std::filesystem::path dir) : dir_(fs::absolute(std::move(dir))) {
    fs::create_directories(dir_);
    write_text(dir_ / "ca.cnf",
               "[req]\ndistinguished_name = dn\nprompt = no\n"
               "[dn]\nCN = cg test CA\n"
               "[ca]\n"
               "basicConstraints = critical,CA:TRUE\n"
               "keyUsage = critical,keyCertSign,cRLSign\n"
               "subjectKeyIdentifier = hash\n");
    run_openssl(dir_,
                concat({"req", "-x509", "-new"},
                       concat(new_p256_key, {"-keyout", (dir_ / "ca.key").string(), "-out",
                                             ca_file().string(), "-days", "2", "-sha256", "-config",
                                             (dir_ / "ca.cnf").string(), "-extensions", "ca"})));
}

std::filesystem::path test_ca::ca_file() const {
    return dir_ / "ca.pem";
}

std::pair<std::filesystem::path, std::filesystem::path> test_ca::issue(
    const std::string& file_stem, const std::vector<std::string>& names) const {
    check_leaf_request(file_stem, names);
    const auto config = dir_ / (file_stem + ".cnf");
    const auto request = dir_ / (file_stem + ".csr");
    const auto cert = dir_ / (file_stem + ".pem");
    const auto key = dir_ / (file_stem + ".key");
    write_text(config, leaf_config(names));
    run_openssl(dir_, concat({"req", "-new"},
                             concat(new_p256_key, {"-keyout", key.string(), "-out",
                                                   request.string(), "-config", config.string()})));
    run_openssl(
        dir_, {"x509", "-req", "-in", request.string(), "-CA", ca_file().string(), "-CAkey",
               (dir_ / "ca.key").string(), "-set_serial", random_serial(), "-days", "2", "-sha256",
               "-extfile", config.string(), "-extensions", "leaf", "-out", cert.string()});
    return {cert, key};
}

std::pair<std::filesystem::path, std::filesystem::path> test_ca::self_signed(
    const std::string& file_stem, const std::vector<std::string>& names) const {
    check_leaf_request(file_stem, names);
    const auto config = dir_ / (file_stem + ".cnf");
    const auto cert = dir_ / (file_stem + ".pem");
    const auto key = dir_ / (file_stem + ".key");
    write_text(config, leaf_config(names));
    run_openssl(
        dir_, concat({"req", "-x509", "-new"},
                     concat(new_p256_key, {"-keyout", key.string(), "-out", cert.string(), "-days",
                                           "2", "-sha256", "-set_serial", random_serial(),
                                           "-config", config.string(), "-extensions", "leaf"})));
    return {cert, key};
}

// ---------------------------------------------------------------------------------------------
// tls_client

struct tls_client::impl {
    std::uint16_t port;
    tls_options options;
    ctx_ptr ctx;
    session_ptr session;  // offered on the next connection

    struct connection {
        unique_fd fd;
        ssl_ptr ssl;
        bool broken = false;  // a fatal TLS error: no close_notify, no session to keep
    };

    impl(std::uint16_t p, tls_options o) : port(p), options(std::move(o)) {
        ctx.reset(SSL_CTX_new(TLS_client_method()));
        if (!ctx) {
            throw std::runtime_error("tls_client: SSL_CTX_new: " + take_error_text("failed"));
        }
        if (options.ca_file.empty()) {
            SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
        } else {
            if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
                throw std::runtime_error("tls_client: cannot load " + options.ca_file.string() +
                                         ": " + take_error_text("failed"));
            }
            SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
        }
        int min_version = options.min_version;
        if (options.max_version != 0 && options.max_version < TLS1_2_VERSION) {
            // OpenSSL 3 allows TLS 1.0/1.1 (SHA-1 signatures) only at security level 0.
            if (SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0") != 1) {
                throw std::runtime_error("tls_client: cipher list: " + take_error_text("failed"));
            }
            SSL_CTX_set_security_level(ctx.get(), 0);
            if (min_version == 0) {
                min_version = TLS1_VERSION;  // the system configuration may say TLS 1.2
            }
        }
        if (min_version != 0 && SSL_CTX_set_min_proto_version(ctx.get(), min_version) != 1) {
            throw std::runtime_error("tls_client: bad min_version " + std::to_string(min_version));
        }
        if (options.max_version != 0 &&
            SSL_CTX_set_max_proto_version(ctx.get(), options.max_version) != 1) {
            throw std::runtime_error("tls_client: bad max_version " +
                                     std::to_string(options.max_version));
        }
    }

    /// Connects and handshakes, filling the handshake part of `out`. False on failure.
    bool open(connection& c, tls_result& out, steady::time_point deadline) {
        if (const auto ec = connect_loopback(c.fd, port, deadline)) {
            out.response.ec = ec;
            out.handshake_error =
                "connect to 127.0.0.1:" + std::to_string(port) + ": " + ec.message();
            return false;
        }
        c.ssl.reset(SSL_new(ctx.get()));
        if (!c.ssl || SSL_set_fd(c.ssl.get(), c.fd.get()) != 1) {
            out.handshake_error = "SSL_new: " + take_error_text("failed");
            out.response.ec = make_error_code(boost::system::errc::not_enough_memory);
            c.broken = true;
            return false;
        }
        SSL* ssl = c.ssl.get();
        // SSL_set_tlsext_host_name without its C cast.
        if (!options.sni.empty() &&
            SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char*>(options.sni.c_str())) != 1) {
            out.handshake_error =
                "cannot send SNI \"" + options.sni + "\": " + take_error_text("failed");
            out.response.ec = make_error_code(boost::system::errc::invalid_argument);
            c.broken = true;
            return false;
        }
        const std::string& host = options.verify_host.empty() ? options.sni : options.verify_host;
        if (!options.ca_file.empty() && !host.empty()) {
            // RFC 6125 §6.4 via OpenSSL: DNS names against DNS SANs, IP literals against IP SANs.
            const int set = is_ip_literal(host)
                                ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str())
                                : SSL_set1_host(ssl, host.c_str());
            if (set != 1) {
                out.handshake_error = "cannot check host \"" + host + "\"";
                out.response.ec = make_error_code(boost::system::errc::invalid_argument);
                c.broken = true;
                return false;
            }
        }
        if (session) {
            SSL_set_session(ssl, session.get());
        }
        const auto outcome = drive(ssl, c.fd.get(), deadline, [&] { return SSL_connect(ssl); });
        if (outcome.ret <= 0) {
            auto [ec, text] = describe(ssl, outcome);
            out.response.ec = ec;
            out.handshake_error = std::move(text);
            c.broken = true;
            return false;
        }
        read_peer(ssl, out);
        return true;
    }

    /// Writes all of `bytes`; a failure goes to out.ec.
    void send(connection& c, std::string_view bytes, raw_response& out,
              steady::time_point deadline) {
        constexpr std::size_t piece = 1U << 20U;
        SSL* ssl = c.ssl.get();
        while (!bytes.empty()) {
            const auto n = static_cast<int>(std::min(bytes.size(), piece));
            const auto outcome =
                drive(ssl, c.fd.get(), deadline, [&] { return SSL_write(ssl, bytes.data(), n); });
            if (outcome.ret <= 0) {
                out.ec = describe(ssl, outcome).ec;
                c.broken = !outcome.timed_out;
                return;
            }
            bytes.remove_prefix(static_cast<std::size_t>(outcome.ret));
        }
    }

    /// Reads one response into `out`; on failure out.ec is set and the rest holds what was
    /// parsed before it.
    void receive(connection& c, raw_response& out, steady::time_point deadline) {
        http::response_parser<http::string_body> parser;
        parser.eager(true);
        parser.header_limit(64U * 1024U);
        parser.body_limit(64ULL * 1024 * 1024);
        SSL* ssl = c.ssl.get();
        std::string pending;
        std::array<char, 16 * 1024> buf{};
        error_code ec;
        while (!ec && !parser.is_done()) {
            while (!pending.empty() && !parser.is_done()) {
                const auto used = parser.put(net::buffer(pending), ec);
                pending.erase(0, used);
                if (ec == http::error::need_more) {
                    ec = {};
                    break;
                }
                if (ec || used == 0) {
                    break;
                }
            }
            if (ec || parser.is_done()) {
                break;
            }
            const auto outcome = drive(ssl, c.fd.get(), deadline, [&] {
                return SSL_read(ssl, buf.data(), static_cast<int>(buf.size()));
            });
            if (outcome.ret > 0) {
                pending.append(buf.data(), static_cast<std::size_t>(outcome.ret));
            } else if (outcome.ssl_error == SSL_ERROR_ZERO_RETURN) {
                parser.put_eof(ec);  // ends a close-delimited body; else partial_message
            } else {
                ec = describe(ssl, outcome).ec;
                c.broken = !outcome.timed_out;
            }
        }
        out.ec = ec;
        if (parser.is_header_done()) {
            copy_response_head(parser, out);
        }
        out.body = std::move(parser.get().body());
        out.body_bytes = out.body.size();
        fnv1a hash;
        hash.update(out.body);
        out.body_fnv1a = hash.value();
    }

    /// Keeps the session for the next connection and sends close_notify (without waiting for
    /// the peer's), unless the connection broke: then OpenSSL forbids SSL_shutdown.
    void finish(connection& c) {
        if (!c.ssl || c.broken) {
            ERR_clear_error();
            return;
        }
        session_ptr latest{SSL_get1_session(c.ssl.get())};
        if (latest && SSL_SESSION_is_resumable(latest.get()) == 1) {
            session = std::move(latest);
        }
        SSL_shutdown(c.ssl.get());
        ERR_clear_error();
    }
};

tls_client::tls_client(std::uint16_t port, tls_options options)
    : impl_(std::make_unique<impl>(port, std::move(options))) {}

tls_client::~tls_client() = default;

tls_result tls_client::exchange(std::string_view request) {
    const sigpipe_blocked guard;
    const auto deadline = steady::now() + impl_->options.timeout;
    tls_result out;
    impl::connection c;
    if (impl_->open(c, out, deadline)) {
        impl_->send(c, request, out.response, deadline);
        if (!out.response.ec) {
            impl_->receive(c, out.response, deadline);
        }
    }
    impl_->finish(c);
    return out;
}

tls_result tls_client::handshake_only() {
    const sigpipe_blocked guard;
    const auto deadline = steady::now() + impl_->options.timeout;
    tls_result out;
    impl::connection c;
    impl_->open(c, out, deadline);
    impl_->finish(c);
    return out;
}

tls_result https_get(std::uint16_t port, std::string_view host, std::string_view target,
                     const std::filesystem::path& ca_file, std::chrono::milliseconds timeout) {
    tls_options options;
    options.sni = std::string{host};
    options.ca_file = ca_file;
    options.timeout = timeout;
    std::string request = "GET ";
    request.append(target).append(" HTTP/1.1\r\nHost: ").append(host);
    request.append("\r\nConnection: close\r\n\r\n");
    try {
        tls_client client{port, std::move(options)};
        return client.exchange(request);
    } catch (const std::runtime_error& e) {
        tls_result out;
        out.response.ec = make_error_code(boost::system::errc::invalid_argument);
        out.handshake_error = e.what();
        return out;
    }
}

}  // namespace cg::test
