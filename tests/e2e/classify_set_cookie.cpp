// For tests/e2e/set_cookie_deletion.mjs: reads Set-Cookie values, one per line of stdin, and
// prints per line "deletion" when the gateway lets it reach a visitor who has not consented to
// the cookie (`_ga`, analytics) because it deletes the cookie, else "not". It asks the real
// response stage (site_context::keep_set_cookie), so the browser test checks what ships.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "consent/site_context.hpp"
#include "support/test_keys.hpp"
#include "support/test_policy.hpp"

int main() {
    using namespace cg::consent;
    const site_context site{"e2e", cg::test::all_categories_policy(), "cg_consent",
                            std::vector{cg::test::rule("_ga", category::analytics)},
                            cg::test::test_key_ring()};
    const visitor_consent undecided;
    std::string line;
    while (std::getline(std::cin, line)) {
        std::cout << (site.keep_set_cookie(line, undecided) ? "deletion" : "not") << '\n';
    }
    return std::cout.good() ? 0 : 1;
}
