// Issue 8 item 1: a decision's cost in Redis must not depend on how many decisions its
// consent id made before. Starts its own redis-server (tests/support), records 100,000
// decisions on one consent id, then measures decisions per second on that id against
// decisions on fresh ids, and prints both and their ratio (target: within 10%).
//
//   consent_store_bench [preload=100000] [measured=20000] [rounds=3]
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "consent/store.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace cg::consent;
using steady = std::chrono::steady_clock;

constexpr std::chrono::seconds retention{30LL * 24 * 3600};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

decision_event make_event(std::string consent_id, std::int64_t time_ms) {
    decision_event e;
    e.event_id = new_event_id();
    e.consent_id = std::move(consent_id);
    e.site = "shop.example";
    e.time_ms = time_ms;
    e.granted = category_set::all();
    e.policy_version = "3";
    e.banner_hash = std::string(64, 'b');
    e.kind = decision_kind::accept_all;
    e.lang = language::nb;
    return e;
}

/// Records `events` (queued at once, so they travel in full batches) and returns decisions
/// per second from the first call to the last callback. Exits when any is not stored.
double record_rate(store& s, std::vector<decision_event> events) {
    struct state {
        std::mutex m;
        std::condition_variable cv;
        std::size_t done = 0;
        std::size_t stored = 0;
    };
    auto st = std::make_shared<state>();
    const auto n = events.size();
    const auto start = steady::now();
    for (auto& e : events) {
        s.record(std::move(e), retention, [st](record_outcome o) {
            const std::lock_guard lock{st->m};
            ++st->done;
            st->stored += o == record_outcome::stored ? 1 : 0;
            st->cv.notify_all();
        });
    }
    std::unique_lock lock{st->m};
    st->cv.wait(lock, [&] { return st->done == n; });
    const std::chrono::duration<double> took = steady::now() - start;
    if (st->stored != n) {
        std::fprintf(stderr, "only %zu of %zu decisions stored: %s\n", st->stored, n,
                     s.status().last_error.c_str());
        std::exit(1);
    }
    return static_cast<double>(n) / took.count();
}

std::vector<decision_event> on_one_id(const std::string& id, std::size_t n) {
    std::vector<decision_event> v;
    v.reserve(n);
    const auto t = now_ms();
    for (std::size_t i = 0; i < n; ++i) {
        v.push_back(make_event(id, t));
    }
    return v;
}

std::vector<decision_event> on_fresh_ids(std::size_t n, std::size_t& next_id) {
    std::vector<decision_event> v;
    v.reserve(n);
    const auto t = now_ms();
    for (std::size_t i = 0; i < n; ++i) {
        v.push_back(make_event("Fresh" + std::to_string(100'000'000 + next_id++), t));
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t preload = argc > 1 ? std::stoul(argv[1]) : 100'000;
    const std::size_t measured = argc > 2 ? std::stoul(argv[2]) : 20'000;
    const int rounds = argc > 3 ? std::stoi(argv[3]) : 3;

    cg::test::redis_server redis;
    cg::test::temp_dir dir{"cg-bench"};
    redis_config config;
    config.socket = redis.socket_path().string();
    config.command_timeout = std::chrono::seconds{10};
    store s{config, {dir.path() / "journal.jsonl", 64ULL << 20}};
    s.start();

    const std::string busy = "BusyConsent000000000001";
    std::size_t next_id = 0;
    std::printf("warm-up: %.0f decisions/s on fresh ids\n",
                record_rate(s, on_fresh_ids(measured, next_id)));
    for (std::size_t done = 0; done < preload; done += 50'000) {
        const auto n = std::min<std::size_t>(50'000, preload - done);
        std::printf("preload %zu..%zu on one id: %.0f decisions/s\n", done, done + n,
                    record_rate(s, on_one_id(busy, n)));
    }

    double same_total = 0;
    double fresh_total = 0;
    for (int r = 0; r < rounds; ++r) {
        const auto same = record_rate(s, on_one_id(busy, measured));
        const auto fresh = record_rate(s, on_fresh_ids(measured, next_id));
        std::printf("round %d: one id with %zu+ decisions: %.0f/s, fresh ids: %.0f/s\n", r + 1,
                    preload, same, fresh);
        same_total += same;
        fresh_total += fresh;
    }
    const auto same = same_total / rounds;
    const auto fresh = fresh_total / rounds;
    std::printf("one id (history %zu+): %.0f decisions/s\n", preload, same);
    std::printf("fresh ids:            %.0f decisions/s\n", fresh);
    std::printf("ratio one-id/fresh:   %.3f (target >= 0.90)\n", same / fresh);
    const auto hlen = redis.command({"HLEN", "cg:consent:shop.example:" + busy}).integer;
    const auto llen = redis.command({"LLEN", "cg:history:shop.example:" + busy}).integer;
    std::printf("busy id: hash fields %lld, history items %lld\n", hlen, llen);
    return 0;
}
