#include "redis/link.hpp"

#include <algorithm>
#include <cstdlib>

#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "tls_tunnel.hpp"

namespace cg::redis {

namespace {

timeval to_timeval(std::chrono::microseconds d) noexcept {
    timeval tv{};
    tv.tv_sec = static_cast<decltype(tv.tv_sec)>(d.count() / 1'000'000);
    tv.tv_usec = static_cast<decltype(tv.tv_usec)>(d.count() % 1'000'000);
    return tv;
}

std::string describe(const redis_config& c) {
    if (!c.sentinels.empty()) {
        return "master " + c.master_name + " via sentinels";
    }
    if (!c.socket.empty()) {
        return "unix socket " + c.socket;
    }
    return c.host + ":" + std::to_string(c.port);
}

}  // namespace

void reply_deleter::operator()(redisReply* r) const noexcept {
    freeReplyObject(r);
}

void redis_link::context_deleter::operator()(redisContext* c) const noexcept {
    redisFree(c);
}

std::string_view reply_text(const redisReply& r) noexcept {
    if ((r.type == REDIS_REPLY_ERROR || r.type == REDIS_REPLY_STATUS ||
         r.type == REDIS_REPLY_STRING) &&
        r.str != nullptr) {
        return {r.str, r.len};
    }
    return {};
}

bool is_error(const redisReply& r) noexcept {
    return r.type == REDIS_REPLY_ERROR;
}

bool is_server_state_error(std::string_view text) noexcept {
    for (const std::string_view prefix : {"LOADING", "READONLY", "MASTERDOWN", "NOREPLICAS"}) {
        if (text.substr(0, prefix.size()) == prefix) {
            return true;
        }
    }
    return false;
}

redis_link::redis_link(redis_config config)
    : config_(std::move(config)), where_(describe(config_)) {}

redis_link::~redis_link() {
    disconnect();
}

void redis_link::disconnect() noexcept {
    ctx_.reset();     // closes hiredis's end of a tunnel first,
    tunnel_.reset();  // so the tunnel's pump sees the end
}

std::string redis_link::discover_master(std::string& host, std::uint16_t& port) {
    const auto n = config_.sentinels.size();
    std::string tried;
    for (std::size_t k = 0; k < n; ++k) {
        const auto index = (next_sentinel_ + k) % n;
        const auto& address = config_.sentinels[index];
        redis_config at;
        at.host = address.host;
        at.port = address.port;
        at.connect_timeout = config_.connect_timeout;
        at.command_timeout = config_.command_timeout;
        at.username = config_.sentinel_username;
        at.password = config_.sentinel_password;
        at.tls = config_.tls;
        redis_link sentinel{at};
        std::string error = sentinel.connect();
        std::vector<reply_ptr> replies;
        if (error.empty()) {
            replies = sentinel.pipeline({{"SENTINEL", "get-master-addr-by-name", config_.master_name}},
                                        clock::now() + config_.command_timeout, error);
        }
        const redisReply* r = replies.size() == 1 ? replies[0].get() : nullptr;
        if (r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
            const std::string port_text{r->element[1]->str, r->element[1]->len};
            const auto value = std::strtoul(port_text.c_str(), nullptr, 10);
            if (value > 0 && value <= 65535) {
                host.assign(r->element[0]->str, r->element[0]->len);
                port = static_cast<std::uint16_t>(value);
                next_sentinel_ = index;  // ask this one first next time
                return {};
            }
        }
        if (error.empty()) {
            error = r != nullptr && r->type == REDIS_REPLY_NIL ? "does not know the master"
                                                               : "gave no master address";
        }
        if (!tried.empty()) {
            tried.append("; ");
        }
        tried.append(at.host).append(":").append(std::to_string(at.port)).append(": ").append(error);
    }
    return "redis sentinels: none named the master " + config_.master_name + " (" + tried + ")";
}

std::string redis_link::connect() {
    disconnect();
    std::string host = config_.host;
    std::uint16_t port = config_.port;
    const bool sentinel = !config_.sentinels.empty();
    if (sentinel) {
        if (auto error = discover_master(host, port); !error.empty()) {
            return error;
        }
        where_ = "master " + config_.master_name + " at " + host + ":" + std::to_string(port);
    }
    // hiredis 0.14 has no redisOptions: the *WithTimeout calls bound the connect itself (a
    // host name is still resolved by a blocking getaddrinfo). It has no TLS either: with
    // redis.tls it speaks over a tunnel's socket pair (tls_tunnel.hpp).
    const auto tv = to_timeval(config_.connect_timeout);
    redisContext* raw = nullptr;
    if (config_.tls.enabled) {
        std::string error;
        auto tunnel = detail::tls_tunnel::open(config_.tls, host, port, config_.connect_timeout,
                                               std::max(config_.command_timeout,
                                                        std::chrono::milliseconds{1000}),
                                               error);
        if (!tunnel) {
            return "redis " + where_ + " (TLS): " + error;
        }
        raw = redisConnectFd(tunnel->take_plain_fd());
        tunnel_ = std::move(tunnel);
    } else {
        raw = config_.socket.empty() || sentinel
                  ? redisConnectWithTimeout(host.c_str(), port, tv)
                  : redisConnectUnixWithTimeout(config_.socket.c_str(), tv);
    }
    std::unique_ptr<redisContext, context_deleter> ctx{raw};
    if (!ctx) {
        return "redis " + where_ + ": out of memory making a connection";
    }
    if (ctx->err != 0) {
        return "redis " + where_ + ": cannot connect: " + ctx->errstr;
    }
    ctx_ = std::move(ctx);

    std::vector<redis_command> setup;
    std::vector<std::string> names;
    const std::string db = std::to_string(config_.database);
    if (!config_.password.empty()) {
        // Redis 6 ACLs: `AUTH user pass`; without a username the default user.
        if (config_.username.empty()) {
            setup.push_back({"AUTH", config_.password});
        } else {
            setup.push_back({"AUTH", config_.username, config_.password});
        }
        names.emplace_back("AUTH");
    }
    if (config_.database != 0) {
        setup.push_back({"SELECT", db});
        names.push_back("SELECT " + db);
    }
    if (sentinel) {
        // A sentinel's answer may be stale during a failover: write only to a real master.
        setup.push_back({"ROLE"});
        names.emplace_back("ROLE");
    }
    if (setup.empty()) {
        return {};
    }
    std::string error;
    const auto replies = pipeline(setup, clock::now() + config_.command_timeout, error);
    if (!error.empty()) {
        return "redis " + where_ + ": " + error;
    }
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (is_error(*replies[i])) {
            // The server's words ("WRONGPASS invalid username-password pair") carry no secret.
            disconnect();
            return "redis " + where_ + ": " + names[i] +
                   " refused: " + std::string{reply_text(*replies[i])};
        }
    }
    if (sentinel) {
        const redisReply& role = *replies.back();
        const bool master = role.type == REDIS_REPLY_ARRAY && role.elements > 0 &&
                            role.element[0]->type == REDIS_REPLY_STRING &&
                            std::string_view{role.element[0]->str, role.element[0]->len} == "master";
        if (!master) {
            disconnect();
            return "redis " + where_ + ": not a master (yet): a failover is under way";
        }
    }
    return {};
}

bool redis_link::set_timeout(clock::time_point deadline, std::string& error) {
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - clock::now());
    // A zero timeval would mean "wait for ever" to the socket layer.
    if (left < std::chrono::milliseconds{1}) {
        error = "no reply within " + std::to_string(config_.command_timeout.count()) + " ms";
        timed_out_ = true;
        return false;
    }
    if (redisSetTimeout(ctx_.get(), to_timeval(left)) != REDIS_OK) {
        error = "cannot set the socket timeout";
        return false;
    }
    return true;
}

std::string redis_link::io_error(clock::time_point deadline) {
    // SO_RCVTIMEO/SO_SNDTIMEO expiring shows up as EAGAIN, which hiredis reports as an I/O
    // error in blocking mode: say what it means.
    if (clock::now() + std::chrono::milliseconds{1} >= deadline) {
        timed_out_ = true;
        return "no reply within " + std::to_string(config_.command_timeout.count()) + " ms";
    }
    return ctx_->errstr[0] != '\0' ? std::string{ctx_->errstr} : std::string{"I/O error"};
}

std::vector<reply_ptr> redis_link::pipeline(const std::vector<redis_command>& commands,
                                            clock::time_point deadline, std::string& error) {
    std::vector<reply_ptr> replies;
    timed_out_ = false;
    if (!ctx_) {
        error = "not connected";
        return replies;
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& command : commands) {
        argv.clear();
        lengths.clear();
        for (const auto arg : command) {
            argv.push_back(arg.data());
            lengths.push_back(arg.size());
        }
        if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(),
                                   lengths.data()) != REDIS_OK) {
            error = "cannot format a command (out of memory)";
            disconnect();
            return replies;
        }
    }

    // redisGetReply would block once per socket call with no bound on the whole batch; the
    // timeout is re-armed with what is left before each call so the batch as a whole never
    // takes longer than the deadline.
    int done = 0;
    while (done == 0) {
        if (!set_timeout(deadline, error)) {
            disconnect();
            return replies;
        }
        if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) {
            error = io_error(deadline);
            disconnect();
            return replies;
        }
    }
    replies.reserve(commands.size());
    while (replies.size() < commands.size()) {
        void* raw = nullptr;
        if (redisGetReplyFromReader(ctx_.get(), &raw) != REDIS_OK) {
            error = std::string{"protocol error: "} + ctx_->errstr;
            disconnect();
            return replies;
        }
        if (raw != nullptr) {
            replies.emplace_back(static_cast<redisReply*>(raw));
            continue;
        }
        if (!set_timeout(deadline, error)) {
            disconnect();
            return replies;
        }
        if (redisBufferRead(ctx_.get()) != REDIS_OK) {
            error = io_error(deadline);
            disconnect();
            return replies;
        }
    }
    return replies;
}

}  // namespace cg::redis
