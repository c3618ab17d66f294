#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "consent/category.hpp"
#include "consent/consent_cookie.hpp"

namespace cg::consent {

/// One consent decision: the proof of consent (DESIGN L7, §6). No IP address, no user agent.
struct decision_event {
    std::string event_id;    ///< random, 32 hex characters; makes storing idempotent
    std::string consent_id;  ///< the visitor's consent id (from the consent cookie)
    std::string site;
    std::int64_t time_ms = 0;  ///< unix milliseconds
    category_set granted{category::necessary};
    std::string policy_version;
    std::string banner_hash;  ///< hex SHA-256 of the exact banner text and category list shown
    decision_kind kind = decision_kind::custom;
    language lang = language::nb;
    bool gpc = false;  ///< the request carried Sec-GPC: 1
};

/// A fresh random event id (OpenSSL RAND_bytes, 32 lower-case hex characters). Throws
/// std::runtime_error only if OpenSSL's random generator fails. Thread-safe.
std::string new_event_id();

/// The event as one line of JSON (no newline; invalid UTF-8 replaced, never throws except
/// std::bad_alloc): {"event_id":..,"consent_id":..,"site":..,
/// "time":"2026-11-22T10:00:00.123Z","time_ms":..,"categories":["necessary",..],
/// "policy_version":..,"banner_hash":..,"method":"accept-all","language":"nb","gpc":false}.
std::string to_json(const decision_event& e);

/// Whether event_from_json(to_json(e)) gives `e` back, checked on the struct (no JSON):
/// every field within the limits event_from_json sets, method and language known. An event
/// that fails could not be replayed from the journal, so the store refuses it. Never throws.
bool is_valid(const decision_event& e) noexcept;

/// Parses what to_json wrote (journal lines, Redis values). nullopt for anything else:
/// every field must be present with its type; event and consent ids 1-64 of [A-Za-z0-9_-];
/// site 1-253 printable ASCII without spaces; time_ms 0 to year 9999 and "time" equal to it;
/// categories and method by name (category_named, decision_kind_named); policy version 1-64
/// of [A-Za-z0-9._-]; banner hash 0-128 lower-case hex; gpc a boolean. Unknown members are
/// ignored. Untrusted input (a damaged journal line, any bytes, at most 64 KiB); never
/// throws. Thread-safe.
std::optional<decision_event> event_from_json(std::string_view text);

}  // namespace cg::consent
