#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "gateway/config.hpp"

namespace cg::gateway {

/// Builds one JSON log line. Callers pass only what may be logged: never an IP address, a
/// user agent, a query string or a cookie value (DESIGN §6).
class log_line {
  public:
    /// A line in its own string (for the sink).
    log_line(log_level level, std::string_view msg);
    /// A line appended straight to `batch` (a worker's access-log batch): no copy.
    log_line(std::string& batch, log_level level, std::string_view msg);
    log_line(const log_line&) = delete;
    log_line& operator=(const log_line&) = delete;
    log_line& str(std::string_view key, std::string_view value);
    log_line& num(std::string_view key, std::int64_t value);
    /// A duration as milliseconds with three decimals.
    log_line& ms(std::string_view key, std::chrono::nanoseconds d);
    /// The finished line, with a trailing newline.
    std::string& finish();

  private:
    void key(std::string_view k);
    void start(log_level level, std::string_view msg);
    std::string own_;
    std::string& text_;
};

/// Writes log lines to a file descriptor (stdout) from its own thread, so a slow reader of
/// stdout never stalls a proxy worker. Memory is bounded: past `max_pending` bytes lines are
/// dropped and counted. Thread-safe.
class log_sink {
  public:
    log_sink(int fd, log_level level, std::atomic<std::uint64_t>& dropped,
             std::size_t max_pending = 32U << 20);
    ~log_sink();
    log_sink(const log_sink&) = delete;
    log_sink& operator=(const log_sink&) = delete;

    bool enabled(log_level l) const noexcept { return l >= level_; }
    /// Queues complete lines (one or many, each ending in a newline).
    void write(std::string&& lines);
    /// Queues one line if its level is enabled.
    void write(log_level l, log_line& line);
    /// Blocks until everything queued so far has been written.
    void flush();

  private:
    void run();

    int fd_;
    log_level level_;
    std::atomic<std::uint64_t>& dropped_;
    std::size_t max_pending_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable drained_;
    std::deque<std::string> queue_;
    std::size_t pending_ = 0;
    bool writing_ = false;
    bool stop_ = false;
    std::thread thread_;
};

/// A worker's access-log batch: lines accumulate here and go to the sink in chunks, so the hot
/// path does one string append per request and no system call. Not thread-safe (one per worker).
class log_batch {
  public:
    explicit log_batch(log_sink& sink) : sink_(sink) {}
    ~log_batch() { flush(); }
    /// Where the next line is built (see log_line); call added() once it is finished.
    std::string& buffer() noexcept { return pending_; }
    void added();
    void flush();

  private:
    log_sink& sink_;
    std::string pending_;
};

}  // namespace cg::gateway
