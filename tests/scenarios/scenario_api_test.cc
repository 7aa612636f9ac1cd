// The scenario API from outside the catalogue: a scenario written in this file, added to a
// catalogue beside the built-in ones, run through scenario_main()/scenario_cli() - list, run
// under its buggy and fixed profiles, replay - with the exit codes a script reads.
#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "snp/model/kern/sync.h"
#include "snp/scenarios/catalogue.h"
#include "snp/scenarios/explore.h"
#include "snp/scenarios/vmm.h"

#include "cli_capture.h"

namespace snplab::scenarios {
namespace {

/// A VMM whose two threads count the guest's launched pages into one counter with plain
/// loads and stores; "+vmm-lock" puts a mutex around the update. The set-up launches a real
/// (simulated) guest, and the oracle reads its RMP entry through the view.
ScenarioInfo lost_update_info() {
  ScenarioInfo i;
  i.name = "lost-update";
  i.summary = "two VMM threads update one counter without a lock";
  i.source = "this test";
  i.agents = "t1, t2: counter = counter + 1";
  i.buggy_profile = "upstream";
  i.fixed_profile = "upstream+vmm-lock";
  i.finding = model::FindingKind::DataRace;
  i.buggy_budget = 50;
  i.fixed_bound = 30;
  i.vmm_switches = {{"vmm-lock", "the threads take a mutex around the update"}};
  return i;
}

std::unique_ptr<Scenario> lost_update() {
  return make_scenario(lost_update_info(), [](Lab& lab, std::string* error) -> ScheduleBody {
    auto vm = SnpVm::launch(lab.backend(), SnpVmConfig{});
    if (!vm) {
      *error = vm.error().to_string();
      return {};
    }
    std::shared_ptr<SnpVm> guest = std::move(*vm);
    const bool locked = lab.profile().has("vmm-lock");
    return [guest, locked](ScheduleContext& ctx) {
      model::kern::Shared<int> counter(ctx.sched(), "vmm:counter");
      model::kern::Mutex lock(ctx.sched(), "vmm:counter-lock");
      auto bump = [&] {
        if (locked) lock.lock();
        counter.store(counter.load() + 1);
        if (locked) lock.unlock();
      };
      ctx.run({{"t1", bump}, {"t2", bump}});
      ctx.note(fmt::format("counter {}", counter.peek()));
    };
  });
}

/// A scenario whose set-up fails: the run is an error (exit 1), named.
std::unique_ptr<Scenario> broken() {
  ScenarioInfo i = lost_update_info();
  i.name = "broken";
  return make_scenario(i, [](Lab&, std::string* error) -> ScheduleBody {
    *error = "the set-up cannot go on";
    return {};
  });
}

/// Scenarios that throw - in an agent (a vCPU that is not there: std::out_of_range), or in the
/// set-up: an error naming where, never std::terminate.
std::unique_ptr<Scenario> thrower(bool in_agent) {
  ScenarioInfo i = lost_update_info();
  i.name = in_agent ? "throws-in-agent" : "throws-in-set-up";
  return make_scenario(i, [in_agent](Lab& lab, std::string* error) -> ScheduleBody {
    if (!in_agent) throw std::runtime_error("no such thing");
    auto vm = SnpVm::launch(lab.backend(), launch_started());
    if (!vm) {
      *error = vm.error().to_string();
      return {};
    }
    std::shared_ptr<SnpVm> guest = std::move(*vm);
    return [guest](ScheduleContext& ctx) { ctx.run({{"vcpu0", [&] { (void)guest->vcpu(0).run(); }}}); };
  });
}

Catalogue catalogue() {
  Catalogue c = Catalogue::builtin();
  c.add(lost_update());
  c.add(broken());
  c.add(thrower(true));
  c.add(thrower(false));
  return c;
}

using Cli = testsupport::Captured;
using testsupport::read_and_close;

Cli cli(const Catalogue& cat, std::vector<std::string> args) {
  return testsupport::run_captured(
      [&](int argc, char** argv, std::FILE* out, std::FILE* err) {
        return scenario_cli(cat, "racer", argc, argv, out, err);
      },
      std::move(args));
}

std::string replay_line(const std::string& out) {
  const auto at = out.find("replay: ");
  if (at == std::string::npos) return {};
  return out.substr(at + 8, out.find('\n', at) - at - 8);
}

TEST(ScenarioApi, OwnScenario_ListedBesideTheBuiltInOnes) {
  const Catalogue cat = catalogue();
  EXPECT_EQ(cat.all().size(), 13u);
  const Cli r = cli(cat, {"list"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("certs-toctou\n"), std::string::npos);
  EXPECT_NE(r.out.find("lost-update\n  two VMM threads"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  +vmm-lock: the threads take a mutex"), std::string::npos) << r.out;
}

TEST(ScenarioApi, BuggyProfile_FoundAndReplayed_ThroughScenarioMain) {
  const Catalogue cat = catalogue();
  std::vector<std::string> args = {"/usr/local/bin/racer", "run", "lost-update"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  const int code = scenario_main(cat, static_cast<int>(argv.size()), argv.data());
  std::fflush(stdout);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("lost-update under upstream: data-race found after"), std::string::npos) << out;
  EXPECT_NE(out.find("re-run from the replay string: same trace"), std::string::npos) << out;
  const std::string replay = replay_line(out);
  ASSERT_EQ(replay.rfind("lost-update/upstream/", 0), 0u) << out;

  // The replay string alone gives the same finding and the same trace hash.
  const Cli again = cli(cat, {"replay", replay});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("finding data-race"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("counter 1"), std::string::npos) << "the lost update: " << again.out;
  const auto hash = [](const std::string& s) {
    const auto at = s.find("trace hash ");
    return at == std::string::npos ? std::string() : s.substr(at, 27);
  };
  EXPECT_FALSE(hash(out).empty()) << out;
  EXPECT_EQ(hash(again.out), hash(out));
}

TEST(ScenarioApi, FixedProfile_CleanWithEveryStrategy) {
  const Catalogue cat = catalogue();
  for (const char* strategy : {"pct", "random", "dfs"}) {
    const Cli r = cli(cat, {"run", "lost-update", "--profile", "upstream+vmm-lock", "--strategy", strategy});
    EXPECT_EQ(r.code, 0) << strategy << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("lost-update under upstream+vmm-lock: clean over"), std::string::npos) << r.out;
  }
  // --opt=value is --opt value.
  const Cli eq = cli(cat, {"run", "lost-update", "--profile=upstream+vmm-lock", "--strategy=dfs", "--bound=1"});
  EXPECT_EQ(eq.code, 0) << eq.out << eq.err;
  EXPECT_NE(eq.out.find("under upstream+vmm-lock: clean over"), std::string::npos) << eq.out;
  EXPECT_NE(eq.out.find("dfs, preemption bound 1"), std::string::npos) << eq.out;
  // The buggy profile left clean by too small a budget is a failure for a script.
  const Cli tiny = cli(cat, {"run", "lost-update", "--strategy", "dfs", "--bound", "0"});
  EXPECT_EQ(tiny.code, 1) << tiny.out;
}

TEST(ScenarioApi, ParallelJobsAndCheckpoint_WorkForOwnScenarios) {
  const Catalogue cat = catalogue();
  const std::string cp = ::testing::TempDir() + "/snplab_api_checkpoint";
  std::remove(cp.c_str());
  const Cli r = cli(cat, {"run", "lost-update", "--jobs", "2", "--checkpoint", cp, "--keep-going", "--budget", "20"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  std::FILE* f = std::fopen(cp.c_str(), "r");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(read_and_close(f).find("scenario lost-update\n"), std::string::npos);
  std::remove(cp.c_str());
}

TEST(ScenarioApi, BadProfilesAndFailingSetUps_SayWhat) {
  const Catalogue cat = catalogue();
  const Cli sw = cli(cat, {"run", "lost-update", "--profile", "upstream+vmm-nope"});
  EXPECT_EQ(sw.code, 2);
  EXPECT_NE(sw.err.find("scenario lost-update has no VMM switch '+vmm-nope' (it has +vmm-lock)"), std::string::npos)
      << sw.err;
  EXPECT_NE(sw.err.find("Run 'racer run --help' for the options."), std::string::npos) << sw.err;
  const Cli other = cli(cat, {"run", "certs-toctou", "--profile", "v10-kernel-certs+vmm-lock"});
  EXPECT_EQ(other.code, 2) << "a switch belongs to its scenario";
  const Cli bad = cli(cat, {"replay", "lost-update/nope/0"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("no kernel profile 'nope'"), std::string::npos) << bad.err;
  const Cli br = cli(cat, {"run", "broken"});
  EXPECT_EQ(br.code, 1);
  EXPECT_NE(br.err.find("racer: the set-up cannot go on"), std::string::npos) << br.err;
  for (const char* jobs : {"1", "2"}) {
    const Cli agent = cli(cat, {"run", "throws-in-agent", "--jobs", jobs});
    EXPECT_EQ(agent.code, 1);
    EXPECT_NE(agent.err.find("agent vcpu0 threw"), std::string::npos) << agent.err;
    const Cli set_up = cli(cat, {"run", "throws-in-set-up", "--jobs", jobs});
    EXPECT_EQ(set_up.code, 1);
    EXPECT_NE(set_up.err.find("throws-in-set-up: the set-up threw: no such thing"), std::string::npos) << set_up.err;
  }
  // A checkpoint that cannot be written is an input error before any schedule runs.
  const Cli cp = cli(cat, {"run", "lost-update", "--checkpoint", "/nonexistent-dir/cp"});
  EXPECT_EQ(cp.code, 2);
  EXPECT_NE(cp.err.find("cannot write checkpoint '/nonexistent-dir/cp'"), std::string::npos) << cp.err;
}

// Exit codes a script can rely on: a replay exits by whether the expectation held (the finding
// under the buggy profile, clean under any other, or --expect), a diverging replay is 1, a
// choices string that is not one (or past the bounds) is an input error before anything runs.
TEST(ScenarioApi, ReplayAndRun_ExitByTheExpectation) {
  const Catalogue cat = catalogue();
  // A schedule that runs t1 to the end first: no race.
  std::string clean_choices;
  for (std::uint64_t seed = 1; seed <= 64 && clean_choices.empty(); ++seed) {
    model::engine::Options o;
    o.seed = seed;
    const RaceRun r = run_race(*cat.find("lost-update"), "upstream", o);
    ASSERT_TRUE(r.error.empty()) << r.error;
    if (!r.found) clean_choices = r.run.replay;
  }
  ASSERT_FALSE(clean_choices.empty());
  const Cli clean = cli(cat, {"replay", "lost-update/upstream/" + clean_choices});
  EXPECT_EQ(clean.code, 1) << clean.out << clean.err;
  EXPECT_NE(clean.err.find("expected the finding, the replay ran clean"), std::string::npos) << clean.err;
  EXPECT_EQ(cli(cat, {"replay", "lost-update/upstream/" + clean_choices, "--expect", "clean"}).code, 0);
  const Cli found = cli(cat, {"run", "lost-update"});
  ASSERT_EQ(found.code, 0);
  const std::string replay = replay_line(found.out);
  EXPECT_EQ(cli(cat, {"replay", replay, "--expect", "clean"}).code, 1);
  EXPECT_EQ(cli(cat, {"replay", replay, "--expect", "sometimes"}).code, 2);
  // Under a profile that is not the buggy one, a finding is unexpected.
  const std::string other = "lost-update/launch-update-revert-all/" + replay.substr(replay.rfind('/') + 1);
  EXPECT_EQ(cli(cat, {"replay", other}).code, 1);
  const Cli run_other = cli(cat, {"run", "lost-update", "--profile", "launch-update-revert-all"});
  EXPECT_EQ(run_other.code, 1) << run_other.out;
  EXPECT_EQ(cli(cat, {"run", "lost-update", "--profile", "launch-update-revert-all", "--expect", "finding"}).code, 0);
  // Not choices at all, or too many of them: an input error.
  const Cli bad = cli(cat, {"replay", "lost-update/upstream/A!"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("'A!' is not a list of choices"), std::string::npos) << bad.err;
  std::string huge = "lost-update/upstream/";
  for (int i = 0; i < 700; ++i) huge += "a9999999";
  const Cli big = cli(cat, {"replay", huge});
  EXPECT_EQ(big.code, 2);
  EXPECT_NE(big.err.find("choices at most"), std::string::npos) << big.err;
  const Cli long_text = cli(cat, {"replay", "lost-update/upstream/" + std::string(70000, 'a')});
  EXPECT_EQ(long_text.code, 2);
  EXPECT_NE(long_text.err.find("a replay string holds at most 65536"), std::string::npos) << long_text.err;
  // Choices that do not fit the run: divergence, exit 1.
  const Cli diverged = cli(cat, {"replay", "lost-update/upstream/z"});
  EXPECT_EQ(diverged.code, 1);
  EXPECT_NE(diverged.err.find("diverged"), std::string::npos) << diverged.err;
}

// --json: one document per command, with its schema name; what a script needs is in it and
// agrees with the exit code and with the replay it names.
TEST(ScenarioApi, Json_ListRunReplay_DocumentedShape) {
  const Catalogue cat = catalogue();
  const Cli list = cli(cat, {"list", "--json"});
  ASSERT_EQ(list.code, 0);
  const auto l = nlohmann::json::parse(list.out);
  EXPECT_EQ(l.at("schema"), "snplab.scenario.list/1");
  ASSERT_EQ(l.at("scenarios").size(), cat.all().size());
  bool seen = false;
  for (const auto& e : l.at("scenarios")) {
    for (const char* k : {"name", "summary", "source", "agents", "buggy_profile", "fixed_profile", "finding"}) {
      EXPECT_TRUE(e.at(k).is_string()) << k;
    }
    EXPECT_TRUE(e.at("buggy_budget").is_number_unsigned());
    EXPECT_TRUE(e.at("vmm_switches").is_array());
    if (e.at("name") == "lost-update") {
      seen = true;
      EXPECT_EQ(e.at("vmm_switches").at(0).at("name"), "vmm-lock");
      EXPECT_EQ(e.at("finding"), "data-race");
    }
  }
  EXPECT_TRUE(seen);

  const Cli run = cli(cat, {"run", "lost-update", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  const auto r = nlohmann::json::parse(run.out);
  EXPECT_EQ(r.at("schema"), "snplab.scenario.run/1");
  EXPECT_EQ(r.at("result"), "found");
  EXPECT_EQ(r.at("expect"), "finding");
  EXPECT_EQ(r.at("exit_code"), 0);
  const auto& first = r.at("first");
  EXPECT_TRUE(first.at("reproduced").get<bool>());
  EXPECT_GE(first.at("index").get<std::uint64_t>(), 1u);
  ASSERT_FALSE(first.at("findings").empty());
  EXPECT_EQ(first.at("findings").at(0).at("kind"), "data-race");
  EXPECT_TRUE(first.at("findings").at(0).at("steps").is_array());
  EXPECT_EQ(first.at("trace_hash").get<std::string>().size(), 16u);

  const Cli rep = cli(cat, {"replay", first.at("replay").get<std::string>(), "--json"});
  ASSERT_EQ(rep.code, 0) << rep.err;
  const auto p = nlohmann::json::parse(rep.out);
  EXPECT_EQ(p.at("schema"), "snplab.scenario.replay/1");
  EXPECT_FALSE(p.at("diverged").get<bool>());
  EXPECT_TRUE(p.at("found").get<bool>());
  EXPECT_EQ(p.at("trace_hash"), first.at("trace_hash"));
  EXPECT_EQ(p.at("exit_code"), 0);

  const Cli clean = cli(cat, {"run", "lost-update", "--profile", "upstream+vmm-lock", "--json"});
  ASSERT_EQ(clean.code, 0);
  const auto c = nlohmann::json::parse(clean.out);
  EXPECT_EQ(c.at("result"), "clean");
  EXPECT_TRUE(c.at("first").is_null());
  EXPECT_TRUE(c.at("exhausted").get<bool>());
  EXPECT_GT(c.at("dfs_schedules").get<std::uint64_t>(), 0u);

  // explain: the scenario as list describes it, and every step of the first schedule that
  // raised the finding, the steps the finding names marked.
  const Cli ex = cli(cat, {"explain", "lost-update", "--json"});
  ASSERT_EQ(ex.code, 0) << ex.err;
  const auto e = nlohmann::json::parse(ex.out);
  EXPECT_EQ(e.at("schema"), "snplab.scenario.explain/1");
  EXPECT_EQ(e.at("scenario").at("name"), "lost-update");
  EXPECT_EQ(e.at("profile"), "upstream");
  EXPECT_TRUE(e.at("found").get<bool>());
  const auto& ef = e.at("first");
  EXPECT_TRUE(ef.at("reproduced").get<bool>());
  ASSERT_FALSE(ef.at("trace").empty());
  std::vector<std::uint64_t> marked;
  for (const auto& st : ef.at("trace")) {
    if (st.at("marked").get<bool>()) marked.push_back(st.at("step").get<std::uint64_t>());
  }
  EXPECT_EQ(marked, ef.at("findings").at(0).at("steps").get<std::vector<std::uint64_t>>());
  const Cli exr = cli(cat, {"replay", ef.at("replay").get<std::string>(), "--json"});
  ASSERT_EQ(exr.code, 0) << exr.err;
  EXPECT_EQ(nlohmann::json::parse(exr.out).at("trace_hash"), ef.at("trace_hash"));

  // run --all over a catalogue of one's own.
  Catalogue mine;
  mine.add(lost_update());
  const Cli all = cli(mine, {"run", "--all", "--json"});
  ASSERT_EQ(all.code, 0) << all.err;
  const auto a = nlohmann::json::parse(all.out);
  EXPECT_EQ(a.at("schema"), "snplab.scenario.run-all/1");
  EXPECT_TRUE(a.at("ok").get<bool>());
  ASSERT_EQ(a.at("scenarios").size(), 1u);
  const auto& row = a.at("scenarios").at(0);
  EXPECT_EQ(row.at("scenario"), "lost-update");
  EXPECT_EQ(row.at("result"), "ok");
  EXPECT_TRUE(row.at("fixed_dfs_exhausted").get<bool>());
  EXPECT_EQ(row.at("replay").get<std::string>().rfind("lost-update/upstream/", 0), 0u);
}

// The command line is CLI11's: --help on every subcommand, --opt=value, numbers range-checked
// naming the option, and run --all refusing the options of a single run.
TEST(ScenarioApi, CommandLine_HelpEqualsFormsAndRanges) {
  const Catalogue cat = catalogue();
  for (const char* sub : {"list", "explain", "run", "replay"}) {
    const Cli h = cli(cat, {sub, "--help"});
    EXPECT_EQ(h.code, 0) << sub;
    EXPECT_NE(h.out.find(std::string("Usage: racer ") + sub), std::string::npos) << h.out;
    EXPECT_NE(h.out.find("--json"), std::string::npos) << h.out;
  }
  EXPECT_NE(cli(cat, {"run", "--help"}).out.find("--checkpoint FILE"), std::string::npos);
  const Cli top = cli(cat, {"help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("replay"), std::string::npos);

  const Cli eq = cli(cat, {"run", "lost-update", "--strategy=random", "--seed=0x10", "--budget=500", "--json"});
  ASSERT_EQ(eq.code, 0) << eq.err;
  const auto j = nlohmann::json::parse(eq.out);
  EXPECT_EQ(j.at("strategy"), "random");
  EXPECT_EQ(j.at("seed"), 16);

  const Cli zero = cli(cat, {"run", "lost-update", "--budget=0"});
  EXPECT_EQ(zero.code, 2);
  EXPECT_NE(zero.err.find("--budget: '0' is not a number from 1 to 18446744073709551615"), std::string::npos)
      << zero.err;
  const Cli depth = cli(cat, {"run", "lost-update", "--depth", "17"});
  EXPECT_EQ(depth.code, 2);
  EXPECT_NE(depth.err.find("--depth: '17' is not a number from 1 to 16"), std::string::npos) << depth.err;
  const Cli all = cli(cat, {"run", "--all", "--seed", "3"});
  EXPECT_EQ(all.code, 2);
  EXPECT_NE(all.err.find("run --all takes only --jobs and --json, not --seed"), std::string::npos) << all.err;
  const Cli both = cli(cat, {"run", "--all", "lost-update"});
  EXPECT_EQ(both.code, 2);
  EXPECT_NE(both.err.find("NAME excludes --all"), std::string::npos) << both.err;
  const Cli none = cli(cat, {"run"});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("run needs a scenario name or --all"), std::string::npos) << none.err;
  const Cli extra = cli(cat, {"replay", "lost-update/upstream/a1", "--profile", "upstream"});
  EXPECT_EQ(extra.code, 2) << "replay takes no --profile: the string names it";
  EXPECT_NE(extra.err.find("--profile"), std::string::npos) << extra.err;
  EXPECT_NE(extra.err.find("Run 'racer replay --help'"), std::string::npos) << extra.err;
}

TEST(ScenarioApi, CatalogueRefusesDuplicatesAndBadInformation) {
  Catalogue cat = Catalogue::builtin();
  ScenarioInfo dup = lost_update_info();
  dup.name = "certs-toctou";
  EXPECT_THROW(cat.add(make_scenario(dup, [](Lab&, std::string*) { return ScheduleBody{}; })), std::invalid_argument);
  ScenarioInfo bad = lost_update_info();
  bad.buggy_profile = "no-such-kernel";
  EXPECT_THROW(cat.add(make_scenario(bad, [](Lab&, std::string*) { return ScheduleBody{}; })), std::invalid_argument);
  ScenarioInfo name = lost_update_info();
  name.name = "has/slash";  // it would break the replay string
  EXPECT_THROW(cat.add(make_scenario(name, [](Lab&, std::string*) { return ScheduleBody{}; })), std::invalid_argument);
  EXPECT_EQ(cat.all().size(), 9u);
}

TEST(ScenarioApi, ViewReadsTheSimulatedHost) {
  // The oracle view: the guest's RMP entries and measurement after a launch.
  const auto s = make_scenario(lost_update_info(), [](Lab& lab, std::string* error) -> ScheduleBody {
    auto vm = SnpVm::launch(lab.backend(), SnpVmConfig{});
    if (!vm) {
      *error = vm.error().to_string();
      return {};
    }
    std::shared_ptr<SnpVm> guest = std::move(*vm);
    return [guest](ScheduleContext& ctx) {
      const auto digest = ctx.view().launch_digest(guest->vm());
      ctx.note(digest ? "digest" : "no digest");
      ctx.note(fmt::format("features {}", ctx.view().vmsa_features(guest->vm()).value_or(99)));
      ctx.note(ctx.view().vcek_cert(ctx.view().reported_tcb()).empty() ? "no vcek" : "vcek");
      // The guest's pages in the RMP: its launched pages, the secrets page and the VMSA are
      // assigned to its ASID; an address past the RMP has no entry.
      unsigned assigned = 0;
      for (std::uint64_t pfn = 0x100000; pfn < 0x100000 + 4096; ++pfn) {
        const auto e = ctx.view().rmp_entry(pfn);
        if (e && e->assigned && e->asid != 0) ++assigned;
      }
      ctx.note(fmt::format("assigned {}", assigned >= 6 ? "6+" : std::to_string(assigned)));
      ctx.note(ctx.view().rmp_entry(1ULL << 40) ? "entry past the RMP" : "none past the RMP");
      ctx.run({});
    };
  });
  const RaceRun r = run_race(*s, "upstream", model::engine::Options{});
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.notes, (std::vector<std::string>{"digest", "features 1", "vcek", "assigned 6+", "none past the RMP"}));
  EXPECT_FALSE(r.found);
}

}  // namespace
}  // namespace snplab::scenarios
