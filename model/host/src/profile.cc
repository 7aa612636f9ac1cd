#include "snp/model/host/profile.h"

#include <array>

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

constexpr KernelProfile make(std::string_view name, std::string_view summary, std::string_view source) {
  KernelProfile p;
  p.name = name;
  p.summary = summary;
  p.source = source;
  return p;
}

constexpr std::array<KernelProfile, 13> kProfiles = [] {
  std::array<KernelProfile, 13> a{};
  a[0] = make("upstream", "current upstream (6.11+ launch, merged KVM_EXIT_SNP_REQ_CERTS)",
              "facts §8; lore v7 \"KVM: SEV: Add KVM_EXIT_SNP_REQ_CERTS\" (2026-01-09)");
  a[1] = make("launch-update-no-assigned-check",
              "SNP_LAUNCH_UPDATE without the already-assigned check (no -EEXIST): the copy into an "
              "assigned guest_memfd page takes an RMP #PF (host-rmp-fault)",
              "[PATCH Part2 RFC v4 24/40] review, Sean Christopherson 2021-07-16 <YPHlt4VCm6b2MZMs@google.com>");
  a[1].launch_update_no_assigned_check = true;
  a[2] = make("launch-update-revert-all", "SNP_LAUNCH_UPDATE's error path reverts every entry of the range",
              "[PATCH Part2 RFC v4 24/40], Brijesh Singh 2021-07-07 <20210707183616.5620-25-brijesh.singh@amd.com>");
  a[2].launch_update_revert_all = true;
  a[3] = make("launch-update-hva-lookup",
              "SNP_LAUNCH_UPDATE translates uaddr to a GPA through the memslots, outside SRCU",
              "[PATCH Part2 RFC v4 24/40] review (\"needs srcu for the hva->gpa lookup\"), 2021-07-16");
  a[3].launch_update_hva_lookup = true;
  a[4] = make("v10-kernel-certs", "certificates held by the kernel: global blob set with /dev/sev SNP_SET_EXT_CONFIG",
              "[PATCH v10 48/50] KVM: SEV: Provide support for SNP_GUEST_REQUEST NAE event, 2023-10-16");
  a[4].cert_exit = CertExit::KernelCerts;
  a[5] = make("v10-global-certs-reload",
              "v10-kernel-certs, and the global getter reloads snp_certs around kref_get_unless_zero()",
              "Sean Christopherson, reply to v10 48/50, 2023-10-17 (TOCTOU in sev_snp_global_certs_get)");
  a[5].cert_exit = CertExit::KernelCerts;
  a[5].global_certs_reload = true;
  a[6] = make("v10-nonsnp-guest-req-rc",
              "v10-kernel-certs, and a non-SNP guest's extended request sets rc, not the exit code",
              "[PATCH v10 48/50] snp_handle_ext_guest_request(): `rc = SEV_RET_INVALID_GUEST; goto e_fail;`");
  a[6].cert_exit = CertExit::KernelCerts;
  a[6].nonsnp_guest_req_rc = true;
  a[7] = make("debug-swap-forced", "KVM ORs DEBUG_SWAP into the VMSA features behind the VMM's back",
              "Paolo Bonzini, \"[PATCH v2 06/11] KVM: SEV: disable DEBUG_SWAP by default\", 2024-02-23");
  a[7].force_debug_swap = true;
  a[8] = make("v15-vmgexit-certs",
              "certificates through the seed KVM_EXIT_VMGEXIT / KVM_USER_VMGEXIT_REQ_CERTS (NOTIFY_DONE, PENDING/DONE)",
              "[PATCH v15 19/20] KVM: SEV: Provide support for SNP_EXTENDED_GUEST_REQUEST NAE event, 2024-05-01");
  a[8].cert_exit = CertExit::VmgExit;
  a[9] = make("gmem-no-invalidate-hook",
              "guest_memfd frees punched or closed pages without the arch invalidate hook (no RMP restore)",
              "guest_memfd as merged for 6.8, before \"KVM: guest_memfd: Add hook for invalidating memory\" "
              "(SNP host series, 6.11); documented choice, docs/kvm.md");
  a[9].gmem_no_invalidate_hook = true;
  a[10] = make("rfc-v4-pinned-no-check",
               "RFC v4 SNP_LAUNCH_UPDATE: pins the page behind uaddr and RMPUPDATEs it with no already-assigned check",
               "[PATCH Part2 RFC v4 24/40], review Sean Christopherson 2021-07-16 <YPHlt4VCm6b2MZMs@google.com>");
  a[10].launch_update_pins_uaddr = true;
  a[10].launch_update_no_assigned_check = true;
  a[11] = make("rfc-v4-pinned", "RFC v4 SNP_LAUNCH_UPDATE on pinned pages, with the already-assigned check (-EEXIST)",
               "the review's fix: snp_lookup_rmpentry() before RMPUPDATE, as upstream's sev_gmem_post_populate()");
  a[11].launch_update_pins_uaddr = true;
  a[12] = make("launch-finish-unlocked-vcpus",
               "SNP_LAUNCH_FINISH syncs and encrypts the VMSAs without locking the vCPUs (6.12): a KVM_SET_REGS "
               "beside it races sev_es_sync_vmsa() (data-race) and its update is lost",
               "Sean Christopherson, \"KVM: SEV: Lock all vCPUs when synchronzing VMSAs for SNP launch finish\", "
               "upstream cb923ee6a80f (2026-03-10, Fixes: ad27ce155566)");
  a[12].launch_finish_unlocked_vcpus = true;
  return a;
}();

}  // namespace

std::span<const KernelProfile> kernel_profiles() { return kProfiles; }
const KernelProfile& default_profile() { return kProfiles[0]; }

const KernelProfile* find_profile(std::string_view name) {
  for (const KernelProfile& p : kProfiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string profiles_markdown() {
  std::string out = "| profile | switches | certificate path | source |\n|---|---|---|---|\n";
  for (const KernelProfile& p : kProfiles) {
    out += fmt::format("| `{}` | {} | {} | {} |\n", p.name, p.summary, to_string(p.cert_exit), p.source);
  }
  return out;
}

}  // namespace snplab::model::kvm
