// RMP checks on memory access (facts §3.1, §3.2): host #PF, guest #NPF / #VC, their
// priority order and the exact EXITINFO1 bits.
#include <gtest/gtest.h>

#include <cstdint>

#include "snp/model/hw/access.h"
#include "snp/model/hw/rmp_insn.h"

namespace snplab::model {
namespace {

constexpr Asid kAsid = 5;
constexpr Asid kOtherAsid = 6;
constexpr Pfn kBase = 0x2400;       // 2M-aligned PFN
constexpr Pfn kPfn = kBase + 0x42;  // not 2M-aligned
constexpr Gpa kGpa = 0x9000;
constexpr Gpa kGpa2M = 0x600000;
constexpr std::uint64_t kOneGiB = 1ULL << 30;
constexpr Pfn kUncovered = kOneGiB >> kPageShift;
const OpContext kCtx{"access-test", 1};

constexpr std::uint64_t kHostRmpPf = kPfProt | kPfWrite | kPfRmp;
/// EXITINFO1 of a C=1 final-GPA read that fails an RMP check.
constexpr std::uint64_t kEncNpf = kNpfPresent | kNpfGuestFinal | kNpfGuestRmp | kNpfGuestEnc;

class AccessTest : public ::testing::Test {
 protected:
  void assign(Pfn pfn, Gpa gpa, Asid asid = kAsid, bool immutable = false) {
    RmpState st;
    st.gpa = gpa;
    st.assigned = 1;
    st.immutable = immutable ? 1 : 0;
    st.asid = asid;
    ASSERT_EQ(rmpupdate(rmp_, pfn_to_spa(pfn), st, kCtx), RmpStatus::Success);
  }
  void assign_2m(Pfn base, Gpa gpa, bool immutable = false) {
    RmpState st;
    st.gpa = gpa;
    st.assigned = 1;
    st.pagesize = 1;
    st.immutable = immutable ? 1 : 0;
    st.asid = kAsid;
    ASSERT_EQ(rmpupdate(rmp_, pfn_to_spa(base), st, kCtx), RmpStatus::Success);
  }
  void share(Pfn pfn) { ASSERT_EQ(rmpupdate(rmp_, pfn_to_spa(pfn), RmpState{}, kCtx), RmpStatus::Success); }
  void validate(Pfn pfn, Gpa gpa, std::uint64_t rcx = 0) {
    const GuestInsnResult r = pvalidate(rmp_, GuestCpu{kAsid, 0}, gpa, pfn_to_spa(pfn), rcx, 1, kCtx);
    ASSERT_FALSE(r.fault.raised());
    ASSERT_EQ(r.status, RmpStatus::Success);
  }
  /// A private page of the guest, assigned and validated, VMPL0 only.
  void guest_page(Pfn pfn, Gpa gpa) {
    assign(pfn, gpa);
    validate(pfn, gpa);
  }
  void grant(Pfn pfn, Gpa gpa, unsigned vmpl, std::uint8_t mask) {
    const std::uint64_t rdx = vmpl | (std::uint64_t{mask} << kRmpadjustPermShift);
    const GuestInsnResult r = rmpadjust(rmp_, GuestCpu{kAsid, 0}, gpa, pfn_to_spa(pfn), 0, rdx, kCtx);
    ASSERT_FALSE(r.fault.raised());
    ASSERT_EQ(r.status, RmpStatus::Success);
  }

  Rmp rmp_{*RmpLayout::covering(kOneGiB)};
};

GuestAccess access(Pfn pfn, Gpa gpa, AccessKind kind = AccessKind::Read) {
  GuestAccess a;
  a.spa = pfn_to_spa(pfn);
  a.gpa = gpa;
  a.asid = kAsid;
  a.kind = kind;
  return a;
}

// =======================================================================================
// Host accesses

TEST_F(AccessTest, HostAccess_ReadOfAssignedPage_NeverFaults) {
  assign(kPfn, kGpa);

  const Fault f4k = check_host_access(rmp_, pfn_to_spa(kPfn), AccessKind::Read, MapLevel::Size4K);
  const Fault f2m = check_host_access(rmp_, pfn_to_spa(kPfn), AccessKind::Read, MapLevel::Size2M);

  EXPECT_FALSE(f4k.raised());
  EXPECT_FALSE(f2m.raised());
}

TEST_F(AccessTest, HostAccess_FetchOfAssignedPage_NeverFaults) {
  assign(kPfn, kGpa);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kPfn), AccessKind::FetchSupervisor, MapLevel::Size4K);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, HostAccess_WriteToAssignedPage_PfWithProtWriteRmp) {
  assign(kPfn, kGpa);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kPfn), AccessKind::Write, MapLevel::Size4K);

  EXPECT_EQ(f.kind, FaultKind::HostPageFault);
  EXPECT_EQ(f.code, kHostRmpPf);
  EXPECT_EQ(f.check, "Hypervisor-Owned");
}

TEST_F(AccessTest, HostAccess_PageTableAccessToAssignedPage_Pf) {
  assign(kPfn, kGpa);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kPfn), AccessKind::PageTable, MapLevel::Size4K);

  EXPECT_EQ(f.kind, FaultKind::HostPageFault);
  EXPECT_EQ(f.code, kHostRmpPf);
}

TEST_F(AccessTest, HostAccess_WriteToFirmwarePage_Pf) {
  RmpState st;
  st.assigned = 1;
  st.immutable = 1;
  ASSERT_EQ(rmpupdate(rmp_, pfn_to_spa(kPfn), st, kCtx), RmpStatus::Success);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kPfn), AccessKind::Write, MapLevel::Size4K);

  EXPECT_EQ(f.kind, FaultKind::HostPageFault);
}

TEST_F(AccessTest, HostAccess_WriteToHypervisorPage_NoFault) {
  assign(kPfn + 1, kGpa);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kPfn), AccessKind::Write, MapLevel::Size4K);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, HostAccess_WriteToReturnedPage_NoFault) {
  assign(kPfn, kGpa);
  share(kPfn);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kPfn), AccessKind::Write, MapLevel::Size4K);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, HostAccess_4KWriteToSubPageOfAssigned2M_Pf) {
  assign_2m(kBase, kGpa2M);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kBase + 9), AccessKind::Write, MapLevel::Size4K);

  EXPECT_EQ(f.kind, FaultKind::HostPageFault);
  EXPECT_EQ(f.code, kHostRmpPf);
}

TEST_F(AccessTest, HostAccess_2MMappingWriteWithOneAssigned4KPageInRegion_Pf) {
  assign(kBase + 7, kGpa);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kBase + 100), AccessKind::Write, MapLevel::Size2M);

  EXPECT_EQ(f.kind, FaultKind::HostPageFault);
  EXPECT_EQ(f.code, kHostRmpPf);
}

TEST_F(AccessTest, HostAccess_4KMappingWriteNextToAssignedPage_NoFault) {
  assign(kBase + 7, kGpa);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kBase + 100), AccessKind::Write, MapLevel::Size4K);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, HostAccess_2MMappingWriteWithAssignedAlignedPage_Pf) {
  assign(kBase, kGpa);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kBase + 100), AccessKind::Write, MapLevel::Size2M);

  EXPECT_EQ(f.kind, FaultKind::HostPageFault);
}

TEST_F(AccessTest, HostAccess_2MMappingWriteOverAssigned2MEntry_Pf) {
  assign_2m(kBase, kGpa2M);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kBase + 3), AccessKind::Write, MapLevel::Size2M);

  EXPECT_EQ(f.kind, FaultKind::HostPageFault);
}

TEST_F(AccessTest, HostAccess_2MMappingWriteNoPageOfRegionAssigned_NoFault) {
  assign(kBase + kPagesPerHuge + 3, kGpa);  // next region
  assign(kBase - 1, kGpa + kPageSize);       // previous region

  const Fault f = check_host_access(rmp_, pfn_to_spa(kBase + 100), AccessKind::Write, MapLevel::Size2M);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, HostAccess_2MMappingWriteAfterSubPageReturned_NoFault) {
  assign(kBase + 7, kGpa);
  share(kBase + 7);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kBase), AccessKind::Write, MapLevel::Size2M);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, HostAccess_1GMappingWriteWithAssignedPageInRegion_PfLike2M) {
  assign(kBase + 511, kGpa);

  const Fault f = check_host_access(rmp_, pfn_to_spa(kBase), AccessKind::Write, MapLevel::Size1G);

  EXPECT_EQ(f.kind, FaultKind::HostPageFault);
  EXPECT_EQ(f.code, kHostRmpPf);
}

TEST_F(AccessTest, HostAccess_WriteToUncoveredMemory_NoFaultHypervisorOwned) {
  const Fault f4k = check_host_access(rmp_, pfn_to_spa(kUncovered), AccessKind::Write, MapLevel::Size4K);
  const Fault f2m = check_host_access(rmp_, 2 * kOneGiB, AccessKind::Write, MapLevel::Size2M);

  EXPECT_FALSE(f4k.raised());
  EXPECT_FALSE(f2m.raised());
}

TEST(HostAccessPartlyCovered, HostAccess_2MMappingWriteAtUncoveredPageOfRegionWithAssignedPage_Pf) {
  // The 2 MiB region at 1 GiB is covered only at its first page, which is assigned. A 2M
  // host mapping of that region touches the assigned page wherever the written byte is.
  Rmp rmp(*RmpLayout::covering(kOneGiB + kPageSize));
  RmpState st;
  st.gpa = kGpa;
  st.assigned = 1;
  st.asid = kAsid;
  ASSERT_EQ(rmpupdate(rmp, pfn_to_spa(kUncovered), st, kCtx), RmpStatus::Success);
  ASSERT_FALSE(rmp.covers(kUncovered + 1));

  const Fault f = check_host_access(rmp, pfn_to_spa(kUncovered + 1), AccessKind::Write, MapLevel::Size2M);

  EXPECT_EQ(f.kind, FaultKind::HostPageFault);
}

// =======================================================================================
// Guest accesses, SNP-active, C=1: each check

TEST_F(AccessTest, GuestAccess_ValidatedOwnedPageAtVmpl0_NoFault) {
  guest_page(kPfn, kGpa);

  const Fault read = check_guest_access(rmp_, access(kPfn, kGpa, AccessKind::Read));
  const Fault write = check_guest_access(rmp_, access(kPfn, kGpa, AccessKind::Write));
  const Fault fetch = check_guest_access(rmp_, access(kPfn, kGpa, AccessKind::FetchSupervisor));
  const Fault walk = check_guest_access(rmp_, access(kPfn, kGpa, AccessKind::PageTable));

  EXPECT_FALSE(read.raised());
  EXPECT_FALSE(write.raised());
  EXPECT_FALSE(fetch.raised());
  EXPECT_FALSE(walk.raised());
}

TEST_F(AccessTest, GuestAccess_UncoveredSpa_NpfCovered) {
  const Fault f = check_guest_access(rmp_, access(kUncovered, kGpa));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf);
  EXPECT_EQ(f.check, "Covered");
}

TEST_F(AccessTest, GuestAccess_HypervisorPage_NpfGuestOwned) {
  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf);
  EXPECT_EQ(f.check, "Guest-Owned");
}

TEST_F(AccessTest, GuestAccess_OtherAsidsPage_NpfGuestOwned) {
  assign(kPfn, kGpa, kOtherAsid);

  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf);
  EXPECT_EQ(f.check, "Guest-Owned");
}

TEST_F(AccessTest, GuestAccess_GpaMismatch_NpfReverseMap) {
  guest_page(kPfn, kGpa);

  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa + kPageSize));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf);
  EXPECT_EQ(f.check, "Reverse-Map");
}

TEST_F(AccessTest, GuestAccess_GpaOffsetWithinMappedPage_NoFault) {
  guest_page(kPfn, kGpa);
  GuestAccess a = access(kPfn, kGpa + 0x123);
  a.spa += 0x123;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, GuestAccess_PreGuestPage_NpfMutable) {
  assign(kPfn, kGpa, kAsid, true);

  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf);
  EXPECT_EQ(f.check, "Mutable");
}

TEST_F(AccessTest, GuestAccess_Npt4KOverRmp2M_NpfPageSize) {
  assign_2m(kBase, kGpa2M);
  validate(kBase, kGpa2M, 1);

  const Fault f = check_guest_access(rmp_, access(kBase + 5, kGpa2M + 5 * kPageSize));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf);
  EXPECT_EQ(f.check, "Page-Size");
}

TEST_F(AccessTest, GuestAccess_Npt2MOverRmp4K_NpfPageSize) {
  guest_page(kPfn, kGpa);
  GuestAccess a = access(kPfn, kGpa);
  a.npt_level = MapLevel::Size2M;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf);
  EXPECT_EQ(f.check, "Page-Size");
}

TEST_F(AccessTest, GuestAccess_Npt2MOverValidatedRmp2M_NoFault) {
  assign_2m(kBase, kGpa2M);
  validate(kBase, kGpa2M, 1);
  GuestAccess a = access(kBase + 5, kGpa2M + 5 * kPageSize);
  a.npt_level = MapLevel::Size2M;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, GuestAccess_Npt1GOverValidatedRmp2M_NoFault) {
  assign_2m(kBase, kGpa2M);
  validate(kBase, kGpa2M, 1);
  GuestAccess a = access(kBase, kGpa2M);
  a.npt_level = MapLevel::Size1G;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, GuestAccess_UnvalidatedPage_VcPageNotValidated) {
  assign(kPfn, kGpa);

  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa));

  EXPECT_EQ(f.kind, FaultKind::Vc);
  EXPECT_EQ(f.code, 0x404u);
  EXPECT_EQ(f.code, kVcPageNotValidated);
  EXPECT_EQ(f.check, "Validated");
}

TEST_F(AccessTest, GuestAccess_Vmpl1WithoutPermission_NpfVmpl) {
  guest_page(kPfn, kGpa);
  GuestAccess a = access(kPfn, kGpa);
  a.vmpl = 1;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf | kNpfGuestVmpl);
  EXPECT_EQ(f.check, "VMPL");
}

TEST_F(AccessTest, GuestAccess_Vmpl1WithReadPermission_ReadNoFault) {
  guest_page(kPfn, kGpa);
  grant(kPfn, kGpa, 1, kPermRead);
  GuestAccess a = access(kPfn, kGpa);
  a.vmpl = 1;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, GuestAccess_Vmpl1FetchWithReadOnly_NpfVmplWithFetchBit) {
  guest_page(kPfn, kGpa);
  grant(kPfn, kGpa, 1, kPermRead);
  GuestAccess a = access(kPfn, kGpa, AccessKind::FetchSupervisor);
  a.vmpl = 1;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf | kNpfFetch | kNpfGuestVmpl);
}

TEST_F(AccessTest, GuestAccess_WriteWithoutReadPermission_NpfVmpl) {
  guest_page(kPfn, kGpa);
  grant(kPfn, kGpa, 1, kPermWrite);
  GuestAccess a = access(kPfn, kGpa, AccessKind::Write);
  a.vmpl = 1;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf | kNpfWrite | kNpfGuestVmpl);
  EXPECT_EQ(f.check, "VMPL");
}

TEST_F(AccessTest, GuestAccess_WriteWithReadAndWritePermission_NoFault) {
  guest_page(kPfn, kGpa);
  grant(kPfn, kGpa, 1, kPermRead | kPermWrite);
  GuestAccess a = access(kPfn, kGpa, AccessKind::Write);
  a.vmpl = 1;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

// =======================================================================================
// Guest accesses: priority between checks (facts §3.1 notes)

TEST_F(AccessTest, GuestAccess_PageSizeAndValidatedBothFail_NpfNotVc) {
  assign_2m(kBase, kGpa2M);  // not validated

  const Fault f = check_guest_access(rmp_, access(kBase + 5, kGpa2M + 5 * kPageSize));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.check, "Page-Size");
}

TEST_F(AccessTest, GuestAccess_GuestOwnedAndReverseMapBothFail_ReportsGuestOwned) {
  assign(kPfn, kGpa, kOtherAsid);

  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa + kPageSize));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.check, "Guest-Owned");
}

TEST_F(AccessTest, GuestAccess_ReverseMapAndMutableBothFail_ReportsReverseMap) {
  assign(kPfn, kGpa, kAsid, true);

  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa + kPageSize));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.check, "Reverse-Map");
}

TEST_F(AccessTest, GuestAccess_MutableAndPageSizeBothFail_ReportsMutable) {
  assign_2m(kBase, kGpa2M, true);

  const Fault f = check_guest_access(rmp_, access(kBase + 5, kGpa2M + 5 * kPageSize));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.check, "Mutable");
}

TEST_F(AccessTest, GuestAccess_ValidatedAndVmplBothFail_VcNotNpf) {
  assign(kPfn, kGpa);
  GuestAccess a = access(kPfn, kGpa);
  a.vmpl = 2;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Vc);
  EXPECT_EQ(f.code, kVcPageNotValidated);
}

// =======================================================================================
// Guest accesses: EXITINFO1 bits

TEST_F(AccessTest, GuestAccess_WriteFault_AddsWriteBit) {
  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa, AccessKind::Write));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf | kNpfWrite);
}

TEST_F(AccessTest, GuestAccess_UserReadFault_AddsUserBit) {
  GuestAccess a = access(kPfn, kGpa);
  a.user = true;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.code, kEncNpf | kNpfUser);
}

TEST_F(AccessTest, GuestAccess_FetchUserFault_AddsUserAndFetchBits) {
  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa, AccessKind::FetchUser));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf | kNpfUser | kNpfFetch);
}

TEST_F(AccessTest, GuestAccess_FetchSupervisorFault_AddsFetchBitOnly) {
  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa, AccessKind::FetchSupervisor));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf | kNpfFetch);
}

TEST_F(AccessTest, GuestAccess_PageTableFault_SetsGuestPageNotFinal) {
  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa, AccessKind::PageTable));

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kNpfPresent | kNpfGuestPage | kNpfGuestRmp | kNpfGuestEnc);
  EXPECT_EQ(f.code & kNpfGuestFinal, 0u);
}

TEST_F(AccessTest, GuestAccess_ReadFault_HasNoSizemBit) {
  const Fault f = check_guest_access(rmp_, access(kPfn, kGpa));

  EXPECT_EQ(f.code & (kNpfGuestSizem | kNpfGuestVmpl | kNpfWrite | kNpfFetch | kNpfUser), 0u);
}

// =======================================================================================
// Guest accesses: C=0 (shared) and non-SNP guests

TEST_F(AccessTest, GuestAccess_SharedReadOfPrivatePage_NotChecked) {
  assign(kPfn, kGpa, kOtherAsid);
  GuestAccess a = access(kPfn, kGpa);
  a.c_bit = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, GuestAccess_SharedReadOfUncoveredMemory_NoFault) {
  GuestAccess a = access(kUncovered, kGpa);
  a.c_bit = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, GuestAccess_SharedWriteToGuestPage_NpfWithoutEnc) {
  guest_page(kPfn, kGpa);
  GuestAccess a = access(kPfn, kGpa, AccessKind::Write);
  a.c_bit = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kNpfPresent | kNpfWrite | kNpfGuestFinal | kNpfGuestRmp);
  EXPECT_EQ(f.check, "Hypervisor-Owned");
}

TEST_F(AccessTest, GuestAccess_SharedWriteToHypervisorPage_NoFault) {
  GuestAccess a = access(kPfn, kGpa, AccessKind::Write);
  a.c_bit = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, GuestAccess_SharedWriteVia2MNptWithAssignedPageInRegion_Npf) {
  assign(kBase + 300, kGpa);
  GuestAccess a = access(kBase, kGpa2M, AccessKind::Write);
  a.c_bit = false;
  a.npt_level = MapLevel::Size2M;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kNpfPresent | kNpfWrite | kNpfGuestFinal | kNpfGuestRmp);
}

TEST_F(AccessTest, GuestAccess_SharedFetch_CheckedAsEncrypted) {
  GuestAccess a = access(kPfn, kGpa, AccessKind::FetchSupervisor);
  a.c_bit = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kEncNpf | kNpfFetch);
  EXPECT_EQ(f.check, "Guest-Owned");
}

TEST_F(AccessTest, GuestAccess_SharedPageTableWalk_CheckedAsEncrypted) {
  GuestAccess a = access(kPfn, kGpa, AccessKind::PageTable);
  a.c_bit = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_NE(f.code & kNpfGuestEnc, 0u);
}

TEST_F(AccessTest, GuestAccess_NonSnpWriteToAssignedPage_NpfWithoutEnc) {
  assign(kPfn, kGpa);
  GuestAccess a = access(kPfn, kGpa, AccessKind::Write);
  a.snp_active = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kNpfPresent | kNpfWrite | kNpfGuestFinal | kNpfGuestRmp);
}

TEST_F(AccessTest, GuestAccess_NonSnpWriteToHypervisorPage_NoFault) {
  GuestAccess a = access(kPfn, kGpa, AccessKind::Write);
  a.snp_active = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, GuestAccess_NonSnpReadOfAssignedPage_NoFault) {
  assign(kPfn, kGpa);
  GuestAccess a = access(kPfn, kGpa, AccessKind::Read);
  a.snp_active = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

TEST_F(AccessTest, GuestAccess_NonSnpPageTableWalkOfAssignedPage_NpfWithoutEnc) {
  assign(kPfn, kGpa);
  GuestAccess a = access(kPfn, kGpa, AccessKind::PageTable);
  a.snp_active = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_EQ(f.kind, FaultKind::Npf);
  EXPECT_EQ(f.code, kNpfPresent | kNpfGuestPage | kNpfGuestRmp);
}

TEST_F(AccessTest, GuestAccess_NonSnpFetchOfAssignedPage_NoFault) {
  assign(kPfn, kGpa);
  GuestAccess a = access(kPfn, kGpa, AccessKind::FetchUser);
  a.snp_active = false;

  const Fault f = check_guest_access(rmp_, a);

  EXPECT_FALSE(f.raised());
}

// =======================================================================================
// Names

TEST(AccessNames, ToString_FaultAccessAndLevel_HaveNames) {
  EXPECT_EQ(to_string(FaultKind::None), "none");
  EXPECT_EQ(to_string(FaultKind::HostPageFault), "#PF");
  EXPECT_EQ(to_string(FaultKind::Vc), "#VC");
  EXPECT_EQ(to_string(FaultKind::Npf), "#NPF");
  EXPECT_EQ(to_string(AccessKind::PageTable), "page-table");
  EXPECT_EQ(to_string(MapLevel::Size1G), "1G");
}

}  // namespace
}  // namespace snplab::model
