#include "snp/model/host/profile.h"

#include <array>
#include <initializer_list>

#include <fmt/format.h>

namespace snplab::model::kvm {

std::string_view to_string(CertExit c) {
  switch (c) {
    case CertExit::SnpReqCerts: return "KVM_EXIT_SNP_REQ_CERTS";
    case CertExit::VmgExit: return "KVM_EXIT_VMGEXIT";
    case CertExit::KernelCerts: return "kernel-held certs";
  }
  return "?";
}

namespace {

/// One row of the profile table: its name, what it models, where it comes from, the switches
/// it turns on and its certificate path.
constexpr KernelProfile make(std::string_view name, std::string_view summary, std::string_view source,
                             std::initializer_list<bool KernelProfile::*> on = {},
                             CertExit certs = CertExit::SnpReqCerts) {
  KernelProfile p;
  p.name = name;
  p.summary = summary;
  p.source = source;
  for (bool KernelProfile::*flag : on) p.*flag = true;
  p.cert_exit = certs;
  return p;
}

constexpr auto kSwitches = std::to_array<KernelSwitch>({
    {"launch-update-no-assigned-check", [](const KernelProfile& p) { return p.launch_update_no_assigned_check; },
     "launch_update_no_assigned_check", "sev_gmem_post_populate()", "model/host/src/kvm/svm/sev.cc",
     "no snp_lookup_rmpentry() check before making the page private: an assigned page is reassigned"},
    {"launch-update-pins-uaddr", [](const KernelProfile& p) { return p.launch_update_pins_uaddr; },
     "launch_update_pins_uaddr",
     "snp_launch_update()", "model/host/src/kvm/svm/sev.cc",
     "RFC v4: pins the page behind uaddr and makes it private at gfn_start (no guest_memfd)"},
    {"launch-update-revert-all", [](const KernelProfile& p) { return p.launch_update_revert_all; },
     "launch_update_revert_all",
     "snp_launch_update()", "model/host/src/kvm/svm/sev.cc",
     "the error path reverts every entry of the range, not only the pages this call converted"},
    {"launch-update-hva-lookup", [](const KernelProfile& p) { return p.launch_update_hva_lookup; },
     "launch_update_hva_lookup",
     "snp_launch_update()", "model/host/src/kvm/svm/sev.cc",
     "the GPA comes from uaddr through a memslot lookup, kvm->memslots read outside SRCU"},
    {"global-certs-reload", [](const KernelProfile& p) { return p.global_certs_reload; }, "global_certs_reload",
     "sev_snp_global_certs_get()", "model/host/src/ccp/sev-dev.cc",
     "the global snp_certs pointer is loaded again after kref_get_unless_zero()"},
    {"nonsnp-guest-req-rc", [](const KernelProfile& p) { return p.nonsnp_guest_req_rc; }, "nonsnp_guest_req_rc",
     "snp_handle_ext_guest_request()", "model/host/src/kvm/svm/sev_guest_req.cc",
     "a non-SNP guest's extended request sets rc, not the exit code: the guest sees success"},
    {"force-debug-swap", [](const KernelProfile& p) { return p.force_debug_swap; }, "force_debug_swap", "sev_init2()",
     "model/host/src/kvm/svm/sev.cc", "DEBUG_SWAP is ORed into the VMSA features behind the VMM's back"},
    {"gmem-no-invalidate-hook", [](const KernelProfile& p) { return p.gmem_no_invalidate_hook; },
     "gmem_no_invalidate_hook",
     "kvm_gmem_free_folio()", "model/host/src/kvm/guest_memfd.cc",
     "freed guest_memfd pages skip kvm_arch_gmem_invalidate(): they stay assigned in the RMP"},
    {"launch-finish-unlocked-vcpus", [](const KernelProfile& p) { return p.launch_finish_unlocked_vcpus; },
     "launch_finish_unlocked_vcpus",
     "snp_launch_update_vmsa()", "model/host/src/kvm/svm/sev.cc",
     "the VMSAs are synced and measured without kvm_lock_all_vcpus()"},
    {"vmgexit-certs", [](const KernelProfile& p) { return p.cert_exit == CertExit::VmgExit; }, "CertExit::VmgExit",
     "snp_handle_ext_guest_req()", "model/host/src/kvm/svm/sev_guest_req.cc",
     "cert_exit = VmgExit: certificates through the seed's KVM_EXIT_VMGEXIT (REQ_CERTS, NOTIFY_DONE)"},
    {"kernel-certs", [](const KernelProfile& p) { return p.cert_exit == CertExit::KernelCerts; },
     "CertExit::KernelCerts", "snp_handle_ext_guest_req()", "model/host/src/kvm/svm/sev_guest_req.cc",
     "cert_exit = KernelCerts: KVM copies the kernel-held certificate blob, no exit to userspace"},
    {"v10-sev-ioctls", [](const KernelProfile& p) { return p.v10_sev_ioctls(); }, "v10_sev_ioctls()", "sev_ioctl()",
     "model/host/src/ccp/sev-dev.cc",
     "with cert_exit = KernelCerts: /dev/sev numbers 10/11 are SNP_SET_EXT_CONFIG/SNP_GET_EXT_CONFIG"},
});

constexpr auto kProfiles = std::to_array<KernelProfile>({
    make("upstream", "current upstream (6.11+ launch, merged KVM_EXIT_SNP_REQ_CERTS)",
         "facts §8; \"KVM: SEV: Add KVM_EXIT_SNP_REQ_CERTS\" v7, 2026-01-09"),
    make("launch-update-no-assigned-check",
         "SNP_LAUNCH_UPDATE without the already-assigned check (no -EEXIST): the copy into an "
         "assigned guest_memfd page takes an RMP #PF (host-rmp-fault)",
         "[PATCH Part2 RFC v4 24/40] review, https://lore.kernel.org/r/YPHlt4VCm6b2MZMs@google.com",
         {&KernelProfile::launch_update_no_assigned_check}),
    make("launch-update-revert-all", "SNP_LAUNCH_UPDATE's error path reverts every entry of the range",
         "[PATCH Part2 RFC v4 24/40], https://lore.kernel.org/r/20210707183616.5620-25-brijesh.singh@amd.com",
         {&KernelProfile::launch_update_revert_all}),
    make("launch-update-hva-lookup",
         "SNP_LAUNCH_UPDATE translates uaddr to a GPA through the memslots, outside SRCU",
         "[PATCH Part2 RFC v4 24/40] review (\"needs srcu for the hva->gpa lookup\"), "
         "https://lore.kernel.org/r/YPHlt4VCm6b2MZMs@google.com",
         {&KernelProfile::launch_update_hva_lookup}),
    make("v10-kernel-certs", "certificates held by the kernel: global blob set with /dev/sev SNP_SET_EXT_CONFIG",
         "[PATCH v10 48/50] KVM: SEV: Provide support for SNP_GUEST_REQUEST NAE event, "
         "https://lore.kernel.org/r/20231016132819.1002933-49-michael.roth@amd.com",
         {}, CertExit::KernelCerts),
    make("v10-global-certs-reload",
         "v10-kernel-certs, and the global getter reloads snp_certs around kref_get_unless_zero()",
         "Sean Christopherson's reply to v10 48/50 (TOCTOU in sev_snp_global_certs_get), "
         "https://lore.kernel.org/r/ZS614OSoritrE1d2@google.com",
         {&KernelProfile::global_certs_reload}, CertExit::KernelCerts),
    make("v10-nonsnp-guest-req-rc",
         "v10-kernel-certs, and a non-SNP guest's extended request sets rc, not the exit code",
         "[PATCH v10 48/50] snp_handle_ext_guest_request(): `rc = SEV_RET_INVALID_GUEST; goto e_fail;`, "
         "https://lore.kernel.org/r/20231016132819.1002933-49-michael.roth@amd.com",
         {&KernelProfile::nonsnp_guest_req_rc}, CertExit::KernelCerts),
    make("debug-swap-forced", "KVM ORs DEBUG_SWAP into the VMSA features behind the VMM's back",
         "Paolo Bonzini, [PATCH v2 06/11] KVM: SEV: disable DEBUG_SWAP by default, "
         "https://lore.kernel.org/r/20240223104009.632194-7-pbonzini@redhat.com",
         {&KernelProfile::force_debug_swap}),
    make("v15-vmgexit-certs",
         "certificates through the seed KVM_EXIT_VMGEXIT / KVM_USER_VMGEXIT_REQ_CERTS (NOTIFY_DONE, PENDING/DONE)",
         "[PATCH v15 19/20] KVM: SEV: Provide support for SNP_EXTENDED_GUEST_REQUEST NAE event, "
         "https://lore.kernel.org/r/20240501085210.2213060-20-michael.roth@amd.com",
         {}, CertExit::VmgExit),
    make("gmem-no-invalidate-hook",
         "guest_memfd frees punched or closed pages without the arch invalidate hook (no RMP restore)",
         "guest_memfd as merged for 6.8, before [PATCH v11 05/35] KVM: guest_memfd: Add hook for invalidating "
         "memory, https://lore.kernel.org/r/20231230172351.574091-6-michael.roth@amd.com (a90764f0e4ed); "
         "documented choice, docs/kvm.md",
         {&KernelProfile::gmem_no_invalidate_hook}),
    make("rfc-v4-pinned-no-check",
         "RFC v4 SNP_LAUNCH_UPDATE: pins the page behind uaddr and RMPUPDATEs it with no already-assigned check",
         "[PATCH Part2 RFC v4 24/40], review https://lore.kernel.org/r/YPHlt4VCm6b2MZMs@google.com",
         {&KernelProfile::launch_update_pins_uaddr, &KernelProfile::launch_update_no_assigned_check}),
    make("rfc-v4-pinned", "RFC v4 SNP_LAUNCH_UPDATE on pinned pages, with the already-assigned check (-EEXIST)",
         "the review's fix (https://lore.kernel.org/r/YPHlt4VCm6b2MZMs@google.com): snp_lookup_rmpentry() before "
         "RMPUPDATE, as upstream's sev_gmem_post_populate()",
         {&KernelProfile::launch_update_pins_uaddr}),
    make("launch-finish-unlocked-vcpus",
         "SNP_LAUNCH_FINISH syncs and encrypts the VMSAs without locking the vCPUs (6.12): a KVM_SET_REGS "
         "beside it races sev_es_sync_vmsa() (data-race) and its update is lost",
         "Sean Christopherson, \"KVM: SEV: Lock all vCPUs when synchronzing VMSAs for SNP launch finish\", "
         "upstream cb923ee6a80f, https://lore.kernel.org/r/20260310234829.2608037-6-seanjc@google.com",
         {&KernelProfile::launch_finish_unlocked_vcpus}),
});


}  // namespace

std::span<const KernelProfile> kernel_profiles() { return kProfiles; }
const KernelProfile& default_profile() { return kProfiles[0]; }

const KernelProfile* find_profile(std::string_view name) {
  for (const KernelProfile& p : kProfiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::span<const KernelSwitch> kernel_switches() { return kSwitches; }

std::string switches_of(const KernelProfile& p) {
  std::string out;
  for (const KernelSwitch& s : kSwitches) {
    if (s.on(p)) out += fmt::format("{}{}", out.empty() ? "" : ", ", s.name);
  }
  return out;
}

std::string profiles_markdown() {
  std::string out = "| profile | switches | what it models | certificate path | source |\n|---|---|---|---|---|\n";
  for (const KernelProfile& p : kProfiles) {
    const std::string sw = switches_of(p);
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", p.name, sw.empty() ? "-" : sw, p.summary,
                       to_string(p.cert_exit), p.source);
  }
  out += "\n| switch | flag | kernel function | modelled in | the old code path |\n|---|---|---|---|---|\n";
  for (const KernelSwitch& s : kSwitches) {
    out += fmt::format("| `{}` | `{}` | `{}` | `{}` | {} |\n", s.name, s.member, s.kernel_function, s.model_file,
                       s.effect);
  }
  return out;
}

}  // namespace snplab::model::kvm
