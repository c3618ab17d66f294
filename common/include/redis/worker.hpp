#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "redis/config.hpp"
#include "redis/link.hpp"

namespace cg::redis {

/// Tuning of a worker. The defaults are those of the consent store.
struct worker_options {
    /// Operations waiting for the thread; beyond this submit() refuses (STYLE §5: a bound on
    /// every queue).
    std::size_t queue_limit = 100'000;
    /// Most operations handed to the handler in one run (see worker::handler::joins).
    std::size_t max_batch = 512;
    /// Reconnects wait this long after the first failure, doubling up to max_backoff.
    std::chrono::steady_clock::duration first_backoff = std::chrono::milliseconds{100};
    std::chrono::steady_clock::duration max_backoff = std::chrono::milliseconds{2000};
    /// An idle connection is checked (PING) this often, so status().up does not go stale.
    /// Must be more than zero.
    std::chrono::steady_clock::duration ping_interval = std::chrono::milliseconds{1000};
};

/// What a worker can say about its connection. A snapshot.
struct worker_status {
    bool up = false;  ///< connected, and the last exchange (batch or ping) got its replies
    /// The last failed exchange ran out of command_timeout while the connection was still
    /// open (Redis is slow, not gone), and no exchange has got its replies in time since.
    /// The connection is dropped all the same (late replies could not be matched to their
    /// commands), so `up` is false until the reconnect; last_error then reads
    /// "redis <where>: slow: no reply within <N> ms (connection open)".
    bool slow = false;
    /// The last problem in words (no secrets), "" when there has been none. Not cleared on
    /// recovery: `up` says whether a Redis problem persists.
    std::string last_error;
};

/// What submit() did with an operation.
enum class submit_result {
    queued,   ///< the worker's thread will hand it to the handler
    stopped,  ///< refused: stop() was called
    full,     ///< refused: worker_options::queue_limit operations are waiting
};

namespace detail {
class worker_core;
}

/// A worker's connection as its handler sees it: only on the worker's thread, only during a
/// handler call. Every exchange has a deadline; a failed one drops the connection, marks the
/// worker down and schedules a reconnect (after the backoff), so handlers only decide what a
/// failure means for their operations.
class session {
  public:
    using clock = std::chrono::steady_clock;

    /// False while Redis is unreachable: the handler then fails, keeps or journals its work.
    bool connected() const noexcept;
    /// Where the link connects to ("unix socket /run/redis.sock", "127.0.0.1:6379").
    const std::string& where() const noexcept;
    /// The worker's settings (key_prefix, command_timeout, ...).
    const redis_config& config() const noexcept;
    /// now + command_timeout: the deadline of a batch started now.
    clock::time_point deadline() const;

    /// Pipelines `commands` and reads their replies before `deadline` (redis_link::pipeline).
    /// All replies read: the worker counts as up (error replies included; check them with
    /// is_error, and call lost() for is_server_state_error ones). Fewer: `error` says why, the
    /// connection is dropped, status().last_error becomes "redis <where>: <error>" (or, when
    /// the deadline passed on an open connection, "redis <where>: slow: <error> (connection
    /// open)" with status().slow set) and a reconnect is scheduled. Not connected: no
    /// replies, `error` is "not connected".
    std::vector<reply_ptr> pipeline(const std::vector<redis_command>& commands,
                                    clock::time_point deadline, std::string& error);
    /// One command within command_timeout; nullopt when it could not be sent or answered
    /// (handled as in pipeline()).
    std::optional<reply_ptr> command(const redis_command& cmd);

    /// redis.min_replicas (config().min_replicas, not 0): true once the writes sent so far on
    /// this connection reached that many replicas (WAIT, up to half the command timeout), or
    /// every connected replica when fewer are connected (ROLE: a master whose replicas are all
    /// gone, e.g. just after a failover, would otherwise never confirm anything). False when
    /// they did not or Redis did not answer (`error` then says why): the caller keeps what it
    /// wrote for an idempotent retry.
    bool replicated(std::string& error);

    /// Gives up on the connection because of what Redis answered (LOADING, a failed SCRIPT
    /// LOAD): drops it, marks the worker down with `error` as last_error (prefixed with
    /// "redis <where>: " unless it starts with "redis ") and schedules a reconnect.
    void lost(const std::string& error);
    /// Records a problem in status().last_error without changing status().up.
    void report(std::string error);

  private:
    friend class detail::worker_core;
    explicit session(detail::worker_core& core) noexcept : core_(core) {}
    detail::worker_core& core_;
};

namespace detail {

/// The part of worker<Op> that does not depend on Op: the thread, the link, reconnects and
/// the status. Use worker<Op>.
class worker_core {
  public:
    using clock = std::chrono::steady_clock;

    worker_core(const worker_core&) = delete;
    worker_core& operator=(const worker_core&) = delete;

    /// Starts the thread: connects (then the handler's on_connect). Calls after the first (or
    /// after stop()) do nothing. Thread-safe.
    void start();
    /// Stops after the queued operations have been handed to the handler (with a
    /// disconnected session when Redis is down; no reconnect is tried while stopping). When
    /// never started but operations are queued, a thread is started for that one pass, so
    /// nothing queued is dropped. Idempotent; thread-safe; from a handler call it only asks
    /// the thread to stop (no join).
    void stop();

    /// A snapshot. Thread-safe; never blocks on I/O.
    worker_status status() const;
    /// Records a problem in status().last_error (e.g. an owner's own refusal). Thread-safe.
    void report(std::string error);

  protected:
    worker_core(redis_config config, worker_options options);
    virtual ~worker_core();

    // Called with mutex_ held.
    virtual bool has_queued() const = 0;
    /// Moves the next run of queued operations into the owner's batch; false when none.
    virtual bool take_run() = 0;
    // Called on the thread, without mutex_.
    virtual void process_run(session& s) = 0;
    virtual std::string on_connect(session& s) = 0;
    virtual void background(session& s) = 0;
    virtual clock::time_point background_due() const = 0;

    const worker_options& options() const noexcept { return options_; }
    std::mutex& queue_mutex() noexcept { return mutex_; }
    bool stopping_locked() const noexcept { return stopping_; }
    void notify() { wake_.notify_one(); }

  private:
    friend class cg::redis::session;

    void run();
    clock::time_point next_wake() const;
    void maintain();
    void try_connect();
    void schedule_reconnect(const std::string& error, bool slow = false);
    void lost(const std::string& error, bool slow = false);
    void mark_ok(bool exchanged);
    std::vector<reply_ptr> pipeline(const std::vector<redis_command>& commands,
                                    clock::time_point deadline, std::string& error);

    const worker_options options_;

    // --- shared with the callers' threads (mutex_) ---
    std::mutex mutex_;
    std::condition_variable wake_;
    bool started_ = false;
    bool stopping_ = false;
    std::mutex join_mutex_;
    std::thread thread_;

    mutable std::mutex status_mutex_;
    worker_status status_;

    // --- the thread's own ---
    redis_link link_;
    session session_;
    clock::time_point next_connect_{};
    clock::duration backoff_;
    clock::time_point last_ok_{};
    bool connecting_ = false;  ///< in on_connect: a reply does not make the worker up yet
};

}  // namespace detail

/// One thread that owns one Redis connection and works through a bounded queue of `Op`s, so
/// that callers never block on Redis (DESIGN §4 rules: no Redis round trip on the hot path).
/// The thread connects (AUTH, SELECT, then the handler's on_connect, e.g. SCRIPT LOAD),
/// reconnects with a backoff from first_backoff to max_backoff, pings an idle connection, and
/// hands runs of queued operations to the handler in queue order together with the session.
/// A handler call always comes, connected or not; what an operation does while Redis is down
/// (fail, keep for later, journal) is the handler's choice. hiredis's writes cannot raise
/// SIGPIPE on the thread. The worker logs nothing: status() says what is wrong.
///
/// A batch of commands (say HINCRBY and PFADD for a minute of page views) is one `Op` whose
/// handler pipelines them; many small operations of one kind can be joined into one run
/// (handler::joins) to share one round trip.
///
/// `Op` must be movable. submit() and status() are thread-safe. The handler must outlive the
/// worker; it is called on the worker's thread only, one call at a time.
template <class Op>
class worker final : public detail::worker_core {
  public:
    /// What the owner does on the worker's thread.
    class handler {
      public:
        virtual ~handler() = default;
        /// Does a run of operations (1 to max_batch, in queue order). Must not throw.
        virtual void process(std::span<Op> run, session& s) = 0;
        /// Whether `next` joins a run that starts with `first` (queued right after it).
        /// By default every operation is a run of its own. Called with the queue locked:
        /// look at the two operations only.
        virtual bool joins(const Op& first, const Op& next) const {
            static_cast<void>(first);
            static_cast<void>(next);
            return false;
        }
        /// After every connect (AUTH and SELECT done): e.g. SCRIPT LOAD. Returns "" or what
        /// went wrong; then the connection is dropped and retried after the backoff.
        virtual std::string on_connect(session& s) {
            static_cast<void>(s);
            return {};
        }
        /// Work of the owner's own (e.g. a replay), called after every wake-up except while
        /// stopping, connected or not.
        virtual void background(session& s) { static_cast<void>(s); }
        /// When background() next wants to run; time_point::max() when it has nothing to do.
        /// Called with the queue locked: must be cheap and touch thread-owned state only.
        virtual clock::time_point background_due() const { return clock::time_point::max(); }
    };

    /// Does not connect yet (start() does). `h` must outlive the worker.
    worker(redis_config config, worker_options options, handler& h)
        : worker_core(std::move(config), options), handler_(h) {}
    /// stop(): queued operations are handed to the handler first.
    ~worker() override { stop(); }

    /// Queues `op`, which is moved from only when the result is `queued`; otherwise the
    /// caller still holds it (and answers its caller at once). Thread-safe.
    submit_result submit(Op& op) {
        {
            const std::lock_guard lock{queue_mutex()};
            if (stopping_locked()) {
                return submit_result::stopped;
            }
            if (queue_.size() >= options().queue_limit) {
                return submit_result::full;
            }
            queue_.push_back(std::move(op));
        }
        notify();
        return submit_result::queued;
    }

  private:
    bool has_queued() const override { return !queue_.empty(); }

    bool take_run() override {
        if (queue_.empty()) {
            return false;
        }
        run_.push_back(std::move(queue_.front()));
        queue_.pop_front();
        while (!queue_.empty() && run_.size() < options().max_batch &&
               handler_.joins(run_.front(), queue_.front())) {
            run_.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        return true;
    }

    void process_run(session& s) override {
        handler_.process(std::span<Op>{run_}, s);
        run_.clear();
    }

    std::string on_connect(session& s) override { return handler_.on_connect(s); }
    void background(session& s) override { handler_.background(s); }
    clock::time_point background_due() const override { return handler_.background_due(); }

    handler& handler_;
    std::deque<Op> queue_;  ///< mutex
    std::vector<Op> run_;   ///< the thread's: the run being processed
};

}  // namespace cg::redis
