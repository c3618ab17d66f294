#pragma once
#include <algorithm>
#include <cstring>
#include <span>
#include <type_traits>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include "gateway/head.hpp"

namespace cg::gateway {

/// Beast's HTTP/1 parser (its validation and framing rules: Content-Length, chunked, limits)
/// writing the head into a flat request_head or response_head instead of basic_fields, and the
/// body, like Beast's buffer_body, into a buffer the caller lends for each read
/// (`lend(buffer)`, then `filled()` bytes were written; need_buffer when it is full). Once the
/// header is complete the head owns one copy of its bytes, so it outlives the read buffer.
/// Not thread-safe; input is untrusted (errors come back as error codes).
template <bool IsRequest>
class head_parser final : public boost::beast::http::basic_parser<IsRequest> {
  public:
    using head_type = std::conditional_t<IsRequest, request_head, response_head>;
    using error_code = boost::beast::error_code;
    using string_view = boost::beast::string_view;

    head_type& get() noexcept { return head_; }
    const head_type& get() const noexcept { return head_; }

    /// Where the next body bytes go.
    void lend(std::span<char> buffer) noexcept {
        buffer_ = buffer.data();
        room_ = buffer.size();
        filled_ = 0;
    }
    /// Body bytes written into the lent buffer since lend().
    std::size_t filled() const noexcept { return filled_; }

  private:
    static std::string_view sv(string_view s) noexcept { return {s.data(), s.size()}; }

    void note(string_view s) noexcept {
        if (s.empty()) {
            return;
        }
        if (first_ == nullptr || s.data() < first_) {
            first_ = s.data();
        }
        if (s.data() + s.size() > last_) {
            last_ = s.data() + s.size();
        }
    }

    void on_request_impl(boost::beast::http::verb method, string_view method_str,
                         string_view target, int version, error_code& ec) override {
        ec = {};
        if constexpr (IsRequest) {
            note(method_str);
            note(target);
            head_.start_line(method, sv(method_str), sv(target), static_cast<unsigned>(version));
        }
    }

    void on_response_impl(int code, string_view reason, int version, error_code& ec) override {
        ec = {};
        if constexpr (!IsRequest) {
            note(reason);
            head_.status_line(static_cast<unsigned>(code), sv(reason),
                              static_cast<unsigned>(version));
        }
    }

    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code& ec) override {
        ec = {};
        note(name_string);
        note(value);
        head_.append_owned(name, sv(name_string), sv(value));
    }

    void on_header_impl(error_code& ec) override {
        ec = {};
        if (first_ != nullptr) {
            head_.own_views(first_, static_cast<std::size_t>(last_ - first_));
        }
    }

    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code& ec) override {
        ec = {};
    }

    std::size_t put_body(string_view body, error_code& ec) noexcept {
        const auto n = std::min(body.size(), room_);
        if (n != 0) {
            std::memcpy(buffer_ + filled_, body.data(), n);
        }
        filled_ += n;
        room_ -= n;
        if (n == body.size()) {
            ec = {};
        } else {
            ec = boost::beast::http::error::need_buffer;
        }
        return n;
    }

    std::size_t on_body_impl(string_view body, error_code& ec) override {
        return put_body(body, ec);
    }

    void on_chunk_header_impl(std::uint64_t, string_view, error_code& ec) override { ec = {}; }

    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
        return put_body(body, ec);
    }

    void on_finish_impl(error_code& ec) override { ec = {}; }

    head_type head_;
    const char* first_ = nullptr;
    const char* last_ = nullptr;
    char* buffer_ = nullptr;
    std::size_t room_ = 0;
    std::size_t filled_ = 0;
};

using request_parser = head_parser<true>;
using response_parser = head_parser<false>;

}  // namespace cg::gateway
