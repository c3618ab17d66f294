#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cg::consent {

/// The purposes a visitor consents to (DESIGN L5). `necessary` is always granted and cannot be
/// refused; the others need an active choice.
enum class category : std::uint8_t { necessary = 0, preferences = 1, analytics = 2, marketing = 3 };

inline constexpr std::array<category, 4> all_categories{category::necessary, category::preferences,
                                                        category::analytics, category::marketing};

/// "necessary", "preferences", "analytics", "marketing".
std::string_view name_of(category c) noexcept;

/// The category with that exact (lower-case) name, if any. Input may be untrusted.
std::optional<category> category_named(std::string_view name) noexcept;

/// A set of categories as a bit mask (bit i = category i). A plain value type.
class category_set {
  public:
    constexpr category_set() = default;
    constexpr category_set(std::initializer_list<category> cs) {
        for (const auto c : cs) {
            insert(c);
        }
    }
    static constexpr category_set from_bits(std::uint8_t b) noexcept {
        category_set s;
        s.bits_ = static_cast<std::uint8_t>(b & 0x0FU);
        return s;
    }
    static constexpr category_set all() noexcept { return from_bits(0x0F); }

    constexpr std::uint8_t bits() const noexcept { return bits_; }
    constexpr bool contains(category c) const noexcept { return (bits_ & mask(c)) != 0; }
    constexpr void insert(category c) noexcept {
        bits_ = static_cast<std::uint8_t>(bits_ | mask(c));
    }
    constexpr void erase(category c) noexcept {
        bits_ = static_cast<std::uint8_t>(bits_ & ~mask(c));
    }
    /// True when every category of `other` is in this set.
    constexpr bool includes(category_set other) const noexcept {
        return (bits_ & other.bits_) == other.bits_;
    }
    constexpr bool empty() const noexcept { return bits_ == 0; }
    friend constexpr bool operator==(category_set, category_set) = default;

  private:
    static constexpr std::uint8_t mask(category c) noexcept {
        return static_cast<std::uint8_t>(1U << static_cast<unsigned>(c));
    }
    std::uint8_t bits_ = 0;
};

/// Languages the banner and category texts come in.
enum class language : std::uint8_t { nb = 0, nn = 1, en = 2 };
inline constexpr std::array<language, 3> all_languages{language::nb, language::nn, language::en};

/// "nb", "nn", "en".
std::string_view name_of(language l) noexcept;

/// The language with that code ("nb", "nn", "en"; also "no" = nb), if any.
std::optional<language> language_named(std::string_view code) noexcept;

}  // namespace cg::consent
