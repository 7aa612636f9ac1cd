// KVM's SEV-SNP glue on the simulated host (arch/x86/kvm/svm/sev.c in kernel style):
// KVM_SEV_INIT2, KVM_SEV_SNP_LAUNCH_START / _UPDATE / _FINISH over the firmware model, the RMP
// model and guest_memfd. Errors are -errno with the firmware status in `*fw_error`, as
// KVM_MEMORY_ENCRYPT_OP reports them (facts §8.3, §9(b)).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "snp/model/guest/vcpu.h"
#include "snp/model/host/sev_platform.h"
#include "snp/model/hw/rmp.h"
#include "snp/uapi/uapi.h"

namespace snplab::model::kvm {

class Vm;
class Host;
struct Memslot;

/// KVM's per-VM SEV state (struct kvm_sev_info).
struct SevVmState {
  bool active = false;
  bool es_active = false;  ///< SEV-ES or SNP (sev->es_active)
  std::uint32_t asid = 0;
  std::uint64_t vmsa_features = 0;
  std::uint16_t ghcb_version = 0;
  Pfn gctx = 0;  ///< snp_context: the context page (0: none)
  bool finished = false;
  /// Each vCPU's VMSA page, in vCPU order: allocated with the vCPU (sev_es_vcpu_create, a
  /// hypervisor page until LAUNCH_FINISH makes it the guest's).
  std::vector<Pfn> vmsas;
  /// vcpu->arch.guest_state_protected of each vCPU, in vCPU order: its VMSA was encrypted by
  /// LAUNCH_FINISH; KVM_GET/SET_REGS are refused and the VMSA is never synced again.
  std::vector<bool> guest_state_protected;
  Pfn guest_req_buf = 0;   ///< the kernel's copy of a guest request (hypervisor page)
  Pfn guest_resp_buf = 0;  ///< the firmware's response page (Firmware state)
  bool req_certs = false;  ///< KVM_SEV_SNP_ENABLE_REQ_CERTS was issued
};


// The command structs, decoded (the uAPI's fields; `pad_nonzero` folds the padding checks).
struct SevInit2Args {
  std::uint64_t vmsa_features = 0;
  std::uint32_t flags = 0;
  std::uint16_t ghcb_version = 0;
  bool pad_nonzero = false;
};
struct SnpLaunchStartArgs {
  std::uint64_t policy = 0;
  std::array<std::uint8_t, 16> gosvw{};
  std::uint16_t flags = 0;
  bool pad_nonzero = false;
  /// kvm_sev_cmd.sev_fd names an open /dev/sev: the firmware commands this ioctl issues go
  /// through that file (__sev_issue_cmd(argp->sev_fd, ...)), and fail EBADF without one.
  bool sev_fd_ok = true;
};
struct SnpLaunchUpdateArgs {  // in/out: progress is handed back (facts §8.3)
  std::uint64_t gfn_start = 0;
  std::uint64_t uaddr = 0;
  std::uint64_t len = 0;
  std::uint8_t type = 0;
  std::uint16_t flags = 0;
  bool pad_nonzero = false;
  /// kvm_sev_cmd.sev_fd names an open /dev/sev: the firmware commands this ioctl issues go
  /// through that file (__sev_issue_cmd(argp->sev_fd, ...)), and fail EBADF without one.
  bool sev_fd_ok = true;
};
struct SnpLaunchFinishArgs {
  std::uint64_t id_block_uaddr = 0;
  std::uint64_t id_auth_uaddr = 0;
  bool id_block_en = false;
  bool auth_key_en = false;
  bool vcek_disabled = false;
  std::array<std::uint8_t, 32> host_data{};
  std::uint16_t flags = 0;
  bool pad_nonzero = false;
  /// kvm_sev_cmd.sev_fd names an open /dev/sev: the firmware commands this ioctl issues go
  /// through that file (__sev_issue_cmd(argp->sev_fd, ...)), and fail EBADF without one.
  bool sev_fd_ok = true;
};

/// KVM_MEMORY_ENCRYPT_OP (sev_mem_enc_ioctl(), under kvm->lock held by the caller): the
/// command `cmd.id` with its struct at the caller's pointer `cmd.data`; 0 or -errno, with the
/// firmware status in `cmd.error`. `*why`, when given, says why a refusal the kernel makes
/// silently was made (SEV disabled, not an SEV guest, a command the model does not have).
/// `sev_fd_is_dev_sev`: what the caller's fd table says of cmd.sev_fd (the sim adapter
/// resolves it; model-level callers have no fds and pass true).
int sev_mem_enc_ioctl(Vm& vm, uapi::kvm_sev_cmd& cmd, std::string_view* why = nullptr, bool sev_fd_is_dev_sev = true);
int sev_init2(Vm& vm, const SevInit2Args& a, std::uint32_t* fw_error);
int snp_launch_start(Vm& vm, const SnpLaunchStartArgs& a, std::uint32_t* fw_error);
int snp_launch_update(Vm& vm, SnpLaunchUpdateArgs& a, std::uint32_t* fw_error);
int snp_launch_finish(Vm& vm, const SnpLaunchFinishArgs& a, std::uint32_t* fw_error);
int snp_enable_req_certs(Vm& vm);

/// SNP_GUEST_ERR(vmm_err, fw_err): what SW_EXITINFO2 carries back to the guest.
constexpr std::uint64_t snp_guest_err(std::uint32_t vmm, std::uint32_t fw) {
  return (std::uint64_t{vmm} << 32) | fw;
}
/// __snp_handle_guest_req(): the request page copied in, SNP_GUEST_REQUEST, the response
/// copied back. 0 with `*fw_err` (0 or the firmware status), or -errno for a failure that
/// is not the firmware's (KVM_RUN then fails).
int snp_issue_guest_req(Vm& vm, Gpa req_gpa, Gpa resp_gpa, std::uint32_t* fw_err);

/// sev_gmem_prepare(): guest_memfd's prepare hook on a private fault. A page not yet assigned
/// becomes the guest's (Guest-Invalid: the guest must PVALIDATE it before use); an assigned one
/// is left as it is (facts §8.5). A whole 2 MiB folio whose GPA range is private and
/// unassigned gets one 2M entry, else 4K.
void sev_gmem_prepare(Vm& vm, const Memslot& slot, Gpa gfn, Pfn pfn);
/// VM teardown (sev_vm_destroy): decommission, free the context, reclaim every private page.
void sev_vm_destroy(Vm& vm);
/// sev_gmem_invalidate(): guest_memfd pages leave the guest; private ones go back to the
/// hypervisor through SNP_PAGE_RECLAIM + RMPUPDATE, then to the page allocator.
void sev_gmem_invalidate(Vm& vm, const std::vector<Pfn>& pfns);

}  // namespace snplab::model::kvm
