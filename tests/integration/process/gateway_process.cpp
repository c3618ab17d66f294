#include "gateway_process.hpp"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <utility>

namespace cg::test {

namespace {

// Writes the config before the child_process member is constructed from the arguments.
std::vector<std::string> config_arguments(const temp_dir& dir, std::string_view config_json) {
    write_file(dir / "gateway.json", config_json);
    return {"gateway.json"};
}

}  // namespace

std::string gateway_binary() {
    // The environment may point at another build of the binary (a release or patched build).
    if (const char* other = std::getenv("CG_GATEWAY_BINARY"); other != nullptr && *other != '\0') {
        return other;
    }
    return CG_GATEWAY_BINARY;
}

std::string gateway_config(const gateway_settings& s) {
    return R"({
  "listen": {"address": "127.0.0.1", "port": )" +
           std::to_string(s.listen_port) + R"(},
  "admin": {"address": "127.0.0.1", "port": )" +
           std::to_string(s.admin_port) + R"(},
  "workers": )" +
           std::to_string(s.workers) +
           R"(,
  "shutdown_timeout_ms": )" +
           std::to_string(s.shutdown_timeout_ms) + R"(,
  "log": {"level": "info", "access": true},
  "consent": {"keys": [")" +
           std::string{test_consent_key} + R"("],
              "journal": {"path": "consent-journal.jsonl"}},
  "redis": {"socket": "redis.sock"},
  "sites": [
    {"name": "a", "hosts": [")" +
           std::string{site_host} + R"("], "upstream": "http://127.0.0.1:)" +
           std::to_string(s.upstream_port) + R"("}
  ]
}
)";
}

void write_file(const std::filesystem::path& file, std::string_view text) {
    std::ofstream out{file, std::ios::binary | std::ios::trunc};
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) {
        throw std::runtime_error("cannot write " + file.string());
    }
}

gateway_process::gateway_process(const temp_dir& dir, std::string_view config_json)
    : child_(gateway_binary(), config_arguments(dir, config_json), dir.path(), "gateway") {}

gateway_process::gateway_process(const temp_dir& dir, std::string_view config_json,
                                 std::vector<std::string> launcher)
    : child_(launcher.at(0), [&] {
          std::vector<std::string> args(launcher.begin() + 1, launcher.end());
          args.push_back(gateway_binary());
          for (auto& a : config_arguments(dir, config_json)) {
              args.push_back(std::move(a));
          }
          return args;
      }(),
             dir.path(), "gateway") {}

bool gateway_process::wait_ready(std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    const auto proxy = wait_for_listening_port(child_, "proxy", deadline);
    if (!proxy) {
        return false;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    const auto admin =
        wait_for_listening_port(child_, "admin", std::max(left, std::chrono::milliseconds{1}));
    if (!admin) {
        return false;
    }
    proxy_port_ = *proxy;
    admin_port_ = *admin;
    return true;
}

std::optional<int> gateway_process::stop(std::chrono::milliseconds timeout) {
    child_.signal(SIGTERM);
    return child_.wait_exit(timeout);
}

std::string gateway_process::output() const {
    return "--- gateway stdout ---\n" + child_.stdout_text() + "--- gateway stderr ---\n" +
           child_.stderr_text();
}

finished_run run_gateway(const temp_dir& dir, std::vector<std::string> args,
                         std::chrono::milliseconds timeout) {
    child_process child{gateway_binary(), std::move(args), dir.path(), "run"};
    finished_run run;
    run.exit = child.wait_exit(timeout);
    run.out = child.stdout_text();
    run.err = child.stderr_text();
    return run;
}

rss_sampler::rss_sampler(const child_process& child, std::chrono::milliseconds period)
    : thread_([this, &child, period] {
          while (!stop_.load()) {
              const long kib = child.rss_kib();
              if (kib > 0) {
                  samples_.fetch_add(1);
                  if (kib > peak_kib_.load()) {
                      peak_kib_.store(kib);
                  }
              }
              std::this_thread::sleep_for(period);
          }
      }) {}

rss_sampler::~rss_sampler() {
    stop();
}

void rss_sampler::stop() {
    stop_.store(true);
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        const auto end = text.find('\n');
        lines.emplace_back(text.substr(0, end));
        if (end == std::string_view::npos) {
            break;
        }
        text.remove_prefix(end + 1);
    }
    return lines;
}

}  // namespace cg::test
