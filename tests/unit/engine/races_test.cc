// The race catalogue on the engine: the buggy profile's finding is found within a small
// budget, the fixed profile stays clean, and a replay string reproduces the trace exactly.
#include <gtest/gtest.h>

#include "snp/model/kvm/profile.h"
#include "snp/scenarios/races.h"

namespace snplab::scenarios {
namespace {

model::engine::Options pct(std::uint64_t seed, std::uint64_t steps) {
  model::engine::Options o;
  o.strategy = model::engine::Strategy::Pct;
  o.pct_depth = 2;
  o.pct_steps = steps;
  o.seed = seed;
  return o;
}

std::uint64_t run_length(const RaceScenario& s, std::string_view profile) {
  model::engine::Options o;
  o.strategy = model::engine::Strategy::Pct;
  o.pct_depth = 1;
  const RaceRun r = run_race(s, profile, o);
  EXPECT_TRUE(r.error.empty()) << r.error;
  return r.run.steps;
}

class EveryRace : public ::testing::TestWithParam<std::string_view> {};

TEST_P(EveryRace, BuggyFoundFixedCleanReplayExact) {
  const RaceScenario* s = find_race(GetParam());
  ASSERT_NE(s, nullptr);
  const std::uint64_t k = run_length(*s, s->buggy_profile);
  ASSERT_GT(k, 0u);
  std::optional<RaceRun> hit;
  for (std::uint64_t seed = 1; seed <= 200 && !hit; ++seed) {
    RaceRun r = run_race(*s, s->buggy_profile, pct(seed, k));
    ASSERT_TRUE(r.error.empty()) << r.error;
    if (r.found) hit = std::move(r);
  }
  ASSERT_TRUE(hit) << "the reload race was not found in 200 PCT schedules";
  const std::string text = replay_string(*s, s->buggy_profile, hit->run.replay);
  EXPECT_LE(text.size(), 256u);
  std::string why;
  const auto parsed = parse_replay(text, &why);
  ASSERT_TRUE(parsed) << why;
  model::engine::Options rep;
  rep.strategy = model::engine::Strategy::Replay;
  rep.replay = parsed->choices;
  const RaceRun again = run_race(*parsed->scenario, parsed->profile, rep);
  EXPECT_FALSE(again.run.replay_diverged);
  EXPECT_TRUE(again.found);
  EXPECT_EQ(again.run.text(), hit->run.text());

  const std::uint64_t kf = run_length(*s, s->fixed_profile);
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    const RaceRun r = run_race(*s, s->fixed_profile, pct(seed, kf));
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_FALSE(r.found) << "seed " << seed << ": " << replay_string(*s, s->fixed_profile, r.run.replay);
  }
}

INSTANTIATE_TEST_SUITE_P(Catalogue, EveryRace,
                         ::testing::Values("certs-toctou", "launch-update-revert", "nonsnp-guest-req", "vmsa-features"),
                         [](const auto& param_info) {
                           std::string n(param_info.param);
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(Races, CatalogueEntriesAreComplete) {
  for (const RaceScenario& s : race_scenarios()) {
    EXPECT_FALSE(s.summary.empty()) << s.name;
    EXPECT_FALSE(s.source.empty()) << s.name;
    EXPECT_FALSE(s.agents.empty()) << s.name;
    EXPECT_NE(model::kvm::find_profile(s.buggy_profile), nullptr) << s.name;
    EXPECT_NE(model::kvm::find_profile(s.fixed_profile), nullptr) << s.name;
  }
}

TEST(Races, SameSeed_SameTraceHash) {
  const RaceScenario* s = find_race("certs-toctou");
  ASSERT_NE(s, nullptr);
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    EXPECT_EQ(run_race(*s, s->buggy_profile, pct(seed, 46)).run.hash(),
              run_race(*s, s->buggy_profile, pct(seed, 46)).run.hash());
  }
}

TEST(Races, BadReplayStrings_SayWhatIsWrong) {
  std::string why;
  EXPECT_FALSE(parse_replay("certs-toctou", &why));
  EXPECT_NE(why.find("NAME/PROFILE/CHOICES"), std::string::npos);
  EXPECT_FALSE(parse_replay("nope/upstream/a", &why));
  EXPECT_NE(why.find("no scenario 'nope'"), std::string::npos);
  EXPECT_FALSE(parse_replay("certs-toctou/nope/a", &why));
  EXPECT_NE(why.find("no kernel profile 'nope'"), std::string::npos);
}

}  // namespace
}  // namespace snplab::scenarios
