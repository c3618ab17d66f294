// OpenSSL 3 marks its SHA256_* functions deprecated in favour of EVP, but they are still
// OpenSSL's own (the same assembly, SHA-NI included), and their state is a plain struct: an HMAC
// prepared once is copied per page view with no allocation. EVP_MD_CTX_copy_ex allocates and
// frees a provider context on every copy (OpenSSL 3.0), which cost a third of an id.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "analytics/visitor.hpp"

#include <cstring>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace cg::analytics {

// RFC 2104 HMAC over SHA-256 with the padded-key blocks absorbed once: OpenSSL's one-shot
// HMAC() would hash them again for every page view.
struct visitor_hasher::impl {
    SHA256_CTX inner;
    SHA256_CTX outer;
    ~impl() {
        OPENSSL_cleanse(&inner, sizeof inner);
        OPENSSL_cleanse(&outer, sizeof outer);
    }
};

visitor_hasher::visitor_hasher(const day_key& key) : impl_(new impl) {
    unsigned char ipad[64];
    unsigned char opad[64];
    std::memset(ipad, 0x36, sizeof ipad);
    std::memset(opad, 0x5c, sizeof opad);
    for (std::size_t i = 0; i < key.size(); ++i) {
        ipad[i] ^= key[i];
        opad[i] ^= key[i];
    }
    SHA256_Init(&impl_->inner);
    SHA256_Update(&impl_->inner, ipad, sizeof ipad);
    SHA256_Init(&impl_->outer);
    SHA256_Update(&impl_->outer, opad, sizeof opad);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
}

visitor_hasher::~visitor_hasher() = default;

ua_digest digest_of(std::string_view user_agent) noexcept {
    unsigned char full[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(user_agent.data()), user_agent.size(), full);
    ua_digest d{};
    std::memcpy(d.data(), full, d.size());
    return d;
}

visitor_id visitor_hasher::operator()(std::string_view site,
                                      const boost::asio::ip::address& address,
                                      const ua_digest& user_agent) const noexcept {
    // site ‖ 0 ‖ family ‖ address bytes ‖ User-Agent digest: the separator and the fixed
    // lengths keep two different inputs from running into one message.
    unsigned char ip[17] = {};
    std::size_t ip_len = 0;
    if (address.is_v4()) {
        ip[0] = 4;
        const auto b = address.to_v4().to_bytes();
        std::memcpy(ip + 1, b.data(), b.size());
        ip_len = 1 + b.size();
    } else {
        ip[0] = 6;
        const auto b = address.to_v6().to_bytes();
        std::memcpy(ip + 1, b.data(), b.size());
        ip_len = 1 + b.size();
    }
    static constexpr unsigned char zero = 0;
    unsigned char inner_digest[SHA256_DIGEST_LENGTH];
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX w = impl_->inner;
    SHA256_Update(&w, site.data(), site.size());
    SHA256_Update(&w, &zero, 1);
    SHA256_Update(&w, ip, ip_len);
    // One block after the key's, for a site name of up to 21 bytes (33 with IPv4).
    SHA256_Update(&w, user_agent.data(), user_agent.size());
    SHA256_Final(inner_digest, &w);
    w = impl_->outer;
    SHA256_Update(&w, inner_digest, sizeof inner_digest);
    SHA256_Final(digest, &w);
    visitor_id id{};
    std::memcpy(id.data(), digest, id.size());
    return id;
}

std::optional<day_key> day_keys::get(std::uint32_t site, day_number day) const {
    const std::lock_guard lock{mutex_};
    const auto it = keys_.find({site, day});
    if (it == keys_.end()) {
        return std::nullopt;
    }
    return it->second;
}

void day_keys::set(std::uint32_t site, day_number day, const day_key& key) {
    const std::lock_guard lock{mutex_};
    auto& slot = keys_[{site, day}];
    if (slot != key) {
        slot = key;
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
}

void day_keys::drop_before(std::uint32_t site, day_number day) {
    const std::lock_guard lock{mutex_};
    bool changed = false;
    for (auto it = keys_.begin(); it != keys_.end();) {
        if (it->first.first == site && it->first.second < day) {
            OPENSSL_cleanse(it->second.data(), it->second.size());
            it = keys_.erase(it);
            changed = true;
        } else {
            ++it;
        }
    }
    if (changed) {
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
}

std::size_t day_keys::size() const {
    const std::lock_guard lock{mutex_};
    return keys_.size();
}

}  // namespace cg::analytics
