// Kernel profiles (DESIGN.md "Kernel profiles"): a named set of switches that selects the
// simulated host's behaviour. The default is current upstream; the others turn on one
// historical behaviour each, as the seed threads discuss it (facts §8.6, §9). Scenarios run a
// buggy profile and its fixed counterpart and expect a detector to fire for one only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace snplab::model::kvm {

/// How an extended guest request fetches certificates from userspace (facts §8.6).
enum class CertExit : std::uint8_t {
  SnpReqCerts,  ///< merged: KVM_EXIT_SNP_REQ_CERTS {gpa, npages, ret}, ret 0/ENOSPC/EAGAIN/EIO
  VmgExit,      ///< seed (v15): KVM_EXIT_VMGEXIT / KVM_USER_VMGEXIT_REQ_CERTS, NOTIFY_DONE + status
  KernelCerts,  ///< v10: no exit; KVM copies a kernel-held blob (global from /dev/sev)
};
std::string_view to_string(CertExit c);

struct KernelProfile {
  std::string_view name;
  std::string_view summary;  ///< one line: what this profile switches
  std::string_view source;   ///< the thread (or series) the behaviour comes from
  /// SNP_LAUNCH_UPDATE makes a page private without snp_lookup_rmpentry()'s -EEXIST check:
  /// a page already assigned (to this guest or another) is reassigned (facts §9(b)).
  bool launch_update_no_assigned_check = false;
  /// RFC v4 private memory: SNP_LAUNCH_UPDATE pins the page behind `uaddr` and makes THAT
  /// page private at gfn_start (no guest_memfd, no memory attributes): two VMs given the same
  /// user buffer get the same host page (facts §9(b)).
  bool launch_update_pins_uaddr = false;
  /// SNP_LAUNCH_UPDATE's error path reverts every entry of the range, not only the pages
  /// this call converted (RFC v4 24/40; facts §9(b)).
  bool launch_update_revert_all = false;
  /// SNP_LAUNCH_UPDATE derives the GPA from `uaddr` through a memslot lookup (hva->gpa),
  /// reading kvm->memslots with plain loads outside SRCU (RFC v4 24/40 review; facts §9(b)).
  bool launch_update_hva_lookup = false;
  /// How extended guest requests get certificates.
  CertExit cert_exit = CertExit::SnpReqCerts;
  /// KernelCerts only: sev_snp_global_certs_get() reloads the global pointer around
  /// kref_get_unless_zero() (v10 48/50, Sean's reply 2023-10-17; facts §9(a)).
  bool global_certs_reload = false;
  /// A non-SNP guest's extended guest request sets `rc` instead of the exit code, so the
  /// guest is told success (v10 era; facts §9(c)).
  bool nonsnp_guest_req_rc = false;
  /// KVM ORs DEBUG_SWAP (SEV_FEATURES bit 5) into the VMSA features behind the VMM's back
  /// (pre-"allow customizing VMSA features"; facts §9(d)).
  bool force_debug_swap = false;
  /// guest_memfd frees pages (hole punch, last close) without kvm_arch_gmem_invalidate():
  /// a private page goes back to the allocator still assigned in the RMP.
  bool gmem_no_invalidate_hook = false;
  /// SNP_LAUNCH_FINISH syncs and encrypts every VMSA without kvm_lock_all_vcpus(): a vCPU
  /// ioctl can run while its state is synced (6.12 and earlier; upstream cb923ee6a80f).
  bool launch_finish_unlocked_vcpus = false;

  /// /dev/sev has the v10 SNP_SET_EXT_CONFIG (10) / SNP_GET_EXT_CONFIG (11) instead of
  /// SNP_COMMIT (10) / SNP_SET_CONFIG (11) / SNP_VLEK_LOAD (12).
  bool v10_sev_ioctls() const { return cert_exit == CertExit::KernelCerts; }
};

/// One switch: a flag of KernelProfile (or a value of its cert_exit) that selects the old code
/// path of one kernel function, tested where that function is modelled. docs/write-a-race.md
/// adds one.
struct KernelSwitch {
  std::string_view name;             ///< as `snplab profiles` prints it: "launch-update-revert-all"
  bool (*on)(const KernelProfile&);  ///< whether a profile turns it on (its flag, or its cert_exit)
  std::string_view member;           ///< its member name ("launch_update_revert_all")
  std::string_view kernel_function;  ///< the kernel function whose behaviour it changes
  std::string_view model_file;       ///< the model file where that function is, and the flag tested
  std::string_view effect;           ///< what the old code path does
};
/// Every switch, in KernelProfile's order. A test checks that each model_file names its
/// function and tests its flag.
std::span<const KernelSwitch> kernel_switches();

/// Every profile, the default ("upstream") first.
std::span<const KernelProfile> kernel_profiles();
const KernelProfile& default_profile();
/// The profile called `name`; nullptr when there is none.
const KernelProfile* find_profile(std::string_view name);
/// The names of the switches `p` turns on, in kernel_switches() order.
std::string switches_of(const KernelProfile& p);
/// The profiles and the switches as Markdown tables (docs/kvm.md embeds them; a test keeps
/// the copy current).
std::string profiles_markdown();

}  // namespace snplab::model::kvm
