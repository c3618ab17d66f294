// Fuzz target for decode_consent, which reads the consent cookie of every proxied request.
// Two halves, chosen by the first byte:
//  - raw: the input is the cookie value. It must never decode (the fuzzer has no key), and a
//    cookie that did decode would have to grant at least `necessary`.
//  - forged: the input describes a genuine cookie (categories, kind, time, policy) that is
//    signed with the test key and must round-trip exactly; then one byte chosen by the input
//    is changed, and the result must not decode to anything that grants more.
// Violations end in __builtin_trap so they are crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "consent/consent_cookie.hpp"

namespace {

using namespace cg::consent;

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

const key_ring& keys() {
    static const key_ring ring({std::string(32, 'k'), std::string(40, 'o')});
    return ring;
}

cookie_check check_for(std::string_view policy) {
    return cookie_check{.site = "fuzz",
                        .policy_version = policy,
                        .lifetime_seconds = 86400,
                        .now = 1'800'000'000,
                        .offered = category_set::all()};
}

void raw(std::string_view value) {
    const auto r = decode_consent(value, check_for("1"), keys());
    check(!r.has_value());
}

void forged(std::string_view in) {
    if (in.size() < 4) {
        return;
    }
    consent_state s;
    s.id = "AAAAAAAAAAAAAAAAAAAAAA";
    s.granted = category_set::from_bits(static_cast<std::uint8_t>(in[0] | 1));
    s.kind = static_cast<decision_kind>(static_cast<unsigned char>(in[1]) % 5);
    s.issued = 1'800'000'000 - static_cast<unsigned char>(in[2]);
    const std::size_t where = static_cast<unsigned char>(in[3]);
    const char replacement = in.size() > 4 ? in[4] : 'x';
    std::string policy;
    for (const char c : in.substr(in.size() > 5 ? 5 : in.size())) {
        if (policy.size() < 32 && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.' ||
                                   c == '-' || c == '_')) {
            policy += c;
        }
    }
    if (policy.empty()) {
        policy = "1";
    }
    s.policy_version = policy;

    const std::string value = encode_consent(s, "fuzz", keys());
    const auto back = decode_consent(value, check_for(policy), keys());
    check(back.has_value());
    check(back->id == s.id && back->granted == s.granted && back->kind == s.kind &&
          back->issued == s.issued && back->policy_version == s.policy_version);

    std::string tampered = value;
    tampered[where % tampered.size()] = replacement;
    if (tampered == value) {
        return;
    }
    const auto t = decode_consent(tampered, check_for(policy), keys());
    check(!t.has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string_view in{reinterpret_cast<const char*>(data + 1), size - 1};
    if (data[0] % 2 == 0) {
        raw(in);
    } else {
        forged(in);
    }
    return 0;
}
