#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "banner/html_tokenizer.hpp"

namespace cg::banner {

/// Called for each start tag in the document's data (not inside script, RAWTEXT, RCDATA or
/// comments); returning a string replaces the tag's bytes with it, nullopt keeps them. The
/// tokenizer still follows the original tag (a replaced `<script>` keeps its content streaming
/// as script data up to `</script>`). Truncated (oversized) tags are never offered.
using start_tag_replacer = std::function<std::optional<std::string>(const html_token&)>;

/// Streams an HTML response body through unchanged except for two edits: it inserts `snippet`
/// exactly once, and lets a start_tag_replacer swap start tags (tracker hold-back).
///
/// Where the snippet goes: before the first `</head>` end tag outside `<template>`; else, if a
/// `<body>` start tag comes first, right after it; else at the end of the document. It is
/// therefore never placed before a byte order mark or DOCTYPE.
///
/// Input is untrusted and may be split anywhere: output is the same for every split. Memory is
/// bounded by one chunk plus one pending tag (html_tokenizer_options::max_token_bytes). Never
/// throws on input. Not thread safe; use one per response.
class html_rewriter {
  public:
    explicit html_rewriter(std::string snippet, start_tag_replacer replacer = {},
                           html_tokenizer_options options = {});

    /// Appends to `out` the output for `in`. Bytes of a tag not yet complete are held until a
    /// later call; with `last` everything left is written (and the snippet, if not yet placed).
    /// Calls after `last` do nothing.
    void write(std::string_view in, bool last, std::string& out);

    /// True once the snippet has been written.
    [[nodiscard]] bool inserted() const { return inserted_; }

  private:
    void on_token(const html_token& token, std::string& out);
    void flush_to(std::uint64_t offset, std::string& out);

    std::string snippet_;
    start_tag_replacer replacer_;
    html_tokenizer tokenizer_;
    std::string pending_;        // input bytes from base_ not yet written
    std::uint64_t base_ = 0;     // stream offset of pending_[0]
    std::uint64_t emitted_ = 0;  // stream offset up to which output is decided
    int template_depth_ = 0;
    bool inserted_ = false;
    bool finished_ = false;
};

}  // namespace cg::banner
