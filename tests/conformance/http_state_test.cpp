// Runs the IETF http-state cookie test suite (abarth/http-state, tests/data) against the consent
// module's parsers. parser.json gives, per case, the Set-Cookie headers a user agent received
// and the cookies it must send next; a minimal RFC 6265 §5.3/§5.4 cookie jar built on
// parse_set_cookie stands in for the browser. The dates files check parse_cookie_date.
//
// Usage: conformance_http_state [DIR]   (default: CG_HTTP_STATE_DIR)
// Exit: 0 all cases pass (or fail only as listed in known_differences), 1 a failure,
// 77 the data directory is absent (ctest SKIP_RETURN_CODE).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "consent/cookie.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using cg::consent::parse_cookie_date;
using cg::consent::parse_set_cookie;

// Cases whose expectation we knowingly do not meet, with the reason. Empty: every enabled case
// passes. Add an entry only with a reason that cites the RFC rule we follow instead.
const std::set<std::string_view> known_differences{};

// The suite's own DISABLED_ cases encode browser quirks the suite's authors chose not to
// require (truncation at NUL/CR, a 4096-byte limit, percent-decoding of the request path).
// They are run and reported but never fail the test.
bool is_disabled(std::string_view name) {
    return name.starts_with("DISABLED_");
}

// The suite was written around 2011 (RFC 6265 is from April 2011) and some "future" Expires
// dates (e.g. 07 Aug 2019) have since passed, so the jar's clock is fixed at 2011-04-01.
constexpr std::int64_t suite_now = 1301616000;

std::string to_lower(std::string_view s) {
    std::string out{s};
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

struct request_url {
    std::string host;  // canonicalised: lower case, no port
    std::string path;  // without query and fragment
};

// Enough of URL parsing for the suite: "http://host:port/path?query" or "/path?query" relative
// to `base`.
request_url parse_url(std::string_view url, const request_url& base) {
    request_url out = base;
    if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
        url.remove_prefix(scheme + 3);
        const auto slash = url.find('/');
        std::string_view authority = url.substr(0, slash);
        authority = authority.substr(0, authority.find(':'));
        out.host = to_lower(authority);
        url = slash == std::string_view::npos ? std::string_view{"/"} : url.substr(slash);
    }
    out.path = std::string{url.substr(0, url.find_first_of("?#"))};
    return out;
}

// RFC 6265 §5.1.3.
bool domain_match(std::string_view host, std::string_view domain) {
    if (host == domain) {
        return true;
    }
    return host.size() > domain.size() && host.ends_with(domain) &&
           host[host.size() - domain.size() - 1] == '.';  // the suite uses no IP addresses
}

// RFC 6265 §5.1.4 default-path.
std::string default_path(std::string_view uri_path) {
    if (uri_path.empty() || uri_path.front() != '/') {
        return "/";
    }
    const auto last = uri_path.rfind('/');
    return last == 0 ? std::string{"/"} : std::string{uri_path.substr(0, last)};
}

// RFC 6265 §5.1.4 path-match.
bool path_match(std::string_view request_path, std::string_view cookie_path) {
    if (request_path == cookie_path) {
        return true;
    }
    if (!request_path.starts_with(cookie_path)) {
        return false;
    }
    return cookie_path.ends_with('/') || request_path[cookie_path.size()] == '/';
}

// RFC 6265 §5.3 step 5 leaves the public suffix list to the user agent. The suite only needs
// top-level domains ("org") to count as public suffixes, so any single label does.
bool is_public_suffix(std::string_view domain) {
    return domain.find('.') == std::string_view::npos;
}

struct stored_cookie {
    std::string name;
    std::string value;
    std::string domain;
    std::string path;
    std::int64_t expiry = std::numeric_limits<std::int64_t>::max();
    std::uint64_t creation = 0;
    bool host_only = true;
    bool secure = false;
};

class cookie_jar {
  public:
    // RFC 6265 §5.3, storage model, for a response to `url` received at `now`.
    void receive(std::string_view header, const request_url& url, std::int64_t now) {
        const auto parsed = parse_set_cookie(header);
        if (!parsed) {
            return;
        }
        stored_cookie c;
        c.name = std::string{parsed->name};
        c.value = std::string{parsed->value};
        c.creation = ++clock_;
        // Step 3: Max-Age wins over Expires, whatever their order.
        if (parsed->max_age) {
            const std::int64_t age = *parsed->max_age;
            if (age <= 0) {
                c.expiry = std::numeric_limits<std::int64_t>::min();
            } else {
                c.expiry = age > std::numeric_limits<std::int64_t>::max() - now
                               ? std::numeric_limits<std::int64_t>::max()
                               : now + age;
            }
        } else if (parsed->expires) {
            c.expiry = *parsed->expires;
        }
        // Steps 4-6: Domain, public suffixes, host-only.
        std::string domain = parsed->domain ? to_lower(*parsed->domain) : std::string{};
        if (!domain.empty() && is_public_suffix(domain)) {
            if (domain != url.host) {
                return;
            }
            domain.clear();
        }
        if (!domain.empty()) {
            if (!domain_match(url.host, domain)) {
                return;
            }
            c.host_only = false;
            c.domain = domain;
        } else {
            c.domain = url.host;
        }
        // Step 7: Path, or the default-path.
        c.path = parsed->path ? std::string{*parsed->path} : default_path(url.path);
        c.secure = parsed->secure;
        // Step 11: replace a cookie with the same name, domain and path, keeping its creation
        // time (which §5.4 ordering depends on).
        for (auto it = cookies_.begin(); it != cookies_.end(); ++it) {
            if (it->name == c.name && it->domain == c.domain && it->path == c.path) {
                c.creation = it->creation;
                cookies_.erase(it);
                break;
            }
        }
        cookies_.push_back(std::move(c));
        // §5.3: expired cookies are evicted at once (this is how Max-Age=0 deletes).
        std::erase_if(cookies_, [now](const stored_cookie& s) { return s.expiry <= now; });
    }

    // RFC 6265 §5.4: the cookies sent with a plain-http request to `url` at `now`, in order.
    std::vector<std::pair<std::string, std::string>> send(const request_url& url,
                                                          std::int64_t now) const {
        std::vector<const stored_cookie*> matching;
        for (const auto& c : cookies_) {
            const bool domain_ok =
                c.host_only ? url.host == c.domain : domain_match(url.host, c.domain);
            if (domain_ok && path_match(url.path, c.path) && !c.secure && c.expiry > now) {
                matching.push_back(&c);
            }
        }
        // §5.4 step 2: longer paths first, then earlier creation times first.
        std::stable_sort(matching.begin(), matching.end(), [](const auto* a, const auto* b) {
            if (a->path.size() != b->path.size()) {
                return a->path.size() > b->path.size();
            }
            return a->creation < b->creation;
        });
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto* c : matching) {
            out.emplace_back(c->name, c->value);
        }
        return out;
    }

  private:
    std::vector<stored_cookie> cookies_;
    std::uint64_t clock_ = 0;
};

std::string describe(const std::vector<std::pair<std::string, std::string>>& cookies) {
    std::string out = "[";
    for (const auto& [name, value] : cookies) {
        if (out.size() > 1) {
            out += "; ";
        }
        out += name + "=" + value;
    }
    return out + "]";
}

struct tally {
    int passed = 0;
    int total = 0;
    int known = 0;
    int unexpected = 0;
};

void record(tally& t, std::string_view name, bool ok, const std::string& detail) {
    ++t.total;
    if (ok) {
        ++t.passed;
        if (known_differences.contains(name)) {
            std::printf("note: %.*s passes now; remove it from known_differences\n",
                        static_cast<int>(name.size()), name.data());
        }
        return;
    }
    const bool known = known_differences.contains(name);
    ++(known ? t.known : t.unexpected);
    std::printf("%s %.*s: %s\n", known ? "known difference" : "FAIL", static_cast<int>(name.size()),
                name.data(), detail.c_str());
}

json read_json(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot open " + file.string());
    }
    // dates-bsd-examples.json starts with a // licence comment.
    return json::parse(in, nullptr, true, true);
}

tally run_parser(const fs::path& dir) {
    const json cases = read_json(dir / "parser.json");
    const request_url origin{"home.example.org", "/cookie-parser"};
    tally t;
    int disabled_total = 0;
    int disabled_agree = 0;
    for (const auto& c : cases) {
        const std::string name = c.at("test").get<std::string>();
        cookie_jar jar;
        for (const auto& header : c.at("received")) {
            jar.receive(header.get<std::string>(), origin, suite_now);
        }
        const std::string target = c.contains("sent-to")
                                       ? c.at("sent-to").get<std::string>()
                                       : "/cookie-parser-result?" + to_lower(name);
        const auto sent = jar.send(parse_url(target, origin), suite_now);
        std::vector<std::pair<std::string, std::string>> expected;
        for (const auto& e : c.at("sent")) {
            expected.emplace_back(e.at("name").get<std::string>(),
                                  e.at("value").get<std::string>());
        }
        if (is_disabled(name)) {
            ++disabled_total;
            disabled_agree += sent == expected ? 1 : 0;
            continue;
        }
        record(t, name, sent == expected,
               "sent " + describe(sent) + ", expected " + describe(expected));
    }
    std::printf(
        "http-state parser: %d/%d passed (%d known differences); the suite's %d "
        "DISABLED_ cases, not counted: %d agree\n",
        t.passed, t.total, t.known, disabled_total, disabled_agree);
    return t;
}

// The expected dates are all "Www, DD Mon YYYY HH:MM:SS GMT". Converted here by counting days,
// independently of the days-from-civil arithmetic under test.
std::optional<std::int64_t> canonical_date(const std::string& text) {
    static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char month_name[4] = {};
    int day = 0;
    int year = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (std::sscanf(text.c_str(), "%*[^,], %2d %3s %4d %2d:%2d:%2d GMT", &day, month_name, &year,
                    &hour, &minute, &second) != 6) {
        return std::nullopt;
    }
    const auto m = months.find(month_name);
    if (m == std::string_view::npos || m % 3 != 0 || year < 1970) {
        return std::nullopt;
    }
    const int month = static_cast<int>(m / 3) + 1;
    auto leap = [](int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; };
    const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    std::int64_t days = 0;
    for (int y = 1970; y < year; ++y) {
        days += leap(y) ? 366 : 365;
    }
    for (int i = 1; i < month; ++i) {
        days += month_days[i - 1] + (i == 2 && leap(year) ? 1 : 0);
    }
    days += day - 1;
    return days * 86400 + hour * 3600 + minute * 60 + second;
}

tally run_dates(const fs::path& dir) {
    tally t;
    for (const char* file : {"dates-examples.json", "dates-bsd-examples.json"}) {
        for (const auto& c : read_json(dir / file)) {
            const std::string text = c.at("test").get<std::string>();
            std::optional<std::int64_t> expected;
            if (!c.at("expected").is_null()) {
                expected = canonical_date(c.at("expected").get<std::string>());
                if (!expected) {
                    throw std::runtime_error("unreadable expected date in " + std::string{file});
                }
            }
            const auto got = parse_cookie_date(text);
            std::string detail = "\"" + text + "\": got ";
            detail += got ? std::to_string(*got) : "invalid";
            detail += ", expected ";
            detail += expected ? std::to_string(*expected) : "invalid";
            record(t, text, got == expected, detail);
        }
    }
    std::printf("http-state dates: %d/%d passed (%d known differences)\n", t.passed, t.total,
                t.known);
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    const fs::path dir = argc > 1 ? fs::path{argv[1]} : fs::path{CG_HTTP_STATE_DIR};
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        std::printf("SKIPPED: http-state test data not found at %s\n", dir.string().c_str());
        return 77;
    }
    try {
        const tally parser = run_parser(dir);
        const tally dates = run_dates(dir);
        return parser.unexpected + dates.unexpected == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        // Missing files or malformed JSON in a present data directory are failures, not skips.
        std::printf("FAIL: %s\n", e.what());
        return 1;
    }
}
