// Running under a service manager (issue 11, packaging): systemd's notify protocol tells
// `systemctl start` when the gateway listens and when it stops; SIGHUP does not stop it.
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway_process.hpp"
#include "support/raw_client.hpp"
#include "support/test_upstream.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::gateway_config;
using cg::test::gateway_process;
using cg::test::temp_dir;
using cg::test::test_upstream;
using ::testing::HasSubstr;

/// A datagram socket bound at `path` standing in for systemd's notify socket; NOTIFY_SOCKET
/// names it for the children this test process starts.
class notify_socket {
  public:
    explicit notify_socket(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_DGRAM, 0)) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0)
            << std::strerror(errno);
        ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    }
    ~notify_socket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(fd_);
    }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    /// The next message, or "" when none comes within `timeout`.
    std::string next(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
            return {};
        }
        char buf[512];
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
    }

  private:
    int fd_;
};

TEST(Service, TellsTheServiceManagerWhenItListensAndWhenItStops) {
    test_upstream upstream;
    temp_dir dir{"cg-service"};
    notify_socket manager{(dir.path() / "notify").string()};
    cg::test::gateway_settings settings;
    settings.upstream_port = upstream.port();
    gateway_process gateway{dir, gateway_config(settings)};

    EXPECT_EQ(manager.next(10s), "READY=1");
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();  // listening when READY came
    const auto res = cg::test::http_get(gateway.proxy_port(), cg::test::site_host, "/echo");
    EXPECT_EQ(res.status, 200U) << res.ec.message();

    gateway.child().signal(SIGTERM);
    EXPECT_EQ(manager.next(10s), "STOPPING=1");
    EXPECT_EQ(gateway.child().wait_exit(10s), 0) << gateway.output();
}

TEST(Service, SighupReloadsTellsTheServiceManagerAndTheGatewayKeepsServing) {
    test_upstream upstream;
    temp_dir dir{"cg-service"};
    notify_socket manager{(dir.path() / "notify").string()};
    cg::test::gateway_settings settings;
    settings.upstream_port = upstream.port();
    gateway_process gateway{dir, gateway_config(settings)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    EXPECT_EQ(manager.next(10s), "READY=1");

    gateway.child().signal(SIGHUP);
    EXPECT_EQ(manager.next(10s), "RELOADING=1");
    EXPECT_EQ(manager.next(10s), "READY=1");
    ASSERT_TRUE(gateway.child().wait_for_stdout("\"generation\":2", 5s)) << gateway.output();
    gateway.child().signal(SIGHUP);  // and again: the handler is re-armed
    ASSERT_TRUE(gateway.child().wait_for_stdout("\"generation\":3", 5s)) << gateway.output();
    const auto res = cg::test::http_get(gateway.proxy_port(), cg::test::site_host, "/echo");
    EXPECT_EQ(res.status, 200U) << res.ec.message();
    EXPECT_THAT(gateway.child().stdout_text(), HasSubstr("configuration reloaded"));
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

}  // namespace
