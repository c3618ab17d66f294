#include "consent/consent_cookie.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "base64url.hpp"

namespace cg::consent {

namespace {

constexpr std::size_t min_key_bytes = 32;
constexpr std::size_t id_chars = 22;  // 16 random bytes
constexpr std::size_t key_id_chars = 6;
constexpr std::size_t mac_chars = 43;  // 32 bytes
// The configured version (at most 32) plus '.' and the banner's 12-digit policy hash.
constexpr std::size_t max_policy_chars = 48;
// A real cookie is about 100 bytes; anything much longer is not ours and is not looked at.
constexpr std::size_t max_value_bytes = 200;
constexpr std::size_t max_site_bytes = 200;
// Gateways behind one load balancer may disagree on the time by a little.
constexpr std::int64_t clock_skew_seconds = 300;

constexpr std::string_view kind_chars = "arcwg";  // in decision_kind order

bool is_policy_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

bool is_policy_version(std::string_view v) {
    return !v.empty() && v.size() <= max_policy_chars &&
           std::all_of(v.begin(), v.end(), is_policy_char);
}

using mac_bytes = std::array<unsigned char, 32>;

// OpenSSL 3's one-shot HMAC() fetches the algorithm and builds a context on every call: most
// of the cost of signing a decision. Each thread keeps a keyed HMAC context per secret and
// re-initialises it (same key) per use. Secrets come from configuration: a handful at most;
// the bound only keeps tests that make many key rings from growing the list.
class mac_contexts {
  public:
    mac_contexts() = default;
    mac_contexts(const mac_contexts&) = delete;
    mac_contexts& operator=(const mac_contexts&) = delete;
    ~mac_contexts() {
        for (auto& e : entries_) {
            OPENSSL_cleanse(e.secret.data(), e.secret.size());
            EVP_MAC_CTX_free(e.ctx);
        }
    }

    /// A context keyed with `secret`, ready for EVP_MAC_init(ctx, nullptr, 0, nullptr);
    /// nullptr when OpenSSL cannot make one.
    EVP_MAC_CTX* get(const std::string& secret) {
        for (auto& e : entries_) {
            if (e.secret == secret) {
                return e.ctx;
            }
        }
        static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        if (hmac == nullptr) {
            return nullptr;
        }
        EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac);
        char digest[] = "SHA256";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                                     OSSL_PARAM_construct_end()};
        if (ctx == nullptr ||
            EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                         params) != 1) {
            EVP_MAC_CTX_free(ctx);
            return nullptr;
        }
        if (entries_.size() == max_entries) {
            OPENSSL_cleanse(entries_.front().secret.data(), entries_.front().secret.size());
            EVP_MAC_CTX_free(entries_.front().ctx);
            entries_.erase(entries_.begin());
        }
        entries_.push_back({secret, ctx});
        return ctx;
    }

  private:
    static constexpr std::size_t max_entries = 16;
    struct entry {
        std::string secret;
        EVP_MAC_CTX* ctx;
    };
    std::vector<entry> entries_;
};

// HMAC-SHA256 over "cg-consent" NUL site NUL payload. The site is inside the MAC so that a
// cookie minted for one site behind the gateway grants nothing on another.
bool compute_mac(const std::string& secret, std::string_view site, std::string_view payload,
                 mac_bytes& out) {
    static constexpr std::string_view domain = "cg-consent";
    std::array<char, domain.size() + 1 + max_site_bytes + 1 + max_value_bytes> input{};
    if (site.size() > max_site_bytes || payload.size() > max_value_bytes) {
        return false;
    }
    auto* p = std::copy(domain.begin(), domain.end(), input.begin());
    *p++ = '\0';
    p = std::copy(site.begin(), site.end(), p);
    *p++ = '\0';
    p = std::copy(payload.begin(), payload.end(), p);
    thread_local mac_contexts contexts;
    EVP_MAC_CTX* ctx = contexts.get(secret);
    std::size_t len = 0;
    return ctx != nullptr && EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1 &&
           EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(input.data()),
                          static_cast<std::size_t>(p - input.begin())) == 1 &&
           EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == out.size();
}

std::string key_id_of(const std::string& secret) {
    std::array<unsigned char, 32> digest{};
    unsigned int len = 0;
    EVP_Digest(secret.data(), secret.size(), digest.data(), &len, EVP_sha256(), nullptr);
    return base64url_encode({digest.data(), digest.size()}).substr(0, key_id_chars);
}

// Splits off the text before the next '.', advancing `rest` past it.
std::optional<std::string_view> next_field(std::string_view& rest) {
    const auto dot = rest.find('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    const auto field = rest.substr(0, dot);
    rest.remove_prefix(dot + 1);
    return field;
}

// The same from the right end.
std::optional<std::string_view> last_field(std::string_view& rest) {
    const auto dot = rest.rfind('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    const auto field = rest.substr(dot + 1);
    rest.remove_suffix(rest.size() - dot);
    return field;
}

}  // namespace

key_ring::key_ring(std::vector<std::string> keys, std::vector<std::string> retired) {
    if (keys.empty()) {
        throw std::invalid_argument("no consent cookie key");
    }
    for (auto* list : {&keys, &retired}) {
        for (auto& k : *list) {
            if (k.size() < min_key_bytes) {
                throw std::invalid_argument("a consent cookie key is shorter than 32 bytes");
            }
            auto id = key_id_of(k);
            (list == &keys ? keys_ : retired_).push_back(key{std::move(id), std::move(k)});
        }
    }
}

key_ring key_ring::random() {
    std::string secret(min_key_bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                   static_cast<int>(secret.size())) != 1) {
        throw std::runtime_error("cannot draw a random consent cookie key");
    }
    return key_ring({std::move(secret)});
}

const key_ring::key* key_ring::find(std::string_view id) const noexcept {
    for (const auto& k : keys_) {
        if (k.id == id) {
            return &k;
        }
    }
    return nullptr;
}

const key_ring::key* key_ring::find_retired(std::string_view id) const noexcept {
    for (const auto& k : retired_) {
        if (k.id == id) {
            return &k;
        }
    }
    return nullptr;
}

std::string new_consent_id() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("cannot draw a random consent id");
    }
    return base64url_encode({bytes.data(), bytes.size()});
}

std::string encode_consent(const consent_state& state, std::string_view site,
                           const key_ring& keys) {
    const auto& key = keys.signing_key();
    std::string v;
    v.reserve(120);
    v += "1.";
    v += state.id;
    v += '.';
    v += "0123456789abcdef"[state.granted.bits() & 0x0FU];
    v += '.';
    v += kind_chars[static_cast<std::size_t>(state.kind)];
    v += '.';
    v += std::to_string(state.issued);
    v += '.';
    v += state.policy_version;
    v += '.';
    v += key.id;
    mac_bytes mac{};
    if (!compute_mac(key.secret, site, v, mac)) {
        throw std::invalid_argument("consent cookie payload too long");
    }
    v += '.';
    v += base64url_encode({mac.data(), mac.size()});
    return v;
}

boost::system::result<consent_state> decode_consent(std::string_view value,
                                                    const cookie_check& check, const key_ring& keys,
                                                    key_use use) {
    if (value.size() > max_value_bytes + 1 + mac_chars) {
        return errc::malformed;
    }
    std::string_view rest = value;
    const auto mac_text = last_field(rest);
    if (!mac_text || mac_text->size() != mac_chars) {
        return errc::malformed;
    }
    const std::string_view signed_part = rest;
    const auto key_id = last_field(rest);
    const auto version = next_field(rest);
    const auto id = next_field(rest);
    const auto cats = next_field(rest);
    const auto kind = next_field(rest);
    const auto issued_text = next_field(rest);
    const std::string_view policy = rest;  // may itself contain dots
    if (!key_id || !version || !id || !cats || !kind || !issued_text || *version != "1" ||
        id->size() != id_chars || !is_base64url(*id) || cats->size() != 1 || kind->size() != 1 ||
        issued_text->empty() || issued_text->size() > 12 || !is_policy_version(policy)) {
        return errc::malformed;
    }
    const auto kind_index = kind_chars.find(kind->front());
    const auto cat_index = std::string_view{"0123456789abcdef"}.find(cats->front());
    std::int64_t issued = 0;
    const auto [end, ec] =
        std::from_chars(issued_text->data(), issued_text->data() + issued_text->size(), issued);
    if (kind_index == std::string_view::npos || cat_index == std::string_view::npos ||
        ec != std::errc{} || end != issued_text->data() + issued_text->size()) {
        return errc::malformed;
    }

    const key_ring::key* key = keys.find(*key_id);
    if (key == nullptr && use == key_use::identity) {
        key = keys.find_retired(*key_id);
    }
    if (key == nullptr) {
        return errc::unknown_key;
    }
    mac_bytes expected{};
    mac_bytes given{};
    if (!compute_mac(key->secret, check.site, signed_part, expected) ||
        !base64url_decode(*mac_text, given)) {
        return errc::bad_signature;
    }
    if (CRYPTO_memcmp(expected.data(), given.data(), expected.size()) != 0) {
        return errc::bad_signature;
    }

    consent_state s;
    s.id = std::string{*id};
    s.granted = category_set::from_bits(static_cast<std::uint8_t>(cat_index));
    s.kind = static_cast<decision_kind>(kind_index);
    s.issued = issued;
    s.policy_version = std::string{policy};
    if (!s.granted.contains(category::necessary)) {
        return errc::malformed;  // we never sign such a cookie
    }
    if (!check.policy_version.empty() && policy != check.policy_version) {
        return errc::old_policy;
    }
    if (check.lifetime_seconds > 0 &&
        (issued + check.lifetime_seconds <= check.now || issued > check.now + clock_skew_seconds)) {
        return errc::expired;
    }
    if (!check.offered.includes(s.granted)) {
        return errc::unknown_category;
    }
    return s;
}

}  // namespace cg::consent
