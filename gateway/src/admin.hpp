#pragma once
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "admin_auth.hpp"
#include "worker.hpp"

namespace cg::gateway {

/// Who is asking the admin listener (DESIGN §5). A caller has exactly one role; each admin
/// route names the roles it admits. Roles are not ranked: `marketing` sees the statistics
/// but not consent look-ups, so a route lists every role it lets in.
enum class admin_role : std::uint8_t {
    anyone,     ///< no credentials: health, readiness, the log-in page
    marketing,  ///< a logged-in marketing user: the statistics dashboard (a later issue)
    admin,      ///< the bearer token (admin.token), or a logged-in admin user
};

/// A set of admin roles; a plain value type.
class admin_roles {
  public:
    constexpr admin_roles(std::initializer_list<admin_role> roles) {
        for (const auto r : roles) {
            bits_ = static_cast<std::uint8_t>(bits_ | bit(r));
        }
    }
    /// Every role: what a public route admits.
    static constexpr admin_roles everyone() {
        return {admin_role::anyone, admin_role::marketing, admin_role::admin};
    }
    constexpr bool contains(admin_role r) const noexcept { return (bits_ & bit(r)) != 0; }

  private:
    static constexpr std::uint8_t bit(admin_role r) noexcept {
        return static_cast<std::uint8_t>(1U << static_cast<unsigned>(r));
    }
    std::uint8_t bits_ = 0;
};

/// What the log-in routes keep between requests. The session table and the limiter are used
/// on the admin thread only (every admin handler runs on its one io_context thread); the
/// verifier's threads check passwords; the counters are read by /metrics.
class admin_login_state {
  public:
    explicit admin_login_state(const admin_config& cfg);

    /// Checked instead of a real hash for an unknown user name, with the first user's
    /// iteration count, so that both cost the same (no user enumeration by timing). Made at
    /// the first log-in that needs it; throws std::runtime_error if the random generator fails.
    const std::string& dummy_hash();

    session_table sessions;
    login_limiter limiter;
    verify_pool verifier{2, 8};             ///< two checks at once, eight waiting; more get 503
    std::atomic<std::uint64_t> ok{0};       ///< sessions started
    std::atomic<std::uint64_t> failed{0};   ///< wrong user name or password
    std::atomic<std::uint64_t> limited{0};  ///< refused unchecked: too many failures, or busy

  private:
    unsigned dummy_iterations_;
    std::string dummy_hash_;
};

/// The admin listener (own address, own thread), a table of routes each with its methods and
/// the roles it admits: /healthz, /readyz and /login for anyone; /metrics and the consent views
/// (/consent/history, /consent/counts, /consent/cookies) for admin, which means
/// `Authorization: Bearer <admin.token>` or a session of an admin user (admin.users, POST
/// /login, the cg_admin cookie). Without a configured token (the config allows that only on
/// loopback) /metrics is open to anyone, so Prometheus can scrape it, and the consent views are
/// served to logged-in admins only: they show consent ids, and "whoever reaches the port" is no
/// access control. A wrong method gets 405 with Allow, an unknown path a 404 listing the
/// routes, a missing credential 401 (a browser, which asks for text/html, is sent to /login
/// instead), the wrong role 403. Every POST from another site (Origin, Sec-Fetch-Site) gets
/// 403. A request whose handler throws is answered 500, logged (route and method only) and
/// counted in cg_admin_errors_total; it never takes the connection or the listener down. At
/// most admin.max_connections are open at once; more are closed at once and counted in
/// cg_admin_connections_refused_total.
class admin_listener {
  public:
    admin_listener(boost::asio::io_context& ioc, shared_state& shared);

    /// Binds admin.address:admin.port. Throws std::runtime_error on failure.
    void open();
    /// Starts accepting on the io_context given to the constructor.
    void start();
    /// Stops accepting; open connections end with their io_context.
    void close();
    /// The bound address (port 0 resolved); unspecified before open().
    boost::asio::ip::tcp::endpoint endpoint() const;

  private:
    boost::asio::io_context& ioc_;
    shared_state& shared_;
    boost::asio::ip::tcp::acceptor acceptor_;
    /// Admin requests answered 500 because their handler threw (written on the admin thread,
    /// read by /metrics on the same thread; atomic so any thread may read it).
    std::atomic<std::uint64_t> errors_{0};
    std::atomic<std::size_t> open_connections_{0};      ///< admin connections now open
    std::atomic<std::uint64_t> refused_connections_{0};  ///< closed at once: over the cap
    /// Last member: its verifier threads are joined first, while everything else is alive.
    admin_login_state login_;
};

}  // namespace cg::gateway
