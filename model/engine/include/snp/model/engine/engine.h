// The simulation engine (DESIGN.md "Simulation engine"): agents - host threads, vCPUs, the
// PSP's callers - run as fibers on one OS thread, and only the engine decides who runs next.
// Every kern:: access (Shared<T> load/store, lock/unlock, SRCU, kref, completion) is a
// scheduling point: the agent stops before the access and the strategy picks the next agent.
// One seed gives one schedule; the choices made are written as a short replay string that
// reproduces the run exactly.
//
// CPU RMP instructions are points too (Engine::watch); a plain load used twice may be
// reloaded (kern::Plain), which the engine explores as a choice; plain accesses in flight at
// the same time as a conflicting one are data races (KCSAN-like). Strategies: random, PCT,
// bounded exhaustive search (Explorer) and replay. Each point costs cycles (cost_of).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>
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
  Dfs,     ///< follow `replay` as a forced prefix, then the default choice (see Explorer)
};
std::string_view to_string(Strategy s);

struct Options {
  Strategy strategy = Strategy::Random;
  std::uint64_t seed = 1;
  unsigned switch_one_in = 4;     ///< Random: 1/N chance to switch at a point
  std::string replay;             ///< Replay: the string a run printed
  unsigned pct_depth = 2;         ///< Pct: the bug depth d (d - 1 priority change points)
  /// Pct: the run length k the change points are drawn from, counted in scheduling choices
  /// (RunResult::scheduling_choices() of a probe run).
  std::uint64_t pct_steps = 1000;
  std::uint64_t max_steps = 1'000'000;
  /// KCSAN-like: report plain accesses that are in flight at the same time as a conflicting one.
  bool data_races = true;
  /// Explore compiler reloads of plain loads (kern::Plain); off: the register value is used.
  bool reloads = true;
};

/// One decision the run made: `n` options, the one taken, the one a run without preemption
/// takes (the running agent, or "no reload"). Exhaustive search backtracks over these.
struct ChoicePoint {
  std::uint8_t n = 0;
  std::uint8_t chosen = 0;
  std::uint8_t fallback = 0;  ///< the non-preempting option
  bool reload = false;         ///< a reload choice, not a scheduling one
  /// Taking another option than the fallback preempts an agent that could go on (or
  /// reloads); false when the agent that ran last cannot go on, so any choice is free.
  bool preemptive = true;
};

/// One scheduling point as it happened.
struct TraceEvent {
  std::uint64_t step = 0;
  std::uint64_t cycle = 0;       ///< simulated time when the access happens
  std::uint32_t agent = 0;       ///< index into the run's agents
  kern::PointKind kind{};
  std::string object;            ///< the kernel name of the variable/lock/kref
  std::string detail;            ///< what the access did: RMP entries before/after, a reload, ...
  std::string_view function;     ///< the kernel function it happened in (kern::FunctionScope); "" outside
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
  std::vector<ChoicePoint> points;  ///< every decision, in order (Dfs backtracks over them)
  /// (RMP instruction number, step): where each RMP instruction of the run happened, so an
  /// RMP detector finding can be placed on the timeline.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> rmp_steps;

  /// The points where more than one agent could run (Pct's k).
  std::uint64_t scheduling_choices() const {
    std::uint64_t n = 0;
    for (const ChoicePoint& c : points) n += c.reload ? 0U : 1U;
    return n;
  }

  /// ftrace-like lines: "<step> <agent> [cycle] <function> <event> <object>  <detail>" - the
  /// step numbers findings cite.
  std::string text() const;
  /// FNV-1a over the trace text: equal hashes, equal traces.
  std::uint64_t hash() const;
};

/// Cycles a point costs (documented in docs/engine.md).
std::uint64_t cost_of(kern::PointKind k);

/// Bounded exhaustive search (DESIGN.md: preemption bound): stateless, by re-execution. Each
/// schedule is a forced prefix of choices followed by non-preempting defaults; after a run,
/// next() backtracks to the deepest choice with an untried option whose preemptions stay
/// within the bound. A switch away from an agent that could go on, and a reload, each count
/// as one preemption.
class Explorer {
 public:
  explicit Explorer(unsigned preemption_bound) : bound_(preemption_bound) {}
  /// The prefix (a replay string) for the next schedule; nullopt when the space is exhausted.
  /// Call with the previous run's result (nullptr before the first run).
  std::optional<std::string> next(const RunResult* last);
  std::uint64_t schedules() const { return schedules_; }

 private:
  unsigned bound_;
  std::uint64_t schedules_ = 0;
  bool started_ = false;
};

/// The replay-string codec (run-length encoded choices: "a12b1a3").
std::string encode_choices(const std::vector<std::uint8_t>& choices);
/// Bounds on what a replay string may ask for: its length, and the choices it expands to (a
/// run of the catalogue makes a few hundred; a string of long run lengths must not allocate
/// gigabytes).
inline constexpr std::size_t kMaxReplayText = 64 * 1024;
inline constexpr std::size_t kMaxReplayChoices = 1 << 20;
/// nullopt for a string that is not letters with optional run lengths, or past the bounds.
std::optional<std::vector<std::uint8_t>> decode_choices(std::string_view s);

}  // namespace snplab::model::engine
namespace snplab::model {
class Rmp;
}
namespace snplab::model::engine {

class Engine final : public kern::SchedHook {
 public:
  Engine(kern::Sched& sched, Options opts);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Runs the agents to completion (or deadlock, or max_steps) under the strategy. Installs
  /// itself as the Sched hook for the run and removes itself afterwards.
  RunResult run(std::vector<Agent> agents);

  /// Makes the CPU RMP instructions on `rmp` scheduling points and writes every entry an
  /// instruction or firmware command changes into the trace (before/after), for run().
  void watch(model::Rmp& rmp);

  void on_point(const kern::Point& p) override;
  bool block_until(const kern::Point& p, bool (*ready)(const void*), const void* arg) override;
  bool choose_reload(const kern::Point& p) override;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace snplab::model::engine
