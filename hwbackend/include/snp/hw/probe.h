// What the host offers, asked of the real kernel: /dev/kvm's API version, VM types and the
// capabilities snplab's SNP paths need, and whether /dev/sev exists and answers
// SNP_PLATFORM_STATUS. Read-only: the probe issues no command that changes anything, and
// closes every fd it opened on every path.
#pragma once

#include <cstdint>
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

struct ProbeReport {
  int api_version = 0;                 ///< KVM_GET_API_VERSION (12 on every kernel since 2.6.22)
  std::vector<CapValue> caps;
  /// Bit n set = VM type n accepted by KVM_CREATE_VM (KVM_CAP_VM_TYPES); 1 (default only)
  /// when the kernel predates the capability.
  std::uint32_t vm_types = 1;
  bool snp_vm_type = false;            ///< KVM_X86_SNP_VM (4) in vm_types
  std::optional<std::uint64_t> sev_vmsa_features;  ///< KVM_X86_SEV_VMSA_FEATURES attr, if any
  SevStatus sev;

  int cap(const char* name) const;     ///< value of a probed capability, 0 if absent
  /// The first reason SNP guests cannot run here, e.g. "KVM_X86_SNP_VM (4) not in
  /// KVM_CAP_VM_TYPES (0x1)"; empty when everything an SNP launch needs is present.
  std::string snp_missing() const;
  /// A human-readable multi-line report.
  std::string describe() const;
};

/// Probes /dev/kvm and /dev/sev. Fails only when /dev/kvm cannot be opened or does not
/// answer KVM_GET_API_VERSION.
api::Result<ProbeReport> probe(const char* kvm_path = "/dev/kvm", const char* sev_path = "/dev/sev");

}  // namespace snplab::hw
