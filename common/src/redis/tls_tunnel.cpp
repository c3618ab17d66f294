#include "tls_tunnel.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcntl.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace cg::redis::detail {

namespace {

std::string openssl_reason(std::string_view what) {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    std::string out{what};
    if (e != 0) {
        std::array<char, 256> text{};
        ERR_error_string_n(e, text.data(), text.size());
        out.append(": ").append(ERR_reason_error_string(e) != nullptr ? ERR_reason_error_string(e)
                                                                      : text.data());
    }
    return out;
}

timeval to_timeval(std::chrono::microseconds d) noexcept {
    timeval tv{};
    tv.tv_sec = static_cast<decltype(tv.tv_sec)>(d.count() / 1'000'000);
    tv.tv_usec = static_cast<decltype(tv.tv_usec)>(d.count() % 1'000'000);
    return tv;
}

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A TCP connection to host:port within `timeout` (non-blocking connect, then poll), left in
// blocking mode; -1 and `error` on failure.
int connect_tcp(const std::string& host, std::uint16_t port, std::chrono::microseconds timeout,
                std::string& error) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
        error = std::string{"cannot resolve: "} + gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    error = "no address";
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            continue;
        }
        const int flags = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            rc = poll(&p, 1, static_cast<int>(timeout.count() / 1000));
            int so_error = rc == 0 ? ETIMEDOUT : 0;
            socklen_t len = sizeof so_error;
            if (rc > 0) {
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
            }
            rc = so_error == 0 ? 0 : -1;
            errno = so_error;
        }
        if (rc == 0) {
            fcntl(fd, F_SETFL, flags);
            break;
        }
        error = std::string{"cannot connect: "} + std::strerror(errno);
        close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    return fd;
}

}  // namespace

std::unique_ptr<tls_tunnel> tls_tunnel::open(const redis_config::tls_settings& tls,
                                             const std::string& host, std::uint16_t port,
                                             std::chrono::microseconds connect_timeout,
                                             std::chrono::microseconds io_timeout,
                                             std::string& error) {
    std::unique_ptr<tls_tunnel> t{new tls_tunnel};
    t->ctx_ = SSL_CTX_new(TLS_client_method());
    if (t->ctx_ == nullptr) {
        error = openssl_reason("TLS setup failed");
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(t->ctx_, TLS1_2_VERSION);
    // A record that is not data (a TLS 1.3 session ticket) must not make SSL_read wait for
    // data the poll loop did not see coming.
    SSL_CTX_clear_mode(t->ctx_, SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_verify(t->ctx_, SSL_VERIFY_PEER, nullptr);
    const int loaded = tls.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(t->ctx_)
                           : SSL_CTX_load_verify_locations(t->ctx_, tls.ca_file.c_str(), nullptr);
    if (loaded != 1) {
        error = openssl_reason("cannot load the CA file " + tls.ca_file);
        return nullptr;
    }
    if (!tls.cert_file.empty() &&
        (SSL_CTX_use_certificate_chain_file(t->ctx_, tls.cert_file.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(t->ctx_, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(t->ctx_) != 1)) {
        error = openssl_reason("cannot use the client certificate " + tls.cert_file);
        return nullptr;
    }

    t->tcp_fd_ = connect_tcp(host, port, connect_timeout, error);
    if (t->tcp_fd_ < 0) {
        return nullptr;
    }
    // Every read and write of the TLS socket, the handshake's included, is bounded.
    const timeval connect_tv = to_timeval(connect_timeout);
    setsockopt(t->tcp_fd_, SOL_SOCKET, SO_RCVTIMEO, &connect_tv, sizeof connect_tv);
    setsockopt(t->tcp_fd_, SOL_SOCKET, SO_SNDTIMEO, &connect_tv, sizeof connect_tv);

    t->ssl_ = SSL_new(t->ctx_);
    if (t->ssl_ == nullptr || SSL_set_fd(t->ssl_, t->tcp_fd_) != 1) {
        error = openssl_reason("TLS setup failed");
        return nullptr;
    }
    const std::string& name = tls.server_name.empty() ? host : tls.server_name;
    if (is_ip_literal(name)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl_), name.c_str());
    } else {
        SSL_set1_host(t->ssl_, name.c_str());
        // SSL_set_tlsext_host_name without the macro's C-style cast.
        SSL_ctrl(t->ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(name.c_str()));
    }
    if (SSL_connect(t->ssl_) != 1) {
        const long verify = SSL_get_verify_result(t->ssl_);
        error = verify != X509_V_OK
                    ? std::string{"TLS handshake failed: certificate verify failed: "} +
                          X509_verify_cert_error_string(verify)
                    : openssl_reason("TLS handshake failed");
        return nullptr;
    }
    const timeval io_tv = to_timeval(io_timeout);
    setsockopt(t->tcp_fd_, SOL_SOCKET, SO_RCVTIMEO, &io_tv, sizeof io_tv);
    setsockopt(t->tcp_fd_, SOL_SOCKET, SO_SNDTIMEO, &io_tv, sizeof io_tv);

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        error = std::string{"socketpair: "} + std::strerror(errno);
        return nullptr;
    }
    t->inner_fd_ = pair[0];
    t->outer_fd_ = pair[1];
    t->thread_ = std::thread([p = t.get()] { p->pump(); });
    return t;
}

tls_tunnel::~tls_tunnel() {
    stop_ = true;
    if (inner_fd_ >= 0) {
        shutdown(inner_fd_, SHUT_RDWR);  // wakes the pump's poll
    }
    if (thread_.joinable()) {
        thread_.join();
    }
    if (ssl_ != nullptr) {
        SSL_free(ssl_);
    }
    if (ctx_ != nullptr) {
        SSL_CTX_free(ctx_);
    }
    for (const int fd : {tcp_fd_, inner_fd_, outer_fd_}) {
        if (fd >= 0) {
            close(fd);
        }
    }
}

int tls_tunnel::take_plain_fd() noexcept {
    const int fd = outer_fd_;
    outer_fd_ = -1;
    return fd;
}

bool tls_tunnel::write_tls(const char* data, std::size_t n) noexcept {
    while (n > 0 && !stop_) {
        const int w = SSL_write(ssl_, data, static_cast<int>(n));
        if (w <= 0) {
            return false;  // SO_SNDTIMEO passed, or the connection is gone
        }
        data += w;
        n -= static_cast<std::size_t>(w);
    }
    return n == 0;
}

void tls_tunnel::pump() noexcept {
    // A peer that closed must cost an EPIPE, not the process (OpenSSL writes with write()).
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    std::array<char, 16 * 1024> buf;
    pollfd fds[2] = {{inner_fd_, POLLIN, 0}, {tcp_fd_, POLLIN, 0}};
    while (!stop_) {
        const int wait_ms = SSL_pending(ssl_) > 0 ? 0 : 500;
        const int r = poll(fds, 2, wait_ms);
        if (r < 0 && errno != EINTR) {
            break;
        }
        if (r < 0) {
            continue;
        }
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            const ssize_t n = read(inner_fd_, buf.data(), buf.size());
            if (n <= 0 || !write_tls(buf.data(), static_cast<std::size_t>(n))) {
                break;
            }
        }
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 || SSL_pending(ssl_) > 0) {
            const int n = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
            if (n <= 0) {
                if (SSL_get_error(ssl_, n) == SSL_ERROR_WANT_READ) {
                    continue;  // a record that carried no data, or a partial one
                }
                break;
            }
            for (std::size_t done = 0; done < static_cast<std::size_t>(n);) {
                const ssize_t w = send(inner_fd_, buf.data() + done,
                                       static_cast<std::size_t>(n) - done, MSG_NOSIGNAL);
                if (w <= 0) {
                    stop_ = true;
                    break;
                }
                done += static_cast<std::size_t>(w);
            }
        }
    }
    shutdown(inner_fd_, SHUT_RDWR);  // hiredis sees the end
}

}  // namespace cg::redis::detail
