// Fuzz target for parse_cookie_header, which reads the Cookie header of every request the
// gateway filters. Besides memory safety it checks what the filter relies on: every name and
// value is a view into the header, in order; names hold no ';' or '='; values hold no ';';
// neither starts or ends with SP/HTAB; and printing the pairs back and parsing again gives the
// same pairs. Violations end in __builtin_trap so they are crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "consent/cookie.hpp"

namespace {

using cg::consent::cookie_pair;
using cg::consent::parse_cookie_header;

bool is_wsp(char c) {
    return c == ' ' || c == '\t';
}

bool trimmed(std::string_view s) {
    return s.empty() || (!is_wsp(s.front()) && !is_wsp(s.back()));
}

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in{reinterpret_cast<const char*>(data), size};
    const auto pairs = parse_cookie_header(in);

    std::size_t semicolons = 0;
    for (const char c : in) {
        semicolons += c == ';' ? 1 : 0;
    }
    check(pairs.size() <= semicolons + 1);

    const char* cursor = in.data();
    const char* const end = in.data() + in.size();
    for (const cookie_pair& p : pairs) {
        // Views into the input, name before value, pairs in input order and not overlapping.
        check(p.name.data() != nullptr && p.value.data() != nullptr);
        check(p.name.data() >= cursor && p.name.data() + p.name.size() <= end);
        check(p.value.data() >= p.name.data() + p.name.size());
        check(p.value.data() + p.value.size() <= end);
        cursor = p.value.data() + p.value.size();

        check(p.name.find_first_of(";=") == std::string_view::npos);
        check(p.value.find(';') == std::string_view::npos);
        check(trimmed(p.name) && trimmed(p.value));
        check(!(p.name.empty() && p.value.empty()) || in.find('=') != std::string_view::npos);
    }

    // Round trip: the canonical form of the pairs parses to the same pairs.
    std::string canonical;
    for (const cookie_pair& p : pairs) {
        if (!canonical.empty()) {
            canonical += "; ";
        }
        canonical.append(p.name);
        canonical += '=';
        canonical.append(p.value);
    }
    const auto again = parse_cookie_header(canonical);
    check(again.size() == pairs.size());
    for (std::size_t i = 0; i < pairs.size() && i < again.size(); ++i) {
        check(again[i].name == pairs[i].name && again[i].value == pairs[i].value);
    }
    return 0;
}
