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

/// A fresh random event id (OpenSSL RAND_bytes, 32 hex characters).
std::string new_event_id();

/// The event as one line of JSON (no newline): {"event_id":..,"consent_id":..,"site":..,
/// "time":"2026-11-22T10:00:00.123Z","time_ms":..,"categories":["necessary",..],
/// "policy_version":..,"banner_hash":..,"method":"accept-all","language":"nb","gpc":false}.
std::string to_json(const decision_event& e);

/// Parses what to_json wrote (journal lines, Redis values). nullopt for anything else.
/// Untrusted input (a damaged journal line); never throws.
std::optional<decision_event> event_from_json(std::string_view text);

}  // namespace cg::consent
