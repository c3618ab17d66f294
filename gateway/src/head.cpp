#include "gateway/head.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include <boost/beast/core/string.hpp>

namespace cg::gateway {

namespace http = boost::beast::http;

namespace {

bool same_name(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && boost::beast::iequals(a, b);
}

// A field matches a name given as text: a known name by enumerator, an unknown one by text
// (only among fields whose names Beast did not know either).
bool named(const head_field& f, http::field known, std::string_view name) noexcept {
    return f.name() == known && (known != http::field::unknown || same_name(f.name_string(), name));
}

constexpr std::size_t room_after_head = 512;  // for the values the stages set

http::field field_of(std::string_view name) noexcept {
    return http::string_to_field(name);
}

}  // namespace

head_fields::head_fields(head_fields&& other) noexcept
    : fields_(std::move(other.fields_)),
      bytes_(std::move(other.bytes_)),
      blocks_(std::move(other.blocks_)),
      room_(std::exchange(other.room_, nullptr)),
      room_left_(std::exchange(other.room_left_, 0)) {
    other.fields_.clear();
}

head_fields& head_fields::operator=(head_fields&& other) noexcept {
    if (this != &other) {
        fields_ = std::move(other.fields_);
        other.fields_.clear();
        bytes_ = std::move(other.bytes_);
        blocks_ = std::move(other.blocks_);
        room_ = std::exchange(other.room_, nullptr);
        room_left_ = std::exchange(other.room_left_, 0);
    }
    return *this;
}

std::size_t head_fields::count(http::field name) const noexcept {
    return static_cast<std::size_t>(std::count_if(
        fields_.begin(), fields_.end(), [name](const head_field& f) { return f.name() == name; }));
}

std::size_t head_fields::count(std::string_view name) const noexcept {
    const auto known = field_of(name);
    return static_cast<std::size_t>(
        std::count_if(fields_.begin(), fields_.end(),
                      [&](const head_field& f) { return named(f, known, name); }));
}

head_fields::const_iterator head_fields::find(http::field name) const noexcept {
    return std::find_if(fields_.begin(), fields_.end(),
                        [name](const head_field& f) { return f.name() == name; });
}

head_fields::const_iterator head_fields::find(std::string_view name) const noexcept {
    const auto known = field_of(name);
    return std::find_if(fields_.begin(), fields_.end(),
                        [&](const head_field& f) { return named(f, known, name); });
}

std::string_view head_fields::operator[](http::field name) const noexcept {
    const auto it = find(name);
    return it == end() ? std::string_view{} : it->value();
}

std::string_view head_fields::operator[](std::string_view name) const noexcept {
    const auto it = find(name);
    return it == end() ? std::string_view{} : it->value();
}

void head_fields::insert(http::field name, std::string_view value) {
    const auto text = http::to_string(name);
    fields_.emplace_back(name, std::string_view{text.data(), text.size()}, keep(value));
}

void head_fields::insert(std::string_view name, std::string_view value) {
    const auto known = field_of(name);
    if (known != http::field::unknown) {
        insert(known, value);
    } else {
        fields_.emplace_back(known, keep(name), keep(value));
    }
}

void head_fields::set(http::field name, std::string_view value) {
    const auto kept = keep(value);  // before erasing: `value` may view a field of this head
    erase(name);
    const auto text = http::to_string(name);
    fields_.emplace_back(name, std::string_view{text.data(), text.size()}, kept);
}

void head_fields::set(std::string_view name, std::string_view value) {
    const auto known = field_of(name);
    if (known != http::field::unknown) {
        set(known, value);
        return;
    }
    const auto kept_name = keep(name);
    const auto kept = keep(value);
    erase(name);
    fields_.emplace_back(known, kept_name, kept);
}

std::size_t head_fields::erase(http::field name) noexcept {
    const auto before = fields_.size();
    fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                                 [name](const head_field& f) { return f.name() == name; }),
                  fields_.end());
    return before - fields_.size();
}

std::size_t head_fields::erase(std::string_view name) noexcept {
    const auto known = field_of(name);
    const auto before = fields_.size();
    fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                                 [&](const head_field& f) { return named(f, known, name); }),
                  fields_.end());
    return before - fields_.size();
}

head_fields::iterator head_fields::erase(const_iterator pos) noexcept {
    return fields_.erase(pos);
}

std::string_view head_fields::keep(std::string_view s) {
    if (s.empty()) {
        return {};
    }
    if (room_left_ < s.size()) {
        const auto size = std::max(room_after_head, s.size());
        blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
        room_ = blocks_.back().get();
        room_left_ = size;
    }
    char* at = room_;
    std::memcpy(at, s.data(), s.size());
    room_ += s.size();
    room_left_ -= s.size();
    return {at, s.size()};
}

const char* head_fields::own(std::string_view bytes) {
    bytes_ = std::make_unique_for_overwrite<char[]>(bytes.size() + room_after_head);
    std::memcpy(bytes_.get(), bytes.data(), bytes.size());
    room_ = bytes_.get() + bytes.size();
    room_left_ = room_after_head;
    rebase_fields(bytes.data(), bytes.size(), bytes_.get());
    return bytes_.get();
}

std::string_view head_fields::rebase(std::string_view v, const char* from, std::size_t size,
                                     const char* to) noexcept {
    if (v.data() >= from && v.data() + v.size() <= from + size && v.data() != nullptr) {
        return {to + (v.data() - from), v.size()};
    }
    return v;
}

void head_fields::rebase_fields(const char* from, std::size_t size, const char* to) noexcept {
    for (auto& f : fields_) {
        f = head_field{f.name(), rebase(f.name_string(), from, size, to),
                       rebase(f.value(), from, size, to)};
    }
}

void request_head::method(http::verb v) noexcept {
    method_ = v;
    const auto text = http::to_string(v);
    method_string_ = {text.data(), text.size()};
}

void request_head::start_line(http::verb method, std::string_view method_string,
                              std::string_view target, unsigned version) noexcept {
    method_ = method;
    method_string_ = method_string;
    target_ = target;
    version_ = version;
}

void request_head::own_views(const char* first, std::size_t size) {
    const char* to = own({first, size});
    method_string_ = rebase(method_string_, first, size, to);
    target_ = rebase(target_, first, size, to);
}

void response_head::status_line(unsigned status, std::string_view reason,
                                unsigned version) noexcept {
    status_ = status;
    reason_ = reason;
    version_ = version;
}

void response_head::own_views(const char* first, std::size_t size) {
    const char* to = own({first, size});
    reason_ = rebase(reason_, first, size, to);
}

}  // namespace cg::gateway
