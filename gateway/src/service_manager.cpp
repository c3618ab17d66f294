#include "service_manager.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace cg::gateway {

bool notify_service_manager(std::string_view state) noexcept {
    const char* where = std::getenv("NOTIFY_SOCKET");
    if (where == nullptr) {
        return false;
    }
    const std::string_view path{where};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() < 2 || path.size() >= sizeof addr.sun_path ||
        (path.front() != '/' && path.front() != '@')) {
        return false;  // not a socket systemd would name
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path.front() == '@') {
        addr.sun_path[0] = '\0';  // the abstract namespace
    }
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                            (path.front() == '/' ? 1 : 0));
    const auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&addr), len);
    ::close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

}  // namespace cg::gateway
