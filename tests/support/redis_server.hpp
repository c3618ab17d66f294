#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace cg::test {

/// One RESP2 reply, as a test sees it.
struct redis_value {
    enum class kind { status, error, integer, bulk, nil, array };
    kind type = kind::nil;
    std::string text;  ///< status, error and bulk replies
    long long integer = 0;
    std::vector<redis_value> elements;

    bool is_error() const noexcept { return type == kind::error; }
    bool is_nil() const noexcept { return type == kind::nil; }
};

/// Runs one command on a fresh connection to the Unix socket `socket` and returns the reply
/// (an error reply is a value, not an exception). Throws std::runtime_error when it cannot
/// connect, the reply is malformed or does not arrive within `timeout`.
redis_value redis_command(const std::filesystem::path& socket, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::seconds{5});

/// A real `redis-server` from PATH for integration tests (STYLE.md §8), on a Unix socket only:
/// `--port 0 --unixsocket <dir>/redis.sock --unixsocketperm 700 --save "" --dir <dir>`, plus
/// `--appendonly yes` (and `--appendfsync always`) when asked. Runs behind child_process
/// (TERM, then KILL on destruction); its output goes to <dir>/redis.stdout and .stderr.
/// Not thread safe; not copyable or movable.
class redis_server {
  public:
    struct options {
        bool append_only = false;   ///< --appendonly yes: restart() reloads the data
        bool fsync_always = false;  ///< --appendfsync always (with append_only)
        /// Where the socket and data live; empty = a temp dir of its own. Lets a test point a
        /// store at <dir>/redis.sock before the server exists.
        std::filesystem::path dir;
        std::chrono::milliseconds ready_deadline{10'000};
        /// More redis-server arguments, e.g. a TLS port ("--tls-port", "N", ...); the Unix
        /// socket stays plain, for the test's own commands.
        std::vector<std::string> extra_args{};
    };

    /// Starts the server and waits until it answers PING (not LOADING) within the deadline.
    /// Throws std::runtime_error (with the server's output) if it exits or is not ready.
    explicit redis_server(options opts);
    redis_server() : redis_server(options{}) {}
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    const std::filesystem::path& dir() const noexcept { return dir_; }
    std::filesystem::path socket_path() const { return dir_ / "redis.sock"; }

    /// SIGKILL, then waits (up to 5 s) until the process is gone: a crash, no shutdown save.
    void kill_hard();
    /// Starts the server again with the same dir and socket (the AOF, if any, is reloaded)
    /// and waits until it answers PING. Stops a running one first (TERM). Throws like the
    /// constructor.
    void restart();
    /// True while the server process runs.
    bool running();

    /// redis_command on this server's socket.
    redis_value command(const std::vector<std::string>& args) const;

  private:
    void spawn();

    options opts_;
    std::optional<temp_dir> own_dir_;
    std::filesystem::path dir_;
    std::optional<child_process> child_;
};

}  // namespace cg::test
