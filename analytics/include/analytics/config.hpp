#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "analytics/forwarder.hpp"
#include "analytics/page_view.hpp"
#include "analytics/user_agent.hpp"
#include "json_config/reader.hpp"

namespace cg::analytics {

/// The top-level `analytics` object.
struct settings {
    /// ua-parser's regex database (Debian's uap-core package).
    std::filesystem::path ua_regexes = "/usr/share/uap-core/regexes.yaml";
    /// A MaxMind DB with countries (C9: nothing finer is looked up); empty: no countries.
    std::filesystem::path geoip_db;
    /// How often the workers hand their counts to the Redis writer.
    unsigned flush_interval_ms = 5000;
    /// Where closed days are sent (analytics/forwarder.hpp); empty: nowhere.
    std::vector<forward_target> forward;
};

/// A site's `analytics` object.
struct site_settings {
    bool enabled = true;  ///< count this site's page views (on unless turned off)
    std::vector<path_rule> path_rules;
    unsigned k = 5;                     ///< smallest group published; 5 or more (C13)
    unsigned retention_days = 395;      ///< 1-760: every key expires within 25 months (C7)
    std::string time_zone = "Europe/Oslo";  ///< IANA name: the site's days and hours
};

/// Reads the top-level `analytics` object `v` (may be null: the defaults). Keys: `ua_regexes`
/// and `geoip_db` (paths, relative to the configuration file's folder; the GeoIP file must
/// open as a MaxMind DB), `flush_interval_ms` (100-60000), `forward` (an array of targets:
/// `name` (required, 1-64 of [a-z0-9._-], unique), `url` (required, http:// or https:// with a
/// host), `headers` (an object of header names (tokens, not ones the forwarder sets itself)
/// and string values without CR, LF or NUL; values are secrets and never appear in a
/// message), `timeout_ms` (100-120000)). Problems go to `r` with their JSON Pointer. Untrusted
/// input; nothing throws except std::bad_alloc.
settings read_settings(json_config::reader& r, const nlohmann::json* v,
                       const std::filesystem::path& base_dir);

/// Reads a site's `analytics` object at `pointer` ("/sites/0/analytics"). Keys: `enabled`
/// (bool), `k` (5-1000), `retention_days` (1-760), `time_zone` (an IANA name known to tzdata),
/// `path_rules` (strings like "/jobb/:id" or "/sok/*": each starts with '/', has no
/// empty segment, no query, and '*' only as its last segment).
site_settings read_site_settings(json_config::reader& r, const nlohmann::json& v,
                                 const std::string& pointer);

/// The User-Agent database at `file`, loaded once per process and kept (gateways in one
/// process, tests, share one copy). Throws ua_database_error when it cannot be read.
std::shared_ptr<const ua_database> shared_ua_database(const std::filesystem::path& file);

/// The User-Agent database, loaded when it is first needed, on a thread of its own: it takes
/// about 13 MiB and a few hundred milliseconds, which a gateway that sees no page view (or not
/// yet) should not pay, and no worker should wait for. Thread-safe.
class lazy_ua_database {
  public:
    /// Throws ua_database_error when `file` cannot be opened (checked now, read later).
    explicit lazy_ua_database(std::filesystem::path file);
    ~lazy_ua_database();
    lazy_ua_database(const lazy_ua_database&) = delete;
    lazy_ua_database& operator=(const lazy_ua_database&) = delete;

    /// The database when it is loaded; else nullptr, and the first such call starts loading
    /// it. Stays nullptr when the file turns out not to be a ua-parser database (failed()).
    const ua_database* get();
    [[nodiscard]] bool failed() const noexcept { return failed_.load(); }

  private:
    std::filesystem::path file_;
    std::once_flag start_;
    std::thread loader_;
    std::shared_ptr<const ua_database> db_;  // written by loader_ before ready_
    std::atomic<const ua_database*> ready_{nullptr};
    std::atomic<bool> failed_{false};
};

}  // namespace cg::analytics
