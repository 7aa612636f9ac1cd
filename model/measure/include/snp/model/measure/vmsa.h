// The initial VMSA (VM save area) pages a launch measures, built the way sev-snp-measure
// 0.0.13 builds them for each VMM type (shared/vectors/measure/VMSA-NOTES.md, cited as
// VMSA-NOTES), plus the vCPU type table that gives RDX its CPUID signature.
//
// The layout is the SEV-ES save area of AMD APM vol. 2 table B-4 (Linux
// `struct sev_es_save_area`); only the fields a launch sets have names here, every other
// byte is reserved and zero.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include "snp/model/base/types.h"

namespace snplab::model {

/// The VMM whose initial register state the VMSA reproduces (VMSA-NOTES, "What changes with
/// the VMM type").
enum class VmmType : std::uint8_t { Qemu, Ec2, Gce };

/// The spelling sev-snp-measure's --vmm-type accepts: "QEMU", "ec2", "gce".
constexpr std::string_view to_string(VmmType v) {
  switch (v) {
    case VmmType::Qemu: return "QEMU";
    case VmmType::Ec2: return "ec2";
    case VmmType::Gce: return "gce";
  }
  return "?";
}

/// Inverse of to_string(VmmType); case-sensitive like sev-snp-measure.
std::optional<VmmType> vmm_type_from_string(std::string_view s);

/// A named QEMU vCPU model and its CPUID Fn0000_0001_EAX signature.
struct VcpuType {
  std::string_view name;
  std::uint32_t signature;
};

/// CPUID signature from family, model and stepping (AMD CPUID spec #25481,
/// Fn0000_0001_EAX): families above 0xF are split into base 0xF plus extended family.
/// nullopt if a value cannot be encoded (family > 0x10E, model > 0xFF, stepping > 0xF).
constexpr std::optional<std::uint32_t> cpu_signature(std::uint32_t family, std::uint32_t model,
                                                     std::uint32_t stepping) {
  if (family > 0xF + 0xFF || model > 0xFF || stepping > 0xF) return std::nullopt;
  const std::uint32_t family_low = family > 0xF ? 0xF : family;
  const std::uint32_t family_high = family > 0xF ? family - 0xF : 0;
  return (family_high << 20) | ((model >> 4) << 16) | (family_low << 8) | ((model & 0xF) << 4) | stepping;
}

/// The vCPU types sev-snp-measure accepts for --vcpu-type (QEMU's builtin_x86_defs names),
/// in its order.
std::span<const VcpuType> vcpu_types();

/// The signature of the named vCPU type, or nullopt for an unknown name (case-sensitive).
std::optional<std::uint32_t> vcpu_type_signature(std::string_view name);

/// One segment register in the VMCB/VMSA format. `attrib` is the compressed 16-bit VMCB
/// attribute (0x9b for a code segment), not the descriptor byte layout.
struct VmcbSegment {
  std::uint16_t selector = 0;
  std::uint16_t attrib = 0;
  std::uint32_t limit = 0;
  std::uint64_t base = 0;
};
static_assert(sizeof(VmcbSegment) == 16);

/// The SEV-ES save area (4 KiB). Named fields are those a launch VMSA sets; the rest is
/// reserved (and for launch purposes zero).
struct SevEsSaveArea {
  VmcbSegment es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr;  // 0x000..0x09F
  std::array<std::uint8_t, 0x2A> reserved_0a0{};             // 0x0A0..0x0C9
  std::uint8_t vmpl = 0;                                      // 0x0CA
  std::uint8_t cpl = 0;                                       // 0x0CB
  std::array<std::uint8_t, 4> reserved_0cc{};                 // 0x0CC..0x0CF
  std::uint64_t efer = 0;                                     // 0x0D0
  std::array<std::uint8_t, 0x70> reserved_0d8{};             // 0x0D8..0x147
  std::uint64_t cr4 = 0;                                      // 0x148
  std::uint64_t cr3 = 0;                                      // 0x150
  std::uint64_t cr0 = 0;                                      // 0x158
  std::uint64_t dr7 = 0;                                      // 0x160
  std::uint64_t dr6 = 0;                                      // 0x168
  std::uint64_t rflags = 0;                                   // 0x170
  std::uint64_t rip = 0;                                      // 0x178
  std::array<std::uint8_t, 0xE8> reserved_180{};             // 0x180..0x267
  std::uint64_t g_pat = 0;                                    // 0x268
  std::array<std::uint8_t, 0xA0> reserved_270{};             // 0x270..0x30F
  std::uint64_t rdx = 0;                                      // 0x310
  std::array<std::uint8_t, 0x98> reserved_318{};             // 0x318..0x3AF
  std::uint64_t sev_features = 0;                             // 0x3B0
  std::array<std::uint8_t, 0x30> reserved_3b8{};             // 0x3B8..0x3E7 (vintr_ctrl, tlb_id, ...)
  std::uint64_t xcr0 = 0;                                     // 0x3E8
  std::array<std::uint8_t, 0x18> reserved_3f0{};             // 0x3F0..0x407
  std::uint32_t mxcsr = 0;                                    // 0x408
  std::array<std::uint8_t, 4> reserved_40c{};                 // 0x40C..0x40F (x87_ftw, x87_fsw)
  std::uint16_t x87_fcw = 0;                                  // 0x410
  std::array<std::uint8_t, 0x1000 - 0x412> reserved_412{};   // 0x412..0xFFF
};

inline constexpr std::size_t kVmsaSize = 0x1000;
static_assert(sizeof(SevEsSaveArea) == kVmsaSize, "the VMSA is one 4 KiB page");
static_assert(std::is_standard_layout_v<SevEsSaveArea> && std::is_trivially_copyable_v<SevEsSaveArea>);
static_assert(std::has_unique_object_representations_v<SevEsSaveArea>, "no padding: every byte is a field");
static_assert(offsetof(SevEsSaveArea, es) == 0x000);
static_assert(offsetof(SevEsSaveArea, cs) == 0x010);
static_assert(offsetof(SevEsSaveArea, ss) == 0x020);
static_assert(offsetof(SevEsSaveArea, ds) == 0x030);
static_assert(offsetof(SevEsSaveArea, fs) == 0x040);
static_assert(offsetof(SevEsSaveArea, gs) == 0x050);
static_assert(offsetof(SevEsSaveArea, gdtr) == 0x060);
static_assert(offsetof(SevEsSaveArea, ldtr) == 0x070);
static_assert(offsetof(SevEsSaveArea, idtr) == 0x080);
static_assert(offsetof(SevEsSaveArea, tr) == 0x090);
static_assert(offsetof(SevEsSaveArea, vmpl) == 0x0CA);
static_assert(offsetof(SevEsSaveArea, cpl) == 0x0CB);
static_assert(offsetof(SevEsSaveArea, efer) == 0x0D0);
static_assert(offsetof(SevEsSaveArea, cr4) == 0x148);
static_assert(offsetof(SevEsSaveArea, cr3) == 0x150);
static_assert(offsetof(SevEsSaveArea, cr0) == 0x158);
static_assert(offsetof(SevEsSaveArea, dr7) == 0x160);
static_assert(offsetof(SevEsSaveArea, dr6) == 0x168);
static_assert(offsetof(SevEsSaveArea, rflags) == 0x170);
static_assert(offsetof(SevEsSaveArea, rip) == 0x178);
static_assert(offsetof(SevEsSaveArea, g_pat) == 0x268);
static_assert(offsetof(SevEsSaveArea, rdx) == 0x310);
static_assert(offsetof(SevEsSaveArea, sev_features) == 0x3B0);  // facts §10
static_assert(offsetof(SevEsSaveArea, xcr0) == 0x3E8);
static_assert(offsetof(SevEsSaveArea, mxcsr) == 0x408);
static_assert(offsetof(SevEsSaveArea, x87_fcw) == 0x410);
static_assert(std::endian::native == std::endian::little, "VMSA bytes assume a little-endian host");

using VmsaPage = std::array<std::uint8_t, kVmsaSize>;

/// The page bytes of `area`.
VmsaPage to_page(const SevEsSaveArea& area);

/// The BSP's reset address: every snp/seves BSP VMSA starts here (VMSA-NOTES).
inline constexpr std::uint32_t kBspEip = 0xFFFF'FFF0;
/// The GPA every VMSA page is measured at (facts §5.3 step 5, INITIAL_VMSA_GPA).
inline constexpr Gpa kVmsaGpa = 0xFFFF'FFFF'F000ULL;
/// RDX for ec2 and gce, which ignore the vCPU type.
inline constexpr std::uint64_t kFixedRdx = 0x600;

/// The reset-state save area of a vCPU that starts at `eip` (VMSA-NOTES "Fields that are
/// the same...", "BSP versus AP", "What changes with the VMM type"): CS base/selector/RIP
/// from `eip`, SEV_FEATURES = `sev_features` (the --guest-features value for SNP, 0 for
/// SEV-ES), RDX = `vcpu_sig` for QEMU and 0x600 for ec2/gce.
SevEsSaveArea reset_save_area(std::uint32_t eip, std::uint64_t sev_features, std::uint64_t vcpu_sig, VmmType vmm);

/// The save area of every vCPU in snp:svsm mode (VMSA-NOTES "snp:svsm mode"): 32-bit flat
/// segments, CR0 0x11, RIP = `eip` (SVSM entry point), SEV_FEATURES 0x1, RDX = `vcpu_sig`,
/// MXCSR 0x1f80 and x87 FCW 0 (sev-snp-measure's QEMU SVSM page, bit for bit).
SevEsSaveArea svsm_save_area(std::uint64_t eip, std::uint64_t vcpu_sig);

}  // namespace snplab::model
