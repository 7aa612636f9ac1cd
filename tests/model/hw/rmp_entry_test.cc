// RmpEntryRaw bit layout (facts §1.2), RMPREAD conversion (§1.3) and the firmware page-state
// classification (§4.3).
#include <gtest/gtest.h>

#include <cstdint>

#include "snp/model/hw/rmp_entry.h"

namespace snplab::model {
namespace {

constexpr Asid kGuestAsid = 5;

/// The GPA whose 39-bit GPA field holds `state` in bits 38:36 and `low` below.
constexpr Gpa gpa_with_state(RmpEntryRaw::GpaState state, std::uint64_t low) {
  return ((static_cast<std::uint64_t>(state) << RmpEntryRaw::kGpaStateShift) | low) << kPageShift;
}

RmpEntryRaw guest_entry(bool validated, bool immutable) {
  RmpEntryRaw e;
  e.set_assigned(true).set_asid(kGuestAsid).set_gpa(0x7000).set_validated(validated).set_immutable(immutable);
  return e;
}

// --- Raw bit positions -----------------------------------------------------------------

TEST(RmpEntryRaw, Default_AllZero_IsUnassigned4K) {
  const RmpEntryRaw e;

  EXPECT_EQ(e.lo, 0u);
  EXPECT_EQ(e.hi, 0u);
  EXPECT_FALSE(e.assigned());
  EXPECT_EQ(e.page_size(), PageSize::Size4K);
}

TEST(RmpEntryRaw, SetAssigned_True_SetsBit0Only) {
  RmpEntryRaw e;

  e.set_assigned(true);

  EXPECT_EQ(e.lo, 1ULL << 0);
  EXPECT_EQ(e.hi, 0u);
  EXPECT_TRUE(e.assigned());
}

TEST(RmpEntryRaw, SetAssigned_FalseAfterTrue_ClearsBit0) {
  RmpEntryRaw e;
  e.set_assigned(true);

  e.set_assigned(false);

  EXPECT_EQ(e.lo, 0u);
  EXPECT_FALSE(e.assigned());
}

TEST(RmpEntryRaw, SetPageSize_2M_SetsBit1Only) {
  RmpEntryRaw e;

  e.set_page_size(PageSize::Size2M);

  EXPECT_EQ(e.lo, 1ULL << 1);
  EXPECT_EQ(e.page_size(), PageSize::Size2M);
}

TEST(RmpEntryRaw, SetPageSize_4KAfter2M_ClearsBit1) {
  RmpEntryRaw e;
  e.set_page_size(PageSize::Size2M);

  e.set_page_size(PageSize::Size4K);

  EXPECT_EQ(e.lo, 0u);
  EXPECT_EQ(e.page_size(), PageSize::Size4K);
}

TEST(RmpEntryRaw, SetImmutable_True_SetsBit2AndLockBit63) {
  RmpEntryRaw e;

  e.set_immutable(true);

  EXPECT_EQ(e.lo, (1ULL << 2) | (1ULL << 63));
  EXPECT_TRUE(e.immutable());
  EXPECT_TRUE(e.lock());
}

TEST(RmpEntryRaw, SetImmutable_FalseAfterTrue_ClearsImmutableAndLock) {
  RmpEntryRaw e;
  e.set_immutable(true);

  e.set_immutable(false);

  EXPECT_EQ(e.lo, 0u);
  EXPECT_FALSE(e.immutable());
  EXPECT_FALSE(e.lock());
}

TEST(RmpEntryRaw, SetSubpageCount_511_FillsBits11To3) {
  RmpEntryRaw e;

  e.set_subpage_count(511);

  EXPECT_EQ(e.lo, 0x1FFULL << 3);
  EXPECT_EQ(e.subpage_count(), 511u);
}

TEST(RmpEntryRaw, SetSubpageCount_One_SetsBit3) {
  RmpEntryRaw e;

  e.set_subpage_count(1);

  EXPECT_EQ(e.lo, 1ULL << 3);
  EXPECT_EQ(e.subpage_count(), 1u);
}

TEST(RmpEntryRaw, SetGpa_Max_FillsBits50To12) {
  RmpEntryRaw e;

  e.set_gpa(0x7FFFFFFFFF000ULL);

  EXPECT_EQ(e.lo, 0x7FFFFFFFFFULL << 12);
  EXPECT_EQ(e.gpa(), 0x7FFFFFFFFF000ULL);
}

TEST(RmpEntryRaw, SetGpa_PageAddress_StoresGpaShiftedBy12) {
  RmpEntryRaw e;

  e.set_gpa(0x12345000);

  EXPECT_EQ(e.lo, 0x12345ULL << 12);
  EXPECT_EQ(e.gpa(), 0x12345000u);
  EXPECT_EQ(e.gpa_field(), 0x12345u);
}

TEST(RmpEntryRaw, SetAsid_Max_FillsBits60To51) {
  RmpEntryRaw e;

  e.set_asid(0x3FF);

  EXPECT_EQ(e.lo, 0x3FFULL << 51);
  EXPECT_EQ(e.asid(), 0x3FFu);
}

TEST(RmpEntryRaw, SetAsid_One_SetsBit51) {
  RmpEntryRaw e;

  e.set_asid(1);

  EXPECT_EQ(e.lo, 1ULL << 51);
  EXPECT_EQ(e.asid(), 1u);
}

TEST(RmpEntryRaw, SetVmsa_True_SetsBit61Only) {
  RmpEntryRaw e;

  e.set_vmsa(true);

  EXPECT_EQ(e.lo, 1ULL << 61);
  EXPECT_TRUE(e.vmsa());
}

TEST(RmpEntryRaw, SetValidated_True_SetsBit62Only) {
  RmpEntryRaw e;

  e.set_validated(true);

  EXPECT_EQ(e.lo, 1ULL << 62);
  EXPECT_TRUE(e.validated());
}

TEST(RmpEntryRaw, SetVmplPerms_Vmpl0_WritesHiByte0) {
  RmpEntryRaw e;

  e.set_vmpl_perms(0, 0xA5);

  EXPECT_EQ(e.lo, 0u);
  EXPECT_EQ(e.hi, 0xA5u);
  EXPECT_EQ(e.vmpl_perms(0), 0xA5u);
}

TEST(RmpEntryRaw, SetVmplPerms_Vmpl1_WritesHiByte1) {
  RmpEntryRaw e;

  e.set_vmpl_perms(1, 0x1F);

  EXPECT_EQ(e.hi, 0x1FULL << 8);
  EXPECT_EQ(e.vmpl_perms(1), 0x1Fu);
  EXPECT_EQ(e.vmpl_perms(0), 0u);
}

TEST(RmpEntryRaw, SetVmplPerms_Vmpl2_WritesHiByte2) {
  RmpEntryRaw e;

  e.set_vmpl_perms(2, 0x03);

  EXPECT_EQ(e.hi, 0x03ULL << 16);
  EXPECT_EQ(e.vmpl_perms(2), 0x03u);
}

TEST(RmpEntryRaw, SetVmplPerms_Vmpl3_WritesHiByte3) {
  RmpEntryRaw e;

  e.set_vmpl_perms(3, 0xFF);

  EXPECT_EQ(e.hi, 0xFFULL << 24);
  EXPECT_EQ(e.vmpl_perms(3), 0xFFu);
}

TEST(RmpEntryRaw, SetVmplPerms_Overwrite_ReplacesOnlyThatByte) {
  RmpEntryRaw e;
  e.set_vmpl_perms(0, 0x11).set_vmpl_perms(1, 0x22).set_vmpl_perms(2, 0x33).set_vmpl_perms(3, 0x44);

  e.set_vmpl_perms(1, 0x05);

  EXPECT_EQ(e.hi, 0x44330511ULL);
}

TEST(RmpEntryRaw, SetGpaAndAsid_BothMax_DoNotOverlap) {
  RmpEntryRaw e;
  e.set_gpa(0x7FFFFFFFFF000ULL);

  e.set_asid(0x3FF).set_subpage_count(511);

  EXPECT_EQ(e.gpa(), 0x7FFFFFFFFF000ULL);
  EXPECT_EQ(e.asid(), 0x3FFu);
  EXPECT_EQ(e.subpage_count(), 511u);
  EXPECT_FALSE(e.assigned());
  EXPECT_FALSE(e.vmsa());
}

TEST(RmpEntryRaw, FirmwareValue_AssignedImmutable_Is0x8000000000000005) {
  RmpEntryRaw e;

  e.set_assigned(true).set_immutable(true);

  EXPECT_EQ(e.lo, 0x8000000000000005ULL);
}

// --- GPA-state helpers -----------------------------------------------------------------

TEST(RmpEntryRaw, GpaState_MetadataStateInBits38To36_SplitsStateAndLowBits) {
  RmpEntryRaw e;

  e.set_gpa(gpa_with_state(RmpEntryRaw::GpaState::Metadata, 0x5));

  EXPECT_EQ(e.gpa_state(), 1u);
  EXPECT_EQ(e.gpa_field_without_state(), 0x5u);
  EXPECT_EQ(e.gpa_field(), (1ULL << 36) | 0x5);
}

TEST(RmpEntryRaw, GpaState_FwIommuState_ReadsTwo) {
  RmpEntryRaw e;

  e.set_gpa(gpa_with_state(RmpEntryRaw::GpaState::FwIommu, 0x1));

  EXPECT_EQ(e.gpa_state(), 2u);
  EXPECT_EQ(e.gpa_field_without_state(), 0x1u);
}

TEST(RmpEntryRaw, GpaState_OrdinaryGpa_ReadsFirmwareStateZero) {
  RmpEntryRaw e;

  e.set_gpa(0x1234000);

  EXPECT_EQ(e.gpa_state(), 0u);
  EXPECT_EQ(e.gpa_field_without_state(), 0x1234u);
}

TEST(RmpEntryRaw, GpaState_StateBits_AreRawBits50To48) {
  RmpEntryRaw e;

  e.set_gpa(gpa_with_state(RmpEntryRaw::GpaState::FwIommu, 0));

  EXPECT_EQ(e.lo, 2ULL << 48);
}

// --- to_rmpread ------------------------------------------------------------------------

TEST(ToRmpread, Assigned4KGuestPage_CopiesGpaAssignedAsid) {
  RmpEntryRaw e;
  e.set_assigned(true).set_gpa(0xABC000).set_asid(7).set_validated(true).set_vmsa(true).set_vmpl_perms(0, 0x1F);

  const RmpReadEntry r = to_rmpread(e, false);

  EXPECT_EQ(r.gpa, 0xABC000u);
  EXPECT_EQ(r.assigned, 1u);
  EXPECT_EQ(r.size_flags, 0u);
  EXPECT_EQ(r.immutable, 0u);
  EXPECT_EQ(r.rsvd, 0u);
  EXPECT_EQ(r.asid, 7u);
}

TEST(ToRmpread, Immutable2MEntry_SetsPageSizeFlagAndImmutable) {
  RmpEntryRaw e;
  e.set_assigned(true).set_page_size(PageSize::Size2M).set_immutable(true).set_gpa(0x200000).set_asid(3);

  const RmpReadEntry r = to_rmpread(e, false);

  EXPECT_EQ(r.size_flags, RmpReadEntry::kPageSizeFlag);
  EXPECT_EQ(r.immutable, 1u);
  EXPECT_EQ(r.gpa, 0x200000u);
}

TEST(ToRmpread, HpageRegionStatusTrue_SetsBit1OfSizeFlags) {
  const RmpEntryRaw e;

  const RmpReadEntry r = to_rmpread(e, true);

  EXPECT_EQ(r.size_flags, RmpReadEntry::kHpageRegionStatusFlag);
  EXPECT_EQ(r.assigned, 0u);
}

TEST(ToRmpread, HpageRegionStatusOn2MEntry_SetsBothFlags) {
  RmpEntryRaw e;
  e.set_page_size(PageSize::Size2M);

  const RmpReadEntry r = to_rmpread(e, true);

  EXPECT_EQ(r.size_flags, RmpReadEntry::kPageSizeFlag | RmpReadEntry::kHpageRegionStatusFlag);
}

TEST(ToRmpread, ZeroEntry_GivesZeroOutput) {
  const RmpEntryRaw e;

  const RmpReadEntry r = to_rmpread(e, false);

  EXPECT_EQ(r, RmpReadEntry{});
}

// --- page_state ------------------------------------------------------------------------

TEST(PageStateOf, ZeroEntry_IsHypervisor) {
  const RmpEntryRaw e;

  EXPECT_EQ(page_state(e), PageState::Hypervisor);
}

TEST(PageStateOf, UnassignedImmutable_IsHvFixed) {
  RmpEntryRaw e;
  e.set_immutable(true);

  EXPECT_EQ(page_state(e), PageState::HvFixed);
}

TEST(PageStateOf, AssignedAsid0ImmutableGpa0_IsFirmware) {
  RmpEntryRaw e;
  e.set_assigned(true).set_immutable(true);

  EXPECT_EQ(page_state(e), PageState::Firmware);
}

TEST(PageStateOf, AssignedAsid0ImmutableFwIommuGpaState_IsFirmwareIommu) {
  RmpEntryRaw e;
  e.set_assigned(true).set_immutable(true).set_gpa(gpa_with_state(RmpEntryRaw::GpaState::FwIommu, 1));

  EXPECT_EQ(page_state(e), PageState::FirmwareIommu);
}

TEST(PageStateOf, FwIommuGpaStateWithLowBitsNotOne_IsInvalid) {
  RmpEntryRaw e;
  e.set_assigned(true).set_immutable(true).set_gpa(gpa_with_state(RmpEntryRaw::GpaState::FwIommu, 2));

  EXPECT_EQ(page_state(e), PageState::Invalid);
}

TEST(PageStateOf, AssignedAsid0MutableUnlocked_IsReclaim) {
  RmpEntryRaw e;
  e.set_assigned(true);

  EXPECT_EQ(page_state(e), PageState::Reclaim);
}

TEST(PageStateOf, AssignedAsid0MutableButLocked_IsInvalid) {
  RmpEntryRaw e;
  e.set_assigned(true);
  e.set_bit(RmpEntryRaw::kLockBit, true);

  EXPECT_EQ(page_state(e), PageState::Invalid);
}

TEST(PageStateOf, AssignedAsid0ImmutableVmsaGpa0_IsContext) {
  RmpEntryRaw e;
  e.set_assigned(true).set_immutable(true).set_vmsa(true);

  EXPECT_EQ(page_state(e), PageState::Context);
}

TEST(PageStateOf, AssignedAsid0ImmutableMetadataGpaState_IsMetadata) {
  RmpEntryRaw e;
  e.set_assigned(true).set_immutable(true).set_gpa(gpa_with_state(RmpEntryRaw::GpaState::Metadata, 0x42));

  EXPECT_EQ(page_state(e), PageState::Metadata);
}

TEST(PageStateOf, MetadataGpaStateWithZeroLowBits_IsInvalid) {
  RmpEntryRaw e;
  e.set_assigned(true).set_immutable(true).set_gpa(gpa_with_state(RmpEntryRaw::GpaState::Metadata, 0));

  EXPECT_EQ(page_state(e), PageState::Invalid);
}

TEST(PageStateOf, GuestAsidImmutableNotValidated_IsPreGuest) {
  EXPECT_EQ(page_state(guest_entry(false, true)), PageState::PreGuest);
}

TEST(PageStateOf, GuestAsidImmutableValidated_IsPreSwap) {
  EXPECT_EQ(page_state(guest_entry(true, true)), PageState::PreSwap);
}

TEST(PageStateOf, GuestAsidMutableNotValidated_IsGuestInvalid) {
  EXPECT_EQ(page_state(guest_entry(false, false)), PageState::GuestInvalid);
}

TEST(PageStateOf, GuestAsidMutableValidated_IsGuestValid) {
  EXPECT_EQ(page_state(guest_entry(true, false)), PageState::GuestValid);
}

TEST(PageStateOf, UnassignedButValidated_IsInvalid) {
  RmpEntryRaw e;
  e.set_validated(true);

  EXPECT_EQ(page_state(e), PageState::Invalid);
}

TEST(PageStateOf, UnassignedWithAsid_IsInvalid) {
  RmpEntryRaw e;
  e.set_asid(kGuestAsid);

  EXPECT_EQ(page_state(e), PageState::Invalid);
}

TEST(PageStateOf, AssignedAsid0ImmutableOrdinaryGpa_IsInvalid) {
  RmpEntryRaw e;
  e.set_assigned(true).set_immutable(true).set_gpa(0x5000);

  EXPECT_EQ(page_state(e), PageState::Invalid);
}

TEST(PageStateOf, NotCovered_IsDefaultWhateverTheEntry) {
  EXPECT_EQ(page_state(guest_entry(true, false), false), PageState::Default);
  EXPECT_EQ(page_state(RmpEntryRaw{}, false), PageState::Default);
}

// --- to_string -------------------------------------------------------------------------

TEST(PageStateToString, EveryState_HasFirmwareName) {
  EXPECT_EQ(to_string(PageState::Invalid), "INVALID");
  EXPECT_EQ(to_string(PageState::Default), "DEFAULT");
  EXPECT_EQ(to_string(PageState::Hypervisor), "HYPERVISOR");
  EXPECT_EQ(to_string(PageState::HvFixed), "HV_FIXED");
  EXPECT_EQ(to_string(PageState::Firmware), "FIRMWARE");
  EXPECT_EQ(to_string(PageState::FirmwareIommu), "FIRMWARE_IOMMU");
  EXPECT_EQ(to_string(PageState::Reclaim), "RECLAIM");
  EXPECT_EQ(to_string(PageState::Context), "CONTEXT");
  EXPECT_EQ(to_string(PageState::Metadata), "METADATA");
  EXPECT_EQ(to_string(PageState::PreGuest), "PRE_GUEST");
  EXPECT_EQ(to_string(PageState::PreSwap), "PRE_SWAP");
  EXPECT_EQ(to_string(PageState::GuestInvalid), "GUEST_INVALID");
  EXPECT_EQ(to_string(PageState::GuestValid), "GUEST_VALID");
}

TEST(PageStateEnum, Values_MatchAspfwEncoding) {
  EXPECT_EQ(static_cast<unsigned>(PageState::Invalid), 0x0u);
  EXPECT_EQ(static_cast<unsigned>(PageState::Default), 0x1u);
  EXPECT_EQ(static_cast<unsigned>(PageState::Hypervisor), 0x2u);
  EXPECT_EQ(static_cast<unsigned>(PageState::Firmware), 0x4u);
  EXPECT_EQ(static_cast<unsigned>(PageState::PreGuest), 0x9u);
  EXPECT_EQ(static_cast<unsigned>(PageState::GuestValid), 0xCu);
}

}  // namespace
}  // namespace snplab::model
