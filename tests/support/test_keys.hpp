#pragma once

#include <memory>
#include <string_view>

#include "consent/consent_cookie.hpp"

namespace cg::test {

/// The consent cookie key (consent.keys) of every test gateway, in-process or a real binary:
/// fixed, so that a restarted gateway reads the cookies it signed before. Not a secret.
inline constexpr std::string_view test_consent_key =
    "integration-tests-only-consent-cookie-key-0123456789";

/// A key ring holding test_consent_key only, for a site_context built in a unit test.
std::shared_ptr<const consent::key_ring> test_key_ring();

/// A key ring with one key other than test_consent_key: what it signs, test_key_ring() refuses.
std::shared_ptr<const consent::key_ring> other_key_ring();

}  // namespace cg::test
