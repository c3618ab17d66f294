#include "tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <stdexcept>
#include <string_view>

namespace cg::gateway {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3's own suites are all such).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string last_error() {
    const unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    const char* reason = e == 0 ? nullptr : ERR_reason_error_string(e);
    return reason != nullptr ? reason : "unknown OpenSSL error";
}

// Loads the pair into `ctx`; "" or the reason.
std::string load_pair(SSL_CTX* ctx, const std::filesystem::path& cert,
                      const std::filesystem::path& key) {
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
        return "cert_file " + cert.string() + ": " + last_error();
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
        return "key_file " + key.string() + ": " + last_error();
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return "key_file " + key.string() + " is not the key of " + cert.string();
    }
    return {};
}

// ALPN: HTTP/1.1 is all this listener speaks; a client offering only h2 gets no ALPN answer
// and falls back to HTTP/1.1 (RFC 7301 §3.2 allows that).
int select_http11(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                  unsigned in_len, void*) {
    static constexpr unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_len, ours, sizeof ours, in, in_len) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

// A certificate's notAfter as Unix seconds (0 when it cannot be read).
std::int64_t not_after(const X509* cert) {
    std::tm tm{};
    if (cert == nullptr || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) {
        return 0;
    }
    return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

std::string check_certificate_pair(const std::filesystem::path& cert_file,
                                   const std::filesystem::path& key_file) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
        return "cannot make a TLS context: " + last_error();
    }
    auto reason = load_pair(ctx, cert_file, key_file);
    SSL_CTX_free(ctx);
    return reason;
}

tls_server::tls_server(const std::vector<tls_certificate>& certificates) {
    for (const auto& c : certificates) {
        auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
        SSL_CTX* native = ctx->native_handle();
        SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
        SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                        SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_cipher_list(native, tls12_ciphers);
        static constexpr unsigned char session_context[] = "consent-gateway";
        SSL_CTX_set_session_id_context(native, session_context, sizeof session_context - 1);
        SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
        SSL_CTX_set_alpn_select_cb(native, select_http11, nullptr);
        // SSL_CTX_set_tlsext_servername_callback, without the macro's C-style cast.
        SSL_CTX_callback_ctrl(native, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                              reinterpret_cast<void (*)()>(&tls_server::on_server_name));
        SSL_CTX_set_tlsext_servername_arg(native, this);
        if (auto reason = load_pair(native, c.cert_file, c.key_file); !reason.empty()) {
            throw std::runtime_error("TLS certificate: " + reason);
        }
        loaded_.push_back({c.cert_file.string(), not_after(SSL_CTX_get0_certificate(native))});
        contexts_.push_back(std::move(ctx));
    }
    if (contexts_.empty()) {
        throw std::runtime_error("TLS: no certificate");
    }
}

tls_server::~tls_server() = default;

std::string certificate_metrics(const tls_server* tls) {
    std::string out =
        "# HELP cg_tls_certificate_expiry_timestamp_seconds When each certificate of the TLS "
        "listener expires (its notAfter), as a Unix time.\n"
        "# TYPE cg_tls_certificate_expiry_timestamp_seconds gauge\n";
    if (tls == nullptr) {
        return out;
    }
    for (const auto& l : tls->loaded_) {
        out += "cg_tls_certificate_expiry_timestamp_seconds{certificate=\"";
        for (const char c : l.file) {  // a label value: quote and backslash escaped
            if (c == '"' || c == '\\') {
                out += '\\';
            }
            out += c;
        }
        out += "\"} " + std::to_string(l.not_after) + "\n";
    }
    return out;
}

int tls_server::on_server_name(SSL* ssl, int*, void* self) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) {
        return SSL_TLSEXT_ERR_NOACK;  // the first certificate
    }
    const auto& server = *static_cast<const tls_server*>(self);
    const std::string_view host{name};
    for (const auto& ctx : server.contexts_) {
        X509* cert = SSL_CTX_get0_certificate(ctx->native_handle());
        if (cert != nullptr && X509_check_host(cert, host.data(), host.size(), 0, nullptr) == 1) {
            if (ctx.get() != server.contexts_.front().get()) {
                SSL_set_SSL_CTX(ssl, ctx->native_handle());
            }
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;  // no certificate names it: the first one, as nginx does
}

}  // namespace cg::gateway
