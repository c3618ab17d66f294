#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "json_config/reader.hpp"
#include "redis/config.hpp"

namespace cg::redis {

/// Reads a `redis` object `v` found at JSON Pointer `pointer` (the gateway config has it at
/// "/redis") on top of the defaults of redis_config. Keys: host, port, socket, username,
/// password, database (0-15), connect_timeout_ms, command_timeout_ms, key_prefix; unknown keys
/// are problems. A relative `socket` is resolved against `base_dir` (the directory of the
/// configuration file) and excludes host and port. The password is never quoted in a problem.
/// Problems go to `r`; the result holds what was valid and defaults for the rest, and is
/// meaningful only when `r` has no problems. The document is untrusted; nothing throws except
/// std::bad_alloc. Thread-safe as long as `r` is not shared.
redis_config read_redis_config(json_config::reader& r, const nlohmann::json& v,
                               const std::string& pointer, const std::filesystem::path& base_dir);

}  // namespace cg::redis
