#include "support/test_policy.hpp"

#include <utility>

namespace cg::test {

consent::cookie_rule rule(std::string name, consent::category c) {
    consent::cookie_rule r;
    r.name = std::move(name);
    r.cat = c;
    return r;
}

consent::site_policy all_categories_policy() {
    consent::site_policy p;
    for (const auto c : consent::all_categories) {
        consent::category_info info;
        info.id = c;
        info.texts[0].name = std::string{consent::name_of(c)};
        p.categories.push_back(info);
    }
    // Built, then moved in: GCC 12 at -O2 warns (-Wrestrict, a false positive) on assigning the
    // literal straight into a member of a returned aggregate.
    p.policy_version = std::string(1, '7');
    return p;
}

}  // namespace cg::test
