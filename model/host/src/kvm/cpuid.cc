// arch/x86/kvm/cpuid.c: the CPUID the simulated host supports (KVM_GET_SUPPORTED_CPUID) and
// the CPUID userspace gives a vCPU (KVM_SET_CPUID2 / KVM_GET_CPUID2).
//
// The supported table is a synthetic EPYC Milan (family 19h model 01h) as KVM reports it, a
// documented choice (docs/kvm.md): the leaves a VMM reads to build a guest's CPUID, with the
// XSAVE leaf derived from HostConfig::supported_xcr0 and the SEV leaf from the host's SEV
// configuration.
#include <algorithm>
#include <cerrno>
#include <initializer_list>

#include "snp/model/host/kvm_host.h"

namespace snplab::model::kvm {

namespace {

constexpr std::uint32_t bits(std::initializer_list<unsigned> list) {
  std::uint32_t v = 0;
  for (const unsigned b : list) v |= 1U << b;
  return v;
}

uapi::kvm_cpuid_entry2 leaf(std::uint32_t function, std::uint32_t index, bool indexed, std::uint32_t eax,
                            std::uint32_t ebx, std::uint32_t ecx, std::uint32_t edx) {
  uapi::kvm_cpuid_entry2 e;
  e.function = function;
  e.index = index;
  e.flags = indexed ? uapi::KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
  e.eax = eax, e.ebx = ebx, e.ecx = ecx, e.edx = edx;
  return e;
}

// "AuthenticAMD" in EBX, EDX, ECX order; "KVMKVMKVM\0\0\0" in EBX, ECX, EDX.
constexpr std::uint32_t kAmdEbx = 0x68747541, kAmdEdx = 0x69746e65, kAmdEcx = 0x444d4163;
constexpr std::uint32_t kKvmEbx = 0x4b4d564b, kKvmEcx = 0x564b4d56, kKvmEdx = 0x0000004d;
constexpr std::uint32_t kMilanSignature = 0x00a00f11;  // family 19h, model 01h, stepping 1

/// The standard-format XSAVE size of the components in `xcr0` (xstate_required_size()).
std::uint32_t xstate_size(const HostConfig& c, std::uint64_t xcr0) {
  std::uint32_t size = 512 + 64;  // legacy area and header
  for (const auto& [component, at] : c.xstate_layout) {
    if ((xcr0 >> component & 1) != 0) size = std::max(size, at.first + at.second);
  }
  return size;
}

std::vector<uapi::kvm_cpuid_entry2> supported_table(const HostConfig& c) {
  std::vector<uapi::kvm_cpuid_entry2> t;
  t.push_back(leaf(0x0, 0, false, 0xd, kAmdEbx, kAmdEcx, kAmdEdx));
  // Leaf 1: SSE3, PCLMULQDQ, SSSE3, FMA, CX16, SSE4.1/4.2, x2APIC, MOVBE, POPCNT,
  // TSC-deadline, AES, XSAVE, AVX, F16C, RDRAND and the hypervisor bit KVM sets; EDX the
  // classic FPU..SSE2 set.
  t.push_back(leaf(0x1, 0, false, kMilanSignature, 0x00000800,
                   bits({0, 1, 9, 12, 13, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31}), 0x078bfbff));
  // Leaf 7.0: FSGSBASE, BMI1, AVX2, SMEP, BMI2, ERMS, INVPCID, RDSEED, ADX, SMAP, CLFLUSHOPT,
  // CLWB, SHA; ECX UMIP, PKU, VAES, VPCLMULQDQ, RDPID.
  t.push_back(leaf(0x7, 0, true, 0, bits({0, 3, 5, 7, 8, 9, 10, 18, 19, 20, 23, 24, 29}), bits({2, 3, 9, 10, 22}), 0));
  // Leaf 0xD: the supported XCR0 and its size; subleaf 1 XSAVEOPT, XSAVEC, XGETBV1; one
  // subleaf per extended component with its size and standard-format offset.
  const std::uint64_t xcr0 = c.supported_xcr0;
  const std::uint32_t size = xstate_size(c, xcr0);
  t.push_back(leaf(0xd, 0, true, static_cast<std::uint32_t>(xcr0), size, size, static_cast<std::uint32_t>(xcr0 >> 32)));
  t.push_back(leaf(0xd, 1, true, bits({0, 1, 2}), 0, 0, 0));
  for (const auto& [component, at] : c.xstate_layout) {
    if ((xcr0 >> component & 1) != 0) t.push_back(leaf(0xd, component, true, at.second, at.first, 0, 0));
  }
  t.push_back(leaf(0x40000000, 0, false, 0x40000001, kKvmEbx, kKvmEcx, kKvmEdx));
  // KVM's paravirtual features: clocksource2, NOP_IO_DELAY, async PF, steal time, PV EOI,
  // PV unhalt, PV TLB flush, PV send IPI, poll control, PV sched yield, async PF INT.
  t.push_back(leaf(0x40000001, 0, false, bits({0, 1, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14}), 0, 0, 0));
  t.push_back(leaf(0x80000000, 0, false, 0x8000001f, kAmdEbx, kAmdEcx, kAmdEdx));
  // 0x80000001: LAHF, ABM, SSE4A, MISALIGNSSE, 3DNOWPREFETCH; EDX SYSCALL, NX, MMXEXT, FXSR_OPT,
  // PDPE1GB, RDTSCP, LM.
  t.push_back(leaf(0x80000001, 0, false, kMilanSignature, 0, bits({0, 5, 6, 7, 8}), bits({11, 20, 22, 25, 26, 27, 29})));
  // 0x80000008: 48 physical and 48 virtual address bits.
  t.push_back(leaf(0x80000008, 0, false, 0x00003030, 0, 0, 0));
  // 0x8000001F: with SEV, the SEV, SEV-ES and SNP bits the module enabled and the C-bit
  // position (51); KVM clears the VMPL count and the physical-address reduction. The ASID
  // counts in ECX/EDX are the host's raw values; the simulated host reports 0 there.
  const bool sev = c.sev_enabled || c.snp_enabled;
  std::uint32_t eax = 0, ebx = 0;
  if (sev) {
    eax = bits({1}) | (c.sev_es_enabled ? bits({3}) : 0) | (c.snp_enabled ? bits({4}) : 0);
    ebx = 51;
  }
  t.push_back(leaf(0x8000001f, 0, false, eax, ebx, 0, 0));
  return t;
}

}  // namespace

int Host::get_supported_cpuid(std::uint32_t nent, std::vector<uapi::kvm_cpuid_entry2>* out) const {
  // kvm_dev_ioctl_get_cpuid(): at least one entry, at most KVM_MAX_CPUID_ENTRIES considered,
  // and E2BIG when the table does not fit.
  if (nent < 1) return -E2BIG;
  nent = std::min(nent, uapi::KVM_MAX_CPUID_ENTRIES);
  std::vector<uapi::kvm_cpuid_entry2> t = supported_table(config());
  if (t.size() > nent) return -E2BIG;
  *out = std::move(t);
  return 0;
}

int Vm::set_cpuid2(unsigned long vcpu_id, std::span<const uapi::kvm_cpuid_entry2> entries) {
  const kern::FunctionScope fs(host_->sched(), "kvm_vcpu_ioctl_set_cpuid2");
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return -EINVAL;
  const kern::Guard vcpu_lock(vcpu_mutex(vcpu_id));
  if (entries.size() > uapi::KVM_MAX_CPUID_ENTRIES) return -E2BIG;
  VcpuArch& a = arch_.at(vcpu_id);
  // __kvm_update_cpuid_runtime(): leaf 0xD.0's EBX is the XSAVE size of the vCPU's XCR0,
  // which is x87 alone from reset (the guest's XSETBV is not modelled): 576 bytes. The other
  // runtime bits (OSXSAVE, OSPKE, the APIC bit of leaf 1) are not modelled (docs/kvm.md).
  std::vector<uapi::kvm_cpuid_entry2> e2(entries.begin(), entries.end());
  for (auto& e : e2) {
    if (e.function == 0xd && ((e.flags & uapi::KVM_CPUID_FLAG_SIGNIFCANT_INDEX) == 0 || e.index == 0)) {
      e.ebx = xstate_size(host_->config(), 1);
      break;
    }
  }
  entries = e2;
  auto same = [](const uapi::kvm_cpuid_entry2& x, const uapi::kvm_cpuid_entry2& y) {
    return x.function == y.function && x.index == y.index && x.flags == y.flags && x.eax == y.eax && x.ebx == y.ebx &&
           x.ecx == y.ecx && x.edx == y.edx;
  };
  // kvm_set_cpuid(): after KVM_RUN only the CPUID the vCPU has may be set again
  // (kvm_cpuid_check_equal()), and then nothing changes.
  if (a.has_run) {
    if (entries.size() != a.cpuid.size()) return -EINVAL;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!same(entries[i], a.cpuid[i])) return -EINVAL;
    }
    return 0;
  }
  // kvm_check_cpuid(): a virtual-address width the MMU's canonical checks know (48 or 57, or
  // 0 for none). Dynamic XSAVE features (AMX) are not offered by the simulated host, so the
  // guest-XFD enabling that follows has nothing to enable.
  for (const auto& e : entries) {
    if (e.function != 0x80000008) continue;
    const std::uint32_t vaddr_bits = (e.eax & 0xff00) >> 8;
    if (vaddr_bits != 48 && vaddr_bits != 57 && vaddr_bits != 0) return -EINVAL;
    break;  // cpuid_entry2_find(): the first match
  }
  a.cpuid.assign(entries.begin(), entries.end());
  return 0;
}

int Vm::get_cpuid2(unsigned long vcpu_id, std::uint32_t nent, std::vector<uapi::kvm_cpuid_entry2>* out) const {
  const kern::FunctionScope fs(host_->sched(), "kvm_vcpu_ioctl_get_cpuid2");
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return -EINVAL;
  const kern::Guard vcpu_lock(vcpu_mutex(vcpu_id));
  const VcpuArch& a = arch_.at(vcpu_id);
  if (nent < a.cpuid.size()) return -E2BIG;
  *out = a.cpuid;
  return 0;
}

}  // namespace snplab::model::kvm
