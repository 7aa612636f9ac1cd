// A catalogue of scenarios and the command line over it. The built-in scenarios are one
// file each under scenarios/src/catalogue/, listed in Catalogue::builtin(); a program of
// one's own adds its scenarios and hands the catalogue to scenario_main():
//
//   int main(int argc, char** argv) {
//     auto cat = snplab::scenarios::Catalogue::builtin();
//     cat.add(std::make_unique<MyRace>());
//     return snplab::scenarios::scenario_main(cat, argc, argv);
//   }
#pragma once

#include <cstdio>
#include <memory>
#include <string_view>
#include <vector>

#include "snp/scenarios/scenario.h"

namespace snplab::scenarios {

class Catalogue {
 public:
  Catalogue() = default;
  /// The nine built-in races (`snplab scenario list`).
  static Catalogue builtin();
  /// Adds a scenario the caller keeps alive, or one the catalogue keeps. Throws
  /// std::invalid_argument for a name already listed, a name that is not letters, digits, '-',
  /// '_' and '.', or profiles the scenario's own information does not parse.
  void add(const Scenario& s);
  void add(std::unique_ptr<Scenario> s);
  const Scenario* find(std::string_view name) const;
  const std::vector<const Scenario*>& all() const { return list_; }

 private:
  std::vector<const Scenario*> list_;
  std::vector<std::shared_ptr<const Scenario>> owned_;
};

/// The `snplab scenario` command line over `cat`, for a program of one's own: argv[0] is the
/// program, argv[1] the subcommand (list, explain, run, replay). Returns the exit code: 0 when
/// the expectation held (by default the finding under the scenario's buggy profile, a clean
/// run under any other; `--expect finding|clean`), 1 when it did not (or the run diverged,
/// stopped early or failed), 2 for a usage or input error, 3 for nondeterminism.
int scenario_main(const Catalogue& cat, int argc, char** argv);
/// The same with the subcommand at argv[0], output to `out`/`err`, usage naming `prog`.
int scenario_cli(const Catalogue& cat, std::string_view prog, int argc, char** argv, std::FILE* out, std::FILE* err);

}  // namespace snplab::scenarios
