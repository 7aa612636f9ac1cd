// The race catalogue on the engine: the buggy profile's finding is found within a small
// budget, the fixed profile stays clean, and a replay string reproduces the trace exactly.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "snp/model/host/profile.h"
#include "snp/scenarios/catalogue.h"
#include "snp/scenarios/explore.h"

namespace snplab::scenarios {
namespace {

const Catalogue& cat() {
  static const Catalogue c = Catalogue::builtin();
  return c;
}
const Scenario* find_race(std::string_view name) { return cat().find(name); }

model::engine::Options pct(std::uint64_t seed, std::uint64_t steps) {
  model::engine::Options o;
  o.strategy = model::engine::Strategy::Pct;
  o.pct_depth = 2;
  o.pct_steps = steps;
  o.seed = seed;
  return o;
}

class EveryRace : public ::testing::TestWithParam<std::string_view> {};

TEST_P(EveryRace, BuggyFoundFixedCleanReplayExact) {
  const Scenario* sc = find_race(GetParam());
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  // The buggy profile: found by the default strategy (PCT depth 2) within its stated budget.
  ExploreOptions b;
  b.budget = s->buggy_budget;
  const ExploreResult found = explore(*sc, s->buggy_profile, b);
  ASSERT_TRUE(found.error.empty()) << found.error;
  ASSERT_TRUE(found.first) << s->finding << " not found within " << s->buggy_budget << " schedules";
  EXPECT_TRUE(found.reproduced);
  const RaceRun& hit = *found.first;
  const std::string text = replay_string(*sc, s->buggy_profile, hit.run.replay);
  EXPECT_LE(text.size(), 256u);
  std::string why;
  const auto parsed = parse_replay(cat(), text, &why);
  ASSERT_TRUE(parsed) << why;
  model::engine::Options rep;
  rep.strategy = model::engine::Strategy::Replay;
  rep.replay = parsed->choices;
  const RaceRun again = run_race(*parsed->scenario, parsed->profile, rep);
  EXPECT_FALSE(again.run.replay_diverged);
  EXPECT_TRUE(again.found);
  EXPECT_EQ(again.run.text(), hit.run.text());
  // Every finding names the steps involved, and they are steps of the trace.
  for (const auto& f : hit.run.findings) {
    ASSERT_FALSE(f.steps.empty()) << f.kind;
    for (const std::uint64_t st : f.steps) EXPECT_LT(st, hit.run.steps) << f.kind;
  }

  // The fixed profile: clean over its stated bound.
  ExploreOptions f;
  f.budget = s->fixed_bound;
  f.keep_going = true;
  const ExploreResult clean = explore(*sc, s->fixed_profile, f);
  ASSERT_TRUE(clean.error.empty()) << clean.error;
  EXPECT_EQ(clean.schedules, s->fixed_bound);
  EXPECT_EQ(clean.findings, 0u) << replay_string(*sc, s->fixed_profile, clean.first ? clean.first->run.replay : "");
  // Nothing at all fires on the fixed profile: no data race, no kref problem, no RMP finding.
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    const RaceRun r = run_race(*sc, s->fixed_profile, pct(seed, 60));
    ASSERT_TRUE(r.error.empty()) << r.error;
    for (const auto& fnd : r.run.findings) ADD_FAILURE() << "seed " << seed << ": " << fnd.kind << ": " << fnd.message;
  }
  // And every schedule with at most two preemptions.
  ExploreOptions d;
  d.strategy = model::engine::Strategy::Dfs;
  d.preemption_bound = 2;
  d.budget = 100000;
  d.keep_going = true;
  const ExploreResult dfs = explore(*sc, s->fixed_profile, d);
  ASSERT_TRUE(dfs.error.empty()) << dfs.error;
  EXPECT_TRUE(dfs.exhausted);
  EXPECT_EQ(dfs.findings, 0u) << replay_string(*sc, s->fixed_profile, dfs.first ? dfs.first->run.replay : "");
}

// Exploration runs every schedule after a core's first from a snapshot of the set-up
// (PreparedRace): each must be the run a fresh set-up gives - trace, findings, notes - under
// both profiles, for random and PCT schedules, buggy or not.
TEST_P(EveryRace, FromTheSnapshot_SameRunAsFromAFreshSetUp) {
  const Scenario* sc = find_race(GetParam());
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  for (const std::string_view profile : {s->buggy_profile, s->fixed_profile}) {
    std::string why;
    auto prepared = PreparedRace::prepare(*sc, profile, &why);
    ASSERT_NE(prepared, nullptr) << why;
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
      model::engine::Options o = seed % 2 == 0 ? pct(seed, 40) : model::engine::Options{};
      o.seed = seed;
      const RaceRun fresh = run_race(*sc, profile, o);
      const RaceRun again = prepared->run(o);
      ASSERT_TRUE(fresh.error.empty()) << fresh.error;
      ASSERT_TRUE(again.error.empty()) << again.error;
      EXPECT_EQ(again.run.text(), fresh.run.text()) << profile << " seed " << seed;
      EXPECT_EQ(again.run.replay, fresh.run.replay) << profile << " seed " << seed;
      EXPECT_EQ(again.found, fresh.found) << profile << " seed " << seed;
      EXPECT_EQ(again.notes, fresh.notes) << profile << " seed " << seed;
      ASSERT_EQ(again.run.findings.size(), fresh.run.findings.size()) << profile << " seed " << seed;
      for (std::size_t i = 0; i < fresh.run.findings.size(); ++i) {
        EXPECT_EQ(again.run.findings[i].kind, fresh.run.findings[i].kind);
        EXPECT_EQ(again.run.findings[i].message, fresh.run.findings[i].message);
        EXPECT_EQ(again.run.findings[i].steps, fresh.run.findings[i].steps);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Catalogue, EveryRace,
                         ::testing::Values("certs-toctou", "launch-update-revert", "nonsnp-guest-req", "vmsa-features",
                                           "memslot-change", "certs-sync", "gmem-punch",
                                           "double-assignment", "double-assignment-concurrent"),
                         [](const auto& param_info) {
                           std::string n(param_info.param);
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(Races, CatalogueEntriesAreComplete) {
  ASSERT_EQ(cat().all().size(), 9u);
  for (const Scenario* sc : cat().all()) {
    const ScenarioInfo& s = sc->info();
    std::string why;
    EXPECT_FALSE(s.summary.empty()) << s.name;
    EXPECT_FALSE(s.source.empty()) << s.name;
    EXPECT_FALSE(s.agents.empty()) << s.name;
    EXPECT_TRUE(parse_profile(s, s.buggy_profile, &why)) << s.name << ": " << why;
    EXPECT_TRUE(parse_profile(s, s.fixed_profile, &why)) << s.name << ": " << why;
    EXPECT_NE(s.buggy_profile, s.fixed_profile) << s.name;
    EXPECT_GT(s.buggy_budget, 0u) << s.name;
    EXPECT_GT(s.fixed_bound, 0u) << s.name;
  }
}

TEST(Races, SameSeed_SameTraceHash) {
  const Scenario* sc = find_race("certs-toctou");
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    EXPECT_EQ(run_race(*sc, s->buggy_profile, pct(seed, 46)).run.hash(),
              run_race(*sc, s->buggy_profile, pct(seed, 46)).run.hash());
  }
}

TEST(Explore, JobsDoNotChangeTheAnswer) {
  const Scenario* sc = find_race("certs-toctou");
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  ExploreOptions one;
  one.budget = s->buggy_budget;
  ExploreOptions two = one;
  two.jobs = 2;
  const ExploreResult a = explore(*sc, s->buggy_profile, one);
  const ExploreResult b = explore(*sc, s->buggy_profile, two);
  ASSERT_TRUE(a.first && b.first);
  EXPECT_EQ(a.first_index, b.first_index);
  EXPECT_EQ(a.first->run.text(), b.first->run.text());
}

TEST(Explore, CheckpointThenResume_SameAsOneRun) {
  const Scenario* sc = find_race("certs-toctou");
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  const std::string path = ::testing::TempDir() + "/snplab_explore_checkpoint";
  std::remove(path.c_str());
  ExploreOptions whole;
  whole.budget = s->buggy_budget;
  const ExploreResult ref = explore(*sc, s->buggy_profile, whole);
  ASSERT_TRUE(ref.first);
  ASSERT_GT(ref.first_index, 10u);
  // Stop after 10 schedules, then resume from the file.
  ExploreOptions part = whole;
  part.budget = 10;
  part.checkpoint = path;
  const ExploreResult p1 = explore(*sc, s->buggy_profile, part);
  EXPECT_FALSE(p1.first);
  EXPECT_EQ(p1.schedules, 10u);
  ExploreOptions rest = whole;
  rest.checkpoint = path;
  rest.resume = true;
  const ExploreResult p2 = explore(*sc, s->buggy_profile, rest);
  ASSERT_TRUE(p2.error.empty()) << p2.error;
  ASSERT_TRUE(p2.first);
  EXPECT_EQ(p2.first_index, ref.first_index);
  EXPECT_EQ(p2.first->run.text(), ref.first->run.text());
  // A checkpoint of another run is refused, naming what it is for.
  ExploreOptions other = rest;
  other.seed = 99;
  const ExploreResult bad = explore(*sc, s->buggy_profile, other);
  EXPECT_NE(bad.error.find("not this run"), std::string::npos) << bad.error;
  std::remove(path.c_str());
}

// The default needs no tuning: PCT, and after a clean PCT budget every schedule up to the
// preemption bound - which finds what too small a PCT budget missed, and covers the bounded
// space when there is nothing to find.
TEST(Explore, ThenDfs_FindsWhatPctMissed_AndCoversTheBoundedSpaceWhenClean) {
  const Scenario* sc = find_race("certs-toctou");
  ASSERT_NE(sc, nullptr);
  ExploreOptions o;
  o.budget = 3;
  const ExploreResult pct_only = explore(*sc, sc->info().buggy_profile, o);
  ASSERT_TRUE(pct_only.error.empty()) << pct_only.error;
  ASSERT_FALSE(pct_only.first) << "PCT should need more than 3 schedules here";
  o.then_dfs = true;
  const ExploreResult both = explore(*sc, sc->info().buggy_profile, o);
  ASSERT_TRUE(both.error.empty()) << both.error;
  ASSERT_TRUE(both.first);
  EXPECT_GT(both.first_index, 3u);
  EXPECT_GT(both.dfs_schedules, 0u);
  EXPECT_TRUE(both.reproduced);
  EXPECT_TRUE(both.first->found);

  const ExploreResult clean = explore(*sc, sc->info().fixed_profile, o);
  ASSERT_TRUE(clean.error.empty()) << clean.error;
  EXPECT_FALSE(clean.first);
  EXPECT_TRUE(clean.exhausted);
  EXPECT_EQ(clean.schedules, 3 + clean.dfs_schedules);
  EXPECT_GT(clean.dfs_schedules, 1u);
}

TEST(Explore, Dfs_FindsTheReloadRaceWithinPreemptionBoundTwo_AndNotWithZero) {
  const Scenario* sc = find_race("certs-toctou");
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  ExploreOptions o;
  o.strategy = model::engine::Strategy::Dfs;
  o.budget = 100000;
  o.preemption_bound = 0;
  const ExploreResult none = explore(*sc, s->buggy_profile, o);
  ASSERT_TRUE(none.error.empty()) << none.error;
  EXPECT_FALSE(none.first);
  EXPECT_TRUE(none.exhausted);
  o.preemption_bound = 2;
  const ExploreResult two = explore(*sc, s->buggy_profile, o);
  ASSERT_TRUE(two.first);
  EXPECT_TRUE(two.reproduced);
}

TEST(Races, GmemPunch_Upstream_GuestSeesVcOrMemoryFault_NeverAFreedPrivatePage) {
  const Scenario* sc = find_race("gmem-punch");
  ASSERT_NE(sc, nullptr);
  bool vc = false, fault = false;
  for (std::uint64_t seed = 1; seed <= 200 && !(vc && fault); ++seed) {
    model::engine::Options o;
    o.seed = seed;
    o.switch_one_in = 3;
    const RaceRun r = run_race(*sc, "upstream", o);
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_FALSE(r.found);
    for (const std::string& n : r.notes) {
      // The hole punched after PVALIDATE: the next private access finds a fresh page the
      // guest never validated, #VC 0x404, and the guest terminates.
      vc = vc || n.find("#VC 0x404") != std::string::npos;
      // The shared read of a private GPA: an implicit conversion, KVM_EXIT_MEMORY_FAULT.
      fault = fault || n.find("KVM_EXIT_MEMORY_FAULT gpa 0x10000 size 0x1000 shared") != std::string::npos;
    }
  }
  EXPECT_TRUE(vc);
  EXPECT_TRUE(fault);
}

TEST(Races, CertsToctou_BuggyRunAlsoLeaksOneReferenceAndFreesThePublishedBlob) {
  const Scenario* sc = find_race("certs-toctou");
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  ExploreOptions o;
  o.budget = s->buggy_budget;
  const ExploreResult r = explore(*sc, s->buggy_profile, o);
  ASSERT_TRUE(r.first);
  std::set<std::string> kinds;
  for (const auto& f : r.first->run.findings) kinds.insert(std::string(model::to_string(f.kind)));
  // The reference was taken on the old blob and put on the new one.
  EXPECT_TRUE(kinds.contains("kref-leak"));
  EXPECT_TRUE(kinds.contains("kref-freed-while-published"));
  EXPECT_TRUE(kinds.contains("data-race"));
}

TEST(Races, RmpFinding_PlacedAtTheInstructionsOwnStep_EvenWhenAnotherAgentRanSince) {
  // Two VMMs assign the same page concurrently: the finding sits at the RMPUPDATE that
  // reassigned it, by the VMM that made it, whatever the other VMM did between that
  // instruction's scheduling point and its execution.
  const Scenario* sc = find_race("double-assignment-concurrent");
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  int hits = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    model::engine::Options rnd;
    rnd.seed = seed;
    rnd.switch_one_in = 2;
    const RaceRun b = run_race(*sc, s->buggy_profile, rnd);
    ASSERT_TRUE(b.error.empty()) << b.error;
    for (const auto& f : b.run.findings) {
      if (f.kind != snplab::model::FindingKind::DoubleAssignment) continue;
      ++hits;
      ASSERT_EQ(f.steps.size(), 1u);
      const auto& e = b.run.trace.at(f.steps[0]);
      EXPECT_EQ(e.kind, model::kern::PointKind::RmpInsn) << "seed " << seed;
      EXPECT_NE(e.detail.find("-> asid"), std::string::npos) << "seed " << seed << ": " << e.detail;
      EXPECT_EQ(e.object.rfind("RMPUPDATE", 0), 0u) << e.object;
    }
  }
  EXPECT_GT(hits, 0);
}

TEST(Races, DoubleAssignment_FixedKernelRefusesTheSecondGuestWithEexist) {
  const Scenario* sc = find_race("double-assignment");
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  const RaceRun r = run_race(*sc, s->fixed_profile, model::engine::Options{});
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_FALSE(r.found);
  ASSERT_EQ(r.notes.size(), 2u);
  EXPECT_EQ(r.notes[0], "vmm-a: LAUNCH_UPDATE ok");
  EXPECT_NE(r.notes[1].find("errno=17 (File exists)"), std::string::npos) << r.notes[1];  // EEXIST
  // Without pinned memory the scenario says why it cannot run.
  const RaceRun gmem = run_race(*sc, "upstream", model::engine::Options{});
  EXPECT_NE(gmem.error.find("pinned-memory profile"), std::string::npos) << gmem.error;
}

// A PSP command is two points: its start (sev_do_cmd) and its completion (sev_wait_cmd_ioc),
// the latter on every return path - here including LAUNCH_UPDATEs the firmware refuses - and
// other agents can run between the completion and the caller's next step.
TEST(Races, PspCommands_StartAndCompletionArePoints_OnEveryPath) {
  bool interleaved = false;
  // launch-update-revert: one LAUNCH_UPDATE is refused; the two guests of
  // double-assignment-concurrent hold no lock in common.
  for (const char* name : {"launch-update-revert", "double-assignment-concurrent"}) {
  const Scenario* sc = find_race(name);
  ASSERT_NE(sc, nullptr);
  const ScenarioInfo* s = &sc->info();
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    model::engine::Options random;  // switches at any point with probability 1/4
    random.seed = seed;
    const RaceRun r = run_race(*sc, s->buggy_profile, random);
    ASSERT_TRUE(r.error.empty()) << r.error;
    std::map<std::uint32_t, std::vector<std::string>> open;  // per agent: commands started, not done
    std::size_t done = 0;
    for (std::size_t i = 0; i < r.run.trace.size(); ++i) {
      const auto& e = r.run.trace[i];
      if (e.kind == model::kern::PointKind::FirmwareCall) {
        open[e.agent].push_back(e.object);
      } else if (e.kind == model::kern::PointKind::FirmwareDone) {
        ASSERT_FALSE(open[e.agent].empty()) << "completion without a start at step " << e.step;
        EXPECT_EQ(open[e.agent].back(), e.object);
        open[e.agent].pop_back();
        ++done;
        if (i + 1 < r.run.trace.size() && r.run.trace[i + 1].agent != e.agent) interleaved = true;
      }
    }
    for (const auto& [agent, cmds] : open) EXPECT_TRUE(cmds.empty()) << "agent " << agent << " left a command open";
    // launch-update-revert: both SNP_LAUNCH_UPDATEs complete, the refused one included.
    EXPECT_GE(done, std::string_view(name) == "launch-update-revert" ? 2u : 1u);
  }
  }
  EXPECT_TRUE(interleaved) << "no schedule ran another agent right after a PSP command completed";
}

// The replay strings the README and docs/engine.md show still fit their run and raise the
// finding (a model change that moves a scheduling point changes them).
TEST(Races, DocumentedReplayStrings_StillReproduce) {
  int seen = 0;
  for (const char* doc : {"/README.md", "/docs/engine.md", "/docs/write-a-race.md"}) {
    std::ifstream in(std::string(SNPLAB_SOURCE_DIR) + doc);
    ASSERT_TRUE(in) << doc;
    std::string line;
    while (std::getline(in, line)) {
      for (const Scenario* sc : cat().all()) {
        const std::string prefix = sc->info().name + "/" + sc->info().buggy_profile + "/";
        const auto at = line.find(prefix);
        if (at == std::string::npos) continue;
        const auto end = line.find_first_of(" `", at);
        const std::string text = line.substr(at, end == std::string::npos ? std::string::npos : end - at);
        std::string why;
        const auto parsed = parse_replay(cat(), text, &why);
        ASSERT_TRUE(parsed) << doc << ": " << text << ": " << why;
        model::engine::Options rep;
        rep.strategy = model::engine::Strategy::Replay;
        rep.replay = parsed->choices;
        const RaceRun r = run_race(*parsed->scenario, parsed->profile, rep);
        EXPECT_TRUE(r.error.empty()) << r.error;
        EXPECT_FALSE(r.run.replay_diverged) << doc << ": " << text << " no longer fits its run";
        EXPECT_TRUE(r.found) << doc << ": " << text;
        ++seen;
      }
    }
  }
  EXPECT_GE(seen, 2);
}

TEST(Races, BadReplayStrings_SayWhatIsWrong) {
  std::string why;
  EXPECT_FALSE(parse_replay(cat(), "certs-toctou", &why));
  EXPECT_NE(why.find("NAME/PROFILE/CHOICES"), std::string::npos);
  EXPECT_FALSE(parse_replay(cat(), "nope/upstream/a", &why));
  EXPECT_NE(why.find("no scenario 'nope'"), std::string::npos);
  EXPECT_FALSE(parse_replay(cat(), "certs-toctou/nope/a", &why));
  EXPECT_NE(why.find("no kernel profile 'nope'"), std::string::npos);
}

}  // namespace
}  // namespace snplab::scenarios
