#pragma once
// ISO 8601 UTC text for the times in consent records and answers.
#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

namespace cg::consent {

/// "2026-11-22T10:00:00.123Z" (with_millis) or "2026-11-22T10:00:00Z" for unix milliseconds.
/// Empty for a time gmtime_r cannot represent. Thread-safe.
inline std::string iso_time(std::int64_t unix_ms, bool with_millis = true) {
    const auto seconds = static_cast<std::time_t>(unix_ms / 1000);
    const auto millis = static_cast<int>(unix_ms % 1000);
    std::tm tm{};
    if (gmtime_r(&seconds, &tm) == nullptr) {
        return {};
    }
    std::array<char, 64> buf{};
    const int n =
        std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n <= 0 || static_cast<std::size_t>(n) >= buf.size()) {
        return {};
    }
    std::string out(buf.data(), static_cast<std::size_t>(n));
    if (with_millis) {
        std::snprintf(buf.data(), buf.size(), ".%03d", millis);
        out += buf.data();
    }
    out += 'Z';
    return out;
}

}  // namespace cg::consent
