// The fault an RMP check raises (facts §3.2): none, a host #PF with the RMP bit, a guest
// #VC with PAGE_NOT_VALIDATED, or a #VMEXIT(NPF) with its EXITINFO1 bits.
#pragma once

#include <cstdint>
#include <string_view>

namespace snplab::model {

// Host #PF error-code bits (arch/x86/include/asm/trap_pf.h).
inline constexpr std::uint64_t kPfProt = 1ULL << 0;   ///< X86_PF_PROT: page was present
inline constexpr std::uint64_t kPfWrite = 1ULL << 1;  ///< X86_PF_WRITE
inline constexpr std::uint64_t kPfUser = 1ULL << 2;   ///< X86_PF_USER
inline constexpr std::uint64_t kPfInstr = 1ULL << 4;  ///< X86_PF_INSTR
inline constexpr std::uint64_t kPfRmp = 1ULL << 31;   ///< X86_PF_RMP (facts §3.2)

// #VMEXIT(NPF) EXITINFO1 bits. Bits 0-4 have the #PF meaning; 31-36 are KVM's PFERR_GUEST_*
// (facts §3.2, [L-kvm-host.h]).
inline constexpr std::uint64_t kNpfPresent = 1ULL << 0;
inline constexpr std::uint64_t kNpfWrite = 1ULL << 1;
inline constexpr std::uint64_t kNpfUser = 1ULL << 2;
inline constexpr std::uint64_t kNpfFetch = 1ULL << 4;
inline constexpr std::uint64_t kNpfGuestRmp = 1ULL << 31;    ///< PFERR_GUEST_RMP_MASK
inline constexpr std::uint64_t kNpfGuestFinal = 1ULL << 32;  ///< PFERR_GUEST_FINAL_MASK
inline constexpr std::uint64_t kNpfGuestPage = 1ULL << 33;   ///< PFERR_GUEST_PAGE_MASK
inline constexpr std::uint64_t kNpfGuestEnc = 1ULL << 34;    ///< PFERR_GUEST_ENC_MASK
inline constexpr std::uint64_t kNpfGuestSizem = 1ULL << 35;  ///< PFERR_GUEST_SIZEM_MASK
inline constexpr std::uint64_t kNpfGuestVmpl = 1ULL << 36;   ///< PFERR_GUEST_VMPL_MASK

/// #VC error code for an access to an unvalidated private page (APM §15.36.10).
inline constexpr std::uint64_t kVcPageNotValidated = 0x404;

enum class FaultKind : std::uint8_t {
  None,
  HostPageFault,  ///< host #PF; `code` is the error code (with X86_PF_RMP)
  Vc,             ///< guest #VC; `code` is the exit code (0x404)
  Npf,            ///< #VMEXIT(NPF) to the hypervisor; `code` is EXITINFO1
};

std::string_view to_string(FaultKind k);

struct Fault {
  FaultKind kind = FaultKind::None;
  std::uint64_t code = 0;
  /// Which RMP check failed ("Hypervisor-Owned", "Guest-Owned", "Reverse-Map", "Mutable",
  /// "Page-Size", "Validated", "VMPL", "Covered"). Simulator-only detail: hardware does
  /// not report it, so cross-backend comparisons ignore it.
  std::string_view check = "";

  bool raised() const { return kind != FaultKind::None; }
  friend bool operator==(const Fault& a, const Fault& b) { return a.kind == b.kind && a.code == b.code; }
};

}  // namespace snplab::model
