// Architectural return codes of the RMP instructions (facts §2.1). They are modelled
// outcomes, returned as values (STYLE.md 3.3), numerically identical to what EAX holds.
#pragma once

#include <cstdint>
#include <string_view>

namespace snplab::model {

/// EAX after RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST or RMPREAD. The numbering is shared
/// across instructions; not every code is possible for every instruction (facts §2.1):
///   RMPUPDATE: 0 1 2 3 4      PSMASH: 0 1 2 3 4(BADADDR)
///   PVALIDATE: 0 1 2 6        RMPADJUST: 0 1 2 6        RMPREAD: 0 1
enum class RmpStatus : std::uint32_t {
  Success = 0,
  FailInput = 1,
  FailPermission = 2,
  FailInUse = 3,
  /// RMPUPDATE: 4K/2M overlap. PSMASH uses the same value for FAIL_BADADDR.
  FailOverlap = 4,
  FailSizeMismatch = 6,
};

/// PSMASH's name for code 4 ([rfc-snp-early]).
inline constexpr RmpStatus kPsmashFailBadAddr = RmpStatus::FailOverlap;

/// The ABI spelling ("FAIL_INPUT", ...), as the kernel's headers name them.
std::string_view to_string(RmpStatus s);

}  // namespace snplab::model
