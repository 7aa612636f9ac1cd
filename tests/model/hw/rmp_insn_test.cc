// The RMP instructions (facts §2): every instruction, every return code it can give, the
// entries it writes, and the RmpEvent observers see. A failing instruction changes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include "snp/model/host/x86/sev.h"
#include "snp/model/hw/rmp.h"
#include "snp/model/hw/rmp_insn.h"

namespace snplab::model {
namespace {

constexpr Asid kAsid = 5;
constexpr Asid kOtherAsid = 6;
constexpr Pfn kBase = 0x1200;      // 2M-aligned PFN (SPA 18 MiB)
constexpr Pfn kPfn = kBase + 0x21;  // a 4K page that is not 2M-aligned
constexpr Gpa kGpa = 0x5000;
constexpr Gpa kGpa2M = 0x400000;
constexpr Pfn kUncovered = 0x40000;  // first PFN past a 1 GiB RMP
constexpr std::uint64_t kOneGiB = 1ULL << 30;
const OpContext kCtx{"test-op", 1};

/// EXITINFO1 of a #NPF raised by PVALIDATE/RMPADJUST (no SIZEM).
constexpr std::uint64_t kGuestInsnNpf = kNpfPresent | kNpfGuestRmp | kNpfGuestFinal | kNpfGuestEnc;

RmpState private_state(Gpa gpa, Asid asid, PageSize size = PageSize::Size4K, bool immutable = false) {
  return private_rmp_state(gpa, size, asid, immutable);
}

RmpState shared_state(PageSize size = PageSize::Size4K) { return shared_rmp_state(size); }

RmpState firmware_state() {
  RmpState st;
  st.assigned = 1;
  st.immutable = 1;
  return st;
}

std::uint64_t adjust_rdx(unsigned target_vmpl, std::uint8_t mask, bool vmsa = false) {
  return static_cast<std::uint64_t>(target_vmpl) | (static_cast<std::uint64_t>(mask) << kRmpadjustPermShift) |
         (vmsa ? kRmpadjustVmsa : 0);
}

RmpEntryRaw assigned_only() {
  RmpEntryRaw e;
  e.set_assigned(true);
  return e;
}

using Snapshot = std::vector<std::tuple<Pfn, std::uint64_t, std::uint64_t>>;

Snapshot snapshot(const Rmp& rmp) {
  Snapshot s;
  rmp.entries().for_each_nonzero([&s](Pfn pfn, const RmpEntryRaw& e) { s.emplace_back(pfn, e.lo, e.hi); });
  std::sort(s.begin(), s.end());
  return s;
}

/// An RmpEvent with its changes copied (the event's span dies with the next frame).
struct RecordedEvent {
  std::uint64_t seq = 0;
  RmpInsn insn = RmpInsn::Rmpupdate;
  Spa spa = 0;
  PageSize size = PageSize::Size4K;
  OpContext ctx;
  RmpStatus status = RmpStatus::Success;
  Fault fault;
  RmpState requested;
  std::vector<EntryChange> changes;
};

class Recorder final : public RmpObserver {
 public:
  void on_event(const Rmp& /*rmp*/, const RmpEvent& ev) override {
    events_.push_back(RecordedEvent{ev.seq, ev.insn, ev.spa, ev.size, ev.ctx, ev.status, ev.fault, ev.requested,
                                    std::vector<EntryChange>(ev.changes.begin(), ev.changes.end())});
  }
  const std::vector<RecordedEvent>& events() const { return events_; }

 private:
  std::vector<RecordedEvent> events_;
};

class RmpInsnTest : public ::testing::Test {
 protected:
  RmpStatus assign(Pfn pfn, Gpa gpa, Asid asid = kAsid, bool immutable = false) {
    return rmpupdate(rmp_, pfn_to_spa(pfn), private_state(gpa, asid, PageSize::Size4K, immutable), kCtx);
  }
  RmpStatus assign_2m(Pfn base, Gpa gpa, Asid asid = kAsid, bool immutable = false) {
    return rmpupdate(rmp_, pfn_to_spa(base), private_state(gpa, asid, PageSize::Size2M, immutable), kCtx);
  }
  RmpStatus share(Pfn pfn, PageSize size = PageSize::Size4K) {
    return rmpupdate(rmp_, pfn_to_spa(pfn), shared_state(size), kCtx);
  }
  GuestInsnResult validate(Pfn pfn, Gpa gpa, std::uint64_t rcx = 0, std::uint64_t rdx = 1) {
    return pvalidate(rmp_, cpu0_, gpa, pfn_to_spa(pfn), rcx, rdx, kCtx);
  }
  GuestInsnResult adjust(unsigned vmpl, Pfn pfn, Gpa gpa, std::uint64_t rcx, std::uint64_t rdx) {
    return rmpadjust(rmp_, GuestCpu{kAsid, vmpl}, gpa, pfn_to_spa(pfn), rcx, rdx, kCtx);
  }

  Rmp rmp_{*RmpLayout::covering(kOneGiB)};
  const GuestCpu cpu0_{kAsid, 0};
};

/// A 1 GiB RMP plus one page: the 2 MiB region at 1 GiB is covered only at its first page.
RmpLayout partly_covered_layout() { return *RmpLayout::covering(kOneGiB + kPageSize); }

// =======================================================================================
// RMPUPDATE: success

TEST_F(RmpInsnTest, Rmpupdate_Assign4K_WritesRequestedFields) {
  const RmpStatus s = assign(kPfn, kGpa);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kPfn);
  EXPECT_TRUE(e.assigned());
  EXPECT_EQ(e.page_size(), PageSize::Size4K);
  EXPECT_FALSE(e.immutable());
  EXPECT_FALSE(e.lock());
  EXPECT_EQ(e.gpa(), kGpa);
  EXPECT_EQ(e.asid(), kAsid);
  EXPECT_FALSE(e.validated());
  EXPECT_FALSE(e.vmsa());
  EXPECT_EQ(e.subpage_count(), 0u);
  EXPECT_EQ(page_state(e), PageState::GuestInvalid);
}

TEST_F(RmpInsnTest, Rmpupdate_AssignImmutable_SetsImmutableAndLockAsPreGuest) {
  const RmpStatus s = assign(kPfn, kGpa, kAsid, true);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kPfn);
  EXPECT_TRUE(e.immutable());
  EXPECT_TRUE(e.lock());
  EXPECT_EQ(page_state(e), PageState::PreGuest);
}

TEST_F(RmpInsnTest, Rmpupdate_Assign4K_GivesVmpl0AllPermissionsOthersNone) {
  const RmpStatus s = assign(kPfn, kGpa);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kPfn);
  EXPECT_EQ(e.vmpl_perms(0), kPermAll);
  EXPECT_EQ(e.vmpl_perms(1), 0u);
  EXPECT_EQ(e.vmpl_perms(2), 0u);
  EXPECT_EQ(e.vmpl_perms(3), 0u);
}

TEST_F(RmpInsnTest, Rmpupdate_FirmwarePage_WritesFirmwareEntryWithVmpl0Permissions) {
  const RmpStatus s = rmpupdate(rmp_, pfn_to_spa(kPfn), firmware_state(), kCtx);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kPfn);
  EXPECT_EQ(e.lo, 0x8000000000000005ULL);
  EXPECT_EQ(e.hi, std::uint64_t{kPermAll});
  EXPECT_EQ(page_state(e), PageState::Firmware);
}

TEST_F(RmpInsnTest, Rmpupdate_ReassignAfterPvalidate_ClearsValidated) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(validate(kPfn, kGpa).status, RmpStatus::Success);
  ASSERT_TRUE(rmp_.inspect(kPfn).validated());

  const RmpStatus s = assign(kPfn, kGpa);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_FALSE(rmp_.inspect(kPfn).validated());
}

TEST_F(RmpInsnTest, Rmpupdate_ReassignAfterRmpadjust_ClearsVmpl1To3AndVmsa) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead | kPermWrite)).status, RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(2, kPermRead)).status, RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(3, kPermRead, true)).status, RmpStatus::Success);
  ASSERT_TRUE(rmp_.inspect(kPfn).vmsa());

  const RmpStatus s = assign(kPfn, kGpa);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kPfn);
  EXPECT_EQ(e.vmpl_perms(0), kPermAll);
  EXPECT_EQ(e.vmpl_perms(1), 0u);
  EXPECT_EQ(e.vmpl_perms(2), 0u);
  EXPECT_EQ(e.vmpl_perms(3), 0u);
  EXPECT_FALSE(e.vmsa());
}

TEST_F(RmpInsnTest, Rmpupdate_MakeShared_WritesAllZeroEntry) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  const RmpStatus s = share(kPfn);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_AssignTwoNonAlignedPages_CountsThemInAlignedEntry) {
  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::Success);

  const RmpStatus s = assign(kBase + 2, kGpa + kPageSize);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase).subpage_count(), 2u);
  EXPECT_FALSE(rmp_.inspect(kBase).assigned());
}

TEST_F(RmpInsnTest, Rmpupdate_ShareNonAlignedPage_DecrementsAlignedSubpageCount) {
  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::Success);
  ASSERT_EQ(assign(kBase + 2, kGpa + kPageSize), RmpStatus::Success);

  const RmpStatus s = share(kBase + 1);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase).subpage_count(), 1u);
}

TEST_F(RmpInsnTest, Rmpupdate_ReassignAssignedNonAlignedPage_KeepsSubpageCount) {
  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::Success);

  const RmpStatus s = assign(kBase + 1, kGpa, kOtherAsid);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase).subpage_count(), 1u);
}

TEST_F(RmpInsnTest, Rmpupdate_ShareAlreadySharedPage_KeepsSubpageCountZero) {
  const RmpStatus s = share(kBase + 1);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase).subpage_count(), 0u);
}

TEST_F(RmpInsnTest, Rmpupdate_AssignAlignedEntry_PreservesSubpageCount) {
  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::Success);
  ASSERT_EQ(assign(kBase + 2, kGpa + kPageSize), RmpStatus::Success);

  const RmpStatus s = assign(kBase, kGpa2M);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e0 = rmp_.inspect(kBase);
  EXPECT_TRUE(e0.assigned());
  EXPECT_EQ(e0.gpa(), kGpa2M);
  EXPECT_EQ(e0.subpage_count(), 2u);
}

TEST_F(RmpInsnTest, Rmpupdate_ShareAlignedEntry_PreservesSubpageCount) {
  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::Success);
  ASSERT_EQ(assign(kBase, kGpa2M), RmpStatus::Success);

  const RmpStatus s = share(kBase);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e0 = rmp_.inspect(kBase);
  EXPECT_FALSE(e0.assigned());
  EXPECT_EQ(e0.subpage_count(), 1u);
}

TEST_F(RmpInsnTest, Rmpupdate_Assign2M_WritesAligned2MEntry) {
  const RmpStatus s = assign_2m(kBase, kGpa2M);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e0 = rmp_.inspect(kBase);
  EXPECT_TRUE(e0.assigned());
  EXPECT_EQ(e0.page_size(), PageSize::Size2M);
  EXPECT_EQ(e0.gpa(), kGpa2M);
  EXPECT_EQ(e0.asid(), kAsid);
  EXPECT_EQ(e0.vmpl_perms(0), kPermAll);
  EXPECT_EQ(e0.subpage_count(), 0u);
  EXPECT_FALSE(e0.validated());
}

TEST_F(RmpInsnTest, Rmpupdate_Assign2M_SubEntriesMirrorAssignedOnly) {
  const RmpStatus s = assign_2m(kBase, kGpa2M);

  ASSERT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase + 1), assigned_only());
  EXPECT_EQ(rmp_.inspect(kBase + kPagesPerHuge - 1), assigned_only());
  EXPECT_EQ(rmp_.inspect(kBase + kPagesPerHuge), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_Share2M_ClearsSubEntriesAndLeavesUnassigned2MEntry) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);

  const RmpStatus s = share(kBase, PageSize::Size2M);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e0 = rmp_.inspect(kBase);
  EXPECT_FALSE(e0.assigned());
  EXPECT_EQ(e0.page_size(), PageSize::Size2M);
  EXPECT_EQ(e0.hi, 0u);
  EXPECT_EQ(rmp_.inspect(kBase + 1), RmpEntryRaw{});
  EXPECT_EQ(rmp_.inspect(kBase + kPagesPerHuge - 1), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_Reassign2MAfterPvalidate_SucceedsAndClearsValidated) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  ASSERT_EQ(validate(kBase, kGpa2M, 1).status, RmpStatus::Success);
  ASSERT_TRUE(rmp_.inspect(kBase).validated());

  const RmpStatus s = assign_2m(kBase, kGpa2M, kOtherAsid);

  ASSERT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase).asid(), kOtherAsid);
  EXPECT_FALSE(rmp_.inspect(kBase).validated());
}

TEST_F(RmpInsnTest, Rmpupdate_4KInsideUnassigned2M_SucceedsAndDemotesAlignedEntry) {
  ASSERT_EQ(share(kBase, PageSize::Size2M), RmpStatus::Success);
  ASSERT_EQ(rmp_.inspect(kBase).page_size(), PageSize::Size2M);

  const RmpStatus s = assign(kBase + 3, kGpa);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e0 = rmp_.inspect(kBase);
  EXPECT_EQ(e0.page_size(), PageSize::Size4K);
  EXPECT_FALSE(e0.assigned());
  EXPECT_EQ(e0.subpage_count(), 1u);
  EXPECT_TRUE(rmp_.inspect(kBase + 3).assigned());
}

TEST_F(RmpInsnTest, Rmpupdate_4KAtAlignedPageOfUnassigned2M_WritesA4KEntry) {
  ASSERT_EQ(share(kBase, PageSize::Size2M), RmpStatus::Success);

  const RmpStatus s = assign(kBase, kGpa2M);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e0 = rmp_.inspect(kBase);
  EXPECT_EQ(e0.page_size(), PageSize::Size4K);
  EXPECT_TRUE(e0.assigned());
  EXPECT_EQ(e0.subpage_count(), 0u);
}

TEST_F(RmpInsnTest, Rmpupdate_AsidJustBelowInvalidAsid_Succeeds) {
  const RmpStatus s = assign(kPfn, kGpa, 0x3FE);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kPfn).asid(), 0x3FEu);
}

TEST_F(RmpInsnTest, Rmpupdate_GpaJustBelow2Pow51_Succeeds) {
  const Gpa gpa = (1ULL << 51) - kPageSize;

  const RmpStatus s = assign(kPfn, gpa);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kPfn).gpa(), gpa);
}

TEST_F(RmpInsnTest, Rmpupdate_LastCoveredPage_Succeeds) {
  const RmpStatus s = assign(kUncovered - 1, kGpa);

  EXPECT_EQ(s, RmpStatus::Success);
}

// =======================================================================================
// RMPUPDATE: FAIL_INPUT

TEST_F(RmpInsnTest, Rmpupdate_MisalignedSpa_FailsInput) {
  const RmpStatus s = rmpupdate(rmp_, pfn_to_spa(kPfn) + 0x800, private_state(kGpa, kAsid), kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_UncoveredSpa_FailsInput) {
  const RmpStatus s = assign(kUncovered, kGpa);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kUncovered), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_SpaAt2Pow52_FailsInput) {
  const RmpStatus s = rmpupdate(rmp_, kMaxPhysAddr, private_state(kGpa, kAsid), kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
}

TEST_F(RmpInsnTest, Rmpupdate_RsvdNonZero_FailsInput) {
  RmpState st = private_state(kGpa, kAsid);
  st.rsvd = 1;

  const RmpStatus s = rmpupdate(rmp_, pfn_to_spa(kPfn), st, kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_AssignedByteTwo_FailsInput) {
  RmpState st = private_state(kGpa, kAsid);
  st.assigned = 2;

  const RmpStatus s = rmpupdate(rmp_, pfn_to_spa(kPfn), st, kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_PagesizeByteTwo_FailsInput) {
  RmpState st = private_state(kGpa, kAsid);
  st.pagesize = 2;

  const RmpStatus s = rmpupdate(rmp_, pfn_to_spa(kPfn), st, kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_ImmutableByteTwo_FailsInput) {
  RmpState st = private_state(kGpa, kAsid);
  st.immutable = 2;

  const RmpStatus s = rmpupdate(rmp_, pfn_to_spa(kPfn), st, kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_AsidInvalid0x3FF_FailsInput) {
  const RmpStatus s = assign(kPfn, kGpa, 0x3FF);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_AsidBeyondField0x400_FailsInput) {
  const RmpStatus s = assign(kPfn, kGpa, 0x400);

  EXPECT_EQ(s, RmpStatus::FailInput);
}

TEST_F(RmpInsnTest, Rmpupdate_GpaNotPageAligned_FailsInput) {
  const RmpStatus s = assign(kPfn, kGpa + 0x800);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_GpaAt2Pow51_FailsInput) {
  const RmpStatus s = assign(kPfn, 1ULL << 51);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_UnassignedWithAsid_FailsInput) {
  RmpState st = shared_state();
  st.asid = kAsid;

  const RmpStatus s = rmpupdate(rmp_, pfn_to_spa(kPfn), st, kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
}

TEST_F(RmpInsnTest, Rmpupdate_UnassignedWithGpa_FailsInput) {
  RmpState st = shared_state();
  st.gpa = kGpa;

  const RmpStatus s = rmpupdate(rmp_, pfn_to_spa(kPfn), st, kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
}

TEST_F(RmpInsnTest, Rmpupdate_UnassignedWithImmutable_FailsInput) {
  RmpState st = shared_state();
  st.immutable = 1;

  const RmpStatus s = rmpupdate(rmp_, pfn_to_spa(kPfn), st, kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_AssignedAsid0NotImmutable_FailsInput) {
  const RmpStatus s = assign(kPfn, 0, 0, false);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_2MSpaNot2MAligned_FailsInput) {
  const RmpStatus s = assign_2m(kBase + 1, kGpa2M);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_TRUE(snapshot(rmp_).empty());
}

TEST_F(RmpInsnTest, Rmpupdate_2MGpaNot2MAligned_FailsInput) {
  const RmpStatus s = assign_2m(kBase, kGpa2M + kPageSize);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_TRUE(snapshot(rmp_).empty());
}

TEST_F(RmpInsnTest, Rmpupdate_2MRegionPartlyCovered_FailsInput) {
  Rmp rmp(partly_covered_layout());
  ASSERT_TRUE(rmp.covers(kUncovered));
  ASSERT_FALSE(rmp.covers(kUncovered + 1));

  const RmpStatus s =
      rmpupdate(rmp, pfn_to_spa(kUncovered), private_state(kGpa2M, kAsid, PageSize::Size2M), kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_TRUE(snapshot(rmp).empty());
}

// =======================================================================================
// RMPUPDATE: FAIL_PERMISSION, FAIL_INUSE, FAIL_OVERLAP

TEST_F(RmpInsnTest, Rmpupdate_ImmutableEntry_FailsPermission) {
  ASSERT_EQ(rmpupdate(rmp_, pfn_to_spa(kPfn), firmware_state(), kCtx), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = share(kPfn);

  EXPECT_EQ(s, RmpStatus::FailPermission);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpupdate_4KInsideImmutable2M_FailsPermission) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M, kAsid, true), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = assign(kBase + 1, kGpa, kOtherAsid);

  EXPECT_EQ(s, RmpStatus::FailPermission);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpupdate_2MOverRegionWithImmutable4K_FailsPermissionBeforeOverlap) {
  ASSERT_EQ(rmpupdate(rmp_, pfn_to_spa(kBase + 9), firmware_state(), kCtx), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = assign_2m(kBase, kGpa2M);

  EXPECT_EQ(s, RmpStatus::FailPermission);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpupdate_InUsePage_FailsInUse) {
  rmp_.set_in_use(kPfn, true);

  const RmpStatus s = assign(kPfn, kGpa);

  EXPECT_EQ(s, RmpStatus::FailInUse);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpupdate_InUseMarkCleared_Succeeds) {
  rmp_.set_in_use(kPfn, true);
  rmp_.set_in_use(kPfn, false);

  const RmpStatus s = assign(kPfn, kGpa);

  EXPECT_EQ(s, RmpStatus::Success);
}

TEST_F(RmpInsnTest, Rmpupdate_2MWithInUseSubPage_FailsInUse) {
  rmp_.set_in_use(kBase + 300, true);

  const RmpStatus s = assign_2m(kBase, kGpa2M);

  EXPECT_EQ(s, RmpStatus::FailInUse);
  EXPECT_TRUE(snapshot(rmp_).empty());
}

TEST_F(RmpInsnTest, Rmpupdate_ImmutableAndInUse_FailsPermissionFirst) {
  ASSERT_EQ(rmpupdate(rmp_, pfn_to_spa(kPfn), firmware_state(), kCtx), RmpStatus::Success);
  rmp_.set_in_use(kPfn, true);

  const RmpStatus s = share(kPfn);

  EXPECT_EQ(s, RmpStatus::FailPermission);
}

TEST_F(RmpInsnTest, Rmpupdate_4KInsideAssigned2M_FailsOverlap) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = assign(kBase + 1, kGpa, kOtherAsid);

  EXPECT_EQ(s, RmpStatus::FailOverlap);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpupdate_4KAtAlignedPageOfAssigned2M_FailsOverlap) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = share(kBase);

  EXPECT_EQ(s, RmpStatus::FailOverlap);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpupdate_InUseInsideAssigned2M_FailsInUseBeforeOverlap) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  rmp_.set_in_use(kBase + 1, true);

  const RmpStatus s = assign(kBase + 1, kGpa);

  EXPECT_EQ(s, RmpStatus::FailInUse);
}

TEST_F(RmpInsnTest, Rmpupdate_2MOverRegionWith4KAssignedSubPage_FailsOverlap) {
  ASSERT_EQ(assign(kBase + 5, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = assign_2m(kBase, kGpa2M);

  EXPECT_EQ(s, RmpStatus::FailOverlap);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpupdate_2MShareOverRegionWith4KAssignedSubPage_FailsOverlap) {
  ASSERT_EQ(assign(kBase + 5, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = share(kBase, PageSize::Size2M);

  EXPECT_EQ(s, RmpStatus::FailOverlap);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpupdate_2MOver4KAssignedAlignedEntry_FailsOverlap) {
  ASSERT_EQ(assign(kBase, kGpa2M), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = assign_2m(kBase, kGpa2M);

  EXPECT_EQ(s, RmpStatus::FailOverlap);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpupdate_2MAfterSubPageReturned_Succeeds) {
  ASSERT_EQ(assign(kBase + 5, kGpa), RmpStatus::Success);
  ASSERT_EQ(share(kBase + 5), RmpStatus::Success);

  const RmpStatus s = assign_2m(kBase, kGpa2M);

  EXPECT_EQ(s, RmpStatus::Success);
}

// =======================================================================================
// PSMASH

class PsmashTest : public RmpInsnTest {
 protected:
  void SetUp() override { ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success); }
};

TEST_F(PsmashTest, Psmash_Assigned2M_Writes512FourKEntries) {
  Recorder rec;
  rmp_.add_observer(&rec);

  const RmpStatus s = psmash(rmp_, pfn_to_spa(kBase), kCtx);

  ASSERT_EQ(s, RmpStatus::Success);
  ASSERT_EQ(rec.events().size(), 1u);
  EXPECT_EQ(rec.events()[0].changes.size(), std::size_t{kPagesPerHuge});
  EXPECT_EQ(rmp_.inspect(kBase).page_size(), PageSize::Size4K);
  EXPECT_EQ(rmp_.inspect(kBase + 1).page_size(), PageSize::Size4K);
  EXPECT_EQ(rmp_.inspect(kBase + kPagesPerHuge - 1).page_size(), PageSize::Size4K);
  EXPECT_TRUE(rmp_.inspect(kBase + kPagesPerHuge - 1).assigned());
}

TEST_F(PsmashTest, Psmash_Assigned2M_GivesConsecutiveGpas) {
  const RmpStatus s = psmash(rmp_, pfn_to_spa(kBase), kCtx);

  ASSERT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase).gpa(), kGpa2M);
  EXPECT_EQ(rmp_.inspect(kBase + 1).gpa(), kGpa2M + kPageSize);
  EXPECT_EQ(rmp_.inspect(kBase + 0x100).gpa(), kGpa2M + 0x100 * kPageSize);
  EXPECT_EQ(rmp_.inspect(kBase + kPagesPerHuge - 1).gpa(), kGpa2M + (kPagesPerHuge - 1) * kPageSize);
}

TEST_F(PsmashTest, Psmash_Validated2M_CopiesValidatedAsidAndPermissions) {
  ASSERT_EQ(validate(kBase, kGpa2M, 1).status, RmpStatus::Success);
  ASSERT_EQ(adjust(0, kBase, kGpa2M, 1, adjust_rdx(1, kPermRead)).status, RmpStatus::Success);

  const RmpStatus s = psmash(rmp_, pfn_to_spa(kBase), kCtx);

  ASSERT_EQ(s, RmpStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kBase + 300);
  EXPECT_TRUE(e.assigned());
  EXPECT_TRUE(e.validated());
  EXPECT_EQ(e.asid(), kAsid);
  EXPECT_EQ(e.vmpl_perms(0), kPermAll);
  EXPECT_EQ(e.vmpl_perms(1), kPermRead);
  EXPECT_TRUE(rmp_.inspect(kBase).validated());
}

TEST_F(PsmashTest, Psmash_Assigned2M_SetsAlignedSubpageCount511) {
  const RmpStatus s = psmash(rmp_, pfn_to_spa(kBase), kCtx);

  ASSERT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase).subpage_count(), 511u);
  EXPECT_EQ(rmp_.inspect(kBase + 1).subpage_count(), 0u);
}

TEST_F(PsmashTest, Psmash_ThenShareOneSubPage_DecrementsCountTo510) {
  ASSERT_EQ(psmash(rmp_, pfn_to_spa(kBase), kCtx), RmpStatus::Success);

  const RmpStatus s = share(kBase + 7);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase).subpage_count(), 510u);
}

TEST_F(PsmashTest, Psmash_Unassigned2M_GivesHypervisorEntries) {
  ASSERT_EQ(share(kBase, PageSize::Size2M), RmpStatus::Success);

  const RmpStatus s = psmash(rmp_, pfn_to_spa(kBase), kCtx);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase), RmpEntryRaw{});
  EXPECT_EQ(rmp_.inspect(kBase + 1), RmpEntryRaw{});
}

TEST_F(PsmashTest, Psmash_SpaNot2MAligned_FailsInput) {
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = psmash(rmp_, pfn_to_spa(kBase + 1), kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(PsmashTest, Psmash_SpaAt2Pow52_FailsInput) {
  const RmpStatus s = psmash(rmp_, kMaxPhysAddr, kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
}

TEST_F(PsmashTest, Psmash_4KEntry_FailsInput) {
  const Pfn base = kBase + kPagesPerHuge;
  ASSERT_EQ(assign(base, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = psmash(rmp_, pfn_to_spa(base), kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(PsmashTest, Psmash_AlreadySmashed_FailsInput) {
  ASSERT_EQ(psmash(rmp_, pfn_to_spa(kBase), kCtx), RmpStatus::Success);

  const RmpStatus s = psmash(rmp_, pfn_to_spa(kBase), kCtx);

  EXPECT_EQ(s, RmpStatus::FailInput);
}

TEST_F(PsmashTest, Psmash_RegionPartlyCovered_FailsBadAddr) {
  Rmp rmp(partly_covered_layout());

  const RmpStatus s = psmash(rmp, pfn_to_spa(kUncovered), kCtx);

  EXPECT_EQ(s, kPsmashFailBadAddr);
  EXPECT_EQ(static_cast<std::uint32_t>(s), 4u);
}

TEST_F(PsmashTest, Psmash_RegionNotCovered_FailsBadAddr) {
  const RmpStatus s = psmash(rmp_, 2 * kOneGiB, kCtx);

  EXPECT_EQ(s, kPsmashFailBadAddr);
}

TEST_F(PsmashTest, Psmash_Immutable2M_FailsPermission) {
  const Pfn base = kBase + kPagesPerHuge;
  ASSERT_EQ(assign_2m(base, kGpa2M, kAsid, true), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = psmash(rmp_, pfn_to_spa(base), kCtx);

  EXPECT_EQ(s, RmpStatus::FailPermission);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(PsmashTest, Psmash_PageInUse_FailsInUse) {
  rmp_.set_in_use(kBase + 7, true);
  const Snapshot before = snapshot(rmp_);

  const RmpStatus s = psmash(rmp_, pfn_to_spa(kBase), kCtx);

  EXPECT_EQ(s, RmpStatus::FailInUse);
  EXPECT_EQ(snapshot(rmp_), before);
}

// =======================================================================================
// RMPREAD

TEST_F(RmpInsnTest, Rmpread_AssignedAligned4K_ReturnsArchitecturalView) {
  ASSERT_EQ(assign(kBase, kGpa, kAsid, true), RmpStatus::Success);

  const RmpreadResult r = rmpread(rmp_, pfn_to_spa(kBase));

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_EQ(r.entry.gpa, kGpa);
  EXPECT_EQ(r.entry.assigned, 1u);
  EXPECT_EQ(r.entry.size_flags, 0u);
  EXPECT_EQ(r.entry.immutable, 1u);
  EXPECT_EQ(r.entry.asid, kAsid);
}

TEST_F(RmpInsnTest, Rmpread_2MEntry_SetsPageSizeFlagOnly) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);

  const RmpreadResult r = rmpread(rmp_, pfn_to_spa(kBase));

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_EQ(r.entry.size_flags, RmpReadEntry::kPageSizeFlag);
  EXPECT_EQ(r.entry.gpa, kGpa2M);
}

TEST_F(RmpInsnTest, Rmpread_RegionWithAssignedSubPage_SetsHpageRegionStatus) {
  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::Success);

  const RmpreadResult r = rmpread(rmp_, pfn_to_spa(kBase));

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_EQ(r.entry.size_flags, RmpReadEntry::kHpageRegionStatusFlag);
  EXPECT_EQ(r.entry.assigned, 0u);
}

TEST_F(RmpInsnTest, Rmpread_SubPageOfRegionWithAssignedSubPage_SetsHpageRegionStatus) {
  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::Success);

  const RmpreadResult r = rmpread(rmp_, pfn_to_spa(kBase + 1));

  EXPECT_EQ(r.entry.size_flags, RmpReadEntry::kHpageRegionStatusFlag);
  EXPECT_EQ(r.entry.assigned, 1u);
}

TEST_F(RmpInsnTest, Rmpread_OnlyAlignedPageAssigned_ClearsHpageRegionStatus) {
  ASSERT_EQ(assign(kBase, kGpa2M), RmpStatus::Success);

  const RmpreadResult r = rmpread(rmp_, pfn_to_spa(kBase));

  EXPECT_EQ(r.entry.size_flags, 0u);
  EXPECT_EQ(r.entry.assigned, 1u);
}

TEST_F(RmpInsnTest, Rmpread_UnalignedSpa_ReadsPageHoldingIt) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  const RmpreadResult r = rmpread(rmp_, pfn_to_spa(kPfn) + 0x123);

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_EQ(r.entry.gpa, kGpa);
}

TEST_F(RmpInsnTest, Rmpread_UncoveredSpa_FailsInput) {
  const RmpreadResult r = rmpread(rmp_, pfn_to_spa(kUncovered));

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(r.entry, RmpReadEntry{});
}

TEST_F(RmpInsnTest, Rmpread_SpaAt2Pow52_FailsInput) {
  const RmpreadResult r = rmpread(rmp_, kMaxPhysAddr);

  EXPECT_EQ(r.status, RmpStatus::FailInput);
}

TEST_F(RmpInsnTest, Rmpread_AssignedPage_ChangesNothing) {
  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const RmpreadResult r = rmpread(rmp_, pfn_to_spa(kBase + 1));

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_EQ(snapshot(rmp_), before);
}

// =======================================================================================
// PVALIDATE

TEST_F(RmpInsnTest, Pvalidate_Validate4K_SetsValidated) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  const GuestInsnResult r = validate(kPfn, kGpa);

  EXPECT_FALSE(r.fault.raised());
  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_FALSE(r.cf);
  EXPECT_TRUE(rmp_.inspect(kPfn).validated());
  EXPECT_EQ(page_state(rmp_.inspect(kPfn)), PageState::GuestValid);
}

TEST_F(RmpInsnTest, Pvalidate_Rescind_ClearsValidated) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(validate(kPfn, kGpa).status, RmpStatus::Success);

  const GuestInsnResult r = validate(kPfn, kGpa, 0, 0);

  EXPECT_FALSE(r.fault.raised());
  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_FALSE(r.cf);
  EXPECT_FALSE(rmp_.inspect(kPfn).validated());
}

TEST_F(RmpInsnTest, Pvalidate_ValidateTwice_SecondSetsCfAndChangesNothing) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(validate(kPfn, kGpa).status, RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);
  Recorder rec;
  rmp_.add_observer(&rec);

  const GuestInsnResult r = validate(kPfn, kGpa);

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_TRUE(r.cf);
  EXPECT_EQ(snapshot(rmp_), before);
  ASSERT_EQ(rec.events().size(), 1u);
  EXPECT_TRUE(rec.events()[0].changes.empty());
}

TEST_F(RmpInsnTest, Pvalidate_RescindUnvalidated_SetsCf) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  const GuestInsnResult r = validate(kPfn, kGpa, 0, 0);

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_TRUE(r.cf);
  EXPECT_FALSE(rmp_.inspect(kPfn).validated());
}

TEST_F(RmpInsnTest, Pvalidate_RcxTwo_FailsInput) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = validate(kPfn, kGpa, 2, 1);

  EXPECT_FALSE(r.fault.raised());
  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Pvalidate_RdxTwo_FailsInput) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = validate(kPfn, kGpa, 0, 2);

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Pvalidate_GpaNotPageAligned_FailsInput) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  const GuestInsnResult r = validate(kPfn, kGpa + 0x10);

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_FALSE(rmp_.inspect(kPfn).validated());
}

TEST_F(RmpInsnTest, Pvalidate_SpaNotPageAligned_FailsInput) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  const GuestInsnResult r = pvalidate(rmp_, cpu0_, kGpa, pfn_to_spa(kPfn) + 0x10, 0, 1, kCtx);

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_FALSE(rmp_.inspect(kPfn).validated());
}

TEST_F(RmpInsnTest, Pvalidate_2MRequestOn4KAlignedAddresses_FailsInput) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = validate(kBase + 1, kGpa2M + kPageSize, 1, 1);

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Pvalidate_AtVmpl1_FailsPermission) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = pvalidate(rmp_, GuestCpu{kAsid, 1}, kGpa, pfn_to_spa(kPfn), 0, 1, kCtx);

  EXPECT_FALSE(r.fault.raised());
  EXPECT_EQ(r.status, RmpStatus::FailPermission);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Pvalidate_2MRequestOn4KEntry_FailsSizeMismatch) {
  ASSERT_EQ(assign(kBase, kGpa2M), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = validate(kBase, kGpa2M, 1, 1);

  EXPECT_FALSE(r.fault.raised());
  EXPECT_EQ(r.status, RmpStatus::FailSizeMismatch);
  EXPECT_EQ(static_cast<std::uint32_t>(r.status), 6u);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Pvalidate_4KRequestOn2MEntry_NpfWithSizem) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = validate(kBase + 3, kGpa2M + 3 * kPageSize);

  EXPECT_EQ(r.fault.kind, FaultKind::Npf);
  EXPECT_EQ(r.fault.code, kGuestInsnNpf | kNpfGuestSizem);
  EXPECT_EQ(r.fault.check, "Page-Size");
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Pvalidate_HypervisorPage_NpfGuestOwned) {
  const GuestInsnResult r = validate(kPfn, kGpa);

  EXPECT_EQ(r.fault.kind, FaultKind::Npf);
  EXPECT_EQ(r.fault.code, kGuestInsnNpf);
  EXPECT_EQ(r.fault.check, "Guest-Owned");
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Pvalidate_OtherAsidsPage_NpfGuestOwned) {
  ASSERT_EQ(assign(kPfn, kGpa, kOtherAsid), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = validate(kPfn, kGpa);

  EXPECT_EQ(r.fault.kind, FaultKind::Npf);
  EXPECT_EQ(r.fault.code, kGuestInsnNpf);
  EXPECT_EQ(r.fault.check, "Guest-Owned");
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Pvalidate_GpaMismatch_NpfReverseMap) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = validate(kPfn, kGpa + kPageSize);

  EXPECT_EQ(r.fault.kind, FaultKind::Npf);
  EXPECT_EQ(r.fault.code, kGuestInsnNpf);
  EXPECT_EQ(r.fault.check, "Reverse-Map");
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Pvalidate_PreGuestPage_NpfMutable) {
  ASSERT_EQ(assign(kPfn, kGpa, kAsid, true), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = validate(kPfn, kGpa);

  EXPECT_EQ(r.fault.kind, FaultKind::Npf);
  EXPECT_EQ(r.fault.code, kGuestInsnNpf);
  EXPECT_EQ(r.fault.check, "Mutable");
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Pvalidate_UncoveredSpa_NpfCovered) {
  const GuestInsnResult r = validate(kUncovered, kGpa);

  EXPECT_EQ(r.fault.kind, FaultKind::Npf);
  EXPECT_EQ(r.fault.code, kGuestInsnNpf);
  EXPECT_EQ(r.fault.check, "Covered");
}

TEST_F(RmpInsnTest, Pvalidate_2MRequestOn2MEntry_ValidatesAligned2MEntry) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);

  const GuestInsnResult r = validate(kBase, kGpa2M, 1, 1);

  EXPECT_FALSE(r.fault.raised());
  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_FALSE(r.cf);
  EXPECT_TRUE(rmp_.inspect(kBase).validated());
  EXPECT_EQ(rmp_.inspect(kBase).page_size(), PageSize::Size2M);
  EXPECT_EQ(rmp_.inspect(kBase + 1), assigned_only());
}

TEST_F(RmpInsnTest, Pvalidate_4KAfterPsmash_ValidatesThatPageOnly) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  ASSERT_EQ(psmash(rmp_, pfn_to_spa(kBase), kCtx), RmpStatus::Success);

  const GuestInsnResult r = validate(kBase + 3, kGpa2M + 3 * kPageSize);

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_FALSE(r.fault.raised());
  EXPECT_TRUE(rmp_.inspect(kBase + 3).validated());
  EXPECT_FALSE(rmp_.inspect(kBase + 4).validated());
}

// =======================================================================================
// RMPADJUST

TEST_F(RmpInsnTest, Rmpadjust_FromVmpl0_SetsTargetPermissionByte) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  const GuestInsnResult r = adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead | kPermWrite));

  EXPECT_FALSE(r.fault.raised());
  EXPECT_EQ(r.status, RmpStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kPfn);
  EXPECT_EQ(e.vmpl_perms(1), kPermRead | kPermWrite);
  EXPECT_EQ(e.vmpl_perms(0), kPermAll);
  EXPECT_EQ(e.vmpl_perms(2), 0u);
  EXPECT_FALSE(e.vmsa());
}

TEST_F(RmpInsnTest, Rmpadjust_VmsaBitFromVmpl0_SetsVmsa) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  const GuestInsnResult r = adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead, true));

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_TRUE(rmp_.inspect(kPfn).vmsa());
}

TEST_F(RmpInsnTest, Rmpadjust_NoVmsaBitFromVmpl0_ClearsVmsa) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead, true)).status, RmpStatus::Success);

  const GuestInsnResult r = adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead));

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_FALSE(rmp_.inspect(kPfn).vmsa());
}

TEST_F(RmpInsnTest, Rmpadjust_FromVmpl1WithinOwnPermissions_SetsHigherVmpl) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead | kPermWrite)).status, RmpStatus::Success);

  const GuestInsnResult r = adjust(1, kPfn, kGpa, 0, adjust_rdx(2, kPermRead));

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kPfn).vmpl_perms(2), kPermRead);
}

TEST_F(RmpInsnTest, Rmpadjust_2MRequestOn2MEntry_SetsAlignedEntryPermissions) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);

  const GuestInsnResult r = adjust(0, kBase, kGpa2M, 1, adjust_rdx(3, kPermExecUser));

  EXPECT_EQ(r.status, RmpStatus::Success);
  EXPECT_EQ(rmp_.inspect(kBase).vmpl_perms(3), kPermExecUser);
  EXPECT_EQ(rmp_.inspect(kBase + 1), assigned_only());
}

TEST_F(RmpInsnTest, Rmpadjust_RcxTwo_FailsInput) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(0, kPfn, kGpa, 2, adjust_rdx(1, kPermRead));

  EXPECT_FALSE(r.fault.raised());
  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_ReservedRdxBit17_FailsInput) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead) | (1ULL << 17));

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_TargetVmpl4_FailsInput) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(0, kPfn, kGpa, 0, adjust_rdx(4, kPermRead));

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_ReservedMaskBits_FailsInput) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(0, kPfn, kGpa, 0, adjust_rdx(1, 0x20));

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_GpaNotPageAligned_FailsInput) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(0, kPfn, kGpa + 8, 0, adjust_rdx(1, kPermRead));

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_2MRequestOn4KAlignedAddresses_FailsInput) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);

  const GuestInsnResult r = adjust(0, kBase + 1, kGpa2M + kPageSize, 1, adjust_rdx(1, kPermRead));

  EXPECT_EQ(r.status, RmpStatus::FailInput);
}

TEST_F(RmpInsnTest, Rmpadjust_VmsaOn2MPage_FailsInput) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(0, kBase, kGpa2M, 1, adjust_rdx(1, kPermRead, true));

  EXPECT_EQ(r.status, RmpStatus::FailInput);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_TargetEqualsCallerVmpl_FailsPermission) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead)).status, RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(1, kPfn, kGpa, 0, adjust_rdx(1, kPermRead));

  EXPECT_EQ(r.status, RmpStatus::FailPermission);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_Vmpl0TargetsVmpl0_FailsPermission) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(0, kPfn, kGpa, 0, adjust_rdx(0, kPermRead));

  EXPECT_EQ(r.status, RmpStatus::FailPermission);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_TargetBelowCallerVmpl_FailsPermission) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(2, kPermRead)).status, RmpStatus::Success);

  const GuestInsnResult r = adjust(2, kPfn, kGpa, 0, adjust_rdx(1, kPermRead));

  EXPECT_EQ(r.status, RmpStatus::FailPermission);
  EXPECT_EQ(rmp_.inspect(kPfn).vmpl_perms(1), 0u);
}

TEST_F(RmpInsnTest, Rmpadjust_GrantMoreThanOwn_FailsPermission) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead)).status, RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(1, kPfn, kGpa, 0, adjust_rdx(2, kPermRead | kPermWrite));

  EXPECT_EQ(r.status, RmpStatus::FailPermission);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_VmsaBitFromVmpl1_FailsPermission) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermAll)).status, RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(1, kPfn, kGpa, 0, adjust_rdx(2, kPermRead, true));

  EXPECT_EQ(r.status, RmpStatus::FailPermission);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_2MRequestOn4KEntry_FailsSizeMismatch) {
  ASSERT_EQ(assign(kBase, kGpa2M), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(0, kBase, kGpa2M, 1, adjust_rdx(1, kPermRead));

  EXPECT_FALSE(r.fault.raised());
  EXPECT_EQ(r.status, RmpStatus::FailSizeMismatch);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_HypervisorPage_NpfGuestOwned) {
  const GuestInsnResult r = adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead));

  EXPECT_EQ(r.fault.kind, FaultKind::Npf);
  EXPECT_EQ(r.fault.code, kGuestInsnNpf);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(RmpInsnTest, Rmpadjust_4KRequestOn2MEntry_NpfWithSizem) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  const Snapshot before = snapshot(rmp_);

  const GuestInsnResult r = adjust(0, kBase + 2, kGpa2M + 2 * kPageSize, 0, adjust_rdx(1, kPermRead));

  EXPECT_EQ(r.fault.kind, FaultKind::Npf);
  EXPECT_EQ(r.fault.code, kGuestInsnNpf | kNpfGuestSizem);
  EXPECT_EQ(snapshot(rmp_), before);
}

TEST_F(RmpInsnTest, Rmpadjust_PreGuestPage_NpfMutable) {
  ASSERT_EQ(assign(kPfn, kGpa, kAsid, true), RmpStatus::Success);

  const GuestInsnResult r = adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead));

  EXPECT_EQ(r.fault.kind, FaultKind::Npf);
  EXPECT_EQ(r.fault.check, "Mutable");
}

// =======================================================================================
// effective_entry

TEST_F(RmpInsnTest, EffectiveEntry_PageIn2MEntry_ReturnsAlignedEntryWithPageGpa) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  PageSize size = PageSize::Size4K;

  const RmpEntryRaw e = effective_entry(rmp_, kBase + 5, &size);

  EXPECT_EQ(size, PageSize::Size2M);
  EXPECT_TRUE(e.assigned());
  EXPECT_EQ(e.asid(), kAsid);
  EXPECT_EQ(e.gpa(), kGpa2M + 5 * kPageSize);
}

TEST_F(RmpInsnTest, EffectiveEntry_4KPage_ReturnsItsOwnEntry) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  PageSize size = PageSize::Size2M;

  const RmpEntryRaw e = effective_entry(rmp_, kPfn, &size);

  EXPECT_EQ(size, PageSize::Size4K);
  EXPECT_EQ(e, rmp_.inspect(kPfn));
}

// =======================================================================================
// Observers

TEST_F(RmpInsnTest, Observer_Rmpupdate4K_SeesOneEventWithPageAndCountStores) {
  Recorder rec;
  rmp_.add_observer(&rec);
  const RmpState st = private_state(kGpa, kAsid);

  ASSERT_EQ(rmpupdate(rmp_, pfn_to_spa(kBase + 1), st, kCtx), RmpStatus::Success);

  ASSERT_EQ(rec.events().size(), 1u);
  const RecordedEvent& ev = rec.events()[0];
  EXPECT_EQ(ev.seq, 1u);
  EXPECT_EQ(ev.insn, RmpInsn::Rmpupdate);
  EXPECT_EQ(ev.status, RmpStatus::Success);
  EXPECT_EQ(ev.spa, pfn_to_spa(kBase + 1));
  EXPECT_EQ(ev.size, PageSize::Size4K);
  EXPECT_EQ(ev.ctx.op, "test-op");
  EXPECT_EQ(ev.ctx.vm, 1u);
  EXPECT_EQ(ev.requested, st);
  EXPECT_FALSE(ev.fault.raised());
  ASSERT_EQ(ev.changes.size(), 2u);
  EXPECT_EQ(ev.changes[0].pfn, kBase + 1);
  EXPECT_EQ(ev.changes[0].before, RmpEntryRaw{});
  EXPECT_EQ(ev.changes[0].after, rmp_.inspect(kBase + 1));
  EXPECT_EQ(ev.changes[1].pfn, kBase);
  EXPECT_EQ(ev.changes[1].after.subpage_count(), 1u);
}

TEST_F(RmpInsnTest, Observer_FailingRmpupdate_SeesStatusAndNoChanges) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  Recorder rec;
  rmp_.add_observer(&rec);

  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::FailOverlap);

  ASSERT_EQ(rec.events().size(), 1u);
  EXPECT_EQ(rec.events()[0].seq, 2u);
  EXPECT_EQ(rec.events()[0].status, RmpStatus::FailOverlap);
  EXPECT_TRUE(rec.events()[0].changes.empty());
}

TEST_F(RmpInsnTest, Observer_Rmpupdate2M_SeesAll512Stores) {
  Recorder rec;
  rmp_.add_observer(&rec);

  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);

  ASSERT_EQ(rec.events().size(), 1u);
  EXPECT_EQ(rec.events()[0].size, PageSize::Size2M);
  EXPECT_EQ(rec.events()[0].changes.size(), std::size_t{kPagesPerHuge});
  EXPECT_EQ(rec.events()[0].changes.front().pfn, kBase);
  EXPECT_EQ(rec.events()[0].changes.back().pfn, kBase + kPagesPerHuge - 1);
}

TEST_F(RmpInsnTest, Observer_InstructionSequence_OneEventPerInstructionNumberedInOrder) {
  Recorder rec;
  rmp_.add_observer(&rec);

  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  ASSERT_EQ(validate(kPfn, kGpa).status, RmpStatus::Success);
  ASSERT_EQ(adjust(0, kPfn, kGpa, 0, adjust_rdx(1, kPermRead)).status, RmpStatus::Success);
  ASSERT_EQ(rmpread(rmp_, pfn_to_spa(kPfn)).status, RmpStatus::Success);
  ASSERT_EQ(psmash(rmp_, pfn_to_spa(kBase), kCtx), RmpStatus::FailInput);

  ASSERT_EQ(rec.events().size(), 5u);
  EXPECT_EQ(rmp_.seq(), 5u);
  EXPECT_EQ(rec.events()[0].seq, 1u);
  EXPECT_EQ(rec.events()[0].insn, RmpInsn::Rmpupdate);
  EXPECT_EQ(rec.events()[1].seq, 2u);
  EXPECT_EQ(rec.events()[1].insn, RmpInsn::Pvalidate);
  EXPECT_EQ(rec.events()[1].changes.size(), 1u);
  EXPECT_TRUE(rec.events()[1].changes[0].after.validated());
  EXPECT_EQ(rec.events()[2].seq, 3u);
  EXPECT_EQ(rec.events()[2].insn, RmpInsn::Rmpadjust);
  EXPECT_EQ(rec.events()[2].changes.size(), 1u);
  EXPECT_EQ(rec.events()[3].seq, 4u);
  EXPECT_EQ(rec.events()[3].insn, RmpInsn::Rmpread);
  EXPECT_TRUE(rec.events()[3].changes.empty());
  EXPECT_EQ(rec.events()[4].seq, 5u);
  EXPECT_EQ(rec.events()[4].insn, RmpInsn::Psmash);
  EXPECT_EQ(rec.events()[4].status, RmpStatus::FailInput);
  EXPECT_TRUE(rec.events()[4].changes.empty());
}

TEST_F(RmpInsnTest, Observer_FaultingPvalidate_SeesFaultAndNoChanges) {
  Recorder rec;
  rmp_.add_observer(&rec);

  const GuestInsnResult r = validate(kPfn, kGpa);

  ASSERT_TRUE(r.fault.raised());
  ASSERT_EQ(rec.events().size(), 1u);
  EXPECT_EQ(rec.events()[0].insn, RmpInsn::Pvalidate);
  EXPECT_EQ(rec.events()[0].fault, r.fault);
  EXPECT_TRUE(rec.events()[0].changes.empty());
}

TEST_F(RmpInsnTest, Observer_Removed_SeesNoFurtherEvents) {
  Recorder rec;
  rmp_.add_observer(&rec);
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  rmp_.remove_observer(&rec);
  ASSERT_EQ(share(kPfn), RmpStatus::Success);

  EXPECT_EQ(rec.events().size(), 1u);
}

TEST_F(RmpInsnTest, Observer_AddedTwice_SeesEachEventOnce) {
  Recorder rec;
  rmp_.add_observer(&rec);
  rmp_.add_observer(&rec);

  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);

  EXPECT_EQ(rec.events().size(), 1u);
}

// =======================================================================================
// Access hook

class CountingHook final : public RmpAccessHook {
 public:
  void on_load(Pfn pfn) override { loads_.push_back(pfn); }
  void on_store(Pfn pfn, const RmpEntryRaw& before, const RmpEntryRaw& after) override {
    stores_.push_back(EntryChange{pfn, before, after});
  }
  const std::vector<Pfn>& loads() const { return loads_; }
  const std::vector<EntryChange>& stores() const { return stores_; }

 private:
  std::vector<Pfn> loads_;
  std::vector<EntryChange> stores_;
};

TEST_F(RmpInsnTest, AccessHook_Rmpupdate4K_SeesLoadsAndEachStore) {
  CountingHook hook;
  rmp_.set_access_hook(&hook);

  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::Success);

  EXPECT_FALSE(hook.loads().empty());
  ASSERT_EQ(hook.stores().size(), 2u);
  EXPECT_EQ(hook.stores()[0].pfn, kBase + 1);
  EXPECT_EQ(hook.stores()[0].before, RmpEntryRaw{});
  EXPECT_TRUE(hook.stores()[0].after.assigned());
  EXPECT_EQ(hook.stores()[1].pfn, kBase);
  EXPECT_EQ(hook.stores()[1].after.subpage_count(), 1u);
}

TEST_F(RmpInsnTest, AccessHook_Inspect_IsNotAModelledAccess) {
  ASSERT_EQ(assign(kPfn, kGpa), RmpStatus::Success);
  CountingHook hook;
  rmp_.set_access_hook(&hook);

  (void)rmp_.inspect(kPfn);

  EXPECT_TRUE(hook.loads().empty());
  EXPECT_TRUE(hook.stores().empty());
}

TEST_F(RmpInsnTest, AccessHook_FailingRmpupdate_SeesLoadsButNoStores) {
  ASSERT_EQ(assign_2m(kBase, kGpa2M), RmpStatus::Success);
  CountingHook hook;
  rmp_.set_access_hook(&hook);

  ASSERT_EQ(assign(kBase + 1, kGpa), RmpStatus::FailOverlap);

  EXPECT_FALSE(hook.loads().empty());
  EXPECT_TRUE(hook.stores().empty());
}

// =======================================================================================
// Names

TEST(RmpStatusToString, EveryCode_HasAbiSpelling) {
  EXPECT_EQ(to_string(RmpStatus::Success), "SUCCESS");
  EXPECT_EQ(to_string(RmpStatus::FailInput), "FAIL_INPUT");
  EXPECT_EQ(to_string(RmpStatus::FailPermission), "FAIL_PERMISSION");
  EXPECT_EQ(to_string(RmpStatus::FailInUse), "FAIL_INUSE");
  EXPECT_EQ(to_string(RmpStatus::FailOverlap), "FAIL_OVERLAP");
  EXPECT_EQ(to_string(RmpStatus::FailSizeMismatch), "FAIL_SIZEMISMATCH");
}

TEST(RmpInsnToString, EveryInstruction_HasMnemonic) {
  EXPECT_EQ(to_string(RmpInsn::Rmpupdate), "RMPUPDATE");
  EXPECT_EQ(to_string(RmpInsn::Psmash), "PSMASH");
  EXPECT_EQ(to_string(RmpInsn::Pvalidate), "PVALIDATE");
  EXPECT_EQ(to_string(RmpInsn::Rmpadjust), "RMPADJUST");
  EXPECT_EQ(to_string(RmpInsn::Rmpread), "RMPREAD");
  EXPECT_EQ(to_string(RmpInsn::Firmware), "FIRMWARE");
}

}  // namespace
}  // namespace snplab::model
