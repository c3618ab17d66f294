// Runs the html5lib tokenizer tests (html5lib-tests, tokenizer/*.test) against the banner
// module's streaming tokenizer. Only what the rewriter relies on is compared: the sequence of
// StartTag/EndTag tokens (name, attributes as decoded name/value pairs, self-closing flag) and
// Comment tokens with their data. Character tokens, DOCTYPE details and parse errors are
// ignored. Each case is also run in 1-byte chunks, which must give the same tokens.
//
// A case is skipped when it starts in a state we do not model (CDATA section state) or its
// doubleEscaped text holds a lone surrogate (not representable in UTF-8). xmlViolation.test
// expects the XML infoset coercion and is skipped whole.
//
// Usage: conformance_html5lib_tokenizer [DIR]   (default: CG_HTML5LIB_TOKENIZER_DIR)
// Exit: 0 when no compared case differs in tag names or token boundaries (attribute values
// and comment data may differ: they are counted, printed and tolerated), 1 otherwise, 77 when
// the data directory is absent (ctest SKIP_RETURN_CODE).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "banner/html_tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using cg::banner::html_text_state;
using cg::banner::html_token;
using cg::banner::html_token_kind;
using cg::banner::html_tokenizer;
using cg::banner::html_tokenizer_options;

// A token reduced to what we compare.
struct simple_token {
    std::string kind;  // "StartTag", "EndTag", "Comment"
    std::string name;  // tag name or comment data
    std::map<std::string, std::string> attributes;
    bool self_closing = false;

    bool operator==(const simple_token&) const = default;
};

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::optional<std::uint32_t> hex4(std::string_view s, std::size_t at) {
    if (at + 6 > s.size() || s[at] != '\\' || s[at + 1] != 'u') {
        return std::nullopt;
    }
    std::uint32_t v = 0;
    for (std::size_t i = at + 2; i < at + 6; ++i) {
        const char c = s[i];
        v *= 16;
        if (c >= '0' && c <= '9') {
            v += static_cast<std::uint32_t>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v += static_cast<std::uint32_t>(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v += static_cast<std::uint32_t>(c - 'A' + 10);
        } else {
            return std::nullopt;
        }
    }
    return v;
}

// README "doubleEscaped": turn each \uHHHH into its code point. nullopt for a lone surrogate.
std::optional<std::string> unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        const auto cp = hex4(s, i);
        if (!cp) {
            out += s[i++];
            continue;
        }
        i += 6;
        if (*cp >= 0xD800 && *cp <= 0xDBFF) {
            const auto low = hex4(s, i);
            if (!low || *low < 0xDC00 || *low > 0xDFFF) {
                return std::nullopt;
            }
            i += 6;
            append_utf8(out, 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00));
        } else if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
            return std::nullopt;
        } else {
            append_utf8(out, *cp);
        }
    }
    return out;
}

std::optional<html_text_state> state_named(std::string_view name) {
    if (name == "Data state") {
        return html_text_state::data;
    }
    if (name == "PLAINTEXT state") {
        return html_text_state::plaintext;
    }
    if (name == "RCDATA state") {
        return html_text_state::rcdata;
    }
    if (name == "RAWTEXT state") {
        return html_text_state::rawtext;
    }
    if (name == "Script data state") {
        return html_text_state::script_data;
    }
    return std::nullopt;  // CDATA section state: foreign content, not modelled
}

std::vector<simple_token> run(std::string_view input, html_text_state state,
                              const std::string& last_start_tag, bool byte_chunks) {
    html_tokenizer_options options;
    options.follow_tree_builder = false;
    options.initial_state = state;
    options.last_start_tag = last_start_tag;
    html_tokenizer tokenizer{options};
    std::vector<simple_token> out;
    const html_tokenizer::token_handler handler = [&](const html_token& t) {
        simple_token s;
        switch (t.kind) {
            case html_token_kind::start_tag:
                s.kind = "StartTag";
                s.name = t.name;
                for (const auto& a : t.attributes) {
                    s.attributes.emplace(a.name, a.value);
                }
                s.self_closing = t.self_closing;
                break;
            case html_token_kind::end_tag:
                s.kind = "EndTag";
                s.name = t.name;
                break;
            case html_token_kind::comment:
                s.kind = "Comment";
                s.name = t.data;
                break;
            default:
                return;
        }
        out.push_back(std::move(s));
    };
    if (byte_chunks) {
        for (std::size_t i = 0; i < input.size(); ++i) {
            tokenizer.feed(input.substr(i, 1), false, handler);
        }
        tokenizer.feed({}, true, handler);
    } else {
        tokenizer.feed(input, true, handler);
    }
    return out;
}

// Expected tokens from the test's output; nullopt when a string cannot be unescaped.
std::optional<std::vector<simple_token>> expected_tokens(const json& output, bool double_escaped) {
    const auto text = [&](const json& j) -> std::optional<std::string> {
        const auto s = j.get<std::string>();
        return double_escaped ? unescape(s) : std::optional<std::string>{s};
    };
    std::vector<simple_token> out;
    for (const auto& tok : output) {
        const auto kind = tok.at(0).get<std::string>();
        if (kind != "StartTag" && kind != "EndTag" && kind != "Comment") {
            continue;
        }
        simple_token s;
        s.kind = kind;
        const auto name = text(tok.at(1));
        if (!name) {
            return std::nullopt;
        }
        s.name = *name;
        if (kind == "StartTag") {
            for (const auto& [k, v] : tok.at(2).items()) {
                const auto key = double_escaped ? unescape(k) : std::optional<std::string>{k};
                const auto value = text(v);
                if (!key || !value) {
                    return std::nullopt;
                }
                s.attributes.emplace(*key, *value);
            }
            s.self_closing = tok.size() > 3 && tok.at(3).get<bool>();
        }
        out.push_back(std::move(s));
    }
    return out;
}

// Tag names and token boundaries: the kinds and tag names in order (comments by kind only).
bool same_structure(const std::vector<simple_token>& a, const std::vector<simple_token>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const simple_token& x, const simple_token& y) {
                          return x.kind == y.kind && (x.kind == "Comment" || x.name == y.name);
                      });
}

std::string describe(const std::vector<simple_token>& tokens) {
    std::string s;
    for (const auto& t : tokens) {
        s += "[" + t.kind + " " + json(t.name).dump();
        for (const auto& [k, v] : t.attributes) {
            s += " " + json(k).dump() + "=" + json(v).dump();
        }
        s += t.self_closing ? " /]" : "]";
    }
    return s;
}

struct file_stats {
    int compared = 0;
    int passed = 0;
    int with_tags = 0;  // compared cases expecting at least one tag or comment
    int passed_with_tags = 0;
    int skipped = 0;
    int detail_mismatch = 0;
    int structure_mismatch = 0;
};

}  // namespace

int main(int argc, char** argv) {
    const fs::path dir = argc > 1 ? fs::path{argv[1]} : fs::path{CG_HTML5LIB_TOKENIZER_DIR};
    if (!fs::is_directory(dir)) {
        std::printf("SKIP: %s is absent\n", dir.string().c_str());
        return 77;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator{dir}) {
        if (entry.path().extension() == ".test") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());

    file_stats total;
    int printed = 0;
    for (const auto& file : files) {
        file_stats st;
        json doc;
        try {
            std::ifstream in{file};
            doc = json::parse(in);
        } catch (const std::exception& e) {
            std::printf("%-28s unreadable: %s\n", file.filename().string().c_str(), e.what());
            continue;
        }
        if (!doc.contains("tests")) {  // xmlViolation.test: XML infoset coercion, not ours
            std::printf("%-28s skipped (no \"tests\": XML coercion expectations)\n",
                        file.filename().string().c_str());
            continue;
        }
        for (const auto& test : doc["tests"]) {
            const bool double_escaped = test.value("doubleEscaped", false);
            auto input = test.at("input").get<std::string>();
            std::optional<std::string> decoded =
                double_escaped ? unescape(input) : std::optional<std::string>{input};
            const auto expected = expected_tokens(test.at("output"), double_escaped);
            std::vector<std::string> states{"Data state"};
            if (test.contains("initialStates")) {
                states = test["initialStates"].get<std::vector<std::string>>();
            }
            const auto last_start_tag = test.value("lastStartTag", std::string{});
            for (const auto& state_name : states) {
                const auto state = state_named(state_name);
                if (!state || !decoded || !expected) {
                    ++st.skipped;
                    continue;
                }
                ++st.compared;
                const auto whole = run(*decoded, *state, last_start_tag, false);
                const auto bytes = run(*decoded, *state, last_start_tag, true);
                const bool tags = !expected->empty();
                st.with_tags += tags ? 1 : 0;
                if (whole == *expected && bytes == whole) {
                    ++st.passed;
                    st.passed_with_tags += tags ? 1 : 0;
                    continue;
                }
                const bool structural = !same_structure(whole, *expected) || bytes != whole;
                ++(structural ? st.structure_mismatch : st.detail_mismatch);
                if (structural || printed < 40) {
                    ++printed;
                    std::printf(
                        "%s %s: %s [%s]\n  input:    %s\n  expected: %s\n  got:      %s%s\n",
                        structural ? "FAIL" : "diff", file.filename().string().c_str(),
                        test.value("description", std::string{}).c_str(), state_name.c_str(),
                        json(*decoded).dump().c_str(), describe(*expected).c_str(),
                        describe(whole).c_str(),
                        bytes != whole ? "\n  (1-byte chunks differ)" : "");
                }
            }
        }
        std::printf(
            "%-28s passed %4d/%-4d compared (with tags %4d/%-4d), skipped %3d, "
            "attribute/comment diffs %3d, structural %d\n",
            file.filename().string().c_str(), st.passed, st.compared, st.passed_with_tags,
            st.with_tags, st.skipped, st.detail_mismatch, st.structure_mismatch);
        total.compared += st.compared;
        total.passed += st.passed;
        total.with_tags += st.with_tags;
        total.passed_with_tags += st.passed_with_tags;
        total.skipped += st.skipped;
        total.detail_mismatch += st.detail_mismatch;
        total.structure_mismatch += st.structure_mismatch;
    }
    std::printf(
        "TOTAL passed %d/%d compared (with tags %d/%d), skipped %d, "
        "attribute/comment diffs %d, structural %d\n",
        total.passed, total.compared, total.passed_with_tags, total.with_tags, total.skipped,
        total.detail_mismatch, total.structure_mismatch);
    return total.structure_mismatch == 0 ? 0 : 1;
}
