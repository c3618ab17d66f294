#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/config.hpp"

struct redisContext;
struct redisReply;

namespace cg::redis {

namespace detail {
class tls_tunnel;
}

/// Frees a hiredis reply (STYLE §4: C handles are wrapped at once).
struct reply_deleter {
    void operator()(redisReply* r) const noexcept;
};
/// A hiredis reply. Its fields (type, str, element) are read with <hiredis/hiredis.h>, which
/// users that inspect replies include and link themselves (hiredis stays out of this header).
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

/// One command as its arguments; the strings must outlive the pipeline call.
using redis_command = std::vector<std::string_view>;

/// One blocking hiredis connection with a deadline on every exchange. Meant for one thread
/// (a worker's, redis/worker.hpp); not thread safe. Replies are untrusted: callers check
/// every type.
class redis_link {
  public:
    using clock = std::chrono::steady_clock;

    explicit redis_link(redis_config config);
    ~redis_link();
    redis_link(const redis_link&) = delete;
    redis_link& operator=(const redis_link&) = delete;

    /// True between a successful connect() and the next failure or disconnect().
    bool connected() const noexcept { return ctx_ != nullptr; }

    /// Connects within connect_timeout (to the master the sentinels name, when there are
    /// sentinels, and then checks with ROLE that it is one), then AUTH (with the username
    /// when set) and SELECT, within command_timeout. Returns "" or what went wrong, in words without secrets; on
    /// failure the link stays disconnected.
    std::string connect();

    /// Drops the connection (any replies still due are lost with it).
    void disconnect() noexcept;

    /// Pipelines `commands` and reads their replies, all before `deadline`. Returns one reply
    /// per command read in order; fewer when the connection failed or the deadline passed, in
    /// which case `error` says why and the link is disconnected (the replies still due cannot
    /// be matched to commands any more). Error replies count as replies: `error` stays "".
    std::vector<reply_ptr> pipeline(const std::vector<redis_command>& commands,
                                    clock::time_point deadline, std::string& error);

    /// True when the last pipeline() failed because `deadline` passed while the connection
    /// was still open (Redis slow rather than gone); false after any other outcome.
    bool timed_out() const noexcept { return timed_out_; }

    /// Where the link connects to ("unix socket /run/redis.sock", "127.0.0.1:6379").
    const std::string& where() const noexcept { return where_; }
    /// The settings it was made with.
    const redis_config& config() const noexcept { return config_; }

  private:
    /// Asks the sentinels in turn for the master's address; "" or why none gave one.
    std::string discover_master(std::string& host, std::uint16_t& port);
    bool set_timeout(clock::time_point deadline, std::string& error);
    std::string io_error(clock::time_point deadline);

    struct context_deleter {
        void operator()(redisContext* c) const noexcept;
    };
    redis_config config_;
    std::string where_;
    std::unique_ptr<detail::tls_tunnel> tunnel_;  ///< with redis.tls: the bytes' way to Redis
    std::unique_ptr<redisContext, context_deleter> ctx_;
    bool timed_out_ = false;
    std::size_t next_sentinel_ = 0;  ///< the sentinel that answered last
};

/// The text of an error, status or string reply, "" for other types. For messages and
/// prefixes such as "NOSCRIPT"; never throws.
std::string_view reply_text(const redisReply& r) noexcept;
/// True for an error reply ("-ERR ...", "-NOSCRIPT ...").
bool is_error(const redisReply& r) noexcept;
/// True when an error reply's text says this server cannot serve now, whatever the command
/// (LOADING, READONLY, MASTERDOWN, NOREPLICAS): reconnecting after a backoff is the way out,
/// e.g. to the new master after a failover.
bool is_server_state_error(std::string_view text) noexcept;

}  // namespace cg::redis
