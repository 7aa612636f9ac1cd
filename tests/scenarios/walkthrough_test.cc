// The RMP walk-through scenario (facts §9(b)): the RFC v4 kernel lets userspace cause one
// double assignment and one erroneous revert; the fixed kernel causes none.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "snp/scenarios/rmp_walkthrough.h"

namespace snplab::scenarios {
namespace {

using model::FindingKind;
using model::Finding;

constexpr model::Pfn kVm1Page0 = 0x100000;
constexpr model::Pfn kVm1Page1 = 0x100001;

std::ptrdiff_t count_kind(const WalkthroughResult& r, FindingKind k) {
  return std::count_if(r.findings.begin(), r.findings.end(), [k](const Finding& f) { return f.kind == k; });
}

TEST(RmpWalkthrough, RfcV4_YieldsOneDoubleAssignmentAndOneErroneousRevert) {
  const WalkthroughResult r = run_rmp_walkthrough(WalkthroughKernel::RfcV4);

  EXPECT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(count_kind(r, snplab::model::FindingKind::DoubleAssignment), 1);
  EXPECT_EQ(count_kind(r, snplab::model::FindingKind::ErroneousRevert), 1);
  EXPECT_EQ(count_kind(r, snplab::model::FindingKind::LeakedPage), 0);
}

TEST(RmpWalkthrough, RfcV4_DoubleAssignmentIsVm2LaunchUpdateTakingVm1Page) {
  const WalkthroughResult r = run_rmp_walkthrough(WalkthroughKernel::RfcV4);

  ASSERT_EQ(r.findings.size(), 2u);
  const Finding& f = r.findings[0];
  ASSERT_EQ(f.kind, snplab::model::FindingKind::DoubleAssignment);
  EXPECT_EQ(f.ctx.op, "KVM_SEV_SNP_LAUNCH_UPDATE");
  EXPECT_EQ(f.ctx.vm, 2u);
  EXPECT_EQ(f.new_asid, 2u);
  ASSERT_EQ(f.pages.size(), 1u);
  EXPECT_EQ(f.pages[0].pfn, kVm1Page1);
  EXPECT_EQ(f.pages[0].before.asid(), 1u);
  ASSERT_TRUE(f.pages[0].owner.has_value());
  EXPECT_EQ(f.pages[0].owner->op, "sev_gmem_prepare");
  EXPECT_EQ(f.pages[0].owner->vm, 1u);
}

TEST(RmpWalkthrough, RfcV4_ErroneousRevertIsVm3ErrorPathRevertingVm1Page) {
  const WalkthroughResult r = run_rmp_walkthrough(WalkthroughKernel::RfcV4);

  ASSERT_EQ(r.findings.size(), 2u);
  const Finding& f = r.findings[1];
  ASSERT_EQ(f.kind, snplab::model::FindingKind::ErroneousRevert);
  EXPECT_EQ(f.ctx.op, "KVM_SEV_SNP_LAUNCH_UPDATE");
  EXPECT_EQ(f.ctx.vm, 3u);
  ASSERT_EQ(f.pages.size(), 1u);
  EXPECT_EQ(f.pages[0].pfn, kVm1Page0);
  EXPECT_TRUE(f.pages[0].before.assigned());
  EXPECT_FALSE(f.pages[0].after.assigned());
  ASSERT_TRUE(f.pages[0].owner.has_value());
  EXPECT_EQ(f.pages[0].owner->op, "sev_gmem_prepare");
  EXPECT_EQ(f.pages[0].owner->vm, 1u);
}

TEST(RmpWalkthrough, RfcV4_FindingsDescribeTheirPages) {
  const WalkthroughResult r = run_rmp_walkthrough(WalkthroughKernel::RfcV4);

  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_NE(r.findings[0].describe().find("0x100001"), std::string::npos);
  EXPECT_NE(r.findings[1].describe().find("0x100000"), std::string::npos);
}

TEST(RmpWalkthrough, Fixed_YieldsNoFindings) {
  const WalkthroughResult r = run_rmp_walkthrough(WalkthroughKernel::Fixed);

  EXPECT_TRUE(r.findings.empty());
  EXPECT_FALSE(r.log.empty());
}

TEST(RmpWalkthrough, Fixed_LogShowsLaunchUpdateRefused) {
  const WalkthroughResult r = run_rmp_walkthrough(WalkthroughKernel::Fixed);

  EXPECT_NE(r.log.find("-EEXIST"), std::string::npos) << r.log;
}

}  // namespace
}  // namespace snplab::scenarios
