// Fuzz target for read_decision, which reads the body of every POST /_consent (a visitor's
// JSON or form post, up to 16 KiB of anything). Each input is read as a form body and as a
// JSON body, for a site offering every category and for one offering only analytics. It must
// never throw, and what it gives back must be sane: necessary always granted, nothing granted
// that the site does not offer, an error exactly when the status says so, and an error answer
// that serialises (json_config::dump) to JSON that reads back to the same object, and is valid
// UTF-8 itself (it is also written into an HTML page).
// Violations end in __builtin_trap so they are crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "decision_input.hpp"
#include "json_config/dump.hpp"

namespace {

using namespace cg::consent;
using json = nlohmann::json;

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

// RFC 3629 well-formed, without overlongs or surrogates (a second opinion to the reader's).
bool is_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (b < 0x80) {
            n = 1;
            cp = b;
        } else if ((b & 0xE0U) == 0xC0U) {
            n = 2;
            cp = b & 0x1FU;
        } else if ((b & 0xF0U) == 0xE0U) {
            n = 3;
            cp = b & 0x0FU;
        } else if ((b & 0xF8U) == 0xF0U) {
            n = 4;
            cp = b & 0x07U;
        } else {
            return false;
        }
        if (i + n > s.size()) {
            return false;
        }
        for (std::size_t k = 1; k < n; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0U) != 0x80U) {
                return false;
            }
            cp = (cp << 6U) | (c & 0x3FU);
        }
        constexpr std::uint32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_of[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += n;
    }
    return true;
}

// What the endpoint sends back for a refused body, and the texts it keeps, must serialise
// whatever bytes the visitor sent.
void check_serialises(const decision_input& d) {
    const std::string text = cg::json_config::dump(
        json{{"error", d.error}, {"language", d.language}, {"return_to", d.return_to}});
    const json back = json::parse(text, nullptr, /*allow_exceptions=*/false);
    check(back.is_object() && back.size() == 3);
    check(back["error"].is_string() && back["language"].is_string() &&
          back["return_to"].is_string());
}

void read_as(std::string_view type, std::string_view body, category_set offered, bool form) {
    const decision_input d = read_decision(type, body, offered);
    check(d.form == form);
    check(d.granted.contains(category::necessary));
    check(offered.includes(d.granted));
    check((d.status == 0) == d.error.empty());
    check(d.status == 0 || d.status == 400);
    // Messages quote at most 40 bytes of input: an answer is never as big as the body.
    check(d.error.size() <= 200);
    check(is_utf8(d.error));
    check(!d.gpc_method || d.granted == category_set{category::necessary});
    check(form || d.return_to.empty());
    check_serialises(d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body{reinterpret_cast<const char*>(data), size};
    for (const auto offered :
         {category_set::all(), category_set{category::necessary, category::analytics}}) {
        read_as("application/x-www-form-urlencoded", body, offered, true);
        read_as("application/json; charset=utf-8", body, offered, false);
    }
    // Any other type is refused before the body is looked at.
    const decision_input other = read_decision("text/plain", body, category_set::all());
    check(other.status == 415 && !other.error.empty());
    return 0;
}
