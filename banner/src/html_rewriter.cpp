#include "banner/html_rewriter.hpp"

#include <utility>

namespace cg::banner {

html_rewriter::html_rewriter(std::string snippet, start_tag_replacer replacer,
                             html_tokenizer_options options)
    : snippet_(std::move(snippet)),
      replacer_(std::move(replacer)),
      tokenizer_(std::move(options)) {}

void html_rewriter::flush_to(std::uint64_t offset, std::string& out) {
    if (offset <= emitted_) {
        return;
    }
    out.append(pending_, static_cast<std::size_t>(emitted_ - base_),
               static_cast<std::size_t>(offset - emitted_));
    emitted_ = offset;
}

void html_rewriter::on_token(const html_token& token, std::string& out) {
    if (token.kind == html_token_kind::start_tag) {
        if (token.name == "template") {
            ++template_depth_;
        }
        if (replacer_ && !token.truncated && token.begin >= emitted_) {
            if (auto replacement = replacer_(token)) {
                flush_to(token.begin, out);
                out += *replacement;
                emitted_ = token.end;
            }
        }
        if (token.name == "body" && !inserted_ && template_depth_ == 0) {
            flush_to(token.end, out);
            out += snippet_;
            inserted_ = true;
        }
        return;
    }
    if (token.kind == html_token_kind::end_tag) {
        if (token.name == "template") {
            if (template_depth_ > 0) {
                --template_depth_;
            }
            return;
        }
        if (token.name == "head" && !inserted_ && template_depth_ == 0) {
            // A tag that outgrew the hold cap was already written in part: put the snippet
            // after it rather than inside it.
            flush_to(token.begin >= emitted_ ? token.begin : token.end, out);
            out += snippet_;
            inserted_ = true;
        }
    }
}

void html_rewriter::write(std::string_view in, bool last, std::string& out) {
    if (finished_) {
        return;
    }
    pending_.append(in);
    tokenizer_.feed(in, last, [&](const html_token& token) { on_token(token, out); });
    if (last) {
        flush_to(tokenizer_.offset(), out);
        if (!inserted_) {
            out += snippet_;
            inserted_ = true;
        }
        finished_ = true;
    } else {
        flush_to(tokenizer_.hold_from().value_or(tokenizer_.offset()), out);
    }
    pending_.erase(0, static_cast<std::size_t>(emitted_ - base_));
    base_ = emitted_;
}

}  // namespace cg::banner
