// The RMP entry in its three shapes:
//   * RmpEntryRaw   - the 16-byte in-memory format the kernel reads on Milan/Genoa (facts §1.2),
//   * RmpReadEntry  - RMPREAD's architectural output (facts §1.3),
//   * RmpState      - RMPUPDATE's new-state input, `struct rmp_state` (facts §2).
// plus the firmware's page-state classification of a raw entry (facts §4.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "snp/model/base/assert.h"
#include "snp/model/base/types.h"

namespace snplab::model {

/// Number of VMPLs the model implements (CPUID Fn8000_001F EBX[15:12] reports 4 on EPYC).
inline constexpr unsigned kNumVmpls = 4;

/// VMPL permission mask bits (facts §1.1, APM Table 15-36).
enum VmplPerm : std::uint8_t {
  kPermRead = 1U << 0,
  kPermWrite = 1U << 1,
  kPermExecUser = 1U << 2,
  kPermExecSupervisor = 1U << 3,
  kPermSupervisorShadowStack = 1U << 4,
};
/// Every defined permission bit; bits 7:5 are reserved (SBZ).
inline constexpr std::uint8_t kPermAll = 0x1F;
inline constexpr std::uint8_t kPermReservedMask = 0xE0;

/// The raw 16-byte RMP entry, quadword 0 (`lo`) and quadword 1 (`hi`), bit for bit as
/// facts §1.2 gives it (Linux `struct rmpentry_raw`, ASPFW `rmp_fields_t`/`rmp_quadword2_t`).
///
/// lo:  0 assigned | 1 page size | 2 immutable | 11:3 sub-page count | 50:12 GPA>>12
///      60:51 ASID | 61 VMSA | 62 validated | 63 lock (firmware keeps lock = immutable)
/// hi:  byte n = VMPLn permission mask (n = 0..3); bits 63:32 (implicit key select, TIO,
///      page migration) are not modelled and stay zero.
///
/// The all-zero entry is a 4K hypervisor-owned page: untouched memory reads as that.
struct RmpEntryRaw {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;

  static constexpr unsigned kAssignedBit = 0;
  static constexpr unsigned kPageSizeBit = 1;
  static constexpr unsigned kImmutableBit = 2;
  static constexpr unsigned kSubpageShift = 3;
  static constexpr unsigned kSubpageBits = 9;
  static constexpr unsigned kGpaShift = 12;
  static constexpr unsigned kGpaBits = 39;
  static constexpr unsigned kAsidShift = 51;
  static constexpr unsigned kAsidBits = 10;
  static constexpr unsigned kVmsaBit = 61;
  static constexpr unsigned kValidatedBit = 62;
  static constexpr unsigned kLockBit = 63;

  static constexpr std::uint64_t field_mask(unsigned bits) { return (1ULL << bits) - 1; }
  static constexpr std::uint32_t kMaxSubpageCount = (1U << kSubpageBits) - 1;  // 511
  static constexpr Asid kMaxAsid = (1U << kAsidBits) - 1;                      // 0x3FF

  constexpr bool bit(unsigned b) const { return ((lo >> b) & 1U) != 0; }
  constexpr void set_bit(unsigned b, bool v) {
    lo = (lo & ~(1ULL << b)) | (static_cast<std::uint64_t>(v) << b);
  }
  constexpr std::uint64_t field(unsigned shift, unsigned bits) const {
    return (lo >> shift) & field_mask(bits);
  }
  constexpr void set_field(unsigned shift, unsigned bits, std::uint64_t v) {
    SNPLAB_ASSERT(v <= field_mask(bits), "RMP entry field value does not fit its bits");
    lo = (lo & ~(field_mask(bits) << shift)) | (v << shift);
  }

  constexpr bool assigned() const { return bit(kAssignedBit); }
  constexpr PageSize page_size() const { return bit(kPageSizeBit) ? PageSize::Size2M : PageSize::Size4K; }
  constexpr bool immutable() const { return bit(kImmutableBit); }
  constexpr std::uint32_t subpage_count() const {
    return static_cast<std::uint32_t>(field(kSubpageShift, kSubpageBits));
  }
  /// The guest physical address as a byte address (the field holds GPA >> 12).
  constexpr Gpa gpa() const { return field(kGpaShift, kGpaBits) << kPageShift; }
  constexpr Asid asid() const { return static_cast<Asid>(field(kAsidShift, kAsidBits)); }
  constexpr bool vmsa() const { return bit(kVmsaBit); }
  constexpr bool validated() const { return bit(kValidatedBit); }
  constexpr bool lock() const { return bit(kLockBit); }
  constexpr std::uint8_t vmpl_perms(unsigned vmpl) const {
    SNPLAB_ASSERT(vmpl < kNumVmpls, "VMPL out of range");
    return static_cast<std::uint8_t>(hi >> (8 * vmpl));
  }

  constexpr RmpEntryRaw& set_assigned(bool v) { set_bit(kAssignedBit, v); return *this; }
  constexpr RmpEntryRaw& set_page_size(PageSize s) {
    set_bit(kPageSizeBit, s == PageSize::Size2M);
    return *this;
  }
  constexpr RmpEntryRaw& set_immutable(bool v) {
    set_bit(kImmutableBit, v);
    set_bit(kLockBit, v);  // ASPFW writes lock = immutable on every entry it builds
    return *this;
  }
  constexpr RmpEntryRaw& set_subpage_count(std::uint32_t n) {
    set_field(kSubpageShift, kSubpageBits, n);
    return *this;
  }
  /// Precondition: `gpa` is 4K-aligned and below 2^51.
  constexpr RmpEntryRaw& set_gpa(Gpa gpa) {
    SNPLAB_ASSERT((gpa & (kPageSize - 1)) == 0, "RMP GPA must be page aligned");
    set_field(kGpaShift, kGpaBits, gpa >> kPageShift);
    return *this;
  }
  constexpr RmpEntryRaw& set_asid(Asid a) { set_field(kAsidShift, kAsidBits, a); return *this; }
  constexpr RmpEntryRaw& set_vmsa(bool v) { set_bit(kVmsaBit, v); return *this; }
  constexpr RmpEntryRaw& set_validated(bool v) { set_bit(kValidatedBit, v); return *this; }
  constexpr RmpEntryRaw& set_vmpl_perms(unsigned vmpl, std::uint8_t mask) {
    SNPLAB_ASSERT(vmpl < kNumVmpls, "VMPL out of range");
    const unsigned shift = 8 * vmpl;
    hi = (hi & ~(0xFFULL << shift)) | (static_cast<std::uint64_t>(mask) << shift);
    return *this;
  }

  /// ASPFW keeps a 3-bit "GPA state" in GPA-field bits 38:36 (raw bits 50:48) to tell
  /// Firmware, Metadata and Firmware-IOMMU pages apart (facts §1.2; ASPFW sev_rmp.h
  /// RMP_GPA_STATE_*). These helpers read that view of the same field.
  static constexpr unsigned kGpaStateShift = 36;  // within the 39-bit GPA field
  enum class GpaState : std::uint8_t { Firmware = 0, Metadata = 1, FwIommu = 2 };
  constexpr std::uint64_t gpa_field() const { return field(kGpaShift, kGpaBits); }
  constexpr std::uint64_t gpa_field_without_state() const {
    return gpa_field() & field_mask(kGpaStateShift);
  }
  constexpr std::uint64_t gpa_state() const { return gpa_field() >> kGpaStateShift; }

  friend constexpr bool operator==(const RmpEntryRaw&, const RmpEntryRaw&) = default;
};

static_assert(sizeof(RmpEntryRaw) == 16, "facts §1.2: an RMP entry is 16 bytes");
static_assert(std::is_trivially_copyable_v<RmpEntryRaw>);
static_assert(offsetof(RmpEntryRaw, lo) == 0 && offsetof(RmpEntryRaw, hi) == 8);
// Bit positions, checked by building entries with one field set (facts §1.2 table).
static_assert(RmpEntryRaw{}.set_assigned(true).lo == 1ULL << 0);
static_assert(RmpEntryRaw{}.set_page_size(PageSize::Size2M).lo == 1ULL << 1);
static_assert(RmpEntryRaw{}.set_immutable(true).lo == ((1ULL << 2) | (1ULL << 63)));
static_assert(RmpEntryRaw{}.set_subpage_count(511).lo == 0x1FFULL << 3);
static_assert(RmpEntryRaw{}.set_gpa(0x7FFFFFFFFF000ULL).lo == 0x7FFFFFFFFFULL << 12);
static_assert(RmpEntryRaw{}.set_asid(0x3FF).lo == 0x3FFULL << 51);
static_assert(RmpEntryRaw{}.set_vmsa(true).lo == 1ULL << 61);
static_assert(RmpEntryRaw{}.set_validated(true).lo == 1ULL << 62);
static_assert(RmpEntryRaw{}.set_vmpl_perms(3, 0xFF).hi == 0xFFULL << 24);
// Values the firmware writes (ASPFW sev_rmp.c: RMP_ENTRY_VAL_HV_FIXED / _FIRMWARE).
static_assert(RmpEntryRaw{}.set_immutable(true).set_assigned(true).lo == 0x8000000000000005ULL);

/// RMPREAD's architectural output, `struct rmpentry` (facts §1.3): 16 bytes, packed.
struct RmpReadEntry {
  std::uint64_t gpa = 0;        ///< 0x00: full byte address
  std::uint8_t assigned = 0;    ///< 0x08: bit 0
  std::uint8_t size_flags = 0;  ///< 0x09: bit 0 page size, bit 1 hpage_region_status
  std::uint8_t immutable = 0;   ///< 0x0A: bit 0
  std::uint8_t rsvd = 0;        ///< 0x0B
  std::uint32_t asid = 0;       ///< 0x0C

  static constexpr std::uint8_t kPageSizeFlag = 1U << 0;
  static constexpr std::uint8_t kHpageRegionStatusFlag = 1U << 1;

  friend constexpr bool operator==(const RmpReadEntry&, const RmpReadEntry&) = default;
};
static_assert(sizeof(RmpReadEntry) == 16, "facts §1.3: RMPREAD writes 16 bytes");
static_assert(offsetof(RmpReadEntry, gpa) == 0x00 && offsetof(RmpReadEntry, assigned) == 0x08 &&
              offsetof(RmpReadEntry, size_flags) == 0x09 && offsetof(RmpReadEntry, immutable) == 0x0A &&
              offsetof(RmpReadEntry, rsvd) == 0x0B && offsetof(RmpReadEntry, asid) == 0x0C);

/// Converts a raw entry to RMPREAD's view (what Linux's `get_rmpentry()` synthesises on CPUs
/// without RMPREAD). `hpage_region_status` is passed in because it is a property of the
/// 2 MiB region, not of the entry; see docs/rmp-model.md for the model's definition.
constexpr RmpReadEntry to_rmpread(const RmpEntryRaw& e, bool hpage_region_status) {
  RmpReadEntry r;
  r.gpa = e.gpa();
  r.assigned = e.assigned() ? 1 : 0;
  r.size_flags = static_cast<std::uint8_t>((e.page_size() == PageSize::Size2M ? RmpReadEntry::kPageSizeFlag : 0) |
                                           (hpage_region_status ? RmpReadEntry::kHpageRegionStatusFlag : 0));
  r.immutable = e.immutable() ? 1 : 0;
  r.asid = e.asid();
  return r;
}

/// RMPUPDATE's input, `struct rmp_state` (facts §2; Linux asm/sev.h): 16 bytes, packed.
/// It has no Validated, VMSA or permission fields: RMPUPDATE cannot set them.
struct RmpState {
  std::uint64_t gpa = 0;        ///< 0x00: byte address
  std::uint8_t assigned = 0;    ///< 0x08: 0 or 1
  std::uint8_t pagesize = 0;    ///< 0x09: 0 = 4K, 1 = 2M
  std::uint8_t immutable = 0;   ///< 0x0A: 0 or 1
  std::uint8_t rsvd = 0;        ///< 0x0B: must be zero
  std::uint32_t asid = 0;       ///< 0x0C

  friend constexpr bool operator==(const RmpState&, const RmpState&) = default;
};
static_assert(sizeof(RmpState) == 16, "facts §2: struct rmp_state is 16 bytes");
static_assert(offsetof(RmpState, assigned) == 0x08 && offsetof(RmpState, pagesize) == 0x09 &&
              offsetof(RmpState, immutable) == 0x0A && offsetof(RmpState, asid) == 0x0C);

/// Firmware page states, with the ASPFW enum values (facts §4.3).
enum class PageState : std::uint8_t {
  Invalid = 0x0,  ///< no state matches (the firmware's SNP_PAGE_STATE_INVALID)
  Default = 0x1,  ///< SPA not covered by the RMP: permanently hypervisor-owned
  Hypervisor = 0x2,
  HvFixed = 0x3,
  Firmware = 0x4,
  FirmwareIommu = 0x5,
  Reclaim = 0x6,
  Context = 0x7,
  Metadata = 0x8,
  PreGuest = 0x9,
  PreSwap = 0xA,
  GuestInvalid = 0xB,
  GuestValid = 0xC,
};

std::string_view to_string(PageState s);

/// Classifies a raw entry the way the firmware's `rmp_entry_get_state()` does (facts §4.3),
/// in the same order of tests. Call with `covered == false` for SPAs outside the RMP.
PageState page_state(const RmpEntryRaw& e, bool covered = true);

}  // namespace snplab::model
