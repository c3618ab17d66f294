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
    p.policy_version = "7";
    return p;
}

}  // namespace cg::test
