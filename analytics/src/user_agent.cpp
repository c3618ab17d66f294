#include "analytics/user_agent.hpp"

#include <re2/filtered_re2.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "analytics/visitor.hpp"
#include "text.hpp"
#include "xxh3.hpp"

namespace cg::analytics {

namespace {

using detail::lower;
using detail::trim;

// User-Agents longer than this are read only this far: real ones are far shorter, and every
// parser runs over the whole string.
constexpr std::size_t max_ua_bytes = 512;

// At most $1..$9 and the whole match.
constexpr int max_groups = 10;

using captures = std::array<re2::StringPiece, max_groups>;


std::string_view group(const captures& m, int n) noexcept {
    if (n >= max_groups || m[static_cast<std::size_t>(n)].data() == nullptr) {
        return {};
    }
    return {m[static_cast<std::size_t>(n)].data(), m[static_cast<std::size_t>(n)].size()};
}

// A replacement with $1..$9 filled in from the match, trimmed.
std::string fill(std::string_view replacement, const captures& m) {
    std::string out;
    for (std::size_t i = 0; i < replacement.size(); ++i) {
        if (replacement[i] == '$' && i + 1 < replacement.size() && replacement[i + 1] >= '1' &&
            replacement[i + 1] <= '9') {
            out += group(m, replacement[i + 1] - '0');
            ++i;
        } else {
            out += replacement[i];
        }
    }
    return std::string{trim(out)};
}

// A part: the replacement when the parser has one, else capture group `n`; trimmed.
std::string part(const std::optional<std::string>& replacement, const captures& m, int n) {
    if (replacement) {
        return fill(*replacement, m);
    }
    return std::string{trim(group(m, n))};
}

struct parser {
    int group_count = 0;
    // The replacements in the order the section names them (see section_fields).
    std::array<std::optional<std::string>, 5> replacements;
};

// A family and four version parts: each its replacement, else capture group 1..5.
void fill_parts(const parser& pr, const captures& m, const std::array<std::string*, 5>& parts) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
        *parts[i] = part(pr.replacements[i], m, static_cast<int>(i) + 1);
    }
}

// The replacement keys of each section, in the order parser::replacements holds them.
constexpr std::array<std::string_view, 5> ua_fields{
    "family_replacement", "v1_replacement", "v2_replacement", "v3_replacement", "v4_replacement"};
constexpr std::array<std::string_view, 5> os_fields{"os_replacement", "os_v1_replacement",
                                                    "os_v2_replacement", "os_v3_replacement",
                                                    "os_v4_replacement"};
constexpr std::array<std::string_view, 5> device_fields{"device_replacement", "brand_replacement",
                                                        "model_replacement", "", ""};

bool contains(std::string_view haystack, std::string_view needle) noexcept {
    return haystack.find(needle) != std::string_view::npos;
}

device_class classify(const user_agent& u, std::string_view ua) noexcept {
    if (u.device == "Spider" || is_bot_family(u.browser)) {
        return device_class::bot;
    }
    if (contains(u.device, "iPad") || contains(u.device, "Tablet") ||
        contains(u.device, "Kindle") || contains(ua, "Tablet") ||
        (u.os == "Android" && !contains(ua, "Mobile"))) {
        return device_class::tablet;  // Android tablets leave "Mobile" out of the UA
    }
    if (u.os == "iOS" || u.os == "Android" || u.os == "Windows Phone" || u.os == "BlackBerry OS" ||
        u.os == "KaiOS" || contains(u.device, "iPhone") || contains(u.device, "Smartphone") ||
        contains(u.device, "Feature Phone") || contains(ua, "Mobi")) {
        return device_class::mobile;
    }
    return device_class::desktop;
}

}  // namespace

std::string_view name_of(device_class c) noexcept {
    switch (c) {
        case device_class::mobile:
            return "mobile";
        case device_class::tablet:
            return "tablet";
        case device_class::bot:
            return "bot";
        case device_class::desktop:
            break;
    }
    return "desktop";
}

bool is_bot_family(std::string_view f) noexcept {
    // Families ua-parser gives crawlers, headless browsers and HTTP libraries; its "Spider"
    // device catches most crawlers besides.
    static constexpr std::array<std::string_view, 28> families{"HeadlessChrome",
                                                               "PhantomJS",
                                                               "curl",
                                                               "Wget",
                                                               "wget2",
                                                               "python-requests",
                                                               "Python-urllib",
                                                               "Python Requests",
                                                               "aiohttp",
                                                               "Go-http-client",
                                                               "okhttp",
                                                               "Apache-HttpClient",
                                                               "Google-HTTP-Java-Client",
                                                               "Java",
                                                               "libwww-perl",
                                                               "Scrapy",
                                                               "axios",
                                                               "node-fetch",
                                                               "PostmanRuntime",
                                                               "insomnia",
                                                               "HTTrack",
                                                               "Jersey",
                                                               "reqwest",
                                                               "unirest-java",
                                                               "scalaj-http",
                                                               "WinHTTP",
                                                               "Googlebot",
                                                               "bingbot"};
    return std::find(families.begin(), families.end(), f) != families.end();
}

// One section's parsers (in order), their regexes in a FilteredRE2: each regex's required
// literal strings ("atoms") are looked for in the lower-cased User-Agent first, and only the
// regexes whose atoms are there (or that have none) are run. Trying the ~600 browser regexes
// one by one took over a millisecond per new User-Agent.
struct section {
    re2::FilteredRE2 filter{3};
    std::vector<parser> parsers;  // by the filter's regex id
    std::vector<std::string> atoms;
    // The atoms by their first two bytes: the ids of those starting with bigram b are
    // atom_ids[bigram_start[b] .. bigram_start[b + 1]). Every atom has at least 3 bytes.
    std::vector<std::uint32_t> bigram_start, atom_ids;

    void index_atoms() {
        bigram_start.assign(65537, 0);
        for (const auto& a : atoms) {
            ++bigram_start[bigram(a, 0) + 1];
        }
        for (std::size_t b = 1; b < bigram_start.size(); ++b) {
            bigram_start[b] += bigram_start[b - 1];
        }
        atom_ids.resize(atoms.size());
        std::vector<std::uint32_t> next(bigram_start.begin(), bigram_start.end() - 1);
        for (std::size_t i = 0; i < atoms.size(); ++i) {
            atom_ids[next[bigram(atoms[i], 0)]++] = static_cast<std::uint32_t>(i);
        }
    }

    static std::size_t bigram(std::string_view s, std::size_t at) noexcept {
        return static_cast<std::size_t>(static_cast<unsigned char>(s[at])) << 8 |
               static_cast<unsigned char>(s[at + 1]);
    }

    // The first parser that matches, with its groups in `m`, or nullptr.
    const parser* first_match(re2::StringPiece text, std::string_view lower, captures& m) const {
        if (parsers.empty()) {
            return nullptr;
        }
        // Which atoms occur in the User-Agent: at each position, those starting with its bigram.
        thread_local std::vector<int> present;
        thread_local std::vector<std::uint8_t> seen;
        present.clear();
        seen.resize(atoms.size());
        for (std::size_t at = 0; at + 2 < lower.size(); ++at) {
            const std::size_t b = bigram(lower, at);
            for (std::uint32_t k = bigram_start[b]; k < bigram_start[b + 1]; ++k) {
                const std::uint32_t id = atom_ids[k];
                if (seen[id] == 0 && lower.compare(at, atoms[id].size(), atoms[id]) == 0) {
                    seen[id] = 1;
                    present.push_back(static_cast<int>(id));
                }
            }
        }
        for (const int id : present) {
            seen[static_cast<std::size_t>(id)] = 0;
        }
        const int id = filter.FirstMatch(text, present);
        if (id < 0) {
            return nullptr;
        }
        const parser& p = parsers[static_cast<std::size_t>(id)];
        if (!filter.GetRE2(id).Match(text, 0, text.size(), RE2::UNANCHORED, m.data(),
                                     std::min(p.group_count + 1, max_groups))) {
            return nullptr;  // cannot happen: FirstMatch just matched it
        }
        return &p;
    }
};

struct ua_database::impl {
    section ua, os, device;
    std::size_t skipped = 0;
};

ua_database::ua_database(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
ua_database::ua_database(ua_database&&) noexcept = default;
ua_database& ua_database::operator=(ua_database&&) noexcept = default;
ua_database::~ua_database() = default;

ua_database ua_database::load(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw ua_database_error(file.string() + ": cannot be read");
    }
    std::ostringstream text;
    text << in.rdbuf();
    return from_yaml(text.str(), file.string());
}

ua_database ua_database::from_yaml(std::string_view yaml, std::string_view source) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string{yaml});
    } catch (const YAML::Exception& e) {
        throw ua_database_error(std::string{source} + ": not YAML: " + e.what());
    }
    auto p = std::make_unique<impl>();
    const auto read = [&](std::string_view name, const std::array<std::string_view, 5>& fields,
                          section& into) {
        const YAML::Node list = root[std::string{name}];
        if (!list || !list.IsSequence()) {
            throw ua_database_error(std::string{source} + ": no `" + std::string{name} + "` list");
        }
        for (std::size_t i = 0; i < list.size(); ++i) {
            const YAML::Node item = list[i];
            const YAML::Node regex = item["regex"];
            if (!item.IsMap() || !regex || !regex.IsScalar()) {
                throw ua_database_error(std::string{source} + ": " + std::string{name} + "[" +
                                        std::to_string(i) + "] has no `regex`");
            }
            RE2::Options options;
            options.set_log_errors(false);
            // Bytes, not UTF-8: User-Agents are ASCII in practice, and a UTF-8 `.` compiles to a
            // small automaton per repetition (`.{0,200}` is common here): the database took
            // 17 MB as UTF-8 programs.
            options.set_encoding(RE2::Options::EncodingLatin1);
            const YAML::Node flag = item["regex_flag"];
            options.set_case_sensitive(!(flag && flag.IsScalar() && flag.as<std::string>() == "i"));
            int id = -1;
            if (into.filter.Add(regex.as<std::string>(), options, &id) != RE2::NoError) {
                ++p->skipped;
                continue;
            }
            parser pr;
            pr.group_count = into.filter.GetRE2(id).NumberOfCapturingGroups();
            for (std::size_t f = 0; f < fields.size(); ++f) {
                if (fields[f].empty()) {
                    continue;
                }
                if (const YAML::Node r = item[std::string{fields[f]}]; r && r.IsScalar()) {
                    pr.replacements[f] = r.as<std::string>();
                }
            }
            into.parsers.push_back(std::move(pr));
        }
        if (!into.parsers.empty()) {
            into.filter.Compile(&into.atoms);
            into.index_atoms();
        }
    };
    read("user_agent_parsers", ua_fields, p->ua);
    read("os_parsers", os_fields, p->os);
    read("device_parsers", device_fields, p->device);
    if (p->ua.parsers.empty()) {
        throw ua_database_error(std::string{source} + ": no user agent parser compiles");
    }
    return ua_database{std::move(p)};
}

std::size_t ua_database::parsers() const noexcept {
    return impl_->ua.parsers.size() + impl_->os.parsers.size() + impl_->device.parsers.size();
}

std::size_t ua_database::skipped() const noexcept {
    return impl_->skipped;
}

user_agent ua_database::parse(std::string_view ua) const {
    ua = ua.substr(0, max_ua_bytes);
    const re2::StringPiece text{ua.data(), ua.size()};
    user_agent u;
    captures m{};
    std::string folded{ua};
    std::transform(folded.begin(), folded.end(), folded.begin(), lower);
    u.browser = u.os = u.device = "Other";
    if (const parser* pr = impl_->ua.first_match(text, folded, m)) {
        fill_parts(*pr, m, {&u.browser, &u.browser_major, &u.browser_minor, &u.browser_patch,
                            &u.browser_patch_minor});
    }
    m = {};
    if (const parser* pr = impl_->os.first_match(text, folded, m)) {
        fill_parts(*pr, m, {&u.os, &u.os_major, &u.os_minor, &u.os_patch, &u.os_patch_minor});
    }
    m = {};
    if (const parser* pr = impl_->device.first_match(text, folded, m)) {
        const auto& r = pr->replacements;
        u.device = part(r[0], m, 1);
        u.brand = r[1] ? fill(*r[1], m) : std::string{};
        u.model = part(r[2], m, 1);
    }
    u.kind = classify(u, ua);
    return u;
}

ua_cache::ua_cache(const ua_database& db, std::size_t capacity)
    : db_(db), capacity_(std::max<std::size_t>(capacity, 1)) {
    std::random_device random;
    seed_ = (std::uint64_t{random()} << 32) | random();
}

const ua_summary& ua_cache::parse(std::string_view ua) {
    ++tick_;
    const XXH128_hash_t h = XXH3_128bits_withSeed(ua.data(), ua.size(), seed_);
    const key k{h.low64, h.high64};
    if (const auto it = by_ua_.find(k); it != by_ua_.end()) {
        it->second.used = tick_;
        return it->second.summary;
    }
    if (by_ua_.size() >= capacity_) {
        // Full: the least recently used half goes in one pass (ticks are unique).
        std::vector<std::uint64_t> ticks;
        ticks.reserve(by_ua_.size());
        for (const auto& [hashed, e] : by_ua_) {
            ticks.push_back(e.used);
        }
        const std::size_t out = std::max<std::size_t>(1, ticks.size() / 2);
        std::nth_element(ticks.begin(), ticks.begin() + static_cast<std::ptrdiff_t>(out - 1),
                         ticks.end());
        const std::uint64_t oldest_kept = ticks[out - 1];
        boost::unordered::erase_if(by_ua_,
                                   [&](const auto& kv) { return kv.second.used <= oldest_kept; });
    }
    user_agent parsed = db_.parse(ua);
    ++parsed_;
    entry fresh;
    fresh.summary.kind = parsed.kind;
    fresh.summary.digest = digest_of(ua);
    fresh.summary.browser = std::move(parsed.browser);
    fresh.summary.os = std::move(parsed.os);
    fresh.used = tick_;
    return by_ua_.emplace(k, std::move(fresh)).first->second.summary;
}

}  // namespace cg::analytics
