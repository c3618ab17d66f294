#pragma once
// The admin listener's users (DESIGN §5): password hashes, log-in sessions, the limit on failed
// log-ins and the small pool that checks passwords off the admin thread. Plain classes without
// sockets; time comes in as an argument so tests can drive every clock.
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/config.hpp"

namespace cg::gateway {

// --- Password hashes --------------------------------------------------------------------------
//
// Format (what `consent-gateway --hash-password` prints and admin.users[].password_hash holds):
//
//     pbkdf2-sha256$<iterations>$<salt>$<hash>
//
// <iterations> is decimal without leading zeros; <salt> (16-64 bytes; 16 when made here) and
// <hash> (the 32-byte PBKDF2-HMAC-SHA256 output) are base64 (RFC 4648 §4) without padding.
// Example shape: pbkdf2-sha256$600000$q2E9...22 chars...$Xb8...43 chars...

/// Iterations of a new hash: OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
inline constexpr unsigned password_iterations = 600'000;
/// Iteration counts a stored hash may have (fewer is too cheap to guess; more is a denial of
/// service on every log-in).
inline constexpr unsigned min_password_iterations = 100'000;
inline constexpr unsigned max_password_iterations = 10'000'000;
/// The longest password --hash-password accepts and a log-in checks.
inline constexpr std::size_t max_password_bytes = 1024;

/// PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) of `password` and `salt`, 32 bytes, any iteration
/// count >= 1 (for test vectors; hashes use the range above). Thread-safe; no I/O.
std::array<unsigned char, 32> pbkdf2_sha256(std::string_view password,
                                            std::span<const unsigned char> salt,
                                            unsigned iterations);

/// A new stored hash of `password` with a random 16-byte salt. Throws std::invalid_argument
/// when `iterations` is outside min/max_password_iterations, std::runtime_error when the
/// random generator fails. Takes a few hundred ms at the default count. Thread-safe.
std::string hash_password(std::string_view password, unsigned iterations = password_iterations);

/// Why `stored` is not a well-formed hash (one short sentence), or nullopt when it is.
/// Untrusted input; never throws except std::bad_alloc. Thread-safe.
std::optional<std::string> password_hash_problem(std::string_view stored);

/// The iteration count of a well-formed `stored` hash; nullopt otherwise. Never throws.
std::optional<unsigned> password_hash_iterations(std::string_view stored) noexcept;

/// True when `password` matches `stored`, compared in constant time (CRYPTO_memcmp). False for
/// a wrong password, a malformed `stored` or a password over max_password_bytes. Costs the
/// hash's iteration count of HMACs: call it off event-loop threads. Never throws. Thread-safe.
bool verify_password(std::string_view password, std::string_view stored) noexcept;

/// A well-formed hash with `iterations`, a random salt and a random "hash" that no password
/// produces: verifying against it costs what a real hash costs and fails, so a log-in with an
/// unknown user name takes as long as one with a known name. Throws like hash_password.
std::string dummy_password_hash(unsigned iterations);

/// A user name admin.users accepts: 1-64 characters of A-Z a-z 0-9 . _ @ -.
bool is_user_name(std::string_view name) noexcept;

// --- Sessions ---------------------------------------------------------------------------------

/// The SHA-256 of a session token: what the session table keeps instead of the token.
using token_digest = std::array<unsigned char, 32>;

/// One logged-in user.
struct admin_session {
    token_digest digest{};  ///< SHA-256 of the cookie value
    std::string user;
    admin_user_role role = admin_user_role::marketing;
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point last_used;
};

/// The limits of a session_table.
struct session_limits {
    std::size_t max_sessions = 1000;  ///< more: the oldest session ends
    std::chrono::milliseconds idle_timeout{30 * 60 * 1000};
    std::chrono::milliseconds lifetime{8 * 60 * 60 * 1000};  ///< from log-in, however active
};

/// Log-in sessions in memory. A session is found by its cookie value (32 random bytes,
/// base64url, 43 characters); the table keeps only the SHA-256 of each value and compares
/// digests in constant time, so neither a memory dump nor timing gives a usable cookie.
/// Not thread-safe: the admin listener uses it from its one thread. No I/O.
class session_table {
  public:
    using time_point = std::chrono::steady_clock::time_point;

    explicit session_table(session_limits limits = {});

    /// Starts a session for `user` and returns its cookie value; nullopt when the random
    /// generator fails. At max_sessions the oldest session ends first.
    std::optional<std::string> create(std::string user, admin_user_role role, time_point now);

    /// The live session of cookie value `token` (untrusted), its idle timer restarted; nullptr
    /// when there is none or it has expired (then it is removed). Valid until the next call.
    const admin_session* find(std::string_view token, time_point now);

    /// Ends the session of `token`; returns it (for the log line) if there was one.
    std::optional<admin_session> remove(std::string_view token);

    std::size_t size() const noexcept { return sessions_.size(); }
    const session_limits& limits() const noexcept { return limits_; }

  private:
    bool expired(const admin_session& s, time_point now) const noexcept;
    /// Index of the session with `digest`, scanning every one with CRYPTO_memcmp.
    std::optional<std::size_t> index_of(const token_digest& digest) const noexcept;

    session_limits limits_;
    std::vector<admin_session> sessions_;  ///< oldest first
};

/// A cookie value as session_table hands it out: 43 base64url characters.
bool is_session_token(std::string_view token) noexcept;

// --- Failed log-ins ---------------------------------------------------------------------------

/// The limits of a login_limiter.
struct login_limits {
    std::size_t max_failures = 5;  ///< within `window`; the next attempt is refused
    std::chrono::milliseconds window{15 * 60 * 1000};
    std::size_t max_entries = 10'000;  ///< per map (user names, clients); the stalest goes
};

/// Counts failed log-ins per user name and per client (the admin connection's peer address,
/// as 16 bytes, kept in memory only). After max_failures failures within `window` for a name
/// or for a client, attempts for that name or from that client are refused until the oldest of
/// those failures leaves the window. A success resets nothing (an attacker who owns one
/// account must not reset the count against another); failures only age out.
///
/// An attempt counts as a failure from the moment it is checked (begin), so that many attempts
/// sent at once cannot all pass before the first answer; one that succeeds, or is never
/// checked, is taken back (withdraw). Both maps are bounded. Not thread-safe; no I/O.
class login_limiter {
  public:
    using time_point = std::chrono::steady_clock::time_point;
    using client_key = std::array<unsigned char, 16>;

    explicit login_limiter(login_limits limits = {});
    login_limiter(const login_limiter&) = delete;
    login_limiter& operator=(const login_limiter&) = delete;

    /// Seconds until the attempt may be made (>= 1) when `user` or `client` is over the limit;
    /// then nothing is recorded. Otherwise 0, and a failure is recorded now for both (`user`
    /// empty: for the client only).
    std::chrono::seconds begin(std::string_view user, const client_key& client, time_point now);

    /// Takes back the failure that begin() recorded at `at` (the attempt succeeded, or was
    /// refused before its password was checked).
    void withdraw(std::string_view user, const client_key& client, time_point at);

    /// Failures on record within the window for `user` (for tests and metrics).
    std::size_t user_failures(std::string_view user, time_point now);
    std::size_t client_failures(const client_key& client, time_point now);

  private:
    class failure_log {
      public:
        explicit failure_log(login_limits limits) : limits_(limits) {}
        std::chrono::seconds retry_after(const std::string& key, time_point now);
        void add(const std::string& key, time_point at);
        void remove(const std::string& key, time_point at);
        std::size_t count(const std::string& key, time_point now);
        std::size_t size() const noexcept { return entries_.size(); }

      private:
        struct entry {
            std::deque<time_point> failures;      ///< oldest first, at most max_failures
            std::list<std::string>::iterator at;  ///< in order_
        };
        void prune(entry& e, time_point now) const;
        login_limits limits_;
        std::unordered_map<std::string, entry> entries_;
        std::list<std::string> order_;  ///< least recently failed first
    };

    failure_log users_;
    failure_log clients_;
};

// --- Checking passwords off the admin thread ---------------------------------------------------

/// A fixed number of threads that run jobs in order, with a bounded queue: PBKDF2 takes a few
/// hundred ms per log-in, and the admin thread must stay free, and log-ins must not take the
/// CPU the proxy workers need. Threads start with the first job.
class verify_pool {
  public:
    /// A job. It is called once with true on a pool thread, or with false when the pool is
    /// destroyed before it ran (so a waiting caller can still be answered).
    using job = std::function<void(bool run)>;

    explicit verify_pool(std::size_t threads = 2, std::size_t max_waiting = 8);
    ~verify_pool();
    verify_pool(const verify_pool&) = delete;
    verify_pool& operator=(const verify_pool&) = delete;

    /// Queues `j`; false (and `j` is not called) when every thread is busy and max_waiting
    /// jobs already wait. Thread-safe.
    bool try_post(job j);

  private:
    void work();

    std::size_t threads_wanted_;
    std::size_t max_waiting_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<job> queue_;
    std::size_t running_ = 0;  ///< jobs taken from the queue and not yet finished
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

// --- Small text helpers for the log-in page ----------------------------------------------------

/// The fields of an application/x-www-form-urlencoded text (WHATWG URL §5.1): split on '&',
/// name and value percent-decoded with '+' as a space. Untrusted; never throws except
/// std::bad_alloc.
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view text);

/// `s` percent-encoded for a query value: all but A-Z a-z 0-9 - . _ ~ / are %XX.
std::string percent_encode(std::string_view s);

/// `next` when it is a path on this listener (starts with one '/', printable ASCII, no '\\',
/// at most 2048 bytes), else `fallback`: a log-in must never redirect off-site.
std::string_view local_redirect(std::string_view next, std::string_view fallback) noexcept;

/// True when `origin` (an Origin header value) is http://HOST or https://HOST for the request's
/// `host` (its Host header; compared case-insensitively, port included).
bool same_origin(std::string_view origin, std::string_view host) noexcept;

}  // namespace cg::gateway
