#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

namespace cg::analytics {

/// What kind of device a page view came from, for the dashboard's device report.
enum class device_class { desktop, mobile, tablet, bot };

/// The dashboard's name of a device class ("desktop", "mobile", "tablet", "bot").
std::string_view name_of(device_class c) noexcept;

/// A User-Agent as the ua-parser database reads it (uap-core's specification): each part is the
/// first matching parser's replacement (with `$1`..`$9` filled in) or capture group, trimmed;
/// a part nothing gave is empty. `browser`, `os` and `device` are "Other" when no parser
/// matched.
struct user_agent {
    std::string browser, browser_major, browser_minor, browser_patch, browser_patch_minor;
    std::string os, os_major, os_minor, os_patch, os_patch_minor;
    std::string device, brand, model;
    /// Desktop, mobile, tablet, or bot: ua-parser's "Spider" device, and the crawler,
    /// headless-browser and HTTP-library families (see is_bot_family).
    device_class kind = device_class::desktop;
};

/// Browser families that are not a person looking at a page: crawlers ua-parser names by
/// family, headless browsers and HTTP libraries (curl, python-requests, Go-http-client...).
bool is_bot_family(std::string_view browser_family) noexcept;

/// A problem in a regexes.yaml file.
class ua_database_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The ua-parser regex database (uap-core's `regexes.yaml`: user_agent_parsers, os_parsers,
/// device_parsers), compiled with RE2: linear time in the length of the input whatever the
/// User-Agent holds, so untrusted input cannot make it backtrack. Parsing is thread-safe.
class ua_database {
  public:
    /// Reads `regexes.yaml`. Throws ua_database_error naming the file and what is wrong (not
    /// YAML, a section or a `regex` missing, no parser at all). A regex RE2 cannot compile is
    /// left out and counted (skipped()).
    static ua_database load(const std::filesystem::path& file);
    /// The same from the file's text; `source` names it in errors.
    static ua_database from_yaml(std::string_view yaml, std::string_view source);

    ua_database(ua_database&&) noexcept;
    ua_database& operator=(ua_database&&) noexcept;
    ~ua_database();

    /// Parses one User-Agent (untrusted; at most the first 512 bytes are read). Never throws
    /// except std::bad_alloc.
    [[nodiscard]] user_agent parse(std::string_view ua) const;

    /// Parsers compiled, and regexes RE2 refused (left out).
    [[nodiscard]] std::size_t parsers() const noexcept;
    [[nodiscard]] std::size_t skipped() const noexcept;

  private:
    struct impl;
    explicit ua_database(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

/// What the tap needs of a User-Agent: its device class, browser and OS family, and
/// digest_of(the string) (visitor.hpp), which a visitor id hashes.
struct ua_summary {
    device_class kind = device_class::desktop;
    std::array<std::uint8_t, 16> digest{};
    std::string browser, os;
};

/// A bounded cache of parsed User-Agents in front of a ua_database: a busy site sees a few
/// hundred distinct strings an hour, and parsing one tries hundreds of regexes. Entries are
/// found by a seeded XXH3-128 hash of the string (the seed is random per cache, so nobody can
/// aim at a collision) and keep only the summary, a quarter of a user_agent: fewer cache lines
/// per page view. When full, the least recently used half goes. Not thread-safe: one per worker.
class ua_cache {
  public:
    ua_cache(const ua_database& db, std::size_t capacity);
    /// The summary of `ua`, from the cache or parsed now. The reference stays valid as long as
    /// generation() does not change: only a string the cache did not have changes it (the
    /// entries may move or go then).
    const ua_summary& parse(std::string_view ua);
    [[nodiscard]] std::uint64_t generation() const noexcept { return parsed_; }
    [[nodiscard]] std::size_t size() const noexcept { return by_ua_.size(); }
    /// How many strings the database has parsed (those the cache did not have).
    [[nodiscard]] std::uint64_t parsed() const noexcept { return parsed_; }

  private:
    using key = std::array<std::uint64_t, 2>;
    struct entry {
        ua_summary summary;
        std::uint64_t used = 0;  // tick of the last parse() that returned it
    };
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept { return k[0]; }  // a keyed hash
    };
    const ua_database& db_;
    std::size_t capacity_;
    std::uint64_t seed_;
    std::uint64_t tick_ = 0;
    std::uint64_t parsed_ = 0;
    boost::unordered_flat_map<key, entry, key_hash> by_ua_;
};

}  // namespace cg::analytics
