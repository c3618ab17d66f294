// The generic Redis worker (common/include/redis/worker.hpp) against a real redis-server: the
// way analytics will use it, one operation per batch of commands.
#include "redis/worker.hpp"

#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/eventually.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

namespace cg::redis {
namespace {

using namespace std::chrono_literals;
using cg::test::redis_server;

constexpr auto deadline = 15s;

/// A batch of commands and where its integer replies go (empty when Redis was down or an
/// exchange failed).
struct batch {
    std::vector<std::vector<std::string>> commands;
    std::shared_ptr<std::promise<std::vector<long long>>> done;
};

/// Pipelines each batch; counts connects.
class batch_handler : public worker<batch>::handler {
  public:
    void process(std::span<batch> run, session& s) override {
        for (auto& b : run) {
            std::vector<redis_command> cmds;
            for (const auto& c : b.commands) {
                cmds.emplace_back(c.begin(), c.end());
            }
            std::string error;
            const auto replies = s.pipeline(cmds, s.deadline(), error);
            std::vector<long long> values;
            if (error.empty()) {
                for (const auto& r : replies) {
                    values.push_back(r->type == REDIS_REPLY_INTEGER ? r->integer : -1);
                }
            }
            b.done->set_value(std::move(values));
        }
    }
    std::string on_connect(session& s) override {
        static_cast<void>(s);
        ++connects;
        return {};
    }

    std::atomic<int> connects{0};
};

/// Submits `commands` as one batch and waits (bounded) for its replies.
std::optional<std::vector<long long>> run(worker<batch>& w,
                                          std::vector<std::vector<std::string>> commands) {
    batch b{std::move(commands), std::make_shared<std::promise<std::vector<long long>>>()};
    auto future = b.done->get_future();
    if (w.submit(b) != submit_result::queued) {
        return std::nullopt;
    }
    if (future.wait_for(deadline) != std::future_status::ready) {
        return std::nullopt;
    }
    return future.get();
}

redis_config config_for(const redis_server& redis) {
    redis_config c;
    c.socket = redis.socket_path().string();
    c.connect_timeout = 500ms;
    c.command_timeout = 2000ms;
    return c;
}

TEST(RedisWorker, PipelinesABatchOfCommands) {
    redis_server redis;
    batch_handler h;
    worker<batch> w{config_for(redis), {}, h};
    w.start();

    const auto replies = run(w, {{"HINCRBY", "cg:views:shop.example", "/", "1"},
                                 {"HINCRBY", "cg:views:shop.example", "/", "2"},
                                 {"PFADD", "cg:visitors:shop.example", "a", "b"}});

    EXPECT_EQ(replies, (std::vector<long long>{1, 3, 1}));
    EXPECT_EQ(redis.command({"PFCOUNT", "cg:visitors:shop.example"}).integer, 2);
    EXPECT_TRUE(w.status().up);
    EXPECT_EQ(w.status().last_error, "");
    EXPECT_EQ(h.connects, 1);
}

TEST(RedisWorker, ReconnectsAfterTheServerRestarts) {
    redis_server redis;
    batch_handler h;
    worker_options options;
    options.ping_interval = 100ms;
    worker<batch> w{config_for(redis), options, h};
    w.start();
    ASSERT_EQ(run(w, {{"INCR", "cg:n"}}), std::vector<long long>{1});

    redis.kill_hard();

    // The idle ping notices; work handed over meanwhile sees no connection.
    EXPECT_TRUE(cg::test::eventually([&] { return !w.status().up; }, deadline));
    const std::string where = "redis unix socket " + redis.socket_path().string() + ": ";
    EXPECT_EQ(w.status().last_error.substr(0, where.size()), where) << w.status().last_error;
    EXPECT_EQ(run(w, {{"INCR", "cg:n"}}), std::vector<long long>{});

    redis.restart();

    EXPECT_TRUE(cg::test::eventually([&] { return w.status().up; }, deadline));
    EXPECT_EQ(run(w, {{"INCR", "cg:n"}}), std::vector<long long>{1});  // no AOF: a fresh start
    EXPECT_EQ(h.connects, 2);
}

TEST(RedisWorker, ABatchThatFailsMidwayDropsTheConnectionAndReconnects) {
    redis_server redis;
    batch_handler h;
    auto config = config_for(redis);
    config.command_timeout = 300ms;
    worker<batch> w{config, {}, h};
    w.start();
    ASSERT_EQ(run(w, {{"INCR", "cg:n"}}), std::vector<long long>{1});

    // Writes wait while the server is paused: the batch cannot finish in time.
    redis.command({"CLIENT", "PAUSE", "1000", "WRITE"});
    EXPECT_EQ(run(w, {{"INCR", "cg:n"}}), std::vector<long long>{});
    EXPECT_NE(w.status().last_error.find("no reply within 300 ms"), std::string::npos)
        << w.status().last_error;

    EXPECT_TRUE(cg::test::eventually(
        [&] {
            return run(w, {{"EXISTS", "cg:n"}}) == std::vector<long long>{1};
        },
        deadline));
    EXPECT_TRUE(w.status().up);
    EXPECT_GE(h.connects, 2);
}

TEST(RedisWorker, ATimedOutBatchOnAnOpenConnectionIsReportedAsSlowNotUnreachable) {
    redis_server redis;
    batch_handler h;
    auto config = config_for(redis);
    config.command_timeout = 300ms;
    worker<batch> w{config, {}, h};
    w.start();
    ASSERT_EQ(run(w, {{"INCR", "cg:n"}}), std::vector<long long>{1});
    EXPECT_FALSE(w.status().slow);

    redis.command({"CLIENT", "PAUSE", "1500", "WRITE"});
    EXPECT_EQ(run(w, {{"INCR", "cg:n"}}), std::vector<long long>{});

    const auto st = w.status();
    EXPECT_TRUE(st.slow);
    EXPECT_EQ(st.last_error, "redis unix socket " + redis.socket_path().string() +
                                 ": slow: no reply within 300 ms (connection open)");
    EXPECT_TRUE(cg::test::eventually(
        [&] {
            return run(w, {{"EXISTS", "cg:n"}}) == std::vector<long long>{1};
        },
        deadline));
    EXPECT_FALSE(w.status().slow);
    EXPECT_TRUE(w.status().up);
}

TEST(RedisWorker, AnAbsentServerIsDownNotSlow) {
    cg::test::temp_dir dir{"cg-worker"};
    batch_handler h;
    redis_config config;
    config.socket = (dir.path() / "none.sock").string();
    worker<batch> w{config, {}, h};
    w.start();

    EXPECT_EQ(run(w, {{"INCR", "cg:n"}}), std::vector<long long>{});

    EXPECT_FALSE(w.status().up);
    EXPECT_FALSE(w.status().slow);
    EXPECT_NE(w.status().last_error.find("cannot connect"), std::string::npos);
}

TEST(RedisWorker, RefusedOnConnectIsRetried) {
    redis_server redis;
    struct refusing : batch_handler {
        std::string on_connect(session& s) override {
            batch_handler::on_connect(s);
            return connects == 1 ? "redis test: not ready yet" : "";
        }
    } h;
    worker<batch> w{config_for(redis), {}, h};
    w.start();

    EXPECT_TRUE(cg::test::eventually([&] { return w.status().up; }, deadline));
    EXPECT_EQ(h.connects, 2);
    EXPECT_EQ(w.status().last_error, "redis test: not ready yet");
}

}  // namespace
}  // namespace cg::redis
