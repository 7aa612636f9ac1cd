// The simulation engine (DESIGN.md "Simulation engine"): agents - host threads, vCPUs, the
// PSP's callers - run as fibers on one OS thread, and only the engine decides who runs next.
// Every kern:: access (Shared<T> load/store, lock/unlock, SRCU, kref, completion) is a
// scheduling point: the agent stops before the access and the strategy picks the next agent.
// One seed gives one schedule; the choices made are written as a short replay string that
// reproduces the run exactly.
//
// First cut (issue 5 in progress): random and replay strategies, a cycle cost per point, a
// trace, deadlock detection. RMP entry accesses are not scheduling points yet.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "snp/model/kern/sched.h"

namespace snplab::model::engine {

/// One agent: a name for the trace and the code it runs.
struct Agent {
  std::string name;
  std::function<void()> body;
};

enum class Strategy : std::uint8_t {
  Random,  ///< at each point: stay with the running agent, or switch with probability 1/switch_one_in
  Replay,  ///< follow a replay string
  Pct,     ///< PCT (Burckhardt et al., ASPLOS 2010): random agent priorities, depth-1 change points
};

struct Options {
  Strategy strategy = Strategy::Random;
  std::uint64_t seed = 1;
  unsigned switch_one_in = 4;     ///< Random: 1/N chance to switch at a point
  std::string replay;             ///< Replay: the string a run printed
  unsigned pct_depth = 2;         ///< Pct: the bug depth d (d - 1 priority change points)
  std::uint64_t pct_steps = 1000; ///< Pct: the run length k the change points are drawn from
  std::uint64_t max_steps = 1'000'000;
};

/// One scheduling point as it happened.
struct TraceEvent {
  std::uint64_t step = 0;
  std::uint64_t cycle = 0;       ///< simulated time when the access happens
  std::uint32_t agent = 0;       ///< index into the run's agents
  kern::PointKind kind{};
  std::string object;            ///< the kernel name of the variable/lock/kref
};

struct RunResult {
  std::vector<TraceEvent> trace;
  std::vector<kern::KernelFinding> findings;  ///< the kern:: findings this run raised
  std::string replay;            ///< reproduces this run with Strategy::Replay
  std::uint64_t steps = 0;
  std::uint64_t cycles = 0;
  bool deadlock = false;         ///< every unfinished agent waits and none can go on
  bool replay_diverged = false;  ///< Replay: the string did not fit the run
  std::vector<std::string> agent_names;

  /// ftrace-like lines: "  <agent>  [cycle]  <event> <object>".
  std::string text() const;
  /// FNV-1a over the trace text: equal hashes, equal traces.
  std::uint64_t hash() const;
};

/// Cycles a point costs (documented in docs/engine.md).
std::uint64_t cost_of(kern::PointKind k);

class Engine final : public kern::SchedHook {
 public:
  Engine(kern::Sched& sched, Options opts);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Runs the agents to completion (or deadlock, or max_steps) under the strategy. Installs
  /// itself as the Sched hook for the run and removes itself afterwards.
  RunResult run(std::vector<Agent> agents);

  void on_point(const kern::Point& p) override;
  bool block_until(const kern::Point& p, bool (*ready)(const void*), const void* arg) override;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace snplab::model::engine
