#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/temp_dir.hpp"

namespace cg::test {

/// RAII guard for a spawned program (h2o t/Util.pm spawn_server; STYLE.md §8).
///
/// The child runs in `workdir` (which must exist) in its own process group, with stdin from
/// /dev/null, default signal dispositions, and stdout/stderr written to
/// `workdir/NAME.stdout` and `workdir/NAME.stderr` (NAME defaults to the file name of `exe`).
/// `exe` without a '/' is searched in PATH; a relative path with '/' is made absolute first.
///
/// The destructor sends SIGTERM to the child's process group, waits up to 5 s for the child,
/// then sends SIGKILL to the group and reaps the child: nothing is left behind.
/// Not thread safe; not copyable or movable (hold it in std::optional to start it late).
class child_process {
  public:
    /// Spawns `exe` with argv = {exe, args...}. Throws std::system_error if spawning fails.
    child_process(std::string exe, std::vector<std::string> args, std::filesystem::path workdir,
                  std::string name = {});
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const noexcept { return pid_; }

    /// Sends `sig` to the child only (not its group). Returns false if it has been reaped.
    bool signal(int sig);

    /// Waits until the child exits: its exit status, or -N if signal N killed it; nullopt if it
    /// is still running after `timeout`. Once reaped, returns the same value immediately.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

    /// True until the child has exited (reaps it if it has).
    bool running();

    /// Everything the child has written so far.
    std::string stdout_text() const;
    std::string stderr_text() const;
    const std::filesystem::path& stdout_path() const noexcept { return stdout_path_; }
    const std::filesystem::path& stderr_path() const noexcept { return stderr_path_; }

    /// Resident set size from /proc/PID/status (VmRSS), in KiB; -1 if not available.
    long rss_kib() const;

    /// Polls stdout until it contains `needle`. False when `deadline` passes or the child
    /// exits first (its output is checked one last time).
    bool wait_for_stdout(std::string_view needle, std::chrono::milliseconds deadline);

  private:
    pid_t pid_ = -1;
    std::optional<int> exit_;
    std::filesystem::path stdout_path_;
    std::filesystem::path stderr_path_;
};

/// The port of a listener from the gateway's startup log: the first stdout line that has
/// "msg":"listening" and "listener":"<listener>" ("proxy" or "admin"), read from its "port".
/// nullopt when there is no such line or the port is not 1-65535.
std::optional<std::uint16_t> listening_port(const std::string& stdout_text,
                                            std::string_view listener);

/// Waits until `child` has logged its `listener` port (see listening_port) and returns it;
/// nullopt when `deadline` passes or the child exits first.
std::optional<std::uint16_t> wait_for_listening_port(child_process& child,
                                                     std::string_view listener,
                                                     std::chrono::milliseconds deadline);

}  // namespace cg::test
