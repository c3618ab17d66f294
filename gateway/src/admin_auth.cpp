#include "admin_auth.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace cg::gateway {

namespace {

constexpr std::string_view hash_scheme = "pbkdf2-sha256$";
constexpr std::size_t salt_bytes = 16;
constexpr std::size_t min_salt_bytes = 16;
constexpr std::size_t max_salt_bytes = 64;
constexpr std::size_t token_bytes = 32;
constexpr std::size_t token_chars = 43;  // 32 bytes as unpadded base64: ceil(32 * 4 / 3)
constexpr std::size_t max_redirect_bytes = 2048;

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// RFC 4648 without padding.
std::string encode(std::span<const unsigned char> in, std::string_view alphabet) {
    std::string out;
    out.reserve((in.size() * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const unsigned v = (unsigned{in[i]} << 16) | (unsigned{in[i + 1]} << 8) | in[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (in.size() - i == 1) {
        const unsigned v = unsigned{in[i]} << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (in.size() - i == 2) {
        const unsigned v = (unsigned{in[i]} << 16) | (unsigned{in[i + 1]} << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

// Unpadded base64 in `alphabet`, canonical only (unused trailing bits must be zero), so each
// value has exactly one spelling.
std::optional<std::vector<unsigned char>> decode(std::string_view text, std::string_view alphabet) {
    if (text.size() % 4 == 1) {
        return std::nullopt;
    }
    std::vector<unsigned char> out;
    out.reserve(text.size() * 3 / 4);
    unsigned bits = 0;
    unsigned count = 0;
    for (const char c : text) {
        const auto v = alphabet.find(c);
        if (v == std::string_view::npos) {
            return std::nullopt;
        }
        bits = (bits << 6) | static_cast<unsigned>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out.push_back(static_cast<unsigned char>((bits >> count) & 0xFF));
        }
    }
    if ((bits & ((1U << count) - 1)) != 0) {
        return std::nullopt;
    }
    return out;
}

bool derive(std::string_view password, std::span<const unsigned char> salt, unsigned iterations,
            std::array<unsigned char, 32>& out) noexcept {
    static const char empty[] = "";
    const char* pass = password.empty() ? empty : password.data();
    return PKCS5_PBKDF2_HMAC(pass, static_cast<int>(password.size()), salt.data(),
                             static_cast<int>(salt.size()), static_cast<int>(iterations),
                             EVP_sha256(), static_cast<int>(out.size()), out.data()) == 1;
}

struct parsed_hash {
    unsigned iterations = 0;
    std::vector<unsigned char> salt;
    std::array<unsigned char, 32> hash{};
};

// The reasons never quote the value: a hash is a secret that can be guessed at offline.
std::optional<parsed_hash> parse_hash(std::string_view stored, std::string* problem) {
    const auto fail = [problem](std::string_view why) -> std::optional<parsed_hash> {
        if (problem != nullptr) {
            *problem = why;
        }
        return std::nullopt;
    };
    if (!stored.starts_with(hash_scheme)) {
        return fail("must start with \"pbkdf2-sha256$\"");
    }
    auto rest = stored.substr(hash_scheme.size());
    const auto first = rest.find('$');
    const auto second = first == std::string_view::npos ? first : rest.find('$', first + 1);
    if (second == std::string_view::npos || rest.find('$', second + 1) != std::string_view::npos) {
        return fail("must have the form pbkdf2-sha256$ITERATIONS$SALT$HASH");
    }
    const auto digits = rest.substr(0, first);
    const auto salt_text = rest.substr(first + 1, second - first - 1);
    const auto hash_text = rest.substr(second + 1);
    parsed_hash p;
    const bool numeric =
        !digits.empty() && digits.size() <= 8 && digits.front() != '0' &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) {
        for (const char c : digits) {
            p.iterations = p.iterations * 10 + static_cast<unsigned>(c - '0');
        }
    }
    if (!numeric || p.iterations < min_password_iterations ||
        p.iterations > max_password_iterations) {
        return fail("the iteration count must be a whole number 100000-10000000");
    }
    auto salt = decode(salt_text, base64_alphabet);
    if (!salt || salt->size() < min_salt_bytes || salt->size() > max_salt_bytes) {
        return fail("the salt must be 16-64 bytes of base64 without padding");
    }
    p.salt = std::move(*salt);
    const auto hash = decode(hash_text, base64_alphabet);
    if (!hash || hash->size() != p.hash.size()) {
        return fail("the hash must be 32 bytes of base64 without padding");
    }
    std::copy(hash->begin(), hash->end(), p.hash.begin());
    return p;
}

std::string format_hash(unsigned iterations, std::span<const unsigned char> salt,
                        std::span<const unsigned char> hash) {
    std::string out(hash_scheme);
    out += std::to_string(iterations);
    out += '$';
    out += encode(salt, base64_alphabet);
    out += '$';
    out += encode(hash, base64_alphabet);
    return out;
}

void check_iterations(unsigned iterations) {
    if (iterations < min_password_iterations || iterations > max_password_iterations) {
        throw std::invalid_argument("password hash iterations must be 100000-10000000");
    }
}

template <std::size_t N>
void random_bytes(std::array<unsigned char, N>& out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
        throw std::runtime_error("the random number generator failed");
    }
}

token_digest digest_of(std::string_view token) noexcept {
    token_digest d{};
    unsigned int n = 0;
    EVP_Digest(token.data(), token.size(), d.data(), &n, EVP_sha256(), nullptr);
    return d;
}

char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    const char l = ascii_lower(c);
    if (l >= 'a' && l <= 'f') {
        return l - 'a' + 10;
    }
    return -1;
}

std::string form_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
                   hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += c;  // WHATWG: a '%' without two hex digits stays as it is
        }
    }
    return out;
}

}  // namespace

// --- Password hashes --------------------------------------------------------------------------

std::array<unsigned char, 32> pbkdf2_sha256(std::string_view password,
                                            std::span<const unsigned char> salt,
                                            unsigned iterations) {
    std::array<unsigned char, 32> out{};
    if (iterations == 0 || !derive(password, salt, iterations, out)) {
        throw std::runtime_error("PBKDF2 failed");
    }
    return out;
}

std::string hash_password(std::string_view password, unsigned iterations) {
    check_iterations(iterations);
    std::array<unsigned char, salt_bytes> salt{};
    random_bytes(salt);
    auto hash = pbkdf2_sha256(password, salt, iterations);
    auto out = format_hash(iterations, salt, hash);
    OPENSSL_cleanse(hash.data(), hash.size());
    return out;
}

std::optional<std::string> password_hash_problem(std::string_view stored) {
    std::string problem;
    if (parse_hash(stored, &problem)) {
        return std::nullopt;
    }
    return problem;
}

std::optional<unsigned> password_hash_iterations(std::string_view stored) noexcept {
    try {
        if (const auto p = parse_hash(stored, nullptr)) {
            return p->iterations;
        }
    } catch (...) {
        // only std::bad_alloc: treated as malformed
    }
    return std::nullopt;
}

bool verify_password(std::string_view password, std::string_view stored) noexcept {
    try {
        if (password.size() > max_password_bytes) {
            return false;
        }
        const auto p = parse_hash(stored, nullptr);
        if (!p) {
            return false;
        }
        std::array<unsigned char, 32> computed{};
        if (!derive(password, p->salt, p->iterations, computed)) {
            return false;
        }
        const bool equal = CRYPTO_memcmp(computed.data(), p->hash.data(), computed.size()) == 0;
        OPENSSL_cleanse(computed.data(), computed.size());
        return equal;
    } catch (...) {
        return false;  // std::bad_alloc: a log-in that cannot be checked fails
    }
}

std::string dummy_password_hash(unsigned iterations) {
    check_iterations(iterations);
    std::array<unsigned char, salt_bytes> salt{};
    std::array<unsigned char, 32> hash{};
    random_bytes(salt);
    random_bytes(hash);
    return format_hash(iterations, salt, hash);
}

bool is_user_name(std::string_view name) noexcept {
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '@' || c == '-';
    });
}

// --- Sessions ---------------------------------------------------------------------------------

bool is_session_token(std::string_view token) noexcept {
    return token.size() == token_chars && std::all_of(token.begin(), token.end(), [](char c) {
               return base64url_alphabet.find(c) != std::string_view::npos;
           });
}

session_table::session_table(session_limits limits) : limits_(limits) {}

bool session_table::expired(const admin_session& s, time_point now) const noexcept {
    return now - s.created >= limits_.lifetime || now - s.last_used >= limits_.idle_timeout;
}

std::optional<std::size_t> session_table::index_of(const token_digest& digest) const noexcept {
    // Every digest is compared, each in constant time: how long a look-up takes says nothing
    // about how close a guess came. (The digests themselves are SHA-256 of 256 random bits.)
    std::optional<std::size_t> found;
    for (std::size_t i = 0; i < sessions_.size(); ++i) {
        if (CRYPTO_memcmp(sessions_[i].digest.data(), digest.data(), digest.size()) == 0) {
            found = i;
        }
    }
    return found;
}

std::optional<std::string> session_table::create(std::string user, admin_user_role role,
                                                 time_point now) {
    std::array<unsigned char, token_bytes> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        return std::nullopt;
    }
    std::string token = encode(bytes, base64url_alphabet);
    OPENSSL_cleanse(bytes.data(), bytes.size());
    std::erase_if(sessions_, [&](const admin_session& s) { return expired(s, now); });
    if (limits_.max_sessions == 0) {
        return std::nullopt;
    }
    while (sessions_.size() >= limits_.max_sessions) {
        sessions_.erase(sessions_.begin());  // the oldest log-in ends (DESIGN bound)
    }
    sessions_.push_back(admin_session{digest_of(token), std::move(user), role, now, now});
    return token;
}

const admin_session* session_table::find(std::string_view token, time_point now) {
    if (!is_session_token(token)) {
        return nullptr;
    }
    const auto i = index_of(digest_of(token));
    if (!i) {
        return nullptr;
    }
    if (expired(sessions_[*i], now)) {
        sessions_.erase(sessions_.begin() + static_cast<std::ptrdiff_t>(*i));
        return nullptr;
    }
    sessions_[*i].last_used = now;
    return &sessions_[*i];
}

std::optional<admin_session> session_table::remove(std::string_view token) {
    if (!is_session_token(token)) {
        return std::nullopt;
    }
    const auto i = index_of(digest_of(token));
    if (!i) {
        return std::nullopt;
    }
    auto s = std::move(sessions_[*i]);
    sessions_.erase(sessions_.begin() + static_cast<std::ptrdiff_t>(*i));
    return s;
}

// --- Failed log-ins ---------------------------------------------------------------------------

void login_limiter::failure_log::prune(entry& e, time_point now) const {
    while (!e.failures.empty() && now - e.failures.front() >= limits_.window) {
        e.failures.pop_front();
    }
}

std::chrono::seconds login_limiter::failure_log::retry_after(const std::string& key,
                                                             time_point now) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) {
        return std::chrono::seconds{0};
    }
    auto& e = it->second;
    prune(e, now);
    if (e.failures.empty()) {
        order_.erase(e.at);
        entries_.erase(it);
        return std::chrono::seconds{0};
    }
    if (e.failures.size() < limits_.max_failures) {
        return std::chrono::seconds{0};
    }
    // Until the oldest failure of those counted leaves the window.
    const auto left =
        std::chrono::ceil<std::chrono::seconds>(e.failures.front() + limits_.window - now);
    return std::max(left, std::chrono::seconds{1});
}

void login_limiter::failure_log::add(const std::string& key, time_point at) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        // Bounded (STYLE §5): the entry failed least recently goes, stale or not.
        while (!order_.empty() && entries_.size() >= limits_.max_entries) {
            entries_.erase(order_.front());
            order_.pop_front();
        }
        if (limits_.max_entries == 0) {
            return;
        }
        order_.push_back(key);
        it = entries_.emplace(key, entry{{}, std::prev(order_.end())}).first;
    } else {
        order_.splice(order_.end(), order_, it->second.at);
    }
    auto& e = it->second;
    e.failures.push_back(at);
    while (e.failures.size() > std::max<std::size_t>(limits_.max_failures, 1)) {
        e.failures.pop_front();
    }
}

void login_limiter::failure_log::remove(const std::string& key, time_point at) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) {
        return;
    }
    auto& f = it->second.failures;
    if (const auto pos = std::find(f.rbegin(), f.rend(), at); pos != f.rend()) {
        f.erase(std::next(pos).base());
    }
    if (f.empty()) {
        order_.erase(it->second.at);
        entries_.erase(it);
    }
}

std::size_t login_limiter::failure_log::count(const std::string& key, time_point now) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) {
        return 0;
    }
    prune(it->second, now);
    return it->second.failures.size();
}

login_limiter::login_limiter(login_limits limits) : users_(limits), clients_(limits) {}

namespace {
std::string client_string(const login_limiter::client_key& client) {
    return {reinterpret_cast<const char*>(client.data()), client.size()};
}
}  // namespace

std::chrono::seconds login_limiter::begin(std::string_view user, const client_key& client,
                                          time_point now) {
    const std::string u(user);
    const std::string c = client_string(client);
    auto wait = clients_.retry_after(c, now);
    if (!u.empty()) {
        wait = std::max(wait, users_.retry_after(u, now));
    }
    if (wait.count() > 0) {
        return wait;
    }
    if (!u.empty()) {
        users_.add(u, now);
    }
    clients_.add(c, now);
    return std::chrono::seconds{0};
}

void login_limiter::withdraw(std::string_view user, const client_key& client, time_point at) {
    if (!user.empty()) {
        users_.remove(std::string(user), at);
    }
    clients_.remove(client_string(client), at);
}

std::size_t login_limiter::user_failures(std::string_view user, time_point now) {
    return users_.count(std::string(user), now);
}

std::size_t login_limiter::client_failures(const client_key& client, time_point now) {
    return clients_.count(client_string(client), now);
}

// --- The verification pool --------------------------------------------------------------------

verify_pool::verify_pool(std::size_t threads, std::size_t max_waiting)
    : threads_wanted_(std::max<std::size_t>(threads, 1)), max_waiting_(max_waiting) {}

verify_pool::~verify_pool() {
    std::deque<job> left;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        left.swap(queue_);
    }
    wake_.notify_all();
    for (auto& t : threads_) {
        t.join();
    }
    for (auto& j : left) {
        try {
            j(false);
        } catch (...) {
            // a job's own failure; nothing to report to at shutdown
        }
    }
}

bool verify_pool::try_post(job j) {
    {
        std::lock_guard lock(mutex_);
        // Running plus waiting: at most every thread busy and max_waiting in the queue.
        if (stopping_ || queue_.size() + running_ >= threads_wanted_ + max_waiting_) {
            return false;
        }
        while (threads_.size() < threads_wanted_) {
            threads_.emplace_back([this] { work(); });
        }
        queue_.push_back(std::move(j));
    }
    wake_.notify_one();
    return true;
}

void verify_pool::work() {
    for (;;) {
        job j;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) {
                return;
            }
            j = std::move(queue_.front());
            queue_.pop_front();
            ++running_;
        }
        try {
            j(true);
        } catch (...) {
            // A job reports through its own callback; one that throws must not end the thread.
        }
        j = nullptr;  // what it holds (a waiting caller's handler) goes before the slot frees
        std::lock_guard lock(mutex_);
        --running_;
    }
}

// --- Text helpers -----------------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> fields;
    while (!text.empty()) {
        const auto amp = text.find('&');
        const auto piece = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
        if (piece.empty()) {
            continue;
        }
        const auto eq = piece.find('=');
        fields.emplace_back(
            form_decode(piece.substr(0, eq)),
            eq == std::string_view::npos ? std::string() : form_decode(piece.substr(eq + 1)));
    }
    return fields;
}

std::string percent_encode(std::string_view s) {
    static constexpr std::string_view hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
                          c == '/';
        if (keep) {
            out += c;
        } else {
            const auto b = static_cast<unsigned char>(c);
            out += '%';
            out += hex[b >> 4];
            out += hex[b & 15];
        }
    }
    return out;
}

std::string_view local_redirect(std::string_view next, std::string_view fallback) noexcept {
    // "//host" and "/\host" are network-path references to browsers (WHATWG URL treats '\' as
    // '/'), so only a single leading '/' followed by plain printable ASCII stays on this host.
    // No spaces or control characters either: the value goes into a Location header.
    const bool local = next.size() <= max_redirect_bytes && next.starts_with('/') &&
                       !next.starts_with("//") && std::all_of(next.begin(), next.end(), [](char c) {
                           return c > ' ' && c < 0x7F && c != '\\';
                       });
    return local ? next : fallback;
}

bool same_origin(std::string_view origin, std::string_view host) noexcept {
    if (host.empty()) {
        return false;
    }
    for (const std::string_view scheme :
         {std::string_view{"http://"}, std::string_view{"https://"}}) {
        if (origin.size() > scheme.size() && iequals(origin.substr(0, scheme.size()), scheme)) {
            return iequals(origin.substr(scheme.size()), host);
        }
    }
    return false;
}

}  // namespace cg::gateway
