// SNP_PAGE_RECLAIM (facts §4.5): which page states it makes mutable, and its failures.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "snp/model/psp/fw_rmp.h"
#include "snp/model/host/x86/sev.h"

namespace snplab::model {
namespace {

constexpr Asid kAsid = 5;
constexpr Pfn kPfn = 0x3011;
constexpr Pfn kBase = 0x3200;  // 2M-aligned
constexpr Gpa kGpa = 0xB000;
constexpr Gpa kGpa2M = 0x800000;
constexpr std::uint64_t kOneGiB = 1ULL << 30;
const OpContext kCtx{"fw-test", 1};

/// The GPA whose GPA field carries `state` in bits 38:36 above `low`.
constexpr Gpa gpa_with_state(RmpEntryRaw::GpaState state, std::uint64_t low) {
  return ((static_cast<std::uint64_t>(state) << RmpEntryRaw::kGpaStateShift) | low) << kPageShift;
}

class Recorder final : public RmpObserver {
 public:
  void on_event(const Rmp& /*rmp*/, const RmpEvent& ev) override {
    insns_.push_back(ev.insn);
    changes_.push_back(ev.changes.size());
  }
  const std::vector<RmpInsn>& insns() const { return insns_; }
  const std::vector<std::size_t>& changes() const { return changes_; }

 private:
  std::vector<RmpInsn> insns_;
  std::vector<std::size_t> changes_;
};

class FwRmpTest : public ::testing::Test {
 protected:
  /// Writes an entry no instruction can create, as a firmware command would.
  void write_entry(Pfn pfn, const RmpEntryRaw& e) {
    Rmp::Frame f(rmp_, RmpInsn::Firmware, pfn_to_spa(pfn), e.page_size(), OpContext{"test-fw-write", 0});
    rmp_.store(pfn, e);
    (void)f.done(RmpStatus::Success);
  }
  RmpStatus make_private(Pfn pfn, Gpa gpa, Asid asid, bool immutable, PageSize size = PageSize::Size4K) {
    return rmp_make_private(rmp_, pfn, gpa, size, asid, immutable, kCtx);
  }

  Rmp rmp_{*RmpLayout::covering(kOneGiB)};
};

RmpEntryRaw asp_entry() {  // assigned, ASID 0, immutable: the AMD-SP's
  RmpEntryRaw e;
  e.set_assigned(true).set_immutable(true);
  return e;
}

// =======================================================================================
// Transitions

TEST_F(FwRmpTest, SnpPageReclaim_FirmwarePage_BecomesReclaim) {
  ASSERT_EQ(make_private(kPfn, 0, 0, true), RmpStatus::Success);
  ASSERT_EQ(page_state(rmp_.inspect(kPfn)), PageState::Firmware);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kPfn);
  EXPECT_EQ(page_state(e), PageState::Reclaim);
  EXPECT_TRUE(e.assigned());
  EXPECT_FALSE(e.immutable());
  EXPECT_FALSE(e.lock());
}

TEST_F(FwRmpTest, SnpPageReclaim_PreGuestPage_BecomesGuestInvalid) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid, true), RmpStatus::Success);
  ASSERT_EQ(page_state(rmp_.inspect(kPfn)), PageState::PreGuest);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kPfn);
  EXPECT_EQ(page_state(e), PageState::GuestInvalid);
  EXPECT_EQ(e.asid(), kAsid);
  EXPECT_EQ(e.gpa(), kGpa);
}

TEST_F(FwRmpTest, SnpPageReclaim_PreSwapPage_BecomesGuestValid) {
  RmpEntryRaw pre_swap;
  pre_swap.set_assigned(true).set_asid(kAsid).set_gpa(kGpa).set_validated(true).set_immutable(true);
  write_entry(kPfn, pre_swap);
  ASSERT_EQ(page_state(rmp_.inspect(kPfn)), PageState::PreSwap);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kPfn);
  EXPECT_EQ(page_state(e), PageState::GuestValid);
  EXPECT_TRUE(e.validated());
  EXPECT_FALSE(e.lock());
}

TEST_F(FwRmpTest, SnpPageReclaim_MetadataPage_BecomesReclaim) {
  write_entry(kPfn, asp_entry().set_gpa(gpa_with_state(RmpEntryRaw::GpaState::Metadata, 0x33)));
  ASSERT_EQ(page_state(rmp_.inspect(kPfn)), PageState::Metadata);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::Success);
  EXPECT_EQ(page_state(rmp_.inspect(kPfn)), PageState::Reclaim);
}

TEST_F(FwRmpTest, SnpPageReclaim_PreGuest2MPageAs2M_BecomesGuestInvalid2M) {
  ASSERT_EQ(make_private(kBase, kGpa2M, kAsid, true, PageSize::Size2M), RmpStatus::Success);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kBase), PageSize::Size2M);

  EXPECT_EQ(s, FwStatus::Success);
  const RmpEntryRaw e = rmp_.inspect(kBase);
  EXPECT_EQ(page_state(e), PageState::GuestInvalid);
  EXPECT_EQ(e.page_size(), PageSize::Size2M);
}

TEST_F(FwRmpTest, SnpPageReclaim_ThenRmpupdateShared_ReturnsPageToHypervisor) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid, true), RmpStatus::Success);
  ASSERT_EQ(rmp_make_shared(rmp_, kPfn, PageSize::Size4K, kCtx), RmpStatus::FailPermission);
  ASSERT_EQ(snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K), FwStatus::Success);

  const RmpStatus s = rmp_make_shared(rmp_, kPfn, PageSize::Size4K, kCtx);

  EXPECT_EQ(s, RmpStatus::Success);
  EXPECT_EQ(page_state(rmp_.inspect(kPfn)), PageState::Hypervisor);
}

TEST_F(FwRmpTest, SnpPageReclaim_Success_ObserverSeesOneFirmwareEventWithOneChange) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid, true), RmpStatus::Success);
  Recorder rec;
  rmp_.add_observer(&rec);

  ASSERT_EQ(snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K), FwStatus::Success);

  ASSERT_EQ(rec.insns().size(), 1u);
  EXPECT_EQ(rec.insns()[0], RmpInsn::Firmware);
  EXPECT_EQ(rec.changes()[0], 1u);
}

// =======================================================================================
// Mutable pages: success, no change

TEST_F(FwRmpTest, SnpPageReclaim_GuestInvalidPage_SuccessNoChange) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid, false), RmpStatus::Success);
  const RmpEntryRaw before = rmp_.inspect(kPfn);
  Recorder rec;
  rmp_.add_observer(&rec);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::Success);
  EXPECT_EQ(rmp_.inspect(kPfn), before);
  ASSERT_EQ(rec.changes().size(), 1u);
  EXPECT_EQ(rec.changes()[0], 0u);
}

TEST_F(FwRmpTest, SnpPageReclaim_GuestValidPage_SuccessNoChange) {
  RmpEntryRaw valid;
  valid.set_assigned(true).set_asid(kAsid).set_gpa(kGpa).set_validated(true);
  write_entry(kPfn, valid);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::Success);
  EXPECT_EQ(rmp_.inspect(kPfn), valid);
}

TEST_F(FwRmpTest, SnpPageReclaim_HypervisorPage_SuccessNoChange) {
  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::Success);
  EXPECT_EQ(rmp_.inspect(kPfn), RmpEntryRaw{});
}

TEST_F(FwRmpTest, SnpPageReclaim_ReclaimPageAgain_SuccessNoChange) {
  ASSERT_EQ(make_private(kPfn, 0, 0, true), RmpStatus::Success);
  ASSERT_EQ(snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K), FwStatus::Success);
  const RmpEntryRaw before = rmp_.inspect(kPfn);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::Success);
  EXPECT_EQ(rmp_.inspect(kPfn), before);
}

// =======================================================================================
// Immutable states not in the list: INVALID_PAGE_STATE

TEST_F(FwRmpTest, SnpPageReclaim_HvFixedPage_InvalidPageState) {
  RmpEntryRaw hv_fixed;
  hv_fixed.set_immutable(true);
  write_entry(kPfn, hv_fixed);
  ASSERT_EQ(page_state(rmp_.inspect(kPfn)), PageState::HvFixed);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::InvalidPageState);
  EXPECT_EQ(rmp_.inspect(kPfn), hv_fixed);
}

TEST_F(FwRmpTest, SnpPageReclaim_ContextPage_InvalidPageState) {
  const RmpEntryRaw context = asp_entry().set_vmsa(true);
  write_entry(kPfn, context);
  ASSERT_EQ(page_state(rmp_.inspect(kPfn)), PageState::Context);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::InvalidPageState);
  EXPECT_EQ(rmp_.inspect(kPfn), context);
}

TEST_F(FwRmpTest, SnpPageReclaim_FirmwareIommuPage_InvalidPageState) {
  const RmpEntryRaw iommu = asp_entry().set_gpa(gpa_with_state(RmpEntryRaw::GpaState::FwIommu, 1));
  write_entry(kPfn, iommu);
  ASSERT_EQ(page_state(rmp_.inspect(kPfn)), PageState::FirmwareIommu);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::InvalidPageState);
  EXPECT_EQ(rmp_.inspect(kPfn), iommu);
}

TEST_F(FwRmpTest, SnpPageReclaim_ImmutableEntryOfNoState_InvalidPageState) {
  const RmpEntryRaw odd = asp_entry().set_gpa(kGpa);
  write_entry(kPfn, odd);
  ASSERT_EQ(page_state(rmp_.inspect(kPfn)), PageState::Invalid);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::InvalidPageState);
  EXPECT_EQ(rmp_.inspect(kPfn), odd);
}

TEST_F(FwRmpTest, SnpPageReclaim_UncoveredSpa_InvalidPageState) {
  const FwStatus s = snp_page_reclaim(rmp_, kOneGiB, PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::InvalidPageState);
}

// =======================================================================================
// Size and alignment

TEST_F(FwRmpTest, SnpPageReclaim_4KEntryReclaimedAs2M_InvalidPageSize) {
  ASSERT_EQ(make_private(kBase, kGpa2M, kAsid, true), RmpStatus::Success);
  const RmpEntryRaw before = rmp_.inspect(kBase);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kBase), PageSize::Size2M);

  EXPECT_EQ(s, FwStatus::InvalidPageSize);
  EXPECT_EQ(rmp_.inspect(kBase), before);
}

TEST_F(FwRmpTest, SnpPageReclaim_2MEntryReclaimedAs4K_InvalidPageSize) {
  ASSERT_EQ(make_private(kBase, kGpa2M, kAsid, true, PageSize::Size2M), RmpStatus::Success);
  const RmpEntryRaw before = rmp_.inspect(kBase);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kBase), PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::InvalidPageSize);
  EXPECT_EQ(rmp_.inspect(kBase), before);
}

TEST_F(FwRmpTest, SnpPageReclaim_SpaNotPageAligned_InvalidParam) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid, true), RmpStatus::Success);
  const RmpEntryRaw before = rmp_.inspect(kPfn);

  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kPfn) + 0x10, PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::InvalidParam);
  EXPECT_EQ(rmp_.inspect(kPfn), before);
}

TEST_F(FwRmpTest, SnpPageReclaim_2MSizeWithSpaNot2MAligned_InvalidParam) {
  const FwStatus s = snp_page_reclaim(rmp_, pfn_to_spa(kBase + 1), PageSize::Size2M);

  EXPECT_EQ(s, FwStatus::InvalidParam);
}

TEST_F(FwRmpTest, SnpPageReclaim_SpaAt2Pow52_InvalidParam) {
  const FwStatus s = snp_page_reclaim(rmp_, kMaxPhysAddr, PageSize::Size4K);

  EXPECT_EQ(s, FwStatus::InvalidParam);
}

// =======================================================================================
// Names

TEST(FwStatusToString, Codes_HaveSevRetNames) {
  EXPECT_EQ(to_string(FwStatus::Success), "SUCCESS");
  EXPECT_EQ(to_string(FwStatus::InvalidParam), "INVALID_PARAM");
  EXPECT_EQ(to_string(FwStatus::InvalidPageSize), "INVALID_PAGE_SIZE");
  EXPECT_EQ(to_string(FwStatus::InvalidPageState), "INVALID_PAGE_STATE");
  EXPECT_EQ(to_string(static_cast<FwStatus>(0x1E)), "UNKNOWN");
}

TEST(FwStatusEnum, Values_MatchSevRet) {
  EXPECT_EQ(static_cast<std::uint32_t>(FwStatus::InvalidParam), 0x16u);
  EXPECT_EQ(static_cast<std::uint32_t>(FwStatus::InvalidPageSize), 0x19u);
  EXPECT_EQ(static_cast<std::uint32_t>(FwStatus::InvalidPageState), 0x1Au);
}

}  // namespace
}  // namespace snplab::model
