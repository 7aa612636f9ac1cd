// What the host offers, asked of the real kernel and CPU: the CPU's vendor and its SEV leaf
// (CPUID Fn8000_001F), the KVM vendor module and kvm_amd's SEV parameters, /dev/kvm's API
// version, VM types and the capabilities snplab's paths need, and whether /dev/sev exists and
// answers SNP_PLATFORM_STATUS. From these, features(): for every backend feature, whether it
// can run here and, if not, the exact reason. Read-only: the probe issues no command that
// changes anything, and closes every fd it opened on every path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "snp/api/error.h"

namespace snplab::hw {

struct CapValue {
  const char* name;   ///< "KVM_CAP_VM_TYPES"
  int number;         ///< 235
  int value;          ///< KVM_CHECK_EXTENSION's return (0 = absent); -1 = the ioctl failed
  int errno_value;    ///< errno when value == -1
};

struct SevStatus {
  bool present = false;          ///< /dev/sev exists
  int open_errno = 0;            ///< open(/dev/sev) errno, 0 if it opened
  std::optional<api::Error> status_error;  ///< SNP_PLATFORM_STATUS failure, if issued and failed
  // SNP_PLATFORM_STATUS fields when it succeeded.
  bool have_status = false;
  unsigned api_major = 0, api_minor = 0, state = 0, build_id = 0, guest_count = 0;
  bool rmp_initialized = false;
  std::uint64_t current_tcb = 0, reported_tcb = 0;
};

/// The CPU, as CPUID says (on a guest: as the hypervisor below presents it).
struct HostCpu {
  std::string vendor;              ///< CPUID 0: "AuthenticAMD", "GenuineIntel", ...
  std::uint32_t signature = 0;     ///< CPUID 1 EAX (family/model/stepping)
  bool hypervisor = false;         ///< CPUID 1 ECX[31]: this CPU is a guest's
  std::string hypervisor_vendor;   ///< CPUID 0x40000000 EBX:ECX:EDX when `hypervisor` ("KVMKVMKVM")
  bool has_8000001f = false;       ///< the largest extended leaf reaches Fn8000_001F
  std::uint32_t eax_8000001f = 0, ebx_8000001f = 0, ecx_8000001f = 0, edx_8000001f = 0;

  // Fn8000_001F EAX bits (the kernel's cpufeatures.h word 19, 6.12).
  bool sme() const { return (eax_8000001f & 1U) != 0; }
  bool sev() const { return (eax_8000001f & 2U) != 0; }
  bool sev_es() const { return (eax_8000001f & 8U) != 0; }
  bool snp() const { return (eax_8000001f & 16U) != 0; }
  bool debug_swap() const { return (eax_8000001f & (1U << 14)) != 0; }
  unsigned c_bit() const { return ebx_8000001f & 0x3FU; }              ///< EBX[5:0]
  unsigned vmpls() const { return (ebx_8000001f >> 12) & 0xFU; }       ///< EBX[15:12] (facts §1.1)
  std::uint32_t max_encrypted_guests() const { return ecx_8000001f; }  ///< ECX
  std::uint32_t min_sev_asid() const { return edx_8000001f; }          ///< EDX: the first SEV-only ASID
};

/// The KVM kernel modules: which are loaded (/sys/module/kvm*), and kvm_amd's SEV switches.
struct KvmModules {
  std::vector<std::string> loaded;                ///< "kvm", "kvm_amd", "kvm_intel", "kvm_pvm", ...
  std::map<std::string, std::string> kvm_amd;     ///< parameter -> value: sev, sev_es, sev_snp, ...
  /// The vendor module (the loaded kvm_* one), "" when none is.
  std::string vendor() const;
  bool has(const std::string& m) const;
};

/// One thing a backend can do, and whether it can here.
struct Feature {
  std::string name;       ///< "SNP VMs (KVM_X86_SNP_VM)"
  bool available = false;
  std::string detail;     ///< what it offers when available; the exact reason when not
};

struct ProbeReport {
  HostCpu cpu;
  KvmModules modules;
  int api_version = 0;                 ///< KVM_GET_API_VERSION (12 on every kernel since 2.6.22)
  std::vector<CapValue> caps;
  /// Bit n set = VM type n accepted by KVM_CREATE_VM (KVM_CAP_VM_TYPES); 1 (default only)
  /// when the kernel predates the capability.
  std::uint32_t vm_types = 1;
  bool snp_vm_type = false;            ///< KVM_X86_SNP_VM (4) in vm_types
  std::optional<std::uint64_t> sev_vmsa_features;  ///< KVM_X86_SEV_VMSA_FEATURES attr, if any
  SevStatus sev;

  int cap(const char* name) const;     ///< value of a probed capability, 0 if absent
  /// The first reason SNP guests cannot run here, e.g. "CPUID Fn8000_001F_EAX[4] (SEV-SNP) is
  /// 0" or "KVM_X86_SNP_VM (4) not in KVM_CAP_VM_TYPES (0x1)"; empty when everything an SNP
  /// launch needs is present.
  std::string snp_missing() const;
  /// Every backend feature: can it run here, and if not, why (device, capability, VM type,
  /// CPUID bit, kernel module or parameter). A pure function of the report.
  std::vector<Feature> features() const;
  /// A human-readable multi-line report.
  std::string describe() const;
};

/// The CPU (CPUID) and the KVM modules under `sys_module` (normally /sys/module).
HostCpu probe_cpu();
KvmModules probe_modules(const char* sys_module = "/sys/module");

/// Probes the CPU, the modules, /dev/kvm and /dev/sev. Fails only when /dev/kvm cannot be
/// opened or does not answer KVM_GET_API_VERSION.
api::Result<ProbeReport> probe(const char* kvm_path = "/dev/kvm", const char* sev_path = "/dev/sev",
                               const char* sys_module = "/sys/module");

}  // namespace snplab::hw
