#include "support/test_keys.hpp"

#include <string>
#include <vector>

namespace cg::test {

std::shared_ptr<const consent::key_ring> test_key_ring() {
    return std::make_shared<const consent::key_ring>(
        std::vector<std::string>{std::string{test_consent_key}});
}

std::shared_ptr<const consent::key_ring> other_key_ring() {
    return std::make_shared<const consent::key_ring>(
        std::vector<std::string>{"another-test-key-that-signs-nothing-the-tests-accept"});
}

}  // namespace cg::test
