// RmpLayout: contiguous RMP coverage (facts §1.2), covering(), segmented RMP (facts §1.4).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "snp/model/hw/rmp_table.h"

namespace snplab::model {
namespace {

constexpr std::uint64_t kMiB = 1ULL << 20;
constexpr std::uint64_t kGiB = 1ULL << 30;
constexpr std::uint64_t kBookkeeping = RmpLayout::kBookkeepingBytes;  // 16 KiB
constexpr Pfn kPages16M = 16ULL << 20;                                // 64 GiB / 4 KiB

/// RST entry: segment base (1 MiB aligned, bits 51:20) | mapped GiB (bits 19:0).
constexpr std::uint64_t rst_entry(Spa base, std::uint64_t mapped_gib) { return base | mapped_gib; }

// =======================================================================================
// contiguous

TEST(RmpLayoutContiguous, ExactTable_CoversFormulaPages) {
  const Spa base = 0x100000;
  const Spa end = base + kBookkeeping + 16 * 0x1000 - 1;

  const std::optional<RmpLayout> l = RmpLayout::contiguous(base, end);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), 0x1000u);
  EXPECT_TRUE(l->covers(0xFFF));
  EXPECT_FALSE(l->covers(0x1000));
  EXPECT_FALSE(l->is_segmented());
  EXPECT_EQ(l->rmp_base(), base);
  EXPECT_EQ(l->rmp_end(), end);
}

TEST(RmpLayoutContiguous, PartialTrailingEntry_RoundsCoverageDown) {
  const Spa base = 0x100000;
  const Spa end = base + kBookkeeping + 16 * 0x1000 + 15 - 1;  // 15 bytes of a further entry

  const std::optional<RmpLayout> l = RmpLayout::contiguous(base, end);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), 0x1000u);
}

TEST(RmpLayoutContiguous, BookkeepingPlusOneEntry_CoversPfn0Only) {
  const Spa base = 0x2000;

  const std::optional<RmpLayout> l = RmpLayout::contiguous(base, base + kBookkeeping + 16 - 1);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), 1u);
  EXPECT_TRUE(l->covers(0));
  EXPECT_FALSE(l->covers(1));
}

TEST(RmpLayoutContiguous, BaseNot8KAligned_RejectedWithReason) {
  std::string why;

  const std::optional<RmpLayout> l = RmpLayout::contiguous(0x101000, 0x101000 + kMiB - 1, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutContiguous, TableSmallerThanBookkeepingPlusOneEntry_RejectedWithReason) {
  std::string why;
  const Spa base = 0x100000;

  const std::optional<RmpLayout> l = RmpLayout::contiguous(base, base + kBookkeeping + 15 - 1, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutContiguous, EndBelowBase_RejectedWithReason) {
  std::string why;

  const std::optional<RmpLayout> l = RmpLayout::contiguous(0x200000, 0x100000, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutContiguous, EndBeyond2Pow52_RejectedWithReason) {
  std::string why;

  const std::optional<RmpLayout> l = RmpLayout::contiguous(0, kMaxPhysAddr, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutContiguous, TableLargerThan2Pow52NeedsCoverage_CoverageCappedAt2Pow40Pages) {
  const Spa end = kBookkeeping + (1ULL << 44) + 0x10000 - 1;  // 2^40 + 4096 entries

  const std::optional<RmpLayout> l = RmpLayout::contiguous(0, end);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), 1ULL << 40);
  EXPECT_FALSE(l->covers(1ULL << 40));
}

TEST(RmpLayoutContiguous, EntrySpa_IsBasePlusBookkeepingPlus16PerPfn) {
  const Spa base = 0x100000;
  const std::optional<RmpLayout> l = RmpLayout::contiguous(base, base + kMiB - 1);
  ASSERT_TRUE(l.has_value());

  EXPECT_EQ(l->entry_spa(0), base + kBookkeeping);
  EXPECT_EQ(l->entry_spa(0x123), base + kBookkeeping + 0x123 * 16);
  EXPECT_EQ(l->entry_spa(l->covered_pages()), std::nullopt);
}

// =======================================================================================
// covering

TEST(RmpLayoutCovering, SixtyFourGiB_CoversPfn0To16MMinus1) {
  const std::optional<RmpLayout> l = RmpLayout::covering(64 * kGiB);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), kPages16M);
  EXPECT_TRUE(l->covers(0));
  EXPECT_TRUE(l->covers(kPages16M - 1));
  EXPECT_FALSE(l->covers(kPages16M));
}

TEST(RmpLayoutCovering, SixtyFourGiB_TableSitsAboveCoveredMemory) {
  const std::optional<RmpLayout> l = RmpLayout::covering(64 * kGiB);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->rmp_base(), 64 * kGiB);
  EXPECT_GE(l->rmp_end() + 1 - l->rmp_base(), kBookkeeping + kPages16M * 16);
  EXPECT_EQ((l->rmp_end() + 1) % kMiB, 0u);
}

TEST(RmpLayoutCovering, OddSize_TableAtNextMiBBoundary) {
  const std::optional<RmpLayout> l = RmpLayout::covering(3 * kPageSize);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), 3u);
  EXPECT_EQ(l->rmp_base(), kMiB);
  EXPECT_FALSE(l->covers(3));
}

TEST(RmpLayoutCovering, Zero_RejectedWithReason) {
  std::string why;

  const std::optional<RmpLayout> l = RmpLayout::covering(0, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutCovering, NotMultipleOf4K_RejectedWithReason) {
  std::string why;

  const std::optional<RmpLayout> l = RmpLayout::covering(kGiB + 0x800, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutCovering, Beyond2Pow52_RejectedWithReason) {
  std::string why;

  const std::optional<RmpLayout> l = RmpLayout::covering(kMaxPhysAddr + kPageSize, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutCovering, Exactly2Pow52_CoversWholeSpace) {
  const std::optional<RmpLayout> l = RmpLayout::covering(kMaxPhysAddr);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), 1ULL << 40);
  EXPECT_TRUE(l->covers((1ULL << 40) - 1));
  EXPECT_FALSE(l->covers(1ULL << 40));
  EXPECT_EQ(l->rmp_base(), 0u);
  EXPECT_LT(l->rmp_end(), kMaxPhysAddr);
}

TEST(RmpLayoutCovering, JustBelow2Pow52_TableMovesBelowAndCoversRequestedPages) {
  const std::optional<RmpLayout> l = RmpLayout::covering(kMaxPhysAddr - kMiB);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), (kMaxPhysAddr - kMiB) >> kPageShift);
  EXPECT_FALSE(l->covers((kMaxPhysAddr - kMiB) >> kPageShift));
  EXPECT_LT(l->rmp_end(), kMaxPhysAddr);
}

TEST(RmpLayoutCovering, Describe_NamesKindAndSize) {
  const std::optional<RmpLayout> l = RmpLayout::covering(64 * kGiB);
  ASSERT_TRUE(l.has_value());

  const std::string text = l->describe();

  EXPECT_FALSE(text.empty());
  EXPECT_NE(text.find("contiguous"), std::string::npos) << text;
  EXPECT_NE(text.find("64 GiB"), std::string::npos) << text;
}

// =======================================================================================
// segmented

class RmpLayoutSegmented : public ::testing::Test {
 protected:
  // 64 GiB segments (shift 36): seg 0 fully mapped, seg 1 16 GiB, seg 2 unmapped,
  // seg 3 asks for 100 GiB (clamped to 64).
  static constexpr unsigned kShift = 36;
  static constexpr Spa kSeg0Base = 0x4000000000ULL;
  static constexpr Spa kSeg1Base = 0x5000000000ULL;
  static constexpr Spa kSeg3Base = 0x6000000000ULL;
  static constexpr Pfn kSegPages = 1ULL << (kShift - kPageShift);

  std::vector<std::uint64_t> rst_{rst_entry(kSeg0Base, 64), rst_entry(kSeg1Base, 16), 0,
                                  rst_entry(kSeg3Base, 100)};
};

TEST_F(RmpLayoutSegmented, MappedSizesInGiB_GiveCoveredPages) {
  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, kShift, rst_);

  ASSERT_TRUE(l.has_value());
  EXPECT_TRUE(l->is_segmented());
  EXPECT_EQ(l->segment_shift(), kShift);
  EXPECT_EQ(l->rmp_end(), 0u);
  EXPECT_EQ(l->covered_pages(), kSegPages + (16 * kGiB >> kPageShift) + kSegPages);
}

TEST_F(RmpLayoutSegmented, FullyMappedSegment_CoversItsWholeRange) {
  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, kShift, rst_);

  ASSERT_TRUE(l.has_value());
  EXPECT_TRUE(l->covers(0));
  EXPECT_TRUE(l->covers(kSegPages - 1));
}

TEST_F(RmpLayoutSegmented, PartlyMappedSegment_CoversOnlyMappedGiB) {
  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, kShift, rst_);
  const Pfn seg1 = kSegPages;
  const Pfn mapped = 16 * kGiB >> kPageShift;

  ASSERT_TRUE(l.has_value());
  EXPECT_TRUE(l->covers(seg1));
  EXPECT_TRUE(l->covers(seg1 + mapped - 1));
  EXPECT_FALSE(l->covers(seg1 + mapped));
  EXPECT_FALSE(l->covers(2 * kSegPages - 1));
}

TEST_F(RmpLayoutSegmented, ZeroRstEntry_LeavesUncoveredGap) {
  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, kShift, rst_);

  ASSERT_TRUE(l.has_value());
  EXPECT_FALSE(l->covers(2 * kSegPages));
  EXPECT_FALSE(l->covers(3 * kSegPages - 1));
  EXPECT_EQ(l->entry_spa(2 * kSegPages), std::nullopt);
}

TEST_F(RmpLayoutSegmented, MappedSizeAboveSegmentSize_ClampedToSegment) {
  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, kShift, rst_);

  ASSERT_TRUE(l.has_value());
  EXPECT_TRUE(l->covers(4 * kSegPages - 1));
  EXPECT_FALSE(l->covers(4 * kSegPages));
}

TEST_F(RmpLayoutSegmented, EntrySpa_IsSegmentBasePlus16PerPfnInSegment) {
  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, kShift, rst_);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->entry_spa(7), kSeg0Base + 7 * 16);
  EXPECT_EQ(l->entry_spa(kSegPages + 5), kSeg1Base + 5 * 16);
  EXPECT_EQ(l->entry_spa(3 * kSegPages), kSeg3Base);
}

TEST_F(RmpLayoutSegmented, Describe_NamesSegmented) {
  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, kShift, rst_);
  ASSERT_TRUE(l.has_value());

  const std::string text = l->describe();

  EXPECT_FALSE(text.empty());
  EXPECT_NE(text.find("segmented"), std::string::npos) << text;
}

TEST(RmpLayoutSegmentedLimits, ShiftBelow30_RejectedWithReason) {
  std::string why;
  const std::vector<std::uint64_t> rst{rst_entry(0x4000000000ULL, 1)};

  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, 29, rst, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutSegmentedLimits, ShiftAbove52_RejectedWithReason) {
  std::string why;
  const std::vector<std::uint64_t> rst{rst_entry(0x4000000000ULL, 1)};

  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, 53, rst, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutSegmentedLimits, Shift30_OneGiBSegments) {
  const std::vector<std::uint64_t> rst{rst_entry(0x4000000000ULL, 1), rst_entry(0x4100000000ULL, 1)};

  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, 30, rst);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), 2 * (kGiB >> kPageShift));
  EXPECT_EQ(l->entry_spa(kGiB >> kPageShift), 0x4100000000ULL);
}

TEST(RmpLayoutSegmentedLimits, Shift52_OneSegmentForWholeSpace) {
  const std::vector<std::uint64_t> rst{rst_entry(0x4000000000ULL, 64)};

  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, 52, rst);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), kPages16M);
  EXPECT_TRUE(l->covers(kPages16M - 1));
  EXPECT_FALSE(l->covers(kPages16M));
}

TEST(RmpLayoutSegmentedLimits, MoreThan512RstEntries_RejectedWithReason) {
  std::string why;
  const std::vector<std::uint64_t> rst(RmpLayout::kRstEntries + 1, 0);

  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, 36, rst, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutSegmentedLimits, Exactly512RstEntries_Accepted) {
  const std::vector<std::uint64_t> rst(RmpLayout::kRstEntries, 0);

  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, 36, rst);

  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->covered_pages(), 0u);
}

TEST(RmpLayoutSegmentedLimits, RstEntryWithBitsAbove51_RejectedWithReason) {
  std::string why;
  const std::vector<std::uint64_t> rst{rst_entry(0x4000000000ULL, 1) | (1ULL << 52)};

  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, 36, rst, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutSegmentedLimits, SegmentMappingBeyond2Pow52_RejectedWithReason) {
  std::string why;
  const std::vector<std::uint64_t> rst{0, 0, rst_entry(0x4000000000ULL, 1)};  // seg 2 starts at 2^52

  const std::optional<RmpLayout> l = RmpLayout::segmented(0x100000, 51, rst, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

TEST(RmpLayoutSegmentedLimits, BaseNot8KAligned_RejectedWithReason) {
  std::string why;
  const std::vector<std::uint64_t> rst{rst_entry(0x4000000000ULL, 1)};

  const std::optional<RmpLayout> l = RmpLayout::segmented(0x101000, 36, rst, &why);

  EXPECT_FALSE(l.has_value());
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace snplab::model
