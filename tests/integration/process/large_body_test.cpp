#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gateway_process.hpp"
#include "support/pattern.hpp"
#include "support/raw_client.hpp"
#include "support/test_upstream.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::gateway_config;
using cg::test::gateway_process;
using cg::test::raw_client;
using cg::test::read_options;
using cg::test::rss_sampler;
using cg::test::temp_dir;
using cg::test::test_upstream;
using steady = std::chrono::steady_clock;

constexpr std::uint64_t fifty_mb = 52428800;
// Peak RSS may exceed the RSS after start by at most this: bounded, not proportional to 50 MB.
constexpr long allowed_growth_kib = 20 * 1024;

/// What slow_download() saw.
struct slow_result {
    std::string failure;  ///< empty on success
    unsigned status = 0;
    std::uint64_t body_bytes = 0;
    std::uint64_t body_fnv1a = cg::test::fnv1a::offset_basis;
};

/// GET `target` over a socket with a small receive buffer, reading the answer `piece` bytes at
/// a time with `pause` after each read, so the gateway must hold back the upstream
/// (backpressure) rather than buffer the body. Gives up after `deadline` in all.
slow_result slow_download(std::uint16_t port, const std::string& target, std::size_t piece,
                          std::chrono::microseconds pause, std::chrono::milliseconds deadline) {
    slow_result out;
    const auto until = steady::now() + deadline;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        out.failure = "socket failed";
        return out;
    }
    struct fd_guard {
        int fd;
        ~fd_guard() { ::close(fd); }
    } guard{fd};
    // Set before connect so the advertised window stays small.
    const int rcvbuf = 64 * 1024;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        out.failure = "connect failed";
        return out;
    }
    const std::string request = "GET " + target +
                                " HTTP/1.1\r\nHost: " + std::string{cg::test::site_host} +
                                "\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
        out.failure = "send failed";
        return out;
    }

    std::string head;
    std::optional<std::uint64_t> content_length;
    std::vector<char> buf(piece);
    cg::test::fnv1a hash;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
        if (left.count() <= 0) {
            out.failure = "deadline passed after " + std::to_string(out.body_bytes) + " body bytes";
            return out;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            continue;  // the loop checks the deadline
        }
        const auto n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        std::string_view got{buf.data(), static_cast<std::size_t>(n)};
        if (!content_length) {
            head.append(got);
            const auto end = head.find("\r\n\r\n");
            if (end == std::string::npos) {
                continue;
            }
            std::sscanf(head.c_str(), "HTTP/1.1 %u", &out.status);
            std::string lower = head;
            for (char& c : lower) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            const auto cl = lower.find("\r\ncontent-length: ");
            if (cl == std::string::npos || cl > end) {
                out.failure = "no Content-Length in " + head.substr(0, end);
                return out;
            }
            std::uint64_t length = 0;
            const char* digits = head.data() + cl + 18;
            std::from_chars(digits, head.data() + end, length);
            content_length = length;
            got = std::string_view{head}.substr(end + 4);
        }
        hash.update(got);
        out.body_bytes += got.size();
        if (out.body_bytes >= *content_length) {
            break;
        }
        std::this_thread::sleep_for(pause);
    }
    out.body_fnv1a = hash.value();
    if (!content_length) {
        out.failure = "connection closed before the response head ended";
    }
    return out;
}

class LargeBody : public ::testing::Test {
  protected:
    void SetUp() override {
        cg::test::gateway_settings settings;
        settings.upstream_port = upstream_.port();
        settings.workers = 2;
        gateway_.emplace(dir_, gateway_config(settings));
        ASSERT_TRUE(gateway_->wait_ready()) << gateway_->output();
        ready_ = true;
        // Warm up: the first request creates the upstream pool connection and relay buffers.
        const auto warm =
            cg::test::http_get(gateway_->proxy_port(), cg::test::site_host, "/bytes/100000");
        ASSERT_EQ(warm.status, 200U) << warm.ec.message() << "\n" << gateway_->output();
        std::this_thread::sleep_for(100ms);
        rss_after_start_ = gateway_->child().rss_kib();
        ASSERT_GT(rss_after_start_, 0);
    }

    void TearDown() override {
        if (ready_) {
            EXPECT_EQ(gateway_->stop(), 0) << gateway_->output();
        }
    }

    void expect_bounded(const rss_sampler& sampler, const char* what) {
        std::printf(
            "[ measure  ] %s: gateway RSS after start %ld KiB, peak %ld KiB (+%ld KiB, "
            "%ld samples)\n",
            what, rss_after_start_, sampler.peak_kib(), sampler.peak_kib() - rss_after_start_,
            sampler.samples());
        EXPECT_GT(sampler.samples(), 0);
        EXPECT_LT(sampler.peak_kib(), rss_after_start_ + allowed_growth_kib)
            << what << ": peak RSS grew with the body size";
    }

    test_upstream upstream_;
    temp_dir dir_{"cg-large-body"};
    std::optional<gateway_process> gateway_;
    bool ready_ = false;
    long rss_after_start_ = -1;
};

TEST_F(LargeBody, DownloadOf50MBStreamsWithBoundedMemory) {
    rss_sampler sampler{gateway_->child()};
    raw_client client{gateway_->proxy_port()};
    ASSERT_FALSE(client.send("GET /bytes/52428800 HTTP/1.1\r\nHost: site.test\r\n\r\n"));
    read_options count_only;
    count_only.count_body_only = true;

    const auto res = client.read_response(30s, count_only);
    sampler.stop();

    ASSERT_FALSE(res.ec) << res.ec.message();
    EXPECT_EQ(res.status, 200U);
    EXPECT_EQ(res.body_bytes, fifty_mb);
    EXPECT_EQ(res.body_fnv1a, cg::test::pattern_fnv1a(fifty_mb));
    expect_bounded(sampler, "50 MB download");
}

TEST_F(LargeBody, DownloadOf50MBToASlowReaderAppliesBackpressure) {
    rss_sampler sampler{gateway_->child()};
    const auto started = steady::now();

    // 32 KiB reads with a 1 ms pause: ~30 MB/s, far below what the upstream can send.
    const auto res = slow_download(gateway_->proxy_port(), "/bytes/52428800", 32 * 1024,
                                   std::chrono::microseconds{1000}, 20s);
    sampler.stop();
    const auto took = std::chrono::duration<double>(steady::now() - started).count();

    ASSERT_EQ(res.failure, "");
    EXPECT_EQ(res.status, 200U);
    EXPECT_EQ(res.body_bytes, fifty_mb);
    EXPECT_EQ(res.body_fnv1a, cg::test::pattern_fnv1a(fifty_mb));
    std::printf("[ measure  ] slow reader took %.2f s\n", took);
    expect_bounded(sampler, "50 MB download, slow reader");
}

TEST_F(LargeBody, UploadOf50MBStreamsWithBoundedMemory) {
    rss_sampler sampler{gateway_->child()};
    raw_client client{gateway_->proxy_port()};
    ASSERT_FALSE(client.send(
        "POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 52428800\r\n\r\n"));

    ASSERT_FALSE(client.send_pattern_body(fifty_mb, 0, 30s));
    const auto res = client.read_response(30s);
    sampler.stop();

    ASSERT_FALSE(res.ec) << res.ec.message();
    EXPECT_EQ(res.status, 200U);
    EXPECT_EQ(res.body, cg::test::upload_reply_for_pattern(fifty_mb));
    expect_bounded(sampler, "50 MB upload");
}

}  // namespace
