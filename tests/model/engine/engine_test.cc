// The simulation engine on small programs of kern:: primitives: it finds the interleavings
// that matter, one seed gives one trace, a replay string reproduces a run byte for byte, a
// lock-order deadlock is reported and unwound.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>

#include <fmt/format.h>

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

// A data race reads the way KCSAN reports one: the title names both functions in lexical
// order, then each access with its agent, step and backtrace. Trace events carry the function
// they happened in, and the text trace prints the step numbers the finding cites.
TEST(Engine, DataRace_ReportedLikeKcsan_WithFunctionsAndSteps) {
  kern::Sched sched;
  kern::Shared<int> x(sched, "vcpu->arch.regs", 0);
  bool found = false;
  for (std::uint64_t seed = 1; seed <= 64 && !found; ++seed) {
    Options o;
    o.seed = seed;
    o.switch_one_in = 2;
    Engine e(sched, o);
    const RunResult r = e.run({{"writer",
                                [&] {
                                  const kern::FunctionScope outer(sched, "kvm_vcpu_ioctl");
                                  const kern::FunctionScope inner(sched, "kvm_arch_vcpu_ioctl_set_regs");
                                  x.store(1);
                                }},
                               {"reader", [&] {
                                  const kern::FunctionScope fs(sched, "sev_es_sync_vmsa");
                                  (void)x.load();
                                }}});
    for (const TraceEvent& ev : r.trace) {
      EXPECT_EQ(ev.function, r.agent_names[ev.agent] == "writer" ? "kvm_arch_vcpu_ioctl_set_regs" : "sev_es_sync_vmsa");
    }
    for (const kern::KernelFinding& f : r.findings) {
      if (f.kind != FindingKind::DataRace) continue;
      found = true;
      EXPECT_EQ(f.message.rfind("BUG: KCSAN: data-race in kvm_arch_vcpu_ioctl_set_regs / sev_es_sync_vmsa: ", 0), 0u)
          << f.message;
      EXPECT_NE(f.message.find("write to 'vcpu->arch.regs' by writer at step"), std::string::npos) << f.message;
      EXPECT_NE(f.message.find("kvm_arch_vcpu_ioctl_set_regs <- kvm_vcpu_ioctl"), std::string::npos) << f.message;
      EXPECT_NE(f.message.find("read to 'vcpu->arch.regs' by reader at step"), std::string::npos) << f.message;
      ASSERT_EQ(f.steps.size(), 2u);
      for (const std::uint64_t st : f.steps) {
        EXPECT_NE(r.text().find(fmt::format("{:>4} ", st)), std::string::npos) << r.text();
      }
    }
  }
  EXPECT_TRUE(found);
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
      EXPECT_EQ(r.findings.back().kind, snplab::model::FindingKind::Deadlock);
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

/// Two agents, two marked loads each of different variables: no races, six interleavings.
struct TwoByTwo {
  kern::Sched sched;
  kern::Shared<int> x{sched, "x", 0}, y{sched, "y", 0}, u{sched, "u", 0}, v{sched, "v", 0};
  RunResult run(const Options& o) {
    Engine e(sched, o);
    return e.run({{"a", [this] { (void)x.read_once(), (void)y.read_once(); }},
                  {"b", [this] { (void)u.read_once(), (void)v.read_once(); }}});
  }
};

/// The order of the points in a trace, as "xyuv" letters.
std::string order_of(const RunResult& r) {
  std::string o;
  for (const TraceEvent& e : r.trace) o += e.object;
  return o;
}

TEST(Explorer, Unbounded_VisitsEveryInterleavingOfATinyProgramAndStops) {
  TwoByTwo p;
  Explorer ex(16);
  std::set<std::string> orders;
  std::optional<RunResult> last;
  std::uint64_t runs = 0;
  while (auto prefix = ex.next(last ? &*last : nullptr)) {
    Options o;
    o.strategy = Strategy::Dfs;
    o.replay = *prefix;
    last = p.run(o);
    EXPECT_FALSE(last->replay_diverged) << *prefix;
    orders.insert(order_of(*last));
    ASSERT_LT(++runs, 1000u) << "the search does not end";
  }
  // C(4, 2) = 6 ways to interleave two sequences of two points.
  EXPECT_EQ(orders, (std::set<std::string>{"xyuv", "xuyv", "xuvy", "uxyv", "uxvy", "uvxy"}));
  EXPECT_EQ(ex.schedules(), runs);
}

TEST(Explorer, PreemptionBoundZero_OnlyRunsAgentsToCompletion) {
  TwoByTwo p;
  Explorer ex(0);
  std::set<std::string> orders;
  std::optional<RunResult> last;
  while (auto prefix = ex.next(last ? &*last : nullptr)) {
    Options o;
    o.strategy = Strategy::Dfs;
    o.replay = *prefix;
    last = p.run(o);
    orders.insert(order_of(*last));
  }
  EXPECT_EQ(orders, (std::set<std::string>{"xyuv", "uvxy"}));
}

/// A depth-2 bug (Burckhardt et al.): b's read must come after a's first write and before its
/// second, two ordering constraints; a has padding points around them.
struct Depth2 {
  kern::Sched sched;
  kern::Shared<int> x{sched, "x", 0}, pad{sched, "pad", 0};
  int seen = -1;
  RunResult run(const Options& o) {
    x.write_once(0);
    Engine e(sched, o);
    RunResult r = e.run({{"a",
                          [this] {
                            for (int i = 0; i < 4; ++i) (void)pad.read_once();
                            x.write_once(1);
                            for (int i = 0; i < 4; ++i) (void)pad.read_once();
                            x.write_once(2);
                          }},
                         {"b", [this] { seen = x.read_once(); }}});
    return r;
  }
};

TEST(Engine, Pct_FindsADepthTwoBugAtLeastAsOftenAsItsGuarantee) {
  Depth2 p;
  Options probe;
  probe.strategy = Strategy::Pct;
  probe.pct_depth = 1;
  const std::uint64_t k = p.run(probe).steps;  // 11 points
  auto hits = [&](unsigned depth) {
    int n = 0;
    for (std::uint64_t seed = 1; seed <= 400; ++seed) {
      Options o;
      o.strategy = Strategy::Pct;
      o.pct_depth = depth;
      o.pct_steps = k;
      o.seed = seed;
      (void)p.run(o);
      n += p.seen == 1 ? 1 : 0;
    }
    return n;
  };
  // PCT's guarantee for n agents, k steps, depth d: probability >= 1 / (n k^(d-1)).
  const int d2 = hits(2);
  EXPECT_GE(static_cast<double>(d2) / 400.0, 1.0 / (2.0 * static_cast<double>(k))) << d2 << " of 400";
  // Depth 1 (priorities only, no change point) runs each agent to the end: never in between.
  EXPECT_EQ(hits(1), 0);
}

TEST(Engine, Reload_ExploredBothWays_AndReplayed) {
  kern::Sched sched;
  kern::Shared<int> ptr{sched, "ptr", 1};
  std::set<std::pair<int, int>> seen;
  std::string reloaded_replay;
  for (std::uint64_t seed = 1; seed <= 64; ++seed) {
    ptr.write_once(1);
    int first = 0, second = 0;
    Options o;
    o.seed = seed;
    o.switch_one_in = 2;
    Engine e(sched, o);
    const RunResult r = e.run({{"reader",
                                [&] {
                                  kern::Plain<int> p = ptr.load_plain();
                                  first = p.use();
                                  second = p.use();
                                }},
                               {"writer", [&] { ptr.store(2); }}});
    seen.insert({first, second});
    if (first == 1 && second == 2) reloaded_replay = r.replay;
  }
  // The register value (1, 1) or (2, 2), and the reload that sees the store in between (1, 2).
  EXPECT_TRUE(seen.contains({1, 2}));
  EXPECT_TRUE(seen.contains({1, 1}));
  ASSERT_FALSE(reloaded_replay.empty());
  ptr.write_once(1);
  int first = 0, second = 0;
  Options r;
  r.strategy = Strategy::Replay;
  r.replay = reloaded_replay;
  Engine e(sched, r);
  (void)e.run({{"reader",
                [&] {
                  kern::Plain<int> p = ptr.load_plain();
                  first = p.use();
                  second = p.use();
                }},
               {"writer", [&] { ptr.store(2); }}});
  EXPECT_EQ(std::make_pair(first, second), std::make_pair(1, 2));
  // With reloads off the register value is always used.
  Options off;
  off.reloads = false;
  for (std::uint64_t seed = 1; seed <= 32; ++seed) {
    ptr.write_once(1);
    off.seed = seed;
    Engine e2(sched, off);
    (void)e2.run({{"reader",
                   [&] {
                     kern::Plain<int> p = ptr.load_plain();
                     first = p.use();
                     second = p.use();
                   }},
                  {"writer", [&] { ptr.store(2); }}});
    EXPECT_EQ(first, second);
  }
}

TEST(Engine, DataRace_PlainConflictReported_MarkedOrLockedNot) {
  auto races = [](auto&& reader, auto&& writer, kern::Sched& sched) {
    int n = 0;
    for (std::uint64_t seed = 1; seed <= 64; ++seed) {
      Options o;
      o.seed = seed;
      o.switch_one_in = 2;
      Engine e(sched, o);
      const RunResult r = e.run({{"r", reader}, {"w", writer}});
      for (const auto& f : r.findings) {
        if (f.kind == snplab::model::FindingKind::DataRace) {
          ++n;
          EXPECT_EQ(f.steps.size(), 2u);
        }
      }
    }
    return n;
  };
  kern::Sched sched;
  kern::Shared<int> v{sched, "v", 0};
  kern::Mutex m(sched, "m");
  EXPECT_GT(races([&] { (void)v.load(); }, [&] { v.store(1); }, sched), 0);
  EXPECT_GT(races([&] { (void)v.read_once(); }, [&] { v.store(1); }, sched), 0);  // plain/marked: still a race
  EXPECT_EQ(races([&] { (void)v.read_once(); }, [&] { v.write_once(1); }, sched), 0);
  EXPECT_EQ(races([&] { (void)v.load(); }, [&] { (void)v.load(); }, sched), 0);  // two reads
  EXPECT_EQ(races(
                [&] {
                  kern::Guard g(m);
                  (void)v.load();
                },
                [&] {
                  kern::Guard g(m);
                  v.store(1);
                },
                sched),
            0);
}

}  // namespace
}  // namespace snplab::model::engine

namespace snplab::model::kern {
namespace {

// lockdep, without the engine: agent 1 takes A then B; later agent 2 takes B then A. No
// schedule deadlocked, but the order is inverted: lockdep's "possible circular locking
// dependency", reported once, naming both classes.
TEST(Lockdep, InvertedOrderAcrossAgents_ReportedWithoutADeadlock) {
  Sched s;
  Mutex a(s, "kvm->lock"), b(s, "kvm->slots_lock");
  s.set_current(1);
  a.lock();
  b.lock();
  b.unlock();
  a.unlock();
  EXPECT_TRUE(s.findings().empty());
  s.set_current(2);
  b.lock();
  a.lock();
  a.unlock();
  b.unlock();
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].kind, snplab::model::FindingKind::LockdepCircularDependency);
  EXPECT_NE(s.findings()[0].message.find("acquire 'kvm->lock' while holding 'kvm->slots_lock'"), std::string::npos)
      << s.findings()[0].message;
  // The same order again is not a new report.
  b.lock();
  a.lock();
  a.unlock();
  b.unlock();
  EXPECT_EQ(s.findings().size(), 1u);
}

TEST(Lockdep, SameOrderEverywhere_Silent_AssertHeld) {
  Sched s;
  Mutex a(s, "kvm->lock"), b(s, "kvm->slots_lock");
  for (AgentId agent : {1u, 2u, 1u}) {
    s.set_current(agent);
    a.lock();
    b.lock();
    lockdep_assert_held(b, "kvm_gmem_populate");
    EXPECT_TRUE(s.holds("kvm->slots_lock"));
    b.unlock();
    a.unlock();
  }
  EXPECT_TRUE(s.findings().empty());
  EXPECT_FALSE(s.holds("kvm->slots_lock"));
  lockdep_assert_held(b, "kvm_gmem_populate");
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].kind, snplab::model::FindingKind::LockdepAssertHeld);
  EXPECT_NE(s.findings()[0].message.find("kvm_gmem_populate(): lockdep_assert_held(&kvm->slots_lock)"),
            std::string::npos)
      << s.findings()[0].message;
}

}  // namespace
}  // namespace snplab::model::kern

namespace snplab::model::engine {
namespace {

// A replay string is bounded before anything is allocated: at most kMaxReplayText characters
// and kMaxReplayChoices choices, however the run lengths add up.
TEST(ReplayCodec, DecodeIsBounded_AndRoundTrips) {
  const std::vector<std::uint8_t> c = {0, 0, 0, 1, 0, 2, 2};
  ASSERT_TRUE(decode_choices(encode_choices(c)));
  EXPECT_EQ(*decode_choices(encode_choices(c)), c);
  const auto full = decode_choices(fmt::format("a{}", kMaxReplayChoices));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->size(), kMaxReplayChoices);
  EXPECT_FALSE(decode_choices(fmt::format("a{}", kMaxReplayChoices + 1)));
  EXPECT_FALSE(decode_choices(fmt::format("a{}b1", kMaxReplayChoices)));
  std::string many;
  for (int i = 0; i < 700; ++i) many += "a9999999";  // 5.6 KB asking for 7 billion choices
  EXPECT_FALSE(decode_choices(many));
  EXPECT_FALSE(decode_choices(std::string(kMaxReplayText + 1, 'a')));
  EXPECT_TRUE(decode_choices(std::string(kMaxReplayText, 'a')));
  EXPECT_FALSE(decode_choices("a0"));
  EXPECT_FALSE(decode_choices("A"));
  EXPECT_FALSE(decode_choices("a99999999999999999999999"));  // past 2^64
}

}  // namespace
}  // namespace snplab::model::engine
