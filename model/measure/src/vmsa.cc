#include "snp/model/measure/vmsa.h"

#include <algorithm>

namespace snplab::model {

namespace {

constexpr std::uint32_t sig(std::uint32_t family, std::uint32_t model, std::uint32_t stepping) {
  return *cpu_signature(family, model, stepping);
}

// sev-snp-measure's CPU_SIGS, in its order (QEMU builtin_x86_defs names).
constexpr std::array kVcpuTypes{
    VcpuType{"EPYC", sig(23, 1, 2)},           VcpuType{"EPYC-v1", sig(23, 1, 2)},
    VcpuType{"EPYC-v2", sig(23, 1, 2)},        VcpuType{"EPYC-IBPB", sig(23, 1, 2)},
    VcpuType{"EPYC-v3", sig(23, 1, 2)},        VcpuType{"EPYC-v4", sig(23, 1, 2)},
    VcpuType{"EPYC-Rome", sig(23, 49, 0)},     VcpuType{"EPYC-Rome-v1", sig(23, 49, 0)},
    VcpuType{"EPYC-Rome-v2", sig(23, 49, 0)},  VcpuType{"EPYC-Rome-v3", sig(23, 49, 0)},
    VcpuType{"EPYC-Milan", sig(25, 1, 1)},     VcpuType{"EPYC-Milan-v1", sig(25, 1, 1)},
    VcpuType{"EPYC-Milan-v2", sig(25, 1, 1)},  VcpuType{"EPYC-Genoa", sig(25, 17, 0)},
    VcpuType{"EPYC-Genoa-v1", sig(25, 17, 0)}, VcpuType{"EPYC-Turin", sig(26, 0, 0)},
};
static_assert(sig(23, 1, 2) == 0x800F12 && sig(23, 49, 0) == 0x830F10 && sig(25, 1, 1) == 0xA00F11 &&
              sig(25, 17, 0) == 0xA10F10 && sig(26, 0, 0) == 0xB00F00);

constexpr std::uint64_t kGPatDefault = 0x0007'0406'0007'0406ULL;  // PAT reset value (APM vol. 2 §A.3)
constexpr std::uint64_t kGPatGce = 0x0007'0106ULL;                 // GCE overwrites it

}  // namespace

std::optional<VmmType> vmm_type_from_string(std::string_view s) {
  for (VmmType v : {VmmType::Qemu, VmmType::Ec2, VmmType::Gce}) {
    if (to_string(v) == s) return v;
  }
  return std::nullopt;
}

std::span<const VcpuType> vcpu_types() { return kVcpuTypes; }

std::optional<std::uint32_t> vcpu_type_signature(std::string_view name) {
  const auto* it = std::find_if(kVcpuTypes.begin(), kVcpuTypes.end(), [name](const VcpuType& t) { return t.name == name; });
  if (it == kVcpuTypes.end()) return std::nullopt;
  return it->signature;
}

VmsaPage to_page(const SevEsSaveArea& area) { return std::bit_cast<VmsaPage>(area); }

SevEsSaveArea reset_save_area(std::uint32_t eip, std::uint64_t sev_features, std::uint64_t vcpu_sig, VmmType vmm) {
  // Per-VMM differences (VMSA-NOTES table).
  std::uint16_t cs_attrib = 0x9b;
  std::uint16_t ss_attrib = 0x93;
  std::uint16_t tr_attrib = 0x8b;
  std::uint64_t rdx = kFixedRdx;
  std::uint32_t mxcsr = 0;
  std::uint16_t fcw = 0;
  std::uint64_t g_pat = kGPatDefault;
  switch (vmm) {
    case VmmType::Qemu:
      rdx = vcpu_sig;
      mxcsr = 0x1f80;
      fcw = 0x37f;
      break;
    case VmmType::Ec2:
      // ec2 marks the code segment not-accessed only for the reset vector, so an AP whose
      // reset-block address is the reset vector gets the BSP's page.
      if (eip == kBspEip) cs_attrib = 0x9a;
      ss_attrib = 0x92;
      tr_attrib = 0x83;
      break;
    case VmmType::Gce:
      g_pat = kGPatGce;
      break;
  }

  SevEsSaveArea a{};
  a.es = {0, 0x93, 0xffff, 0};
  a.cs = {0xf000, cs_attrib, 0xffff, eip & 0xffff0000U};
  a.ss = {0, ss_attrib, 0xffff, 0};
  a.ds = {0, 0x93, 0xffff, 0};
  a.fs = {0, 0x93, 0xffff, 0};
  a.gs = {0, 0x93, 0xffff, 0};
  a.gdtr = {0, 0, 0xffff, 0};
  a.ldtr = {0, 0x82, 0xffff, 0};
  a.idtr = {0, 0, 0xffff, 0};
  a.tr = {0, tr_attrib, 0xffff, 0};
  a.efer = 0x1000;  // EFER.SVME, which KVM sets
  a.cr4 = 0x40;     // CR4.MCE, which KVM sets
  a.cr0 = 0x10;
  a.dr7 = 0x400;
  a.dr6 = 0xffff0ff0;
  a.rflags = 0x2;
  a.rip = eip & 0xffffU;
  a.g_pat = g_pat;
  a.rdx = rdx;
  a.sev_features = sev_features;
  a.xcr0 = 0x1;
  a.mxcsr = mxcsr;
  a.x87_fcw = fcw;
  return a;
}

SevEsSaveArea svsm_save_area(std::uint64_t eip, std::uint64_t vcpu_sig) {
  SevEsSaveArea a{};
  a.es = {16, 0xc93, 0xffffffff, 0};
  a.cs = {8, 0xc9b, 0xffffffff, 0};
  a.ss = {16, 0xc93, 0xffffffff, 0};
  a.ds = {16, 0xc93, 0xffffffff, 0};
  a.fs = {16, 0xc93, 0xffffffff, 0};
  a.gs = {0, 0x93, 0xffff, 0};
  a.gdtr = {0, 0, 0xffff, 0};
  a.ldtr = {0, 0x82, 0xffff, 0};
  a.idtr = {0, 0, 0xffff, 0};
  a.tr = {0, 0x8b, 0xffff, 0};
  a.efer = 0x1000;
  a.cr4 = 0x40;
  a.cr0 = 0x11;  // protected mode
  a.dr7 = 0x400;
  a.dr6 = 0xffff0ff0;
  a.rflags = 0x2;
  a.rip = eip;  // the full entry point: no CS base split in 32-bit flat mode
  a.g_pat = kGPatDefault;
  a.rdx = vcpu_sig;
  a.sev_features = 0x1;  // fixed: --guest-features does not apply to the SVSM VMSA
  a.xcr0 = 0x1;
  a.mxcsr = 0x1f80;
  a.x87_fcw = 0;  // sev-snp-measure never stores its 0x37f here (the keyword misses the field)
  return a;
}

}  // namespace snplab::model
