// The stateful property suite (rapidcheck rc::state, scenarios/validate/validate.cc - the one
// `snplab validate` runs): random sequences of KVM commands - VMs, memslots v1 and v2, vCPUs,
// guest_memfds and hole punching, user memory written and read back, KVM_SET_NR_MMU_PAGES,
// ioctls on the wrong file, closing - written only against the API, each checked against a
// reference model, shrunk to a minimal sequence on failure.
//
// Instantiated per backend (sim, hw: the model is the oracle), and as a differential run that
// applies every command to a simulator configured like this host and to the real /dev/kvm side
// by side, asserting the same success or failure, the same errno and the same bytes on both
// (docs/sim-vs-hw.md, "The differential property"). The rest of the validate suite runs here
// too, property by property, so CI checks what a validation run checks.
#include <gtest/gtest.h>

#include <string>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/hw/kvm_backend.h"
#include "snp/hw/probe.h"
#include "support/backends.h"
#include "validate.h"

namespace snplab::test {
namespace {

using validate::Outcome;

void expect(const Outcome& o, const std::string& backend) {
  if (o.status == Outcome::Status::Skipped) GTEST_SKIP() << backend << ": " << o.detail;
  EXPECT_EQ(o.status, Outcome::Status::Passed) << o.detail;
}

class StatefulProperty : public ::testing::TestWithParam<BackendCase> {};

TEST_P(StatefulProperty, KvmCommandSequences_MatchTheReferenceModel) {
  expect(validate::command_sequences({{GetParam().name, GetParam().make}}, GetParam().max_success / 3, 1),
         GetParam().name);
}

// Every property of the validate suite on this backend, with what the probe says for SNP.
TEST_P(StatefulProperty, ValidateSuite_EveryPropertyPassesOrSaysWhyNot) {
  validate::Context ctx;
  ctx.backend = GetParam().name;
  ctx.make = GetParam().make;
  ctx.cases = 30;
  if (ctx.backend == "hw") {
    auto p = hw::probe();
    if (!p) GTEST_SKIP() << "hw: " << p.error().to_string();
    ctx.snp_missing = p->snp_missing();
  }
  for (const validate::Property& prop : validate::properties()) {
    const Outcome o = prop.run(ctx);
    EXPECT_NE(o.status, Outcome::Status::Failed) << prop.name << ": " << o.detail;
    if (o.status == Outcome::Status::Skipped) {
      EXPECT_FALSE(o.detail.empty()) << prop.name << " skipped without a reason";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, StatefulProperty, all_backends(), [](const auto& p) { return p.param.name; });

// The differential property: every command on the simulator and on the real /dev/kvm, the
// same answer from both.
TEST(DifferentialProperty, KvmCommandSequences_SimAndHwAgree) {
  auto host = hw::make_kvm_backend();
  if (!host) GTEST_SKIP() << "hw: " << host.error().to_string();
  api::Backend& real = **host;
  expect(validate::command_sequences(
             {{"sim", [&] { return validate::sim_like(real); }}, {"hw", [] { return hw::make_kvm_backend(); }}}, 60, 1),
         "hw");
}

}  // namespace
}  // namespace snplab::test
