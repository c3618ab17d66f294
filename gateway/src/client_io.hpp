#pragma once
#include <cstddef>
#include <memory>
#include <span>

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace cg::gateway {

/// Reads what has already arrived on the non-blocking socket `s`, without waiting, into
/// `into`: fewer, fuller writes when an answer arrives in several segments (nginx's proxy
/// buffering gathers for the same reason). would_block, and an error after some bytes, are
/// not errors here (a real error shows again on the next read).
std::size_t read_available(boost::asio::ip::tcp::socket& s, std::span<char> into,
                           boost::beast::error_code& ec);

/// A client connection's byte stream: the TCP stream itself, or TLS over it when the listener
/// terminates TLS (issue 11). An Asio AsyncReadStream and AsyncWriteStream, so Beast's
/// algorithms take it. The TCP stream keeps the socket and the write timeouts
/// (`expires_after`); reads from the client run under the connection's own deadline (which
/// cancels the socket), so no TCP timeout may be pending when a TLS read starts.
class client_io {
  public:
    using tls_stream = boost::asio::ssl::stream<boost::beast::tcp_stream&>;
    using executor_type = boost::beast::tcp_stream::executor_type;

    explicit client_io(boost::beast::tcp_stream& tcp) : tcp_(tcp) {}

    /// From now on the bytes go through `tls` (after its handshake). It must outlive this.
    void use_tls(tls_stream& tls) noexcept { tls_ = &tls; }
    bool tls() const noexcept { return tls_ != nullptr; }

    executor_type get_executor() noexcept { return tcp_.get_executor(); }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                if (tls_ != nullptr) {
                    tcp_.expires_never();  // a write's timeout must not end this read
                    tls_->async_read_some(b, std::move(handler));
                } else {
                    tcp_.socket().async_read_some(b, std::move(handler));
                }
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                if (tls_ != nullptr) {
                    tls_->async_write_some(b, std::move(handler));
                } else {
                    tcp_.async_write_some(b, std::move(handler));
                }
            },
            token, buffers);
    }

    /// Reads what has already arrived without waiting (plain TCP only: over TLS a record may
    /// be half there, so 0 and the caller waits). The socket is non-blocking.
    std::size_t read_now(std::span<char> into, boost::beast::error_code& ec) {
        return tls_ != nullptr ? 0 : read_available(tcp_.socket(), into, ec);
    }

    /// Writes what the socket takes now without waiting (plain TCP only; 0 over TLS).
    template <class ConstBuffers>
    std::size_t write_now(const ConstBuffers& buffers, boost::beast::error_code& ec) {
        if (tls_ != nullptr) {
            return 0;
        }
        return tcp_.socket().write_some(buffers, ec);
    }

    /// Bytes that can be read without waiting: the socket's, or what TLS has decrypted.
    std::size_t available() noexcept;

  private:
    boost::beast::tcp_stream& tcp_;
    tls_stream* tls_ = nullptr;
};

}  // namespace cg::gateway
