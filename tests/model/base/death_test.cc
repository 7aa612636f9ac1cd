// The model's invariants (SNPLAB_ASSERT): breaking one aborts with the message that
// snplab::detail::assert_fail prints ("snplab: model invariant violated at FILE:LINE: MSG").
#include <gtest/gtest.h>

#include <cstdint>

#include "snp/model/hw/rmp.h"
#include "snp/model/hw/rmp_entry.h"

namespace snplab::model {
namespace {

constexpr Pfn kCovered = 0x1234;
constexpr Pfn kUncovered = 0x40000;  // first PFN past a 1 GiB RMP
const OpContext kCtx{"death-test", 0};

class RmpDeathTest : public ::testing::Test {
 protected:
  Rmp rmp_{*RmpLayout::covering(1ULL << 30)};
};

TEST_F(RmpDeathTest, Load_UncoveredPfn_Aborts) {
  EXPECT_DEATH((void)rmp_.load(kUncovered),
               "model invariant violated at .*load of an RMP entry for an uncovered PFN");
}

TEST_F(RmpDeathTest, Store_UncoveredPfn_Aborts) {
  EXPECT_DEATH(
      {
        Rmp::Frame f(rmp_, RmpInsn::Firmware, pfn_to_spa(kUncovered), PageSize::Size4K, kCtx);
        rmp_.store(kUncovered, RmpEntryRaw{});
      },
      "store to an RMP entry for an uncovered PFN");
}

TEST_F(RmpDeathTest, Store_OutsideFrame_Aborts) {
  EXPECT_DEATH(rmp_.store(kCovered, RmpEntryRaw{}), "model invariant violated at .*RMP entry written outside an "
                                                    "instruction frame");
}

TEST_F(RmpDeathTest, Frame_Nested_Aborts) {
  EXPECT_DEATH(
      {
        Rmp::Frame outer(rmp_, RmpInsn::Firmware, 0, PageSize::Size4K, kCtx);
        Rmp::Frame inner(rmp_, RmpInsn::Firmware, 0, PageSize::Size4K, kCtx);
      },
      "RMP instruction frames do not nest");
}

TEST_F(RmpDeathTest, Frame_DestroyedWithoutDone_Aborts) {
  EXPECT_DEATH({ Rmp::Frame f(rmp_, RmpInsn::Firmware, 0, PageSize::Size4K, kCtx); },
               "RMP instruction frame left without a status");
}

TEST_F(RmpDeathTest, Frame_DoneTwice_Aborts) {
  EXPECT_DEATH(
      {
        Rmp::Frame f(rmp_, RmpInsn::Firmware, 0, PageSize::Size4K, kCtx);
        (void)f.done(RmpStatus::Success);
        (void)f.done(RmpStatus::Success);
      },
      "RMP instruction frame finished twice");
}

TEST_F(RmpDeathTest, Frame_FailingDoneAfterStore_Aborts) {
  EXPECT_DEATH(
      {
        Rmp::Frame f(rmp_, RmpInsn::Firmware, pfn_to_spa(kCovered), PageSize::Size4K, kCtx);
        rmp_.store(kCovered, RmpEntryRaw{}.set_assigned(true).set_immutable(true));
        (void)f.done(RmpStatus::FailInput);
      },
      "a failing RMP instruction changed entries");
}

TEST_F(RmpDeathTest, Frame_RaiseAfterStore_Aborts) {
  EXPECT_DEATH(
      {
        Rmp::Frame f(rmp_, RmpInsn::Pvalidate, pfn_to_spa(kCovered), PageSize::Size4K, kCtx);
        rmp_.store(kCovered, RmpEntryRaw{}.set_validated(true));
        (void)f.raise(Fault{FaultKind::Npf, kNpfPresent, "test"});
      },
      "a faulting RMP instruction changed entries");
}

TEST_F(RmpDeathTest, SetInUse_UncoveredPfn_Aborts) {
  EXPECT_DEATH(rmp_.set_in_use(kUncovered, true), "in-use mark on an uncovered PFN");
}

TEST_F(RmpDeathTest, Frame_FailingDoneWithoutStore_DoesNotAbort) {
  Rmp::Frame f(rmp_, RmpInsn::Firmware, 0, PageSize::Size4K, kCtx);

  const RmpStatus s = f.done(RmpStatus::FailInput);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.seq(), 1u);
}

// --- RmpEntryRaw preconditions ---------------------------------------------------------

TEST(RmpEntryRawDeathTest, SetGpa_NotPageAligned_Aborts) {
  RmpEntryRaw e;
  const Gpa gpa = 0x1234;

  EXPECT_DEATH(e.set_gpa(gpa), "model invariant violated at .*RMP GPA must be page aligned");
}

TEST(RmpEntryRawDeathTest, SetGpa_At2Pow51_Aborts) {
  RmpEntryRaw e;
  const Gpa gpa = 1ULL << 51;

  EXPECT_DEATH(e.set_gpa(gpa), "RMP entry field value does not fit its bits");
}

TEST(RmpEntryRawDeathTest, SetAsid_0x400_Aborts) {
  RmpEntryRaw e;
  const Asid asid = 0x400;

  EXPECT_DEATH(e.set_asid(asid), "model invariant violated at .*RMP entry field value does not fit its bits");
}

TEST(RmpEntryRawDeathTest, SetSubpageCount_512_Aborts) {
  RmpEntryRaw e;
  const std::uint32_t n = 512;

  EXPECT_DEATH(e.set_subpage_count(n), "RMP entry field value does not fit its bits");
}

TEST(RmpEntryRawDeathTest, VmplPerms_Vmpl4_Aborts) {
  const RmpEntryRaw e;
  const unsigned vmpl = 4;

  EXPECT_DEATH((void)e.vmpl_perms(vmpl), "model invariant violated at .*VMPL out of range");
}

TEST(RmpEntryRawDeathTest, SetVmplPerms_Vmpl4_Aborts) {
  RmpEntryRaw e;
  const unsigned vmpl = 4;

  EXPECT_DEATH(e.set_vmpl_perms(vmpl, kPermRead), "VMPL out of range");
}

}  // namespace
}  // namespace snplab::model
