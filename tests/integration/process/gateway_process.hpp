#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_keys.hpp"  // test_consent_key, the key of gateway_config()

namespace cg::test {

/// The consent-gateway binary under test: $CG_GATEWAY_BINARY if set and not empty, else the
/// one CMake built (the CG_GATEWAY_BINARY macro).
std::string gateway_binary();

/// The Host that gateway_config()'s only site answers.
inline constexpr std::string_view site_host = "site.test";

/// What gateway_config() varies; everything else keeps its documented default.
struct gateway_settings {
    std::uint16_t upstream_port = 0;
    unsigned workers = 1;
    unsigned shutdown_timeout_ms = 5000;
    std::uint16_t listen_port = 0;  ///< 0: the kernel chooses
    std::uint16_t admin_port = 0;   ///< 0: the kernel chooses
};

/// A configuration with listeners on 127.0.0.1 and one site "a" that answers Host
/// "site.test" and forwards to http://127.0.0.1:UPSTREAM_PORT. Hermetic: the consent journal
/// is `consent-journal.jsonl` and Redis the Unix socket `redis.sock`, both relative to the
/// config file's directory (the test's temp dir), where nothing listens unless the test
/// starts a redis_server there (options::dir = that dir); the cookie key is test_consent_key.
std::string gateway_config(const gateway_settings& settings);

/// Writes `text` to `file`, replacing it. Throws std::runtime_error if it cannot.
void write_file(const std::filesystem::path& file, std::string_view text);

/// The consent-gateway binary started with `dir/gateway.json`, behind a child_process guard
/// (SIGTERM, then SIGKILL on destruction). Not thread safe.
class gateway_process {
  public:
    gateway_process(const temp_dir& dir, std::string_view config_json);
    /// The same, started through `launcher` (a program and its first arguments, which must end
    /// by exec'ing the rest of its arguments: the binary and the config), e.g. `unshare`.
    gateway_process(const temp_dir& dir, std::string_view config_json,
                    std::vector<std::string> launcher);

    /// Waits until both listeners are logged; false when `deadline` passes or the gateway
    /// exits first (see output()).
    bool wait_ready(std::chrono::milliseconds deadline = std::chrono::seconds{10});

    std::uint16_t proxy_port() const noexcept { return proxy_port_; }
    std::uint16_t admin_port() const noexcept { return admin_port_; }
    child_process& child() noexcept { return child_; }

    /// Sends SIGTERM and returns the exit status (nullopt if still running after `timeout`).
    std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds{10});

    /// Both output streams, labelled, for failure messages.
    std::string output() const;

  private:
    child_process child_;
    std::uint16_t proxy_port_ = 0;
    std::uint16_t admin_port_ = 0;
};

/// What a gateway run that ends by itself left behind.
struct finished_run {
    std::optional<int> exit;  ///< nullopt: still running after the timeout (then killed)
    std::string out;
    std::string err;
};

/// Runs `consent-gateway ARGS...` in `dir` until it exits, at most `timeout`.
finished_run run_gateway(const temp_dir& dir, std::vector<std::string> args,
                         std::chrono::milliseconds timeout = std::chrono::seconds{10});

/// Samples a process's resident set size on its own thread every `period` from construction
/// until stop() or destruction; peak_kib() is the largest sample so far.
class rss_sampler {
  public:
    explicit rss_sampler(const child_process& child,
                         std::chrono::milliseconds period = std::chrono::milliseconds{50});
    ~rss_sampler();
    rss_sampler(const rss_sampler&) = delete;
    rss_sampler& operator=(const rss_sampler&) = delete;

    void stop();
    long peak_kib() const noexcept { return peak_kib_.load(); }
    long samples() const noexcept { return samples_.load(); }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<long> peak_kib_{-1};
    std::atomic<long> samples_{0};
    std::thread thread_;
};

/// The lines of `text` (without their newlines); a last line without a newline counts too.
std::vector<std::string> lines_of(std::string_view text);

}  // namespace cg::test
