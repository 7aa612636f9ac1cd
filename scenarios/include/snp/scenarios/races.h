// The race catalogue: each scenario sets up a simulated host under a
// kernel profile, hands the racing agents to the engine, and says which finding the buggy
// profile must produce and the fixed one must not. `snplab scenario` runs them.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "snp/model/engine/engine.h"

namespace snplab::scenarios {

struct RaceScenario {
  std::string_view name;
  std::string_view summary;
  std::string_view source;         ///< the thread or commit it comes from
  std::string_view agents;         ///< what runs on which agent
  std::string_view buggy_profile;
  std::string_view fixed_profile;
  model::FindingKind finding{};     ///< the finding kind the buggy profile must raise
  std::uint64_t buggy_budget = 0;  ///< PCT schedules within which the buggy profile must be found
  std::uint64_t fixed_bound = 0;   ///< PCT schedules the fixed profile is explored clean over
};

std::span<const RaceScenario> race_scenarios();
/// A scenario profile: a kernel profile name (`snplab profiles`), optionally followed by the
/// VMM switch "+vmm-cert-lock" (the VMM holds its certificate-file lock from the certificate
/// exit to the NOTIFY_DONE exit).
bool valid_profile(std::string_view profile);
const RaceScenario* find_race(std::string_view name);

/// One schedule of `s` under `profile` with the engine options (fresh host each run).
struct RaceRun {
  model::engine::RunResult run;
  bool found = false;   ///< the scenario's finding was raised (run.findings, RMP detectors included)
  std::vector<std::string> notes;         ///< what the guest and the VMM saw (exits, guest log)
  std::string error;    ///< set-up failed (then `run` is empty)
};
RaceRun run_race(const RaceScenario& s, std::string_view profile, const model::engine::Options& opts);

/// A scenario under one profile, set up once (host built, guest launched, certificate blobs
/// made). Each run() is one schedule; every run after the first starts from a snapshot of
/// the simulated backend taken after the set-up (api::sim_snapshot) instead of setting up
/// again, and gives what run_race() gives for the same options (tested). Exploration keeps
/// one per core.
class PreparedRace {
 public:
  /// nullptr with `*error` set when the profile does not fit or the set-up fails.
  static std::unique_ptr<PreparedRace> prepare(const RaceScenario& s, std::string_view profile, std::string* error);
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
std::string replay_string(const RaceScenario& s, std::string_view profile, const std::string& choices);
struct ParsedReplay {
  const RaceScenario* scenario = nullptr;
  std::string profile;
  std::string choices;
};
std::optional<ParsedReplay> parse_replay(std::string_view text, std::string* why);

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
};
struct ExploreResult {
  std::uint64_t schedules = 0;     ///< run in all (a resumed run counts what it had)
  std::uint64_t findings = 0;      ///< schedules that raised the finding
  double seconds = 0;
  std::optional<RaceRun> first;    ///< the lowest-numbered schedule that raised it
  std::uint64_t first_index = 0;   ///< its number (1-based)
  double seconds_to_first = 0;
  bool exhausted = false;          ///< dfs: the bounded space is covered
  bool stopped = false;            ///< the stop flag ended it
  /// The finding was run once more from its replay string and gave the same trace; false
  /// is nondeterminism in the model (reported, never expected).
  bool reproduced = true;
  std::string error;
};
ExploreResult explore(const RaceScenario& s, std::string_view profile, const ExploreOptions& o);

/// `snplab scenario ...`; returns the exit code.
int scenario_main(int argc, char** argv, std::FILE* out, std::FILE* err);

}  // namespace snplab::scenarios
