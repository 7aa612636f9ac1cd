// Detectors (double-assignment, erroneous-revert, leaked-page): what fires, what does not,
// and what a finding records.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "snp/model/hw/detectors.h"
#include "snp/model/host/x86/sev.h"

namespace snplab::model {
namespace {

constexpr Pfn kPfn = 0x100001;
constexpr Pfn kBase = 0x100200;  // 2M-aligned
constexpr Gpa kGpa = 0x1000;
constexpr Gpa kGpa2M = 0x200000;
constexpr VmId kVm1 = 1;
constexpr VmId kVm2 = 2;
constexpr Asid kAsid1 = 1;
constexpr Asid kAsid2 = 2;
const OpContext kVm1Op{"sev_gmem_prepare", kVm1};
const OpContext kVm2Op{"KVM_SEV_SNP_LAUNCH_UPDATE", kVm2};
const OpContext kHostOp{"host_op", 0};

class DetectorsTest : public ::testing::Test {
 protected:
  void SetUp() override { rmp_.add_observer(&det_); }

  RmpStatus make_private(Pfn pfn, Gpa gpa, Asid asid, const OpContext& ctx, bool immutable = false) {
    return rmp_make_private(rmp_, pfn, gpa, PageSize::Size4K, asid, immutable, ctx);
  }
  RmpStatus make_shared(Pfn pfn, const OpContext& ctx) {
    return rmp_make_shared(rmp_, pfn, PageSize::Size4K, ctx);
  }

  Rmp rmp_{*RmpLayout::covering(64ULL << 30)};
  Detectors det_;
};

// =======================================================================================
// double-assignment

TEST_F(DetectorsTest, DoubleAssignment_ReassignToAnotherAsid_Fires) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_private(kPfn, 0, kAsid2, kVm2Op, true), RmpStatus::Success);

  EXPECT_EQ(det_.count(snplab::model::FindingKind::DoubleAssignment), 1u);
  EXPECT_EQ(det_.findings().size(), 1u);
}

TEST_F(DetectorsTest, DoubleAssignment_ReassignToSameAsid_Fires) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  EXPECT_EQ(det_.count(snplab::model::FindingKind::DoubleAssignment), 1u);
}

TEST_F(DetectorsTest, DoubleAssignment_ReturnToHypervisorInBetween_DoesNotFire) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  ASSERT_EQ(make_shared(kPfn, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_private(kPfn, 0, kAsid2, kVm2Op), RmpStatus::Success);

  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, DoubleAssignment_FirstAssignment_DoesNotFire) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, DoubleAssignment_Finding_NamesPageOwnerAndNewAsid) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);  // seq 1

  ASSERT_EQ(make_private(kPfn, 0, kAsid2, kVm2Op, true), RmpStatus::Success);  // seq 2

  ASSERT_EQ(det_.findings().size(), 1u);
  const Finding& f = det_.findings()[0];
  EXPECT_EQ(f.kind, snplab::model::FindingKind::DoubleAssignment);
  EXPECT_EQ(f.seq, 2u);
  EXPECT_EQ(f.insn, RmpInsn::Rmpupdate);
  EXPECT_EQ(f.ctx.op, "KVM_SEV_SNP_LAUNCH_UPDATE");
  EXPECT_EQ(f.ctx.vm, kVm2);
  EXPECT_EQ(f.new_asid, kAsid2);
  ASSERT_EQ(f.pages.size(), 1u);
  const FindingPage& p = f.pages[0];
  EXPECT_EQ(p.pfn, kPfn);
  EXPECT_EQ(p.before.asid(), kAsid1);
  EXPECT_EQ(p.after.asid(), kAsid2);
  ASSERT_TRUE(p.owner.has_value());
  EXPECT_EQ(p.owner->op, "sev_gmem_prepare");
  EXPECT_EQ(p.owner->vm, kVm1);
  EXPECT_EQ(p.owner->seq, 1u);
  EXPECT_EQ(p.owner->asid, kAsid1);
  EXPECT_EQ(p.owner->insn, RmpInsn::Rmpupdate);
}

TEST_F(DetectorsTest, DoubleAssignment_2MReassignment_Reports512PagesInOneFinding) {
  ASSERT_EQ(rmp_make_private(rmp_, kBase, kGpa2M, PageSize::Size2M, kAsid1, false, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(rmp_make_private(rmp_, kBase, kGpa2M, PageSize::Size2M, kAsid2, false, kVm2Op), RmpStatus::Success);

  ASSERT_EQ(det_.findings().size(), 1u);
  const Finding& f = det_.findings()[0];
  EXPECT_EQ(f.kind, snplab::model::FindingKind::DoubleAssignment);
  ASSERT_EQ(f.pages.size(), std::size_t{kPagesPerHuge});
  EXPECT_EQ(f.pages.front().pfn, kBase);
  EXPECT_EQ(f.pages.back().pfn, kBase + kPagesPerHuge - 1);
  ASSERT_TRUE(f.pages.back().owner.has_value());
  EXPECT_EQ(f.pages.back().owner->vm, kVm1);
}

TEST_F(DetectorsTest, DoubleAssignment_SubpageCountStoreToAssignedAlignedEntry_DoesNotFire) {
  ASSERT_EQ(make_private(kBase, kGpa2M, kAsid1, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_private(kBase + 1, kGpa2M + kPageSize, kAsid1, kVm1Op), RmpStatus::Success);

  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, DoubleAssignment_FailedRmpupdate_DoesNotFire) {
  ASSERT_EQ(make_private(kPfn, 0, kAsid1, kVm1Op, true), RmpStatus::Success);

  ASSERT_EQ(make_private(kPfn, 0, kAsid2, kVm2Op), RmpStatus::FailPermission);

  EXPECT_TRUE(det_.findings().empty());
  ASSERT_NE(det_.provenance(kPfn), nullptr);
  EXPECT_EQ(det_.provenance(kPfn)->vm, kVm1);
}

// =======================================================================================
// erroneous-revert

TEST_F(DetectorsTest, ErroneousRevert_OtherVmRevertsPage_Fires) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_shared(kPfn, kVm2Op), RmpStatus::Success);

  ASSERT_EQ(det_.count(snplab::model::FindingKind::ErroneousRevert), 1u);
  const Finding& f = det_.findings()[0];
  EXPECT_EQ(f.kind, snplab::model::FindingKind::ErroneousRevert);
  EXPECT_EQ(f.ctx.vm, kVm2);
  ASSERT_EQ(f.pages.size(), 1u);
  EXPECT_EQ(f.pages[0].pfn, kPfn);
  EXPECT_TRUE(f.pages[0].before.assigned());
  EXPECT_FALSE(f.pages[0].after.assigned());
  ASSERT_TRUE(f.pages[0].owner.has_value());
  EXPECT_EQ(f.pages[0].owner->vm, kVm1);
}

TEST_F(DetectorsTest, ErroneousRevert_HostRevertsVmsPage_Fires) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_shared(kPfn, kHostOp), RmpStatus::Success);

  EXPECT_EQ(det_.count(snplab::model::FindingKind::ErroneousRevert), 1u);
}

TEST_F(DetectorsTest, ErroneousRevert_PageAssignedBeforeTracking_Fires) {
  rmp_.remove_observer(&det_);
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  rmp_.add_observer(&det_);

  ASSERT_EQ(make_shared(kPfn, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(det_.count(snplab::model::FindingKind::ErroneousRevert), 1u);
  ASSERT_EQ(det_.findings()[0].pages.size(), 1u);
  EXPECT_FALSE(det_.findings()[0].pages[0].owner.has_value());
}

TEST_F(DetectorsTest, ErroneousRevert_AssigningVmReverts_DoesNotFire) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_shared(kPfn, {"kvm_gmem_release", kVm1}), RmpStatus::Success);

  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, ErroneousRevert_RevertOfHypervisorPage_DoesNotFire) {
  ASSERT_EQ(make_shared(kPfn, kVm2Op), RmpStatus::Success);

  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, ErroneousRevert_ReturnForgetsProvenance) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  ASSERT_NE(det_.provenance(kPfn), nullptr);

  ASSERT_EQ(make_shared(kPfn, kVm1Op), RmpStatus::Success);

  EXPECT_EQ(det_.provenance(kPfn), nullptr);
}

// =======================================================================================
// leaked-page

TEST_F(DetectorsTest, LeakedPage_TornDownWithAssignedPage_ListsIt) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  ASSERT_EQ(make_private(kPfn + 1, kGpa + kPageSize, kAsid1, kVm1Op), RmpStatus::Success);
  ASSERT_EQ(make_shared(kPfn + 1, kVm1Op), RmpStatus::Success);

  det_.owner_torn_down(rmp_, kVm1, kAsid1, {"KVM_DESTROY_VM", kVm1});

  ASSERT_EQ(det_.count(snplab::model::FindingKind::LeakedPage), 1u);
  const Finding& f = det_.findings()[0];
  EXPECT_EQ(f.kind, snplab::model::FindingKind::LeakedPage);
  EXPECT_EQ(f.ctx.op, "KVM_DESTROY_VM");
  EXPECT_EQ(f.new_asid, kAsid1);
  ASSERT_EQ(f.pages.size(), 1u);
  EXPECT_EQ(f.pages[0].pfn, kPfn);
  ASSERT_TRUE(f.pages[0].owner.has_value());
  EXPECT_EQ(f.pages[0].owner->vm, kVm1);
}

TEST_F(DetectorsTest, LeakedPage_PageAssignedToAsidByAnotherOwner_ListsIt) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kHostOp), RmpStatus::Success);

  det_.owner_torn_down(rmp_, kVm1, kAsid1, {"KVM_DESTROY_VM", kVm1});

  ASSERT_EQ(det_.count(snplab::model::FindingKind::LeakedPage), 1u);
  ASSERT_EQ(det_.findings()[0].pages.size(), 1u);
  EXPECT_EQ(det_.findings()[0].pages[0].pfn, kPfn);
}

TEST_F(DetectorsTest, LeakedPage_FirmwarePageAssignedForVm_ListsIt) {
  ASSERT_EQ(make_private(kPfn, 0, 0, {"snp_alloc_firmware_page", kVm1}, true), RmpStatus::Success);

  det_.owner_torn_down(rmp_, kVm1, kAsid1, {"KVM_DESTROY_VM", kVm1});

  ASSERT_EQ(det_.count(snplab::model::FindingKind::LeakedPage), 1u);
  ASSERT_EQ(det_.findings()[0].pages.size(), 1u);
  EXPECT_EQ(det_.findings()[0].pages[0].pfn, kPfn);
  EXPECT_EQ(page_state(det_.findings()[0].pages[0].before), PageState::Firmware);
}

TEST_F(DetectorsTest, LeakedPage_VmWithoutAsid_ListsPagesAssignedForIt) {
  ASSERT_EQ(make_private(kPfn, 0, 0, {"snp_alloc_firmware_page", kVm2}, true), RmpStatus::Success);

  det_.owner_torn_down(rmp_, kVm2, 0, {"KVM_DESTROY_VM", kVm2});

  ASSERT_EQ(det_.count(snplab::model::FindingKind::LeakedPage), 1u);
  EXPECT_EQ(det_.findings()[0].pages[0].pfn, kPfn);
}

TEST_F(DetectorsTest, LeakedPage_Assigned2MForAsid_ListsAll512Pages) {
  ASSERT_EQ(rmp_make_private(rmp_, kBase, kGpa2M, PageSize::Size2M, kAsid1, false, kVm1Op), RmpStatus::Success);

  det_.owner_torn_down(rmp_, kVm1, kAsid1, {"KVM_DESTROY_VM", kVm1});

  ASSERT_EQ(det_.count(snplab::model::FindingKind::LeakedPage), 1u);
  EXPECT_EQ(det_.findings()[0].pages.size(), std::size_t{kPagesPerHuge});
}

TEST_F(DetectorsTest, LeakedPage_AllPagesReclaimed_NoFinding) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  ASSERT_EQ(make_shared(kPfn, kVm1Op), RmpStatus::Success);

  det_.owner_torn_down(rmp_, kVm1, kAsid1, {"KVM_DESTROY_VM", kVm1});

  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, LeakedPage_OtherVmsPages_NotListed) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid2, kVm2Op), RmpStatus::Success);

  det_.owner_torn_down(rmp_, kVm1, kAsid1, {"KVM_DESTROY_VM", kVm1});

  EXPECT_TRUE(det_.findings().empty());
}

// =======================================================================================
// enable / provenance / describe

TEST_F(DetectorsTest, Enable_AllDetectors_OnByDefault) {
  EXPECT_TRUE(det_.enabled(snplab::model::FindingKind::DoubleAssignment));
  EXPECT_TRUE(det_.enabled(snplab::model::FindingKind::ErroneousRevert));
  EXPECT_TRUE(det_.enabled(snplab::model::FindingKind::LeakedPage));
}

TEST_F(DetectorsTest, Enable_DoubleAssignmentOff_Silent) {
  det_.enable(snplab::model::FindingKind::DoubleAssignment, false);
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_private(kPfn, 0, kAsid2, kVm2Op), RmpStatus::Success);

  EXPECT_FALSE(det_.enabled(snplab::model::FindingKind::DoubleAssignment));
  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, Enable_ErroneousRevertOff_Silent) {
  det_.enable(snplab::model::FindingKind::ErroneousRevert, false);
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_shared(kPfn, kVm2Op), RmpStatus::Success);

  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, Enable_LeakedPageOff_Silent) {
  det_.enable(snplab::model::FindingKind::LeakedPage, false);
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  det_.owner_torn_down(rmp_, kVm1, kAsid1, {"KVM_DESTROY_VM", kVm1});

  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, Enable_OffThenOn_FiresAgain) {
  det_.enable(snplab::model::FindingKind::DoubleAssignment, false);
  det_.enable(snplab::model::FindingKind::DoubleAssignment, true);
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);

  ASSERT_EQ(make_private(kPfn, 0, kAsid2, kVm2Op), RmpStatus::Success);

  EXPECT_EQ(det_.count(snplab::model::FindingKind::DoubleAssignment), 1u);
}

TEST_F(DetectorsTest, Provenance_Assignment_RecordsSeqOpVmAsidImmutable) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  ASSERT_EQ(make_private(kPfn + 1, 0, kAsid2, kVm2Op, true), RmpStatus::Success);

  const Provenance* p = det_.provenance(kPfn + 1);

  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->seq, 2u);
  EXPECT_EQ(p->insn, RmpInsn::Rmpupdate);
  EXPECT_EQ(p->op, "KVM_SEV_SNP_LAUNCH_UPDATE");
  EXPECT_EQ(p->vm, kVm2);
  EXPECT_EQ(p->asid, kAsid2);
  EXPECT_TRUE(p->immutable);
}

TEST_F(DetectorsTest, ClearFindings_AfterFinding_Empties) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid2, kVm2Op), RmpStatus::Success);
  ASSERT_EQ(det_.findings().size(), 1u);

  det_.clear_findings();

  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(DetectorsTest, Describe_DoubleAssignment_MentionsDetectorAndHexPfn) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  ASSERT_EQ(make_private(kPfn, 0, kAsid2, kVm2Op, true), RmpStatus::Success);
  ASSERT_EQ(det_.findings().size(), 1u);

  const std::string text = det_.findings()[0].describe();

  EXPECT_NE(text.find("double-assignment"), std::string::npos) << text;
  EXPECT_NE(text.find("0x100001"), std::string::npos) << text;
  EXPECT_NE(text.find("sev_gmem_prepare"), std::string::npos) << text;
  EXPECT_NE(text.find("KVM_SEV_SNP_LAUNCH_UPDATE"), std::string::npos) << text;
}

TEST_F(DetectorsTest, Describe_ErroneousRevert_MentionsDetectorAndHexPfn) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  ASSERT_EQ(make_shared(kPfn, kVm2Op), RmpStatus::Success);
  ASSERT_EQ(det_.findings().size(), 1u);

  const std::string text = det_.findings()[0].describe();

  EXPECT_NE(text.find("erroneous-revert"), std::string::npos) << text;
  EXPECT_NE(text.find("0x100001"), std::string::npos) << text;
}

TEST_F(DetectorsTest, Describe_LeakedPage_MentionsDetectorAndHexPfn) {
  ASSERT_EQ(make_private(kPfn, kGpa, kAsid1, kVm1Op), RmpStatus::Success);
  det_.owner_torn_down(rmp_, kVm1, kAsid1, {"KVM_DESTROY_VM", kVm1});
  ASSERT_EQ(det_.findings().size(), 1u);

  const std::string text = det_.findings()[0].describe();

  EXPECT_NE(text.find("leaked-page"), std::string::npos) << text;
  EXPECT_NE(text.find("0x100001"), std::string::npos) << text;
}

TEST(DetectorKindToString, EveryKind_HasDetectorName) {
  EXPECT_EQ(to_string(snplab::model::FindingKind::DoubleAssignment), "double-assignment");
  EXPECT_EQ(to_string(snplab::model::FindingKind::ErroneousRevert), "erroneous-revert");
  EXPECT_EQ(to_string(snplab::model::FindingKind::LeakedPage), "leaked-page");
}

}  // namespace
}  // namespace snplab::model
