#pragma once
#include <algorithm>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/container/small_vector.hpp>

namespace cg::gateway {

/// One header field of a head: views into the head's own storage.
class head_field {
  public:
    head_field(boost::beast::http::field name, std::string_view name_string,
               std::string_view value) noexcept
        : name_(name), name_string_(name_string), value_(value) {}

    boost::beast::http::field name() const noexcept { return name_; }
    std::string_view name_string() const noexcept { return name_string_; }
    std::string_view value() const noexcept { return value_; }

  private:
    boost::beast::http::field name_;
    std::string_view name_string_;
    std::string_view value_;
};

/// The fields of a request or response head as a flat list in arrival order, the way the
/// proxy needs them: parsed once into views over one copy of the head's bytes, changed in
/// place, serialised straight from the list. Beast's basic_fields keeps an ordered index and a
/// node per field, which cost more than the rest of a proxied request's head handling (an
/// rbtree insert per field, DESIGN §4: the hot path stays lean). Names compare ASCII
/// case-insensitively. Movable (views stay valid: the storage moves with it), not copyable.
/// One thread only.
class head_fields {
  public:
    using list = boost::container::small_vector<head_field, 24>;
    using iterator = list::iterator;
    using const_iterator = list::const_iterator;

    head_fields() = default;
    /// The moved-from head is left empty (its room belongs to the new owner).
    head_fields(head_fields&& other) noexcept;
    head_fields& operator=(head_fields&& other) noexcept;
    head_fields(const head_fields&) = delete;
    head_fields& operator=(const head_fields&) = delete;

    iterator begin() noexcept { return fields_.begin(); }
    iterator end() noexcept { return fields_.end(); }
    const_iterator begin() const noexcept { return fields_.begin(); }
    const_iterator end() const noexcept { return fields_.end(); }
    std::size_t size() const noexcept { return fields_.size(); }

    /// How many fields have this name.
    std::size_t count(boost::beast::http::field name) const noexcept;
    std::size_t count(std::string_view name) const noexcept;
    /// The first field of this name, or end().
    const_iterator find(boost::beast::http::field name) const noexcept;
    const_iterator find(std::string_view name) const noexcept;
    /// The value of the first field of this name, "" when there is none.
    std::string_view operator[](boost::beast::http::field name) const noexcept;
    std::string_view operator[](std::string_view name) const noexcept;

    /// Appends a field; the value is copied.
    void insert(boost::beast::http::field name, std::string_view value);
    /// Appends a field by name (a known name gets its enumerator); name and value are copied.
    void insert(std::string_view name, std::string_view value);
    /// Removes every field of this name, then appends one.
    void set(boost::beast::http::field name, std::string_view value);
    void set(std::string_view name, std::string_view value);
    /// Removes every field of this name; returns how many there were.
    std::size_t erase(boost::beast::http::field name) noexcept;
    std::size_t erase(std::string_view name) noexcept;
    /// Removes one field; returns the iterator after it.
    iterator erase(const_iterator pos) noexcept;
    /// Removes every field for which `pred(field)` is true, in one pass; returns how many.
    template <class Pred>
    std::size_t erase_if(Pred pred) {
        const auto before = fields_.size();
        fields_.erase(std::remove_if(fields_.begin(), fields_.end(), pred), fields_.end());
        return before - fields_.size();
    }

    /// Appends a field whose views already point into storage this head owns (parsers).
    void append_owned(boost::beast::http::field name, std::string_view name_string,
                      std::string_view value) {
        fields_.emplace_back(name, name_string, value);
    }

  protected:
    /// Copies `s` into storage that lives as long as the head (and moves with it).
    std::string_view keep(std::string_view s);
    /// Replaces the whole storage by a copy of `bytes` and moves the fields' views into it;
    /// the caller rebases its own views (start line) with the static rebase().
    const char* own(std::string_view bytes);
    static std::string_view rebase(std::string_view v, const char* from, std::size_t size,
                                   const char* to) noexcept;

  private:
    void rebase_fields(const char* from, std::size_t size, const char* to) noexcept;

    list fields_;
    // The head as received, followed by room for values set later (one allocation for most
    // heads); more blocks when that room runs out.
    std::unique_ptr<char[]> bytes_;
    std::vector<std::unique_ptr<char[]>> blocks_;
    char* room_ = nullptr;
    std::size_t room_left_ = 0;
};

/// A request head: request line and fields.
class request_head : public head_fields {
  public:
    boost::beast::http::verb method() const noexcept { return method_; }
    std::string_view method_string() const noexcept { return method_string_; }
    std::string_view target() const noexcept { return target_; }
    unsigned version() const noexcept { return version_; }

    void method(boost::beast::http::verb v) noexcept;
    void target(std::string_view t) { target_ = keep(t); }
    void version(unsigned v) noexcept { version_ = v; }

    /// Set by the parser: the request line's parts, views into the head's storage.
    void start_line(boost::beast::http::verb method, std::string_view method_string,
                    std::string_view target, unsigned version) noexcept;
    /// Takes a copy of the bytes every view points into so far (parsers, once the whole head
    /// is in): the head then owns what it shows.
    void own_views(const char* first, std::size_t size);

  private:
    boost::beast::http::verb method_ = boost::beast::http::verb::unknown;
    std::string_view method_string_;
    std::string_view target_;
    unsigned version_ = 11;
};

/// A response head: status line and fields.
class response_head : public head_fields {
  public:
    unsigned result_int() const noexcept { return status_; }
    boost::beast::http::status result() const noexcept {
        return static_cast<boost::beast::http::status>(status_);
    }
    std::string_view reason() const noexcept { return reason_; }
    unsigned version() const noexcept { return version_; }
    void version(unsigned v) noexcept { version_ = v; }

    /// Set by the parser (or a test): the status line's parts.
    void status_line(unsigned status, std::string_view reason, unsigned version) noexcept;
    void own_views(const char* first, std::size_t size);

  private:
    unsigned status_ = 200;
    std::string_view reason_;
    unsigned version_ = 11;
};

}  // namespace cg::gateway
