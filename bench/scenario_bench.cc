// The race catalogue's speed: schedules per second on one core for each scenario,
// the time to the first finding of each buggy profile, and the replay string's length.
// Prints figures; asserts nothing. Usage: snplab_scenario_bench [SCHEDULES] [JOBS]
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "snp/scenarios/catalogue.h"
#include "snp/scenarios/explore.h"

int main(int argc, char** argv) {
  using namespace snplab::scenarios;
  const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
  const unsigned jobs = argc > 2 ? static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)) : 0;
  fmt::print("{:<29} {:>14} {:>14} {:>12} {:>10} {:>7}\n", "scenario", "sched/s/core", "fixed sched/s", "first at",
             "first s", "replay");
  const Catalogue cat = Catalogue::builtin();
  for (const Scenario* sc : cat.all()) {
    const ScenarioInfo& s = sc->info();
    // Throughput: n PCT schedules of each profile on one core, every one run to the end.
    ExploreOptions o;
    o.budget = n;
    o.keep_going = true;
    const ExploreResult b = explore(*sc, s.buggy_profile, o);
    const ExploreResult f = explore(*sc, s.fixed_profile, o);
    // Time to the first finding with the default options.
    ExploreOptions d;
    d.budget = s.buggy_budget;
    const ExploreResult first = explore(*sc, s.buggy_profile, d);
    if (!b.error.empty() || !f.error.empty() || !first.error.empty()) {
      fmt::print(stderr, "{}: {}{}{}\n", s.name, b.error, f.error, first.error);
      return 1;
    }
    fmt::print("{:<29} {:>14.0f} {:>14.0f} {:>12} {:>10.4f} {:>7}\n", s.name,
               static_cast<double>(b.schedules) / b.seconds, static_cast<double>(f.schedules) / f.seconds,
               first.first ? fmt::format("{}", first.first_index) : "-", first.seconds_to_first,
               first.first ? replay_string(*sc, s.buggy_profile, first.first->run.replay).size() : 0);
  }
  // All cores: the same scenario 1 exploration spread with TBB.
  const Scenario* s1 = cat.find("certs-toctou");
  ExploreOptions par;
  par.budget = n;
  par.keep_going = true;
  par.jobs = jobs;
  const ExploreResult p = explore(*s1, s1->info().buggy_profile, par);
  fmt::print("\ncerts-toctou on {} jobs ({} hardware threads): {:.0f} schedules/s\n",
             jobs == 0 ? std::thread::hardware_concurrency() : jobs, std::thread::hardware_concurrency(),
             static_cast<double>(p.schedules) / p.seconds);
  return 0;
}
