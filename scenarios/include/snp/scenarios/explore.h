// Running a Scenario (scenario.h): one schedule (run_race), a set-up reused across schedules
// (PreparedRace), replay strings, and exploration - many schedules under one strategy, in
// parallel, with checkpoints (docs/engine.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snp/model/engine/engine.h"
#include "snp/scenarios/scenario.h"

namespace snplab::scenarios {

class Catalogue;

/// One schedule of a scenario under a profile with the engine options.
struct RaceRun {
  model::engine::RunResult run;
  bool found = false;   ///< the scenario's finding was raised (run.findings, RMP detectors included)
  std::vector<std::string> notes;         ///< what the guest and the VMM saw (exits, guest log)
  std::string error;    ///< set-up failed (then `run` is empty)
};
/// A fresh set-up and one schedule.
RaceRun run_race(const Scenario& s, std::string_view profile, const model::engine::Options& opts);

/// A scenario under one profile, set up once (host built, guest launched, certificate blobs
/// made). Each run() is one schedule; every run after the first starts from a snapshot of
/// the simulated backend taken after the set-up (api::sim_snapshot) instead of setting up
/// again, and gives what run_race() gives for the same options (tested). Exploration keeps
/// one per core.
class PreparedRace {
 public:
  /// nullptr with `*error` set when the profile does not fit or the set-up fails.
  static std::unique_ptr<PreparedRace> prepare(const Scenario& s, std::string_view profile, std::string* error);
  ~PreparedRace();
  PreparedRace(const PreparedRace&) = delete;
  PreparedRace& operator=(const PreparedRace&) = delete;
  RaceRun run(const model::engine::Options& opts);

 private:
  PreparedRace();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// "NAME/PROFILE/CHOICES": what `snplab scenario replay` takes.
std::string replay_string(const Scenario& s, std::string_view profile, const std::string& choices);
struct ParsedReplay {
  const Scenario* scenario = nullptr;
  std::string profile;
  std::string choices;
};
std::optional<ParsedReplay> parse_replay(const Catalogue& cat, std::string_view text, std::string* why);

/// Exploration of one scenario under one profile: many schedules, stop at the first finding.
struct ExploreProgress {
  std::uint64_t schedules = 0;
  std::uint64_t findings = 0;
  double seconds = 0;
};
struct ExploreOptions {
  model::engine::Strategy strategy = model::engine::Strategy::Pct;
  std::uint64_t seed = 1;          ///< random/pct: schedule i runs with seed + i
  std::uint64_t budget = 1000;     ///< schedules (this call; a resumed run adds to what it had)
  unsigned pct_depth = 2;
  unsigned preemption_bound = 2;   ///< dfs
  unsigned jobs = 1;               ///< random/pct: schedules in parallel (TBB); 0 = every core
  bool keep_going = false;         ///< count every finding instead of stopping at the first
  std::string checkpoint;          ///< file: written as the run goes and at the end
  bool resume = false;             ///< continue from `checkpoint`
  std::function<void(const ExploreProgress&)> progress;  ///< about once a second
  const std::atomic<bool>* stop = nullptr;               ///< set (e.g. by SIGINT) to stop early
  /// random/pct: when the schedules found nothing (or keep_going), an exhaustive pass after
  /// them - every schedule with at most `preemption_bound` preemptions, up to `dfs_budget`
  /// schedules - so a clean answer covers the bounded space too. Not with a checkpoint.
  bool then_dfs = false;
  std::uint64_t dfs_budget = 100000;
};
struct ExploreResult {
  std::uint64_t schedules = 0;     ///< run in all (a resumed run counts what it had)
  std::uint64_t findings = 0;      ///< schedules that raised the finding
  double seconds = 0;
  std::optional<RaceRun> first;    ///< the lowest-numbered schedule that raised it
  std::uint64_t first_index = 0;   ///< its number (1-based)
  double seconds_to_first = 0;
  bool exhausted = false;          ///< dfs (or then_dfs): the bounded space is covered
  std::uint64_t dfs_schedules = 0; ///< then_dfs: the exhaustive pass's share of `schedules`
  bool stopped = false;            ///< the stop flag ended it
  /// The finding was run once more from its replay string and gave the same trace; false
  /// is nondeterminism in the model (reported, never expected).
  bool reproduced = true;
  std::string error;
  bool input_error = false;        ///< `error` is about what the caller gave (a checkpoint file)
};
ExploreResult explore(const Scenario& s, std::string_view profile, const ExploreOptions& o);

}  // namespace snplab::scenarios
