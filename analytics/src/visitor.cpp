#include "analytics/visitor.hpp"

#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace cg::analytics {

namespace {

struct md_ctx_free {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using md_ctx = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

}  // namespace

// RFC 2104 HMAC over SHA-256 with the padded-key blocks absorbed once: OpenSSL's one-shot
// HMAC() would hash them again for every page view.
struct visitor_hasher::impl {
    md_ctx inner{EVP_MD_CTX_new()};
    md_ctx outer{EVP_MD_CTX_new()};
    md_ctx work{EVP_MD_CTX_new()};
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
    const EVP_MD* sha256 = EVP_sha256();
    if (!impl_->inner || !impl_->outer || !impl_->work ||
        EVP_DigestInit_ex(impl_->inner.get(), sha256, nullptr) != 1 ||
        EVP_DigestUpdate(impl_->inner.get(), ipad, sizeof ipad) != 1 ||
        EVP_DigestInit_ex(impl_->outer.get(), sha256, nullptr) != 1 ||
        EVP_DigestUpdate(impl_->outer.get(), opad, sizeof opad) != 1) {
        throw std::bad_alloc();
    }
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
}

visitor_hasher::~visitor_hasher() = default;

visitor_id visitor_hasher::operator()(std::string_view site,
                                      const boost::asio::ip::address& address,
                                      std::string_view user_agent) const noexcept {
    // site ‖ 0 ‖ family ‖ address bytes ‖ User-Agent: the separator and the fixed-length
    // address keep two different inputs from running into one message.
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
    unsigned char inner_digest[32];
    unsigned char digest[32];
    unsigned int n = 0;
    EVP_MD_CTX* w = impl_->work.get();
    visitor_id id{};
    if (EVP_MD_CTX_copy_ex(w, impl_->inner.get()) != 1 ||
        EVP_DigestUpdate(w, site.data(), site.size()) != 1 ||
        EVP_DigestUpdate(w, &zero, 1) != 1 || EVP_DigestUpdate(w, ip, ip_len) != 1 ||
        EVP_DigestUpdate(w, user_agent.data(), user_agent.size()) != 1 ||
        EVP_DigestFinal_ex(w, inner_digest, &n) != 1 ||
        EVP_MD_CTX_copy_ex(w, impl_->outer.get()) != 1 ||
        EVP_DigestUpdate(w, inner_digest, sizeof inner_digest) != 1 ||
        EVP_DigestFinal_ex(w, digest, &n) != 1) {
        return id;  // only when OpenSSL cannot allocate: an all-zero id, counted as one visitor
    }
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
