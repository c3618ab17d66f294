#include "access_log.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace cg::gateway {

namespace {

constexpr std::string_view level_name(log_level l) {
    switch (l) {
        case log_level::debug:
            return "debug";
        case log_level::info:
            return "info";
        case log_level::warn:
            return "warn";
        case log_level::error:
            return "error";
    }
    return "info";
}

// RFC 8259 §7 string escaping.
void append_escaped(std::string& out, std::string_view s) {
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (c < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            out.append(esc);
        } else {
            out.push_back(ch);
        }
    }
}

// "2026-11-22T21:04:05.123Z". The seconds part is cached per thread: formatting a date on
// every request would cost more than the rest of the log line.
void append_time(std::string& out) {
    thread_local std::time_t cached_second = 0;
    thread_local char prefix[24] = {};
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
    const std::time_t second = static_cast<std::time_t>(ms.count() / 1000);
    if (second != cached_second) {
        std::tm tm{};
        gmtime_r(&second, &tm);
        std::strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_second = second;
    }
    const auto milli = static_cast<int>(ms.count() % 1000);
    const char frac[5] = {'.', static_cast<char>('0' + milli / 100),
                          static_cast<char>('0' + milli / 10 % 10),
                          static_cast<char>('0' + milli % 10), 'Z'};
    out.append(prefix).append(frac, sizeof frac);
}

void append_int(std::string& out, std::int64_t v) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
    out.append(digits, static_cast<std::size_t>(end - digits));
}

}  // namespace

log_line::log_line(log_level level, std::string_view msg) : text_(own_) {
    own_.reserve(256);
    start(level, msg);
}

log_line::log_line(std::string& batch, log_level level, std::string_view msg) : text_(batch) {
    start(level, msg);
}

void log_line::start(log_level level, std::string_view msg) {
    text_.append("{\"time\":\"");
    append_time(text_);
    text_.append("\",\"level\":\"").append(level_name(level)).append("\",\"msg\":\"");
    append_escaped(text_, msg);
    text_.push_back('"');
}

void log_line::key(std::string_view k) {
    text_.append(",\"").append(k).append("\":");
}

log_line& log_line::str(std::string_view k, std::string_view value) {
    key(k);
    text_.push_back('"');
    append_escaped(text_, value);
    text_.push_back('"');
    return *this;
}

log_line& log_line::num(std::string_view k, std::int64_t value) {
    key(k);
    append_int(text_, value);
    return *this;
}

log_line& log_line::ms(std::string_view k, std::chrono::nanoseconds d) {
    key(k);
    // Fixed point with three decimals, without the cost of printf's float formatting.
    const auto us = std::max<std::int64_t>(0, d.count() / 1000);
    append_int(text_, us / 1000);
    text_.push_back('.');
    const auto frac = us % 1000;
    text_.push_back(static_cast<char>('0' + frac / 100));
    text_.push_back(static_cast<char>('0' + frac / 10 % 10));
    text_.push_back(static_cast<char>('0' + frac % 10));
    return *this;
}

std::string& log_line::finish() {
    text_.append("}\n");
    return text_;
}

log_sink::log_sink(int fd, log_level level, std::atomic<std::uint64_t>& dropped,
                   std::size_t max_pending)
    : fd_(fd), level_(level), dropped_(dropped), max_pending_(max_pending), thread_([this] {
          run();
      }) {}

log_sink::~log_sink() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void log_sink::write(std::string&& lines) {
    if (lines.empty()) {
        return;
    }
    {
        std::lock_guard lock(mutex_);
        if (pending_ + lines.size() > max_pending_) {
            std::size_t n = 0;
            for (char c : lines) {
                n += c == '\n' ? 1U : 0U;
            }
            dropped_.fetch_add(n, std::memory_order_relaxed);
            return;
        }
        pending_ += lines.size();
        queue_.push_back(std::move(lines));
    }
    wake_.notify_one();
}

void log_sink::write(log_level l, log_line& line) {
    if (enabled(l)) {
        write(std::move(line.finish()));
    }
}

void log_sink::flush() {
    std::unique_lock lock(mutex_);
    drained_.wait(lock, [this] { return queue_.empty() && !writing_; });
}

void log_sink::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) {
            return;  // stop_ and nothing left
        }
        std::string chunk = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        lock.unlock();
        std::string_view rest = chunk;
        while (!rest.empty()) {
            const auto n = ::write(fd_, rest.data(), rest.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;  // stdout closed: nothing sensible to do but drop
            }
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
        lock.lock();
        writing_ = false;
        pending_ -= chunk.size();
        if (queue_.empty()) {
            drained_.notify_all();
        }
    }
}

void log_batch::added() {
    if (pending_.size() >= 16 * 1024) {
        flush();
    }
}

void log_batch::flush() {
    if (!pending_.empty()) {
        std::string out;
        out.reserve(20 * 1024);
        out.swap(pending_);
        sink_.write(std::move(out));
    }
}

}  // namespace cg::gateway
