#include "support/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <system_error>
#include <thread>

#include "support/read_file.hpp"

extern char** environ;  // NOLINT: POSIX declares it nowhere in a header

namespace cg::test {
namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

/// Reported by wait_exit when someone else reaped the child (waitpid gave ECHILD).
constexpr int reaped_elsewhere = std::numeric_limits<int>::min();

/// Frees posix_spawn's C objects on every path out of the constructor (STYLE.md §4).
struct spawn_objects {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
    spawn_objects() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~spawn_objects() {
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&actions);
    }
    spawn_objects(const spawn_objects&) = delete;
    spawn_objects& operator=(const spawn_objects&) = delete;
};

void check(int rc, const char* what) {
    if (rc != 0) {
        throw std::system_error(rc, std::generic_category(), what);
    }
}

/// The raw value of `"key": value` in one line of flat JSON: a string without its quotes, or
/// a number. A simple scan, enough for the gateway's own log lines.
std::optional<std::string_view> json_value(std::string_view line, std::string_view key) {
    const std::string quoted = "\"" + std::string{key} + "\"";
    for (auto at = line.find(quoted); at != std::string_view::npos;
         at = line.find(quoted, at + 1)) {
        auto pos = at + quoted.size();
        while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) {
            ++pos;
        }
        if (pos >= line.size() || line[pos] != ':') {
            continue;  // the text was a value, not a key
        }
        ++pos;
        while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) {
            ++pos;
        }
        if (pos < line.size() && line[pos] == '"') {
            const auto end = line.find('"', pos + 1);
            if (end == std::string_view::npos) {
                return std::nullopt;
            }
            return line.substr(pos + 1, end - pos - 1);
        }
        const auto end = line.find_first_of(",} \t\r", pos);
        return line.substr(pos, end == std::string_view::npos ? end : end - pos);
    }
    return std::nullopt;
}

}  // namespace

child_process::child_process(std::string exe, std::vector<std::string> args,
                             std::filesystem::path workdir, std::string name) {
    if (name.empty()) {
        name = fs::path{exe}.filename().string();
    }
    // The child changes into workdir before exec, so a relative program path would be
    // resolved from there; resolve it from here instead.
    std::string program = exe;
    if (program.find('/') != std::string::npos) {
        program = fs::absolute(program).string();
    }
    workdir = fs::absolute(workdir);
    stdout_path_ = workdir / (name + ".stdout");
    stderr_path_ = workdir / (name + ".stderr");

    spawn_objects spawn;
    check(posix_spawn_file_actions_addopen(&spawn.actions, 0, "/dev/null", O_RDONLY, 0),
          "posix_spawn stdin");
    check(posix_spawn_file_actions_addopen(&spawn.actions, 1, stdout_path_.c_str(),
                                           O_WRONLY | O_CREAT | O_TRUNC, 0644),
          "posix_spawn stdout");
    check(posix_spawn_file_actions_addopen(&spawn.actions, 2, stderr_path_.c_str(),
                                           O_WRONLY | O_CREAT | O_TRUNC, 0644),
          "posix_spawn stderr");
    // Asio does not open sockets with SOCK_CLOEXEC: an inherited copy of a test's client
    // socket would keep the connection open after the test closes its end.
    check(posix_spawn_file_actions_addclosefrom_np(&spawn.actions, 3), "posix_spawn closefrom");
    check(posix_spawn_file_actions_addchdir_np(&spawn.actions, workdir.c_str()),
          "posix_spawn chdir");

    // Own process group, so the destructor can also stop grandchildren (sh -c '...; sleep').
    // Reset the signal mask and dispositions the test runner may have changed.
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    check(posix_spawnattr_setflags(
              &spawn.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
          "posix_spawnattr_setflags");
    check(posix_spawnattr_setpgroup(&spawn.attr, 0), "posix_spawnattr_setpgroup");
    check(posix_spawnattr_setsigmask(&spawn.attr, &none), "posix_spawnattr_setsigmask");
    check(posix_spawnattr_setsigdefault(&spawn.attr, &all), "posix_spawnattr_setsigdefault");

    std::vector<char*> argv;
    argv.reserve(args.size() + 2);
    argv.push_back(exe.data());
    for (auto& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);

    pid_t pid = -1;
    check(posix_spawnp(&pid, program.c_str(), &spawn.actions, &spawn.attr, argv.data(), environ),
          ("posix_spawn " + exe).c_str());
    pid_ = pid;
}

child_process::~child_process() {
    if (pid_ <= 0) {
        return;
    }
    if (!exit_) {
        ::kill(-pid_, SIGTERM);
        if (!wait_exit(std::chrono::seconds{5})) {
            ::kill(-pid_, SIGKILL);
            int status = 0;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            ::kill(-pid_, SIGKILL);
        }
    }
}

bool child_process::signal(int sig) {
    if (exit_ || pid_ <= 0) {
        return false;
    }
    return ::kill(pid_, sig) == 0;
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    auto pause = std::chrono::milliseconds{1};
    while (!exit_) {
        int status = 0;
        const pid_t got = ::waitpid(pid_, &status, WNOHANG);
        if (got == pid_) {
            exit_ = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
            // The group may outlive its leader (a shell's background job): stop it now, while
            // the group id cannot yet belong to anyone else.
            ::kill(-pid_, SIGKILL);
            break;
        }
        if (got < 0 && errno != EINTR) {
            exit_ = reaped_elsewhere;
            break;
        }
        if (steady::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds{20});
    }
    return exit_;
}

bool child_process::running() {
    return !wait_exit(std::chrono::milliseconds{0});
}

std::string child_process::stdout_text() const {
    return read_file(stdout_path_);
}

std::string child_process::stderr_text() const {
    return read_file(stderr_path_);
}

long child_process::rss_kib() const {
    std::ifstream in{"/proc/" + std::to_string(pid_) + "/status"};
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::strtol(line.c_str() + 6, nullptr, 10);
        }
    }
    return -1;
}

bool child_process::wait_for_stdout(std::string_view needle, std::chrono::milliseconds deadline) {
    const auto until = steady::now() + deadline;
    for (;;) {
        if (stdout_text().find(needle) != std::string::npos) {
            return true;
        }
        if (!running()) {
            return stdout_text().find(needle) != std::string::npos;
        }
        if (steady::now() >= until) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
}

std::optional<std::uint16_t> listening_port(const std::string& stdout_text,
                                            std::string_view listener) {
    std::string_view rest = stdout_text;
    while (!rest.empty()) {
        const auto newline = rest.find('\n');
        auto line = rest.substr(0, newline);
        rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
            line.remove_suffix(1);
        }
        if (newline == std::string_view::npos && !line.ends_with('}')) {
            break;  // a line still being written: its port may be cut short
        }
        if (json_value(line, "msg") != std::optional<std::string_view>{"listening"} ||
            json_value(line, "listener") != std::optional<std::string_view>{listener}) {
            continue;
        }
        const auto text = json_value(line, "port");
        if (!text) {
            return std::nullopt;
        }
        unsigned port = 0;
        const auto* end = text->data() + text->size();
        const auto [ptr, ec] = std::from_chars(text->data(), end, port);
        if (ec != std::errc{} || ptr != end || port == 0 || port > 65535) {
            return std::nullopt;
        }
        return static_cast<std::uint16_t>(port);
    }
    return std::nullopt;
}

std::optional<std::uint16_t> wait_for_listening_port(child_process& child,
                                                     std::string_view listener,
                                                     std::chrono::milliseconds deadline) {
    const auto until = steady::now() + deadline;
    for (;;) {
        if (auto port = listening_port(child.stdout_text(), listener)) {
            return port;
        }
        if (!child.running()) {
            return listening_port(child.stdout_text(), listener);
        }
        if (steady::now() >= until) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
}

}  // namespace cg::test
