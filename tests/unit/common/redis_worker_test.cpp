// The worker without a Redis server: queue bound, runs, stop and status. Its connection
// handling against a real server is in tests/integration/redis/worker_test.cpp.
#include "redis/worker.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/eventually.hpp"
#include "support/temp_dir.hpp"

namespace cg::redis {
namespace {

using namespace std::chrono_literals;

/// Records what it is handed; an int operation "joins" a run when both are even.
class recorder : public worker<int>::handler {
  public:
    void process(std::span<int> run, session& s) override {
        const std::lock_guard lock{mutex_};
        runs_.emplace_back(run.begin(), run.end());
        connected_.push_back(s.connected());
        std::string error;
        replies_.push_back(s.pipeline({{"PING"}}, s.deadline(), error).size());
        errors_.push_back(error);
        command_answered_.push_back(s.command({"PING"}).has_value());
    }
    bool joins(const int& first, const int& next) const override {
        return first % 2 == 0 && next % 2 == 0;
    }

    std::vector<std::vector<int>> runs() const {
        const std::lock_guard lock{mutex_};
        return runs_;
    }
    std::vector<bool> connected() const {
        const std::lock_guard lock{mutex_};
        return connected_;
    }
    std::vector<std::size_t> replies() const {
        const std::lock_guard lock{mutex_};
        return replies_;
    }
    std::vector<std::string> errors() const {
        const std::lock_guard lock{mutex_};
        return errors_;
    }
    std::vector<bool> command_answered() const {
        const std::lock_guard lock{mutex_};
        return command_answered_;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<std::vector<int>> runs_;
    std::vector<bool> connected_;
    std::vector<std::size_t> replies_;
    std::vector<std::string> errors_;
    std::vector<bool> command_answered_;
};

class RedisWorker : public ::testing::Test {
  protected:
    /// A socket nobody listens on: every connect fails at once.
    redis_config absent() const {
        redis_config c;
        c.socket = (dir_ / "none.sock").string();
        c.connect_timeout = 200ms;
        return c;
    }

    cg::test::temp_dir dir_{"cg-worker"};
    recorder handler_;
};

TEST_F(RedisWorker, RefusesBeyondTheQueueLimit) {
    worker_options options;
    options.queue_limit = 3;
    worker<int> w{absent(), options, handler_};
    std::vector<int> ops{1, 3, 5, 7};

    EXPECT_EQ(w.submit(ops[0]), submit_result::queued);
    EXPECT_EQ(w.submit(ops[1]), submit_result::queued);
    EXPECT_EQ(w.submit(ops[2]), submit_result::queued);
    EXPECT_EQ(w.submit(ops[3]), submit_result::full);

    w.stop();
    EXPECT_EQ(handler_.runs(), (std::vector<std::vector<int>>{{1}, {3}, {5}}));
}

TEST_F(RedisWorker, FullQueueTakesWorkAgainOnceDrained) {
    worker_options options;
    options.queue_limit = 1;
    worker<int> w{absent(), options, handler_};
    int first = 1;
    int second = 3;
    ASSERT_EQ(w.submit(first), submit_result::queued);
    ASSERT_EQ(w.submit(second), submit_result::full);

    w.start();

    EXPECT_TRUE(cg::test::eventually([&] { return handler_.runs().size() == 1; }));
    EXPECT_EQ(w.submit(second), submit_result::queued);
    EXPECT_TRUE(cg::test::eventually([&] { return handler_.runs().size() == 2; }));
}

TEST_F(RedisWorker, RefusesAfterStopAndLeavesTheOperationWithTheCaller) {
    struct text_handler : worker<std::string>::handler {
        void process(std::span<std::string>, session&) override {}
    } h;
    worker<std::string> w{absent(), {}, h};
    w.start();
    w.stop();
    std::string op = "a long operation, not a short string, so a move would empty it";

    EXPECT_EQ(w.submit(op), submit_result::stopped);
    EXPECT_EQ(op, "a long operation, not a short string, so a move would empty it");
}

TEST_F(RedisWorker, JoinsRunsUpToMaxBatchInQueueOrder) {
    worker_options options;
    options.max_batch = 3;
    worker<int> w{absent(), options, handler_};
    for (int op : {2, 4, 6, 8, 1, 10, 12, 3}) {
        ASSERT_EQ(w.submit(op), submit_result::queued);
    }

    w.stop();  // never started: one pass hands everything over

    EXPECT_EQ(handler_.runs(), (std::vector<std::vector<int>>{{2, 4, 6}, {8}, {1}, {10, 12}, {3}}));
}

TEST_F(RedisWorker, HandsOverWorkWithADisconnectedSessionWhileRedisIsDown) {
    worker<int> w{absent(), {}, handler_};
    w.start();
    int op = 1;

    ASSERT_EQ(w.submit(op), submit_result::queued);

    ASSERT_TRUE(cg::test::eventually([&] { return handler_.runs().size() == 1; }));
    EXPECT_EQ(handler_.connected(), std::vector<bool>{false});
    EXPECT_EQ(handler_.replies(), std::vector<std::size_t>{0});
    EXPECT_EQ(handler_.errors(), std::vector<std::string>{"not connected"});
    EXPECT_EQ(handler_.command_answered(), std::vector<bool>{false});
}

TEST_F(RedisWorker, StatusSaysDownAndWhyWithoutSecrets) {
    auto config = absent();
    config.password = "s3cret-pass";
    worker<int> w{config, {}, handler_};
    EXPECT_FALSE(w.status().up);
    EXPECT_EQ(w.status().last_error, "");

    w.start();

    const std::string expected = "redis unix socket " + config.socket + ": cannot connect";
    ASSERT_TRUE(cg::test::eventually([&] { return !w.status().last_error.empty(); }));
    const auto st = w.status();
    EXPECT_FALSE(st.up);
    EXPECT_EQ(st.last_error.substr(0, expected.size()), expected) << st.last_error;
    EXPECT_EQ(st.last_error.find("s3cret"), std::string::npos) << st.last_error;
    EXPECT_FALSE(st.slow);
}

/// A Unix socket that takes connections (the kernel's backlog) but never answers: a server
/// that is there but silent.
class silent_server {
  public:
    explicit silent_server(const std::filesystem::path& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path.string().copy(addr.sun_path, sizeof addr.sun_path - 1);
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(fd_, 16) != 0) {
            ADD_FAILURE() << "cannot listen on " << path;
        }
    }
    ~silent_server() { ::close(fd_); }
    silent_server(const silent_server&) = delete;
    silent_server& operator=(const silent_server&) = delete;

  private:
    int fd_ = -1;
};

TEST_F(RedisWorker, ASilentServerIsReportedAsSlowNotUnreachable) {
    auto config = absent();
    config.socket = (dir_ / "silent.sock").string();
    config.command_timeout = 100ms;
    const silent_server server{config.socket};
    worker<int> w{config, {}, handler_};
    w.start();
    int op = 1;
    ASSERT_EQ(w.submit(op), submit_result::queued);

    ASSERT_TRUE(cg::test::eventually([&] { return !handler_.runs().empty(); }));
    EXPECT_TRUE(cg::test::eventually([&] { return w.status().slow; }));
    const auto st = w.status();
    EXPECT_FALSE(st.up);
    EXPECT_EQ(st.last_error, "redis unix socket " + config.socket +
                                 ": slow: no reply within 100 ms (connection open)");
    EXPECT_EQ(handler_.errors().front(), "no reply within 100 ms");
}

TEST_F(RedisWorker, ReportSetsTheLastErrorOnly) {
    worker<int> w{absent(), {}, handler_};

    w.report("journal full");

    EXPECT_EQ(w.status().last_error, "journal full");
    EXPECT_FALSE(w.status().up);
}

TEST_F(RedisWorker, DestructionHandsQueuedWorkOver) {
    {
        worker<int> w{absent(), {}, handler_};
        w.start();
        for (int op : {1, 3, 5}) {
            ASSERT_EQ(w.submit(op), submit_result::queued);
        }
    }
    EXPECT_EQ(handler_.runs(), (std::vector<std::vector<int>>{{1}, {3}, {5}}));
}

TEST_F(RedisWorker, StartAndStopAreIdempotent) {
    worker<int> w{absent(), {}, handler_};
    w.start();
    w.start();
    w.stop();
    w.stop();
    w.start();  // after stop: does nothing
    int op = 1;
    EXPECT_EQ(w.submit(op), submit_result::stopped);
    EXPECT_TRUE(handler_.runs().empty());
}

}  // namespace
}  // namespace cg::redis
