// Where the RMP lives and what it covers (RmpLayout), and the sparse storage of its
// entries (RmpStore). Neither is the modelled access path: instructions go through
// snp/model/rmp.h, which is the one door to the entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "snp/model/hw/rmp_entry.h"
#include "snp/model/base/types.h"

namespace snplab::model {

/// The RMP's geometry: a contiguous table between RMP_BASE and RMP_END (facts §1.2), or a
/// segmented RMP with a segment table (facts §1.4). Memory outside the covered range has
/// no RMP entry and behaves as permanently hypervisor-owned (APM §15.36.4/5).
class RmpLayout {
 public:
  /// Bytes of CPU bookkeeping at RMP_BASE before the first entry (RMPTABLE_CPU_BOOKKEEPING_SZ).
  static constexpr std::uint64_t kBookkeepingBytes = 0x4000;
  /// Bytes of the RMP Segment Table that follows the bookkeeping in a segmented RMP.
  static constexpr std::uint64_t kRstBytes = 0x1000;
  static constexpr unsigned kRstEntries = 512;
  static constexpr std::uint64_t kEntryBytes = 16;
  /// Segment coverage limits the model accepts, as log2 bytes. Each RST entry counts its
  /// mapped size in GiB, so a segment covers at least 1 GiB.
  static constexpr unsigned kMinSegmentShift = 30;
  static constexpr unsigned kMaxSegmentShift = kMaxPhysAddrBits;

  /// A contiguous RMP from the RMP_BASE / RMP_END MSR values (RMP_END inclusive).
  /// Preconditions checked (nullopt + `*why` otherwise): RMP_BASE 8 KiB aligned (hardware
  /// alignment, facts §1.2), the table holds the bookkeeping and at least one entry.
  /// Coverage is SPA 0 .. ((RMP_END + 1 - RMP_BASE - 16 KiB) / 16) pages, capped at 2^52.
  static std::optional<RmpLayout> contiguous(Spa rmp_base, Spa rmp_end, std::string* why = nullptr);

  /// A contiguous RMP that covers SPA [0, covered_bytes), placed at the first 1 MiB boundary
  /// at or above `covered_bytes` (so it does not cover itself). covered_bytes must be a
  /// non-zero multiple of 4 KiB and at most 2^52.
  static std::optional<RmpLayout> covering(std::uint64_t covered_bytes, std::string* why = nullptr);

  /// A segmented RMP: RMP_BASE, the RMP_CFG segment-size shift (log2 bytes each segment
  /// covers) and the raw RST entries (bits 19:0 mapped GiB, bits 51:20 segment base).
  /// At most 512 RST entries; missing ones are zero (no RMP for that range).
  static std::optional<RmpLayout> segmented(Spa rmp_base, unsigned segment_shift,
                                            std::span<const std::uint64_t> rst,
                                            std::string* why = nullptr);

  /// True when `pfn` has an RMP entry.
  bool covers(Pfn pfn) const { return segmented_ ? covers_segmented(pfn) : pfn < covered_pages_; }
  /// SPA of the 16-byte raw entry of `pfn` in host memory, if covered (Linux
  /// `get_raw_rmpentry` / the RST lookup of facts §1.4).
  std::optional<Spa> entry_spa(Pfn pfn) const;

  bool is_segmented() const { return segmented_; }
  Spa rmp_base() const { return rmp_base_; }
  /// Contiguous: RMP_END. Segmented: 0 (Linux WARNs if RMP_END is set, facts §1.4).
  Spa rmp_end() const { return rmp_end_; }
  unsigned segment_shift() const { return segment_shift_; }
  /// Number of 4K pages with an RMP entry.
  std::uint64_t covered_pages() const { return covered_pages_; }
  /// One line: "contiguous RMP 0x..-0x.. covering 64 GiB" / "segmented RMP ...".
  std::string describe() const;

 private:
  RmpLayout() = default;
  bool covers_segmented(Pfn pfn) const;
  struct Segment {
    Spa base = 0;              // SPA of the segment's first entry
    std::uint64_t mapped_pages = 0;
  };

  bool segmented_ = false;
  Spa rmp_base_ = 0;
  Spa rmp_end_ = 0;
  unsigned segment_shift_ = kMaxPhysAddrBits;
  std::uint64_t covered_pages_ = 0;      // contiguous: pages [0, covered_pages_)
  std::vector<Segment> segments_;        // segmented: index = SPA >> segment_shift_
};

/// Sparse storage of raw entries, keyed by PFN. Memory grows with the pages written,
/// never with the address space: an entry never written reads as all-zero (4K,
/// hypervisor-owned), which is what the zeroed table holds after SNP_INIT (facts §1.2).
///
/// Layout (see docs/rmp-model.md, "Storage"): an open-addressing hash table of 2 MiB
/// regions, 24 bytes a slot. A region with one written entry keeps it inside its slot
/// (together with the region's aligned entry when that holds only a sub-page count);
/// with 2..256 it points at a sorted block of (offset, entry) pairs; beyond that at a
/// dense 512-entry array (8 KiB, 16 bytes an entry as in hardware, plus a 64-byte
/// written-bitmap).
class RmpStore {
 public:
  RmpStore();
  ~RmpStore();
  /// Deep copies (every block), for snapshots of the host (Host::snapshot).
  RmpStore(const RmpStore& o);
  RmpStore& operator=(const RmpStore& o);

  RmpEntryRaw get(Pfn pfn) const {
    // Fast path: the last region looked up is dense (the common case for guest memory).
    if (region_of(pfn) == cached_region_ && cached_dense_ != nullptr) return cached_dense_->entries[huge_offset(pfn)];
    return get_slow(pfn);
  }
  void set(Pfn pfn, const RmpEntryRaw& e) {
    if (region_of(pfn) == cached_region_ && cached_dense_ != nullptr) {
      if (cached_dense_->mark(huge_offset(pfn))) ++touched_;
      cached_dense_->entries[huge_offset(pfn)] = e;
      return;
    }
    set_slow(pfn, e);
  }

  /// Distinct PFNs ever written.
  std::uint64_t touched_pages() const { return touched_; }
  /// Heap bytes held by the store (slot array plus blocks).
  std::uint64_t memory_bytes() const { return memory_bytes_; }

  /// Calls fn(pfn, entry) for every stored entry that is not all-zero, in ascending PFN
  /// order within a region and in no set order across regions. For scans (teardown,
  /// dumps), not for hot paths.
  void for_each_nonzero(const std::function<void(Pfn, const RmpEntryRaw&)>& fn) const;

 private:
  struct Slot {
    std::uint64_t key = 0;  // 0: empty; else region+1 | offset << 32 | kind << 41 | head << 43
    std::uint64_t a = 0;    // Inline: entry.lo; blocks: pointer
    std::uint64_t b = 0;    // Inline: entry.hi
  };
  static_assert(sizeof(Slot) == 24);
  enum class Kind : std::uint8_t { Inline = 1, Sparse = 2, Dense = 3 };
  struct SparseBlock;
  // A full 512-entry array for a region with more than 256 written entries, plus a bitmap
  // of which entries were ever written (for the touched-pages count).
  struct DenseBlock {
    std::uint64_t written[kPagesPerHuge / 64] = {};
    RmpEntryRaw entries[kPagesPerHuge] = {};
    bool mark(unsigned off) {  // true the first time `off` is written
      const std::uint64_t bit = 1ULL << (off % 64);
      const bool fresh = (written[off / 64] & bit) == 0;
      written[off / 64] |= bit;
      return fresh;
    }
  };
  RmpEntryRaw get_slow(Pfn pfn) const;
  void set_slow(Pfn pfn, const RmpEntryRaw& e);
  void remember(std::uint64_t region, const Slot* s) const;

  static std::uint64_t region_of(Pfn pfn) { return pfn >> (kHugeShift - kPageShift); }
  static Kind kind_of(const Slot& s) { return static_cast<Kind>((s.key >> 41) & 3U); }
  static std::uint64_t region_key(std::uint64_t region) { return region + 1; }
  static constexpr std::uint64_t kRegionMask = (1ULL << 32) - 1;

  const Slot* find(std::uint64_t region) const;
  Slot& find_or_insert(std::uint64_t region);
  void grow();
  std::size_t probe_start(std::uint64_t region) const;
  void release(Slot& s);
  /// A copy of `s` owning its own block.
  static Slot clone(const Slot& s);

  std::unique_ptr<Slot[]> slots_;
  std::size_t capacity_ = 0;  // power of two
  std::size_t used_ = 0;
  std::uint64_t touched_ = 0;
  std::uint64_t memory_bytes_ = 0;
  // One-entry lookup cache: consecutive accesses mostly hit the same 2 MiB region.
  mutable std::uint64_t cached_region_ = ~0ULL;
  mutable const Slot* cached_slot_ = nullptr;
  mutable DenseBlock* cached_dense_ = nullptr;  // cached_slot_'s block when it is dense
};

}  // namespace snplab::model
