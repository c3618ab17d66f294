#include "support/redis_server.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace cg::test {
namespace {

using steady = std::chrono::steady_clock;

/// A connected Unix stream socket, closed on destruction.
class socket_fd {
  public:
    explicit socket_fd(int fd) noexcept : fd_(fd) {}
    ~socket_fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    socket_fd(const socket_fd&) = delete;
    socket_fd& operator=(const socket_fd&) = delete;
    int get() const noexcept { return fd_; }

  private:
    int fd_;
};

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("redis test client: " + what);
}

/// Reads RESP2 from a blocking socket with SO_RCVTIMEO set.
class resp_reader {
  public:
    explicit resp_reader(int fd) noexcept : fd_(fd) {}

    redis_value value(int depth = 0) {
        if (depth > 16) {
            fail("reply nested too deeply");
        }
        const std::string head = line();
        if (head.empty()) {
            fail("empty reply line");
        }
        const std::string rest = head.substr(1);
        redis_value v;
        switch (head[0]) {
            case '+':
                v.type = redis_value::kind::status;
                v.text = rest;
                return v;
            case '-':
                v.type = redis_value::kind::error;
                v.text = rest;
                return v;
            case ':':
                v.type = redis_value::kind::integer;
                v.integer = number(rest);
                return v;
            case '$': {
                const auto n = number(rest);
                if (n < 0) {
                    return v;  // nil
                }
                v.type = redis_value::kind::bulk;
                v.text = bytes(static_cast<std::size_t>(n) + 2);
                v.text.resize(static_cast<std::size_t>(n));
                return v;
            }
            case '*': {
                const auto n = number(rest);
                if (n < 0) {
                    return v;
                }
                v.type = redis_value::kind::array;
                for (long long i = 0; i < n; ++i) {
                    v.elements.push_back(value(depth + 1));
                }
                return v;
            }
            default:
                fail("unexpected reply type '" + head.substr(0, 1) + "'");
        }
    }

  private:
    static long long number(const std::string& s) {
        long long n = 0;
        const auto* end = s.data() + s.size();
        const auto [ptr, ec] = std::from_chars(s.data(), end, n);
        if (ec != std::errc{} || ptr != end) {
            fail("bad number in reply: " + s);
        }
        return n;
    }

    void fill() {
        std::array<char, 16384> buf{};
        for (;;) {
            const auto n = ::recv(fd_, buf.data(), buf.size(), 0);
            if (n > 0) {
                buffer_.append(buf.data(), static_cast<std::size_t>(n));
                return;
            }
            if (n == 0) {
                fail("connection closed before the reply was complete");
            }
            if (errno == EINTR) {
                continue;
            }
            fail(errno == EAGAIN || errno == EWOULDBLOCK ? std::string{"reply timed out"}
                                                         : std::string{std::strerror(errno)});
        }
    }

    std::string line() {
        for (;;) {
            const auto end = buffer_.find("\r\n", pos_);
            if (end != std::string::npos) {
                std::string l = buffer_.substr(pos_, end - pos_);
                pos_ = end + 2;
                return l;
            }
            fill();
        }
    }

    std::string bytes(std::size_t n) {
        while (buffer_.size() - pos_ < n) {
            fill();
        }
        std::string b = buffer_.substr(pos_, n);
        pos_ += n;
        return b;
    }

    int fd_;
    std::string buffer_;
    std::size_t pos_ = 0;
};

}  // namespace

redis_value redis_command(const std::filesystem::path& socket, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout) {
    socket_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (fd.get() < 0) {
        fail(std::string{"socket: "} + std::strerror(errno));
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const auto path = socket.string();
    if (path.size() >= sizeof addr.sun_path) {
        fail("socket path too long: " + path);
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        fail("connect " + path + ": " + std::strerror(errno));
    }

    std::string request = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) {
        request += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    }
    std::string_view left = request;
    while (!left.empty()) {
        const auto n = ::send(fd.get(), left.data(), left.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(std::string{"send: "} + std::strerror(errno));
        }
        left.remove_prefix(static_cast<std::size_t>(n));
    }
    resp_reader reader{fd.get()};
    return reader.value();
}

redis_server::redis_server(options opts) : opts_(std::move(opts)) {
    if (opts_.dir.empty()) {
        own_dir_.emplace("cg-redis");
        dir_ = own_dir_->path();
    } else {
        dir_ = std::filesystem::absolute(opts_.dir);
    }
    spawn();
}

redis_server::~redis_server() {
    child_.reset();  // TERM, then KILL after 5 s
}

void redis_server::spawn() {
    std::vector<std::string> args{"--port",
                                  "0",
                                  "--unixsocket",
                                  socket_path().string(),
                                  "--unixsocketperm",
                                  "700",
                                  "--save",
                                  "",
                                  "--dir",
                                  dir_.string(),
                                  "--appendonly",
                                  opts_.append_only ? "yes" : "no"};
    if (opts_.append_only) {
        args.insert(args.end(), {"--appendfsync", opts_.fsync_always ? "always" : "everysec"});
    }
    args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
    child_.emplace("redis-server", std::move(args), dir_, "redis");

    const auto deadline = steady::now() + opts_.ready_deadline;
    std::string last;
    for (;;) {
        if (!child_->running()) {
            throw std::runtime_error("redis-server exited at start: " + child_->stdout_text() +
                                     child_->stderr_text());
        }
        try {
            const auto reply =
                redis_command(socket_path(), {"PING"}, std::chrono::milliseconds{500});
            if (reply.type == redis_value::kind::status && reply.text == "PONG") {
                return;
            }
            last = reply.text;  // LOADING while the AOF is read back
        } catch (const std::runtime_error& e) {
            last = e.what();
        }
        if (steady::now() >= deadline) {
            throw std::runtime_error("redis-server not ready within " +
                                     std::to_string(opts_.ready_deadline.count()) + " ms: " + last);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
}

void redis_server::kill_hard() {
    if (child_ && child_->signal(SIGKILL)) {
        child_->wait_exit(std::chrono::seconds{5});
    }
}

void redis_server::restart() {
    child_.reset();
    spawn();
}

bool redis_server::running() {
    return child_ && child_->running();
}

redis_value redis_server::command(const std::vector<std::string>& args) const {
    return redis_command(socket_path(), args);
}

}  // namespace cg::test
