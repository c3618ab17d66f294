#include "consent/error.hpp"

#include <string>

namespace cg::consent {

namespace {

class category_impl : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "consent"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::malformed:
                return "consent cookie is malformed";
            case errc::unknown_key:
                return "consent cookie is signed with a key no longer configured";
            case errc::bad_signature:
                return "consent cookie signature does not match";
            case errc::expired:
                return "consent has expired";
            case errc::old_policy:
                return "consent was given under another policy version";
            case errc::unknown_category:
                return "consent names a category the site does not offer";
        }
        return "unknown consent error";
    }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const category_impl instance;
    return instance;
}

}  // namespace cg::consent
