#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "consent/config.hpp"
#include "json_config/reader.hpp"

namespace cg::consent {

/// Reads the gateway-wide consent settings from the top-level `consent` and `redis` objects
/// (either may be nullptr when absent; defaults then stay). Problems go to `r` with pointers
/// under /consent and /redis; the returned value holds what was valid and defaults for the
/// rest, and is meaningful only when `r` has no problems. The `redis` object is read by
/// redis::read_redis_config (common/), with the same keys and messages as before.
///
/// Keys of `consent`: `keys` or `key_file` (signing keys, the first signs), `retired_keys` or
/// `retired_key_file` (verify only for the record endpoints; see key_ring for rotation),
/// `cookie_name`, `host_prefix` (bool, default true), `rate_limits` {`per_consent_id`,
/// `per_address`: requests per minute, 0-1000000, 0 = off; defaults 20 and 600},
/// `catalogue` and `journal` {`path`, `max_bytes`}.
///
/// `base_dir` is the directory of the configuration file: relative `key_file`,
/// `retired_key_file`, `catalogue`, `journal.path` and `redis.socket` paths are resolved
/// against it (and so is the default journal path). Key files and `catalogue` are read here,
/// at parse time; an unreadable file is a problem naming the resolved path, and so is a key
/// file that group or others may access (mode & 077: "... is accessible to group or others
/// (mode 0644); it holds secret keys: run chmod 600 FILE"). Without `catalogue` the built-in
/// catalogue is used. Key material is never quoted in problems. The document is untrusted; nothing throws except
/// std::bad_alloc. Thread-safe as long as `r` is not shared.
settings read_settings(json_config::reader& r, const nlohmann::json* consent_obj,
                       const nlohmann::json* redis_obj, const std::filesystem::path& base_dir);

/// Reads a site's `consent` object `v`, found at JSON Pointer `pointer` (for example
/// "/sites/0/consent"). Categories come out in the canonical order, `necessary` first and
/// always offered; texts not overridden are the built-in ones. Cookie rules must name a
/// category the site offers, `necessary` rules need a justification of at least 20
/// characters, and names must be unique. Problems go to `r`; the result is meaningful only
/// when there are none. Untrusted input; nothing throws except std::bad_alloc.
site_policy read_site_policy(json_config::reader& r, const nlohmann::json& v,
                             const std::string& pointer);

/// The policy of a site without a `consent` object: every category with the built-in texts and
/// the defaults of site_policy.
site_policy default_site_policy();

}  // namespace cg::consent
