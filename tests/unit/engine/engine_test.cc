// The simulation engine on small programs of kern:: primitives: it finds the interleavings
// that matter, one seed gives one trace, a replay string reproduces a run byte for byte, a
// lock-order deadlock is reported and unwound.
#include <gtest/gtest.h>

#include <set>

#include "snp/model/engine/engine.h"
#include "snp/model/kern/sync.h"

namespace snplab::model::engine {
namespace {

/// Two agents increment one plain counter: a lost update needs a switch between a load and
/// the store of the other agent.
struct LostUpdate {
  kern::Sched sched;
  kern::Shared<int> counter{sched, "counter", 0};
  RunResult run(const Options& o) {
    counter.write_once(0);
    Engine e(sched, o);
    auto inc = [this] {
      const int v = counter.load();
      counter.store(v + 1);
    };
    return e.run({{"cpu0", inc}, {"cpu1", inc}});
  }
};

TEST(Engine, RandomStrategy_FindsTheLostUpdateAndTheCleanOrder) {
  LostUpdate p;
  std::set<int> finals;
  for (std::uint64_t seed = 1; seed <= 64; ++seed) {
    Options o;
    o.seed = seed;
    const RunResult r = p.run(o);
    EXPECT_EQ(r.steps, 4u);
    EXPECT_FALSE(r.deadlock);
    finals.insert(p.counter.peek());
  }
  EXPECT_EQ(finals, (std::set<int>{1, 2}));
}

TEST(Engine, ReplayString_ReproducesTheRunByteForByte) {
  LostUpdate p;
  for (std::uint64_t seed = 1; seed <= 64; ++seed) {
    Options o;
    o.seed = seed;
    const RunResult first = p.run(o);
    const int value = p.counter.peek();
    Options r;
    r.strategy = Strategy::Replay;
    r.replay = first.replay;
    const RunResult again = p.run(r);
    EXPECT_FALSE(again.replay_diverged) << first.replay;
    EXPECT_EQ(again.text(), first.text()) << "seed " << seed << " replay " << first.replay;
    EXPECT_EQ(p.counter.peek(), value);
    EXPECT_LE(first.replay.size(), 16u);
  }
}

TEST(Engine, SameSeed_SameTraceHash) {
  LostUpdate p;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    Options o;
    o.seed = seed;
    EXPECT_EQ(p.run(o).hash(), p.run(o).hash()) << "seed " << seed;
  }
}

TEST(Engine, TraceCarriesCyclesAndNames) {
  LostUpdate p;
  Options o;
  const RunResult r = p.run(o);
  ASSERT_EQ(r.trace.size(), 4u);
  EXPECT_EQ(r.trace.back().cycle, 4 * cost_of(kern::PointKind::PlainLoad));
  EXPECT_EQ(r.cycles, r.trace.back().cycle);
  EXPECT_NE(r.text().find("load"), std::string::npos) << r.text();
  EXPECT_NE(r.text().find("counter"), std::string::npos);
}

TEST(Engine, LockOrderInversion_DeadlockReportedAndUnwound) {
  kern::Sched sched;
  kern::Mutex a(sched, "lock_a"), b(sched, "lock_b");
  bool deadlocked = false, clean = false;
  for (std::uint64_t seed = 1; seed <= 200 && !(deadlocked && clean); ++seed) {
    Options o;
    o.seed = seed;
    o.switch_one_in = 2;
    Engine e(sched, o);
    const RunResult r = e.run({{"t0",
                                [&] {
                                  kern::Guard ga(a);
                                  kern::Guard gb(b);
                                }},
                               {"t1", [&] {
                                  kern::Guard gb(b);
                                  kern::Guard ga(a);
                                }}});
    if (r.deadlock) {
      deadlocked = true;
      ASSERT_FALSE(r.findings.empty());
      EXPECT_EQ(r.findings.back().kind, "deadlock");
    } else {
      clean = true;
    }
    EXPECT_FALSE(a.held()) << "unwinding released the locks";
    EXPECT_FALSE(b.held());
  }
  EXPECT_TRUE(deadlocked);
  EXPECT_TRUE(clean);
}

TEST(Engine, MalformedReplay_DivergesWithoutCrashing) {
  LostUpdate p;
  for (const char* bad : {"", "zz", "a0", "A1", "a99999999999", "b7a"}) {
    Options o;
    o.strategy = Strategy::Replay;
    o.replay = bad;
    const RunResult r = p.run(o);
    EXPECT_EQ(r.steps, 4u) << bad;
    if (std::string_view(bad) != "") {
      EXPECT_TRUE(r.replay_diverged) << bad;
    }
  }
}

}  // namespace
}  // namespace snplab::model::engine
