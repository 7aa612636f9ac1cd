// The race catalogue (issue 5, in progress): each scenario sets up a simulated host under a
// kernel profile, hands the racing agents to the engine, and says which finding the buggy
// profile must produce and the fixed one must not. `snplab scenario` runs them.
#pragma once

#include <cstdint>
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
  std::string_view finding;        ///< the kern:: finding kind the buggy profile must raise
};

std::span<const RaceScenario> race_scenarios();
const RaceScenario* find_race(std::string_view name);

/// One schedule of `s` under `profile` with the engine options (fresh host each run).
struct RaceRun {
  model::engine::RunResult run;
  bool found = false;   ///< the scenario's finding was raised
  std::vector<std::string> rmp_findings;  ///< the RMP detectors' findings, described
  std::string error;    ///< set-up failed (then `run` is empty)
};
RaceRun run_race(const RaceScenario& s, std::string_view profile, const model::engine::Options& opts);

/// "NAME/PROFILE/CHOICES": what `snplab scenario replay` takes.
std::string replay_string(const RaceScenario& s, std::string_view profile, const std::string& choices);
struct ParsedReplay {
  const RaceScenario* scenario = nullptr;
  std::string profile;
  std::string choices;
};
std::optional<ParsedReplay> parse_replay(std::string_view text, std::string* why);

/// `snplab scenario ...`; returns the exit code.
int scenario_main(int argc, char** argv, std::FILE* out, std::FILE* err);

}  // namespace snplab::scenarios
