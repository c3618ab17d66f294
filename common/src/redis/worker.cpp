#include "redis/worker.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

#include <hiredis/hiredis.h>

namespace cg::redis {

namespace {

using clock = std::chrono::steady_clock;

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.substr(0, prefix.size()) == prefix;
}

void block_sigpipe() noexcept {
    // hiredis writes with write(2): a server that went away would raise SIGPIPE and end the
    // whole process. Blocked in this thread only, the write fails with EPIPE instead.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace

// ------------------------------------------------------------------ session

bool session::connected() const noexcept {
    return core_.link_.connected();
}

const std::string& session::where() const noexcept {
    return core_.link_.where();
}

const redis_config& session::config() const noexcept {
    return core_.link_.config();
}

clock::time_point session::deadline() const {
    return clock::now() + core_.link_.config().command_timeout;
}

std::vector<reply_ptr> session::pipeline(const std::vector<redis_command>& commands,
                                         clock::time_point deadline, std::string& error) {
    return core_.pipeline(commands, deadline, error);
}

std::optional<reply_ptr> session::command(const redis_command& cmd) {
    std::string error;
    auto replies = core_.pipeline({cmd}, deadline(), error);
    if (!error.empty() || replies.empty()) {
        return std::nullopt;
    }
    return std::move(replies.front());
}

bool session::replicated(std::string& error) {
    const unsigned min_replicas = config().min_replicas;
    const std::string wanted = std::to_string(min_replicas);
    const auto until = deadline();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
    const std::string wait_ms = std::to_string(std::max<long long>(1, left.count() / 2));
    const auto replies = pipeline({{"WAIT", wanted, wait_ms}, {"ROLE"}}, until, error);
    if (replies.size() != 2 || replies[0]->type != REDIS_REPLY_INTEGER) {
        return false;
    }
    const redisReply& role = *replies[1];
    const long long connected = role.type == REDIS_REPLY_ARRAY && role.elements >= 3 &&
                                        role.element[2]->type == REDIS_REPLY_ARRAY
                                    ? static_cast<long long>(role.element[2]->elements)
                                    : static_cast<long long>(min_replicas);
    return replies[0]->integer >= std::min(static_cast<long long>(min_replicas), connected);
}

void session::lost(const std::string& error) {
    core_.lost(error);
}

void session::report(std::string error) {
    core_.report(std::move(error));
}

namespace detail {

// ------------------------------------------------------------------ callers' side

worker_core::worker_core(redis_config config, worker_options options)
    : options_(options),
      link_(std::move(config)),
      session_(*this),
      backoff_(options.first_backoff) {}

// worker<Op>'s destructor has stopped the thread: it calls into worker<Op>.
worker_core::~worker_core() = default;

void worker_core::start() {
    const std::lock_guard lock{mutex_};
    if (started_ || stopping_) {
        return;
    }
    started_ = true;
    thread_ = std::thread([this] { run(); });
}

void worker_core::stop() {
    const std::lock_guard join_lock{join_mutex_};
    {
        const std::lock_guard lock{mutex_};
        stopping_ = true;
        if (!started_ && has_queued()) {
            // Never started but holding work: one pass of the thread hands it to the handler,
            // so nothing queued is dropped.
            started_ = true;
            thread_ = std::thread([this] { run(); });
        }
    }
    wake_.notify_all();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
        thread_.join();
    }
}

worker_status worker_core::status() const {
    const std::lock_guard lock{status_mutex_};
    return status_;
}

void worker_core::report(std::string error) {
    const std::lock_guard lock{status_mutex_};
    status_.last_error = std::move(error);
}

// ------------------------------------------------------------------ thread loop

void worker_core::run() {
    block_sigpipe();
    try_connect();
    for (;;) {
        bool have_work = false;
        bool stopping = false;
        {
            std::unique_lock lock{mutex_};
            wake_.wait_until(lock, next_wake(), [this] { return has_queued() || stopping_; });
            stopping = stopping_;
            have_work = take_run();
        }
        if (!have_work && stopping) {
            break;
        }
        if (have_work && !link_.connected()) {
            // Redis is down: the handler deals with this run now rather than after a connect
            // attempt, which can take connect_timeout against an unresponsive host.
            process_run(session_);
            have_work = false;
        }
        if (!stopping) {
            maintain();
        }
        if (have_work) {
            process_run(session_);
        }
        if (!stopping) {
            background(session_);
        }
    }
    link_.disconnect();
    const std::lock_guard lock{status_mutex_};
    status_.up = false;
}

clock::time_point worker_core::next_wake() const {
    const auto now = clock::now();
    if (!link_.connected()) {
        return next_connect_;
    }
    const auto at = std::min(last_ok_ + options_.ping_interval, background_due());
    return std::max(at, now);
}

void worker_core::maintain() {
    const auto now = clock::now();
    if (!link_.connected()) {
        if (now >= next_connect_) {
            try_connect();
        }
        return;
    }
    if (now - last_ok_ >= options_.ping_interval) {
        std::string error;
        const std::vector<redis_command> ping{{"PING"}};
        const auto replies = pipeline(ping, now + link_.config().command_timeout, error);
        if (error.empty() && is_error(*replies.front())) {
            const auto text = reply_text(*replies.front());
            if (is_server_state_error(text)) {
                lost(std::string{text});
            }
        }
    }
}

// ------------------------------------------------------------------ connection

void worker_core::try_connect() {
    const auto error = link_.connect();
    if (!error.empty()) {
        schedule_reconnect(error);
        return;
    }
    connecting_ = true;
    const auto refused = on_connect(session_);
    connecting_ = false;
    if (!link_.connected()) {
        return;  // an exchange in on_connect failed: reported and rescheduled already
    }
    if (!refused.empty()) {
        lost(refused);
        return;
    }
    backoff_ = options_.first_backoff;
    mark_ok(false);
}

void worker_core::schedule_reconnect(const std::string& error, bool slow) {
    next_connect_ = clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    const std::lock_guard lock{status_mutex_};
    status_.up = false;
    status_.slow = slow;
    status_.last_error = error;
}

void worker_core::lost(const std::string& error, bool slow) {
    link_.disconnect();
    schedule_reconnect(
        starts_with(error, "redis ") ? error : "redis " + link_.where() + ": " + error, slow);
}

void worker_core::mark_ok(bool exchanged) {
    last_ok_ = clock::now();
    const std::lock_guard lock{status_mutex_};
    status_.up = true;
    if (exchanged) {
        // A connect alone proves little about a slow server (the kernel accepts for it); an
        // exchange answered within command_timeout does.
        status_.slow = false;
    }
}

std::vector<reply_ptr> worker_core::pipeline(const std::vector<redis_command>& commands,
                                             clock::time_point deadline, std::string& error) {
    if (!link_.connected()) {
        error = "not connected";
        return {};
    }
    auto replies = link_.pipeline(commands, deadline, error);
    if (!error.empty()) {
        if (link_.timed_out()) {
            // Issue 8: an open connection that stays silent is a slow Redis, not a lost one;
            // saying "unreachable" would send operators hunting for an outage.
            lost("slow: " + error + " (connection open)", true);
        } else {
            lost(error);
        }
    } else if (!connecting_) {
        mark_ok(true);
    }
    return replies;
}

}  // namespace detail

}  // namespace cg::redis
