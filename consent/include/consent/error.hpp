#pragma once
#include <type_traits>

#include <boost/system/error_code.hpp>

namespace cg::consent {

/// Why a consent cookie or a decision was not accepted. Each means "no decision" for the
/// visitor; none is ever a reason to grant anything.
enum class errc {
    malformed = 1,    ///< not in the cookie's format
    unknown_key,      ///< signed with a key that is no longer configured
    bad_signature,    ///< the HMAC does not match: tampered or from another site
    expired,          ///< older than the site's consent lifetime (DESIGN L8)
    old_policy,       ///< given under another policy version (DESIGN L8)
    unknown_category  ///< names a category the site does not offer
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace cg::consent

template <>
struct boost::system::is_error_code_enum<cg::consent::errc> : std::true_type {};
