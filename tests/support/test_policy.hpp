#pragma once

#include <string>

#include "consent/catalogue.hpp"
#include "consent/category.hpp"
#include "consent/config.hpp"

namespace cg::test {

/// A cookie rule: cookie `name` (a `*` makes it a pattern) belongs to category `c`.
consent::cookie_rule rule(std::string name, consent::category c);

/// A site policy that offers every category (its name as its text) under policy version
/// "7", with no rules of its own.
consent::site_policy all_categories_policy();

}  // namespace cg::test
