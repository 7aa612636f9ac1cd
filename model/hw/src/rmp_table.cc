#include "snp/model/hw/rmp_table.h"

#include <algorithm>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "snp/model/base/assert.h"

namespace snplab::model {

namespace {

bool fail(std::string* why, std::string msg) {
  if (why != nullptr) *why = std::move(msg);
  return false;
}

std::string human_bytes(std::uint64_t b) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  unsigned u = 0;
  while (u + 1 < std::size(kUnits) && b >= 1024 && b % 1024 == 0) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{} {}", b, kUnits[u]);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// RmpLayout

std::optional<RmpLayout> RmpLayout::contiguous(Spa rmp_base, Spa rmp_end, std::string* why) {
  if (rmp_base % 0x2000 != 0) {
    fail(why, fmt::format("RMP_BASE 0x{:x} is not 8 KiB aligned", rmp_base));
    return std::nullopt;
  }
  if (rmp_end < rmp_base || rmp_end - rmp_base + 1 < kBookkeepingBytes + kEntryBytes) {
    fail(why, fmt::format("RMP_END 0x{:x} leaves no room for the 16 KiB bookkeeping and one entry "
                          "after RMP_BASE 0x{:x}", rmp_end, rmp_base));
    return std::nullopt;
  }
  if (rmp_end >= kMaxPhysAddr) {
    fail(why, fmt::format("RMP_END 0x{:x} is beyond the 52-bit physical address space", rmp_end));
    return std::nullopt;
  }
  RmpLayout l;
  l.rmp_base_ = rmp_base;
  l.rmp_end_ = rmp_end;
  const std::uint64_t entries = (rmp_end + 1 - rmp_base - kBookkeepingBytes) / kEntryBytes;
  l.covered_pages_ = std::min<std::uint64_t>(entries, kMaxPhysAddr >> kPageShift);
  return l;
}

std::optional<RmpLayout> RmpLayout::covering(std::uint64_t covered_bytes, std::string* why) {
  if (covered_bytes == 0 || covered_bytes % kPageSize != 0 || covered_bytes > kMaxPhysAddr) {
    fail(why, fmt::format("covered size 0x{:x} must be a non-zero multiple of 4 KiB up to 2^52",
                          covered_bytes));
    return std::nullopt;
  }
  constexpr std::uint64_t kMiB = 1ULL << 20;
  const std::uint64_t table = kBookkeepingBytes + (covered_bytes >> kPageShift) * kEntryBytes;
  const Spa base = (covered_bytes + kMiB - 1) & ~(kMiB - 1);
  const std::uint64_t size = (table + kMiB - 1) & ~(kMiB - 1);  // firmware wants 1 MiB multiples
  if (base >= kMaxPhysAddr || size > kMaxPhysAddr - base) {
    // A table for the whole 2^52 space cannot sit above it; put it at the bottom instead.
    // It then covers itself, which SNP_INIT turns into Firmware pages (facts §1.2).
    auto l = contiguous(0, size - 1, why);
    if (l) l->covered_pages_ = covered_bytes >> kPageShift;
    return l;
  }
  auto l = contiguous(base, base + size - 1, why);
  if (l) l->covered_pages_ = covered_bytes >> kPageShift;
  return l;
}

std::optional<RmpLayout> RmpLayout::segmented(Spa rmp_base, unsigned segment_shift,
                                              std::span<const std::uint64_t> rst, std::string* why) {
  if (segment_shift < kMinSegmentShift || segment_shift > kMaxSegmentShift) {
    fail(why, fmt::format("segment shift {} outside the supported {}..{}", segment_shift,
                          kMinSegmentShift, kMaxSegmentShift));
    return std::nullopt;
  }
  if (rst.size() > kRstEntries) {
    fail(why, fmt::format("{} RST entries given; the RST holds {}", rst.size(), kRstEntries));
    return std::nullopt;
  }
  if (rmp_base % 0x2000 != 0) {
    fail(why, fmt::format("RMP_BASE 0x{:x} is not 8 KiB aligned", rmp_base));
    return std::nullopt;
  }
  RmpLayout l;
  l.segmented_ = true;
  l.rmp_base_ = rmp_base;
  l.rmp_end_ = 0;
  l.segment_shift_ = segment_shift;
  const std::uint64_t segment_bytes = 1ULL << segment_shift;
  for (std::size_t i = 0; i < rst.size(); ++i) {
    const std::uint64_t raw = rst[i];
    // facts §1.4: bits 19:0 mapped size in GB (clamped to the segment size), 51:20 base.
    const std::uint64_t mapped_gb = raw & 0xFFFFF;
    const Spa base = raw & 0x000FFFFFFFF00000ULL;
    if ((raw & ~0x000FFFFFFFFFFFFFULL) != 0) {
      fail(why, fmt::format("RST entry {} = 0x{:x} has bits above 51 set", i, raw));
      return std::nullopt;
    }
    const Spa seg_start = static_cast<Spa>(i) << segment_shift;
    if (segment_shift < 64 && i > 0 && (seg_start >> segment_shift) != i) break;
    if (seg_start >= kMaxPhysAddr) {
      if (mapped_gb != 0) {
        fail(why, fmt::format("RST entry {} maps memory beyond 2^52", i));
        return std::nullopt;
      }
      break;
    }
    std::uint64_t mapped = std::min(mapped_gb << 30, segment_bytes);
    mapped = std::min(mapped, kMaxPhysAddr - seg_start);
    l.segments_.push_back(Segment{base, mapped >> kPageShift});
    l.covered_pages_ += mapped >> kPageShift;
  }
  return l;
}

bool RmpLayout::covers_segmented(Pfn pfn) const {
  const std::uint64_t idx = pfn >> (segment_shift_ - kPageShift);
  if (idx >= segments_.size()) return false;
  const Pfn in_seg = pfn & ((1ULL << (segment_shift_ - kPageShift)) - 1);
  return in_seg < segments_[idx].mapped_pages;
}

std::optional<Spa> RmpLayout::entry_spa(Pfn pfn) const {
  if (!covers(pfn)) return std::nullopt;
  if (!segmented_) return rmp_base_ + kBookkeepingBytes + pfn * kEntryBytes;
  const std::uint64_t idx = pfn >> (segment_shift_ - kPageShift);
  const Pfn in_seg = pfn & ((1ULL << (segment_shift_ - kPageShift)) - 1);
  return segments_[idx].base + in_seg * kEntryBytes;
}

std::string RmpLayout::describe() const {
  if (!segmented_) {
    return fmt::format("contiguous RMP 0x{:x}-0x{:x} covering {}", rmp_base_, rmp_end_,
                       human_bytes(covered_pages_ << kPageShift));
  }
  std::size_t used = 0;
  for (const auto& s : segments_) used += s.mapped_pages != 0 ? 1 : 0;
  return fmt::format("segmented RMP at 0x{:x}, {} per segment, {} of {} segments mapped, covering {}",
                     rmp_base_, human_bytes(1ULL << segment_shift_), used, segments_.size(),
                     human_bytes(covered_pages_ << kPageShift));
}

// ---------------------------------------------------------------------------------------
// RmpStore

// A sorted block of (offset, entry) pairs for a region with 2..256 written entries.
// Memory: [count u16][cap u16][pad 4][offsets u16 x cap, padded to 8][entries 16 x cap].
struct RmpStore::SparseBlock {
  std::uint16_t count;
  std::uint16_t cap;
  std::uint32_t pad;

  static constexpr unsigned kMaxCap = 256;
  static std::size_t offsets_bytes(unsigned cap) { return (cap * sizeof(std::uint16_t) + 7) & ~std::size_t{7}; }
  static std::size_t bytes(unsigned cap) { return sizeof(SparseBlock) + offsets_bytes(cap) + cap * sizeof(RmpEntryRaw); }

  std::uint16_t* offsets() { return reinterpret_cast<std::uint16_t*>(this + 1); }
  const std::uint16_t* offsets() const { return reinterpret_cast<const std::uint16_t*>(this + 1); }
  RmpEntryRaw* entries() {
    return reinterpret_cast<RmpEntryRaw*>(reinterpret_cast<std::byte*>(this + 1) + offsets_bytes(cap));
  }
  const RmpEntryRaw* entries() const {
    return reinterpret_cast<const RmpEntryRaw*>(reinterpret_cast<const std::byte*>(this + 1) + offsets_bytes(cap));
  }

  static SparseBlock* make(unsigned cap) {
    void* mem = ::operator new(bytes(cap), std::align_val_t{alignof(RmpEntryRaw)});
    auto* b = new (mem) SparseBlock{0, static_cast<std::uint16_t>(cap), 0};
    return b;
  }
  static void destroy(SparseBlock* b) {
    b->~SparseBlock();
    ::operator delete(b, std::align_val_t{alignof(RmpEntryRaw)});
  }
  // Index of the first offset >= off.
  unsigned lower_bound(unsigned off) const {
    const std::uint16_t* o = offsets();
    return static_cast<unsigned>(std::lower_bound(o, o + count, off) - o);
  }
};

namespace {
constexpr std::size_t kInitialCapacity = 64;
constexpr unsigned kOffsetShift = 32;
constexpr unsigned kKindShift = 41;
// An Inline slot may also carry the region's aligned entry when that entry holds nothing
// but a sub-page count: the usual state of a region with one 4K page assigned (the count in
// the aligned entry is 1). Without this a scattered page would cost two entries.
constexpr unsigned kHeadPresentBit = 43;
constexpr unsigned kHeadCountShift = 44;
constexpr std::uint64_t kKindMask = 3ULL << kKindShift;
constexpr std::uint64_t kHeadMask = (1ULL << kHeadPresentBit) | (0x1FFULL << kHeadCountShift);
constexpr std::uint64_t kSubpageLoMask = 0x1FFULL << RmpEntryRaw::kSubpageShift;

bool head_only_count(const RmpEntryRaw& e) { return e.hi == 0 && (e.lo & ~kSubpageLoMask) == 0; }
bool head_present(std::uint64_t key) { return ((key >> kHeadPresentBit) & 1U) != 0; }
RmpEntryRaw head_entry(std::uint64_t key) { return RmpEntryRaw{((key >> kHeadCountShift) & 0x1FF) << RmpEntryRaw::kSubpageShift, 0}; }
}  // namespace

RmpStore::RmpStore() {
  capacity_ = kInitialCapacity;
  slots_ = std::make_unique<Slot[]>(capacity_);
  memory_bytes_ = capacity_ * sizeof(Slot);
}

RmpStore::~RmpStore() {
  for (std::size_t i = 0; i < capacity_; ++i) {
    if (slots_[i].key != 0) release(slots_[i]);
  }
}

RmpStore::RmpStore(const RmpStore& o)
    : slots_(std::make_unique<Slot[]>(o.capacity_)),
      capacity_(o.capacity_),
      used_(o.used_),
      touched_(o.touched_),
      memory_bytes_(o.memory_bytes_) {
  for (std::size_t i = 0; i < capacity_; ++i) {
    if (o.slots_[i].key != 0) slots_[i] = clone(o.slots_[i]);
  }
}

RmpStore& RmpStore::operator=(const RmpStore& o) {
  if (this == &o) return *this;
  RmpStore copy(o);
  // The old blocks go with `copy`; the lookup cache pointed into them.
  std::swap(slots_, copy.slots_);
  std::swap(capacity_, copy.capacity_);
  used_ = o.used_;
  touched_ = o.touched_;
  memory_bytes_ = o.memory_bytes_;
  cached_region_ = ~0ULL;
  cached_slot_ = nullptr;
  cached_dense_ = nullptr;
  return *this;
}

RmpStore::Slot RmpStore::clone(const Slot& s) {
  Slot c = s;
  switch (kind_of(s)) {
    case Kind::Inline:
      break;
    case Kind::Sparse: {
      const auto* b = reinterpret_cast<const SparseBlock*>(s.a);
      SparseBlock* nb = SparseBlock::make(b->cap);
      std::memcpy(static_cast<void*>(nb), b, SparseBlock::bytes(b->cap));
      c.a = reinterpret_cast<std::uint64_t>(nb);
      break;
    }
    case Kind::Dense:
      c.a = reinterpret_cast<std::uint64_t>(new DenseBlock(*reinterpret_cast<const DenseBlock*>(s.a)));
      break;
  }
  return c;
}

void RmpStore::release(Slot& s) {
  switch (kind_of(s)) {
    case Kind::Inline:
      return;
    case Kind::Sparse:
      SparseBlock::destroy(reinterpret_cast<SparseBlock*>(s.a));
      return;
    case Kind::Dense:
      delete reinterpret_cast<DenseBlock*>(s.a);
      return;
  }
  SNPLAB_UNREACHABLE("corrupt RmpStore slot kind");
}

std::size_t RmpStore::probe_start(std::uint64_t region) const {
  // Fibonacci hashing: regions of one guest are consecutive, so spread them.
  return static_cast<std::size_t>((region * 0x9E3779B97F4A7C15ULL) >> 17) & (capacity_ - 1);
}

void RmpStore::remember(std::uint64_t region, const Slot* s) const {
  cached_region_ = region;
  cached_slot_ = s;
  cached_dense_ = s != nullptr && kind_of(*s) == Kind::Dense ? reinterpret_cast<DenseBlock*>(s->a) : nullptr;
}

const RmpStore::Slot* RmpStore::find(std::uint64_t region) const {
  if (region == cached_region_) return cached_slot_;
  const std::uint64_t want = region_key(region);
  for (std::size_t i = probe_start(region);; i = (i + 1) & (capacity_ - 1)) {
    const Slot& s = slots_[i];
    if (s.key == 0) {
      remember(region, nullptr);
      return nullptr;
    }
    if ((s.key & kRegionMask) == want) {
      remember(region, &s);
      return &s;
    }
  }
}

void RmpStore::grow() {
  std::unique_ptr<Slot[]> old = std::move(slots_);
  const std::size_t old_cap = capacity_;
  capacity_ *= 2;
  slots_ = std::make_unique<Slot[]>(capacity_);
  for (std::size_t i = 0; i < old_cap; ++i) {
    if (old[i].key == 0) continue;
    const std::uint64_t region = (old[i].key & kRegionMask) - 1;
    std::size_t j = probe_start(region);
    while (slots_[j].key != 0) j = (j + 1) & (capacity_ - 1);
    slots_[j] = old[i];
  }
  memory_bytes_ += (capacity_ - old_cap) * sizeof(Slot);
  cached_region_ = ~0ULL;
  cached_slot_ = nullptr;
  cached_dense_ = nullptr;
}

RmpStore::Slot& RmpStore::find_or_insert(std::uint64_t region) {
  if (const Slot* s = find(region); s != nullptr) return const_cast<Slot&>(*s);
  if ((used_ + 1) * 4 > capacity_ * 3) grow();  // keep the load factor at or below 3/4
  std::size_t i = probe_start(region);
  while (slots_[i].key != 0) i = (i + 1) & (capacity_ - 1);
  ++used_;
  Slot& s = slots_[i];
  s.key = region_key(region);  // kind 0 until the caller fills it
  remember(region, &s);
  return s;
}

RmpEntryRaw RmpStore::get_slow(Pfn pfn) const {
  const Slot* s = find(region_of(pfn));
  if (s == nullptr) return {};
  const unsigned off = huge_offset(pfn);
  switch (kind_of(*s)) {
    case Kind::Inline:
      if (((s->key >> kOffsetShift) & (kPagesPerHuge - 1)) == off) return RmpEntryRaw{s->a, s->b};
      if (off == 0 && head_present(s->key)) return head_entry(s->key);
      return {};
    case Kind::Sparse: {
      const auto* b = reinterpret_cast<const SparseBlock*>(s->a);
      const unsigned i = b->lower_bound(off);
      if (i < b->count && b->offsets()[i] == off) return b->entries()[i];
      return {};
    }
    case Kind::Dense:
      return reinterpret_cast<const DenseBlock*>(s->a)->entries[off];
  }
  SNPLAB_UNREACHABLE("corrupt RmpStore slot kind");
}

void RmpStore::set_slow(Pfn pfn, const RmpEntryRaw& e) {
  Slot& s = find_or_insert(region_of(pfn));
  const unsigned off = huge_offset(pfn);
  const std::uint64_t base_key = s.key & kRegionMask;
  if ((s.key & kKindMask) == 0) {  // fresh slot
    s.key = base_key | (std::uint64_t{off} << kOffsetShift) | (std::uint64_t{static_cast<std::uint8_t>(Kind::Inline)} << kKindShift);
    s.a = e.lo;
    s.b = e.hi;
    ++touched_;
    return;
  }
  switch (kind_of(s)) {
    case Kind::Inline: {
      const unsigned have = static_cast<unsigned>((s.key >> kOffsetShift) & (kPagesPerHuge - 1));
      if (have == off) {
        s.a = e.lo;
        s.b = e.hi;
        return;
      }
      if (off == 0 && head_only_count(e)) {
        if (!head_present(s.key)) ++touched_;
        s.key = (s.key & ~kHeadMask) | (1ULL << kHeadPresentBit) |
                (std::uint64_t{e.subpage_count()} << kHeadCountShift);
        return;
      }
      // Two real entries (or a fuller aligned entry): move to a sorted block.
      const bool with_head = head_present(s.key) && have != 0;
      const unsigned n = with_head ? 3 : 2;
      SparseBlock* b = SparseBlock::make(with_head ? 4 : 2);
      std::uint16_t offs[3];
      RmpEntryRaw ents[3];
      unsigned k = 0;
      if (with_head) offs[k] = 0, ents[k++] = head_entry(s.key);
      offs[k] = static_cast<std::uint16_t>(have), ents[k++] = RmpEntryRaw{s.a, s.b};
      offs[k] = static_cast<std::uint16_t>(off), ents[k++] = e;
      for (unsigned i = 0; i < n; ++i) {  // insertion sort of <= 3 pairs by offset
        for (unsigned j = i; j > 0 && offs[j - 1] > offs[j]; --j) {
          std::swap(offs[j - 1], offs[j]);
          std::swap(ents[j - 1], ents[j]);
        }
      }
      // The head, if kept, may be the entry being written now (off == 0): keep the new one.
      unsigned m = 0;
      for (unsigned i = 0; i < n; ++i) {
        if (m > 0 && b->offsets()[m - 1] == offs[i]) {
          b->entries()[m - 1] = offs[i] == off ? e : ents[i];
          continue;
        }
        b->offsets()[m] = offs[i];
        b->entries()[m] = ents[i];
        ++m;
      }
      b->count = static_cast<std::uint16_t>(m);
      if (!(with_head && off == 0)) ++touched_;
      s.key = base_key | (std::uint64_t{static_cast<std::uint8_t>(Kind::Sparse)} << kKindShift);
      s.a = reinterpret_cast<std::uintptr_t>(b);
      s.b = 0;
      memory_bytes_ += SparseBlock::bytes(b->cap);
      return;
    }
    case Kind::Sparse: {
      auto* b = reinterpret_cast<SparseBlock*>(s.a);
      unsigned i = b->lower_bound(off);
      if (i < b->count && b->offsets()[i] == off) {
        b->entries()[i] = e;
        return;
      }
      ++touched_;
      if (b->count == b->cap && b->cap == SparseBlock::kMaxCap) {
        // Past 256 entries the dense array is smaller than pairs: switch to it.
        auto* dense = new DenseBlock{};
        for (unsigned k = 0; k < b->count; ++k) {
          dense->mark(b->offsets()[k]);
          dense->entries[b->offsets()[k]] = b->entries()[k];
        }
        dense->mark(off);
        dense->entries[off] = e;
        memory_bytes_ += sizeof(DenseBlock);
        memory_bytes_ -= SparseBlock::bytes(b->cap);
        SparseBlock::destroy(b);
        s.key = base_key | (std::uint64_t{static_cast<std::uint8_t>(Kind::Dense)} << kKindShift);
        s.a = reinterpret_cast<std::uintptr_t>(dense);
        remember(region_of(pfn), &s);
        return;
      }
      if (b->count == b->cap) {
        SparseBlock* nb = SparseBlock::make(b->cap * 2U);
        nb->count = b->count;
        std::memcpy(nb->offsets(), b->offsets(), b->count * sizeof(std::uint16_t));
        std::memcpy(static_cast<void*>(nb->entries()), b->entries(), b->count * sizeof(RmpEntryRaw));
        memory_bytes_ += SparseBlock::bytes(nb->cap);
        memory_bytes_ -= SparseBlock::bytes(b->cap);
        SparseBlock::destroy(b);
        b = nb;
        s.a = reinterpret_cast<std::uintptr_t>(b);
      }
      const unsigned tail = b->count - i;
      std::memmove(b->offsets() + i + 1, b->offsets() + i, tail * sizeof(std::uint16_t));
      std::memmove(static_cast<void*>(b->entries() + i + 1), b->entries() + i, tail * sizeof(RmpEntryRaw));
      b->offsets()[i] = static_cast<std::uint16_t>(off);
      b->entries()[i] = e;
      ++b->count;
      return;
    }
    case Kind::Dense: {
      auto* dense = reinterpret_cast<DenseBlock*>(s.a);
      if (dense->mark(off)) ++touched_;
      dense->entries[off] = e;
      return;
    }
  }
  SNPLAB_UNREACHABLE("corrupt RmpStore slot kind");
}

void RmpStore::for_each_nonzero(const std::function<void(Pfn, const RmpEntryRaw&)>& fn) const {
  const RmpEntryRaw zero{};
  for (std::size_t i = 0; i < capacity_; ++i) {
    const Slot& s = slots_[i];
    if (s.key == 0) continue;
    const Pfn base = ((s.key & kRegionMask) - 1) << (kHugeShift - kPageShift);
    switch (kind_of(s)) {
      case Kind::Inline: {
        const unsigned off = static_cast<unsigned>((s.key >> kOffsetShift) & (kPagesPerHuge - 1));
        const RmpEntryRaw head = head_entry(s.key);
        if (off != 0 && head_present(s.key) && !(head == zero)) fn(base, head);
        const RmpEntryRaw e{s.a, s.b};
        if (!(e == zero)) fn(base + off, e);
        break;
      }
      case Kind::Sparse: {
        const auto* b = reinterpret_cast<const SparseBlock*>(s.a);
        for (unsigned k = 0; k < b->count; ++k) {
          if (!(b->entries()[k] == zero)) fn(base + b->offsets()[k], b->entries()[k]);
        }
        break;
      }
      case Kind::Dense: {
        const auto* d = reinterpret_cast<const DenseBlock*>(s.a);
        for (unsigned k = 0; k < kPagesPerHuge; ++k) {
          if (!(d->entries[k] == zero)) fn(base + k, d->entries[k]);
        }
        break;
      }
    }
  }
}

}  // namespace snplab::model
