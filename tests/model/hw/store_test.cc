// RmpStore: sparse storage of raw entries. Untouched entries read as zero; every written
// value survives the inline -> sparse -> dense promotions and hash-table growth.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <vector>

#include "snp/model/hw/rmp.h"
#include "snp/model/hw/rmp_table.h"

namespace snplab::model {
namespace {

/// A distinct, non-zero entry for every PFN.
RmpEntryRaw value_for(Pfn pfn, std::uint64_t salt = 0) {
  return RmpEntryRaw{(pfn << 4) | 0x9 | (salt << 60), ~pfn ^ salt};
}

constexpr Pfn kRegion = 0x345600;  // a 2M-aligned PFN

TEST(RmpStoreTest, Get_UntouchedPfn_ReadsZero) {
  const RmpStore store;

  EXPECT_EQ(store.get(0), RmpEntryRaw{});
  EXPECT_EQ(store.get(kRegion + 17), RmpEntryRaw{});
  EXPECT_EQ(store.get((1ULL << 40) - 1), RmpEntryRaw{});
}

TEST(RmpStoreTest, Get_UnwrittenPfnInWrittenRegion_ReadsZero) {
  RmpStore store;
  store.set(kRegion + 3, value_for(kRegion + 3));

  EXPECT_EQ(store.get(kRegion + 4), RmpEntryRaw{});
  EXPECT_EQ(store.get(kRegion), RmpEntryRaw{});
}

TEST(RmpStoreTest, SetGet_ScatteredPfnsAcross2Pow40Pages_RoundTrip) {
  RmpStore store;
  const Pfn a = 0;
  const Pfn b = 511;
  const Pfn c = 512;
  const Pfn d = 0x123456789ULL;
  const Pfn e = (1ULL << 39) + 7;
  const Pfn f = (1ULL << 40) - 1;

  store.set(a, value_for(a));
  store.set(b, value_for(b));
  store.set(c, value_for(c));
  store.set(d, value_for(d));
  store.set(e, value_for(e));
  store.set(f, value_for(f));

  EXPECT_EQ(store.get(a), value_for(a));
  EXPECT_EQ(store.get(b), value_for(b));
  EXPECT_EQ(store.get(c), value_for(c));
  EXPECT_EQ(store.get(d), value_for(d));
  EXPECT_EQ(store.get(e), value_for(e));
  EXPECT_EQ(store.get(f), value_for(f));
  EXPECT_EQ(store.get(f - 1), RmpEntryRaw{});
}

TEST(RmpStoreTest, Set_OverwriteInlineEntry_KeepsLatestValue) {
  RmpStore store;
  store.set(kRegion + 5, value_for(kRegion + 5, 1));

  store.set(kRegion + 5, value_for(kRegion + 5, 2));

  EXPECT_EQ(store.get(kRegion + 5), value_for(kRegion + 5, 2));
}

TEST(RmpStoreTest, Set_OverwriteInSparseBlock_KeepsOtherEntries) {
  RmpStore store;
  store.set(kRegion + 5, value_for(kRegion + 5));
  store.set(kRegion + 9, value_for(kRegion + 9));
  store.set(kRegion + 1, value_for(kRegion + 1));

  store.set(kRegion + 9, value_for(kRegion + 9, 3));

  EXPECT_EQ(store.get(kRegion + 1), value_for(kRegion + 1));
  EXPECT_EQ(store.get(kRegion + 5), value_for(kRegion + 5));
  EXPECT_EQ(store.get(kRegion + 9), value_for(kRegion + 9, 3));
}

TEST(RmpStoreTest, Set_ZeroOverNonZero_ReadsZero) {
  RmpStore store;
  store.set(kRegion + 5, value_for(kRegion + 5));

  store.set(kRegion + 5, RmpEntryRaw{});

  EXPECT_EQ(store.get(kRegion + 5), RmpEntryRaw{});
}

// --- a count-only aligned entry kept beside one page ------------------------------------

/// What the 2M-aligned entry holds when only other 4K pages of its region are assigned.
RmpEntryRaw count_only(std::uint32_t n) {
  RmpEntryRaw e;
  e.set_subpage_count(n);
  return e;
}

TEST(RmpStoreTest, Set_CountOnlyAlignedEntryBesideOnePage_ReadsBothBack) {
  RmpStore store;
  store.set(kRegion + 1, value_for(kRegion + 1));

  store.set(kRegion, count_only(1));

  EXPECT_EQ(store.get(kRegion + 1), value_for(kRegion + 1));
  EXPECT_EQ(store.get(kRegion), count_only(1));
  EXPECT_EQ(store.get(kRegion + 2), RmpEntryRaw{});
  EXPECT_EQ(store.touched_pages(), 2u);
}

TEST(RmpStoreTest, Set_CountOnlyAlignedEntryBesideOnePage_NeedsNoBlock) {
  RmpStore store;
  const std::uint64_t fresh = store.memory_bytes();
  store.set(kRegion + 1, value_for(kRegion + 1));

  store.set(kRegion, count_only(1));

  EXPECT_EQ(store.memory_bytes(), fresh);
}

TEST(RmpStoreTest, Set_CountOnlyAlignedEntryRewritten_ReadsNewCountAndCountsOnce) {
  RmpStore store;
  store.set(kRegion + 1, value_for(kRegion + 1));
  store.set(kRegion, count_only(1));

  store.set(kRegion, count_only(2));

  EXPECT_EQ(store.get(kRegion), count_only(2));
  EXPECT_EQ(store.touched_pages(), 2u);
}

TEST(RmpStoreTest, Set_PageBesideCountOnlyAlignedEntryRewritten_KeepsAlignedEntry) {
  RmpStore store;
  store.set(kRegion + 1, value_for(kRegion + 1));
  store.set(kRegion, count_only(1));

  store.set(kRegion + 1, value_for(kRegion + 1, 4));

  EXPECT_EQ(store.get(kRegion + 1), value_for(kRegion + 1, 4));
  EXPECT_EQ(store.get(kRegion), count_only(1));
}

TEST(RmpStoreTest, Set_ThirdEntryAfterCountOnlyAlignedEntry_KeepsAllThree) {
  RmpStore store;
  store.set(kRegion + 9, value_for(kRegion + 9));
  store.set(kRegion, count_only(1));

  store.set(kRegion + 4, value_for(kRegion + 4));

  EXPECT_EQ(store.get(kRegion), count_only(1));
  EXPECT_EQ(store.get(kRegion + 4), value_for(kRegion + 4));
  EXPECT_EQ(store.get(kRegion + 9), value_for(kRegion + 9));
  EXPECT_EQ(store.touched_pages(), 3u);
}

TEST(RmpStoreTest, Set_FullAlignedEntryOverCountOnlyOne_ReplacesIt) {
  RmpStore store;
  store.set(kRegion + 9, value_for(kRegion + 9));
  store.set(kRegion, count_only(1));

  store.set(kRegion, value_for(kRegion));

  EXPECT_EQ(store.get(kRegion), value_for(kRegion));
  EXPECT_EQ(store.get(kRegion + 9), value_for(kRegion + 9));
  EXPECT_EQ(store.touched_pages(), 2u);
}

TEST(RmpStoreTest, ForEachNonzero_CountOnlyAlignedEntryBesideOnePage_VisitsBoth) {
  RmpStore store;
  store.set(kRegion + 9, value_for(kRegion + 9));
  store.set(kRegion, count_only(3));

  std::map<Pfn, RmpEntryRaw> seen;
  store.for_each_nonzero([&](Pfn pfn, const RmpEntryRaw& e) { seen[pfn] = e; });

  EXPECT_EQ(seen, (std::map<Pfn, RmpEntryRaw>{{kRegion, count_only(3)}, {kRegion + 9, value_for(kRegion + 9)}}));
}

TEST(RmpStoreTest, ForEachNonzero_ZeroCountAlignedEntryBesideOnePage_VisitsOnlyThePage) {
  RmpStore store;
  store.set(kRegion + 9, value_for(kRegion + 9));
  store.set(kRegion, count_only(1));
  store.set(kRegion, count_only(0));

  std::map<Pfn, RmpEntryRaw> seen;
  store.for_each_nonzero([&](Pfn pfn, const RmpEntryRaw& e) { seen[pfn] = e; });

  EXPECT_EQ(store.get(kRegion), RmpEntryRaw{});
  EXPECT_EQ(seen, (std::map<Pfn, RmpEntryRaw>{{kRegion + 9, value_for(kRegion + 9)}}));
}

// --- promotions: N entries in one region, written out of order -------------------------

class RmpStorePromotion : public ::testing::TestWithParam<unsigned> {};

/// The k-th offset written: a permutation of 0..511 (7 is coprime with 512), so the sparse
/// block sees inserts before, between and after existing offsets.
unsigned offset_at(unsigned k) { return (k * 7U + 100U) % kPagesPerHuge; }

TEST_P(RmpStorePromotion, WriteNEntriesInOneRegion_ReadsEveryValueBack) {
  const unsigned n = GetParam();
  RmpStore store;
  std::vector<bool> written(kPagesPerHuge, false);
  for (unsigned k = 0; k < n; ++k) {
    store.set(kRegion + offset_at(k), value_for(kRegion + offset_at(k)));
    written[offset_at(k)] = true;
  }

  for (unsigned off = 0; off < kPagesPerHuge; ++off) {
    const RmpEntryRaw want = written[off] ? value_for(kRegion + off) : RmpEntryRaw{};
    ASSERT_EQ(store.get(kRegion + off), want) << "offset " << off << " after " << n << " writes";
  }
  EXPECT_EQ(store.touched_pages(), n);
}

TEST_P(RmpStorePromotion, RewriteAllAfterNEntries_ReadsNewValuesAndCountUnchanged) {
  const unsigned n = GetParam();
  RmpStore store;
  for (unsigned k = 0; k < n; ++k) store.set(kRegion + offset_at(k), value_for(kRegion + offset_at(k)));

  for (unsigned k = 0; k < n; ++k) store.set(kRegion + offset_at(k), value_for(kRegion + offset_at(k), 5));

  for (unsigned k = 0; k < n; ++k) {
    ASSERT_EQ(store.get(kRegion + offset_at(k)), value_for(kRegion + offset_at(k), 5)) << "k " << k;
  }
  EXPECT_EQ(store.touched_pages(), n);
}

INSTANTIATE_TEST_SUITE_P(Counts, RmpStorePromotion, ::testing::Values(1U, 2U, 3U, 4U, 256U, 257U, 300U, 512U));

/// A region that starts as "one page plus a count-only aligned entry", then gets N more pages.
class RmpStoreHeadPromotion : public ::testing::TestWithParam<unsigned> {};

TEST_P(RmpStoreHeadPromotion, CountOnlyAlignedEntryThenNMorePages_ReadsEveryValueBack) {
  const unsigned n = GetParam();
  RmpStore store;
  store.set(kRegion + 1, value_for(kRegion + 1));
  store.set(kRegion, count_only(1));
  for (unsigned k = 0; k < n; ++k) store.set(kRegion + 2 + k, value_for(kRegion + 2 + k));

  EXPECT_EQ(store.get(kRegion), count_only(1));
  for (unsigned off = 1; off < kPagesPerHuge; ++off) {
    const RmpEntryRaw want = off < 2 + n ? value_for(kRegion + off) : RmpEntryRaw{};
    ASSERT_EQ(store.get(kRegion + off), want) << "offset " << off << " after " << n << " more pages";
  }
  EXPECT_EQ(store.touched_pages(), 2U + n);
}

INSTANTIATE_TEST_SUITE_P(Counts, RmpStoreHeadPromotion,
                         ::testing::Values(1U, 2U, 3U, 253U, 254U, 255U, 300U, 510U));

// --- touched_pages / memory_bytes ------------------------------------------------------

TEST(RmpStoreTest, TouchedPages_Fresh_IsZero) {
  const RmpStore store;

  EXPECT_EQ(store.touched_pages(), 0u);
}

TEST(RmpStoreTest, TouchedPages_RewritesOfSamePfn_CountOnce) {
  RmpStore store;

  store.set(5, value_for(5));
  store.set(5, value_for(5, 1));
  store.set(6, value_for(6));
  store.set(5, value_for(5, 2));

  EXPECT_EQ(store.touched_pages(), 2u);
}

TEST(RmpStoreTest, TouchedPages_DistinctPfnsInDistinctRegions_CountEach) {
  RmpStore store;

  store.set(0, value_for(0));
  store.set(kRegion, value_for(kRegion));
  store.set(kRegion + kPagesPerHuge, value_for(kRegion + kPagesPerHuge));

  EXPECT_EQ(store.touched_pages(), 3u);
}

TEST(RmpStoreTest, MemoryBytes_Fresh_IsNonZeroSlotArray) {
  const RmpStore store;

  EXPECT_GT(store.memory_bytes(), 0u);
}

TEST(RmpStoreTest, MemoryBytes_SparseThenDense_Grows) {
  RmpStore store;
  const std::uint64_t fresh = store.memory_bytes();
  store.set(kRegion, value_for(kRegion));
  store.set(kRegion + 1, value_for(kRegion + 1));
  const std::uint64_t sparse = store.memory_bytes();
  for (unsigned off = 2; off < 300; ++off) store.set(kRegion + off, value_for(kRegion + off));

  const std::uint64_t dense = store.memory_bytes();

  EXPECT_GT(sparse, fresh);
  EXPECT_GT(dense, sparse);
  EXPECT_GE(dense, fresh + kPagesPerHuge * sizeof(RmpEntryRaw));
}

TEST(RmpStoreTest, MemoryBytes_ManyRegions_GrowsWithTable) {
  RmpStore store;
  const std::uint64_t fresh = store.memory_bytes();
  for (Pfn r = 0; r < 1000; ++r) store.set(r * kPagesPerHuge, value_for(r * kPagesPerHuge));

  EXPECT_GE(store.memory_bytes(), fresh + 1000 * 24);
}

// --- for_each_nonzero ------------------------------------------------------------------

TEST(RmpStoreTest, ForEachNonzero_MixedKinds_VisitsExactlyNonZeroEntriesOnce) {
  RmpStore store;
  std::map<Pfn, RmpEntryRaw> want;
  const auto put = [&](Pfn pfn, const RmpEntryRaw& e) {
    store.set(pfn, e);
    if (e == RmpEntryRaw{}) {
      want.erase(pfn);
    } else {
      want[pfn] = e;
    }
  };
  put(7, value_for(7));                                     // inline
  put(kRegion + 3, value_for(kRegion + 3));                 // sparse
  put(kRegion + 400, value_for(kRegion + 400));
  put(kRegion + 3, RmpEntryRaw{});                          // overwritten with zero
  put(0x10000, RmpEntryRaw{});                              // zero written to a fresh PFN
  for (unsigned off = 0; off < 300; ++off) put(0x20000 + off, value_for(0x20000 + off));  // dense
  put(0x20000 + 11, RmpEntryRaw{});

  std::map<Pfn, RmpEntryRaw> seen;
  unsigned visits = 0;
  store.for_each_nonzero([&](Pfn pfn, const RmpEntryRaw& e) {
    seen[pfn] = e;
    ++visits;
  });

  EXPECT_EQ(seen, want);
  EXPECT_EQ(visits, want.size());
}

TEST(RmpStoreTest, ForEachNonzero_WithinRegion_AscendingPfnOrder) {
  RmpStore store;
  store.set(kRegion + 300, value_for(kRegion + 300));
  store.set(kRegion + 2, value_for(kRegion + 2));
  store.set(kRegion + 100, value_for(kRegion + 100));

  std::vector<Pfn> order;
  store.for_each_nonzero([&](Pfn pfn, const RmpEntryRaw&) { order.push_back(pfn); });

  EXPECT_EQ(order, (std::vector<Pfn>{kRegion + 2, kRegion + 100, kRegion + 300}));
}

TEST(RmpStoreTest, ForEachNonzero_Empty_VisitsNothing) {
  const RmpStore store;
  unsigned visits = 0;

  store.for_each_nonzero([&](Pfn, const RmpEntryRaw&) { ++visits; });

  EXPECT_EQ(visits, 0u);
}

// --- table growth ----------------------------------------------------------------------

TEST(RmpStoreTest, SetGet_100000Regions_KeepEveryValue) {
  RmpStore store;
  constexpr Pfn kRegions = 100000;
  const auto pfn_of = [](Pfn r) { return r * 977 * kPagesPerHuge + (r % kPagesPerHuge); };
  for (Pfn r = 0; r < kRegions; ++r) store.set(pfn_of(r), value_for(pfn_of(r)));

  for (Pfn r = 0; r < kRegions; ++r) {
    ASSERT_EQ(store.get(pfn_of(r)), value_for(pfn_of(r))) << "region " << r;
  }
  EXPECT_EQ(store.touched_pages(), kRegions);
  EXPECT_EQ(store.get(pfn_of(5) + 1), RmpEntryRaw{});
}

TEST(RmpStoreTest, ForEachNonzero_AfterGrowth_VisitsEveryRegion) {
  RmpStore store;
  for (Pfn r = 0; r < 5000; ++r) store.set(r * kPagesPerHuge + 1, value_for(r));
  unsigned visits = 0;

  store.for_each_nonzero([&](Pfn pfn, const RmpEntryRaw& e) {
    EXPECT_EQ(e, value_for(pfn / kPagesPerHuge));
    ++visits;
  });

  EXPECT_EQ(visits, 5000u);
}

// --- through the Rmp -------------------------------------------------------------------

TEST(RmpStoreTest, RmpInspect_UncoveredPfn_ReadsZero) {
  const Rmp rmp(*RmpLayout::covering(1ULL << 30));

  EXPECT_EQ(rmp.inspect(1ULL << 18), RmpEntryRaw{});
  EXPECT_EQ(rmp.inspect((1ULL << 40) - 1), RmpEntryRaw{});
  EXPECT_EQ(rmp.entries().touched_pages(), 0u);
}

/// Every entry of `s` that is not zero, by PFN.
std::map<Pfn, RmpEntryRaw> contents(const RmpStore& s) {
  std::map<Pfn, RmpEntryRaw> all;
  s.for_each_nonzero([&](Pfn pfn, const RmpEntryRaw& e) { all[pfn] = e; });
  return all;
}

/// A store with one region of each kind: one entry (inline), 40 (sparse), 400 (dense), and
/// enough regions to have grown the hash table.
RmpStore store_of_every_kind() {
  RmpStore s;
  s.set(kRegion + 9, value_for(kRegion + 9));
  for (Pfn i = 0; i < 40; ++i) s.set(kRegion + 512 + i * 7, value_for(kRegion + 512 + i * 7));
  for (Pfn i = 0; i < 400; ++i) s.set(kRegion + 1024 + i, value_for(kRegion + 1024 + i));
  for (Pfn r = 0; r < 100; ++r) s.set((r + 10) << 9, value_for(r));
  return s;
}

TEST(RmpStoreTest, Copy_HoldsTheSameEntriesAndIsIndependentOfTheOriginal) {
  RmpStore a = store_of_every_kind();
  const auto before = contents(a);

  RmpStore b(a);
  EXPECT_EQ(contents(b), before);
  EXPECT_EQ(b.touched_pages(), a.touched_pages());
  EXPECT_EQ(b.memory_bytes(), a.memory_bytes());
  // Writes to either side stay on that side, in every kind of region.
  for (Pfn p : {kRegion + 9, kRegion + 512 + 7, kRegion + 1024 + 5, Pfn{20} << 9}) a.set(p, value_for(p, 1));
  b.set(kRegion + 1024 + 6, value_for(kRegion + 1024 + 6, 2));
  EXPECT_EQ(b.get(kRegion + 9), value_for(kRegion + 9));
  EXPECT_EQ(b.get(kRegion + 512 + 7), value_for(kRegion + 512 + 7));
  EXPECT_EQ(b.get(kRegion + 1024 + 5), value_for(kRegion + 1024 + 5));
  EXPECT_EQ(a.get(kRegion + 1024 + 6), value_for(kRegion + 1024 + 6));
}

TEST(RmpStoreTest, Assign_PutsBackAnEarlierCopy_AfterPromotionsAndGrowth) {
  RmpStore live = store_of_every_kind();
  const RmpStore snap(live);
  // Promote the inline region to dense, grow the table further, zero an entry.
  for (Pfn i = 0; i < 300; ++i) live.set(kRegion + i, value_for(kRegion + i, 3));
  for (Pfn r = 0; r < 200; ++r) live.set((r + 1000) << 9, value_for(r, 3));
  live.set(kRegion + 1024, RmpEntryRaw{});

  live = snap;
  EXPECT_EQ(contents(live), contents(snap));
  EXPECT_EQ(live.get(kRegion + 1024), value_for(kRegion + 1024));
  EXPECT_EQ(live.get(kRegion + 10), RmpEntryRaw{});
  EXPECT_EQ(live.touched_pages(), snap.touched_pages());
  // Still a working store: writes after the assignment land (the lookup cache was reset).
  live.set(kRegion + 1025, value_for(1, 4));
  EXPECT_EQ(live.get(kRegion + 1025), value_for(1, 4));
  EXPECT_EQ(snap.get(kRegion + 1025), value_for(kRegion + 1025));
}

}  // namespace
}  // namespace snplab::model
