// Address and identifier vocabulary shared by the whole model.
#pragma once

#include <cstdint>

namespace snplab::model {

/// System physical address (the host's view). Bit 51 is the highest a 52-bit SPA has.
using Spa = std::uint64_t;
/// Guest physical address.
using Gpa = std::uint64_t;
/// Page frame number: SPA >> 12. The RMP is indexed by it (facts §1.2, "entry index = PFN").
using Pfn = std::uint64_t;
/// Address-space identifier of an SEV guest. 0 means "no guest" (hypervisor or AMD-SP).
using Asid = std::uint32_t;
/// A host-side VM identifier, used for provenance. 0 means "the host itself" (no VM).
using VmId = std::uint32_t;

inline constexpr unsigned kPageShift = 12;
inline constexpr std::uint64_t kPageSize = 1ULL << kPageShift;       // 4 KiB
inline constexpr unsigned kHugeShift = 21;
inline constexpr std::uint64_t kHugePageSize = 1ULL << kHugeShift;   // 2 MiB
inline constexpr unsigned kPagesPerHuge = 1U << (kHugeShift - kPageShift);  // 512
inline constexpr unsigned kMaxPhysAddrBits = 52;                      // facts §1.4: shift 52
inline constexpr std::uint64_t kMaxPhysAddr = 1ULL << kMaxPhysAddrBits;

constexpr Pfn spa_to_pfn(Spa spa) { return spa >> kPageShift; }
constexpr Spa pfn_to_spa(Pfn pfn) { return pfn << kPageShift; }
/// First PFN of the 2 MiB region holding `pfn` (Linux PFN_PMD_MASK).
constexpr Pfn huge_base(Pfn pfn) { return pfn & ~Pfn{kPagesPerHuge - 1}; }
constexpr unsigned huge_offset(Pfn pfn) { return static_cast<unsigned>(pfn & (kPagesPerHuge - 1)); }

/// RMP page size, encoded as in the RMP entry and in RMPUPDATE/PVALIDATE inputs.
enum class PageSize : std::uint8_t { Size4K = 0, Size2M = 1 };

constexpr const char* to_string(PageSize s) {
  switch (s) {
    case PageSize::Size4K: return "4K";
    case PageSize::Size2M: return "2M";
  }
  return "?";
}

}  // namespace snplab::model
