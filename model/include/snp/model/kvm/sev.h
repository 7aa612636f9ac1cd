// KVM's SEV-SNP glue on the simulated host (arch/x86/kvm/svm/sev.c in kernel style):
// KVM_SEV_INIT2, KVM_SEV_SNP_LAUNCH_START / _UPDATE / _FINISH over the firmware model, the RMP
// model and guest_memfd. Errors are -errno with the firmware status in `*fw_error`, as
// KVM_MEMORY_ENCRYPT_OP reports them (facts §8.3, §9(b)).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "snp/model/detectors.h"
#include "snp/model/kern/sync.h"
#include "snp/model/firmware.h"
#include "snp/model/memory.h"
#include "snp/model/rmp.h"

namespace snplab::model::kvm {

class Vm;
class Host;

/// A certificate blob the kernel holds (v10-kernel-certs profiles: struct sev_snp_certs),
/// refcounted. Never deleted while the host lives, so a use after the last put is seen.
struct SnpCerts {
  SnpCerts(kern::Sched& s, std::vector<std::uint8_t> d) : kref(s, "snp_certs->kref"), data(std::move(d)) {}
  kern::Kref kref;
  std::vector<std::uint8_t> data;
  bool freed = false;
};

/// The platform side the simulated KVM host drives: RMP, memory, firmware, page and ASID
/// allocation. One per Host when SNP is enabled.
class SevPlatform {
 public:
  explicit SevPlatform(std::uint64_t seed);
  /// A copy of the platform's state (Host::snapshot): RMP, memory, firmware, detectors, page
  /// and ASID allocation, certificate blobs. Only ever restore()d from.
  SevPlatform(const SevPlatform& o);
  SevPlatform& operator=(const SevPlatform&) = delete;
  /// Puts back the state of `snap` (a copy of this platform) in place: the RMP, firmware and
  /// every certificate blob that existed then keep their addresses.
  void restore(const SevPlatform& snap);
  Rmp& rmp() { return rmp_; }
  HostMemory& mem() { return mem_; }
  Firmware& fw() { return fw_; }
  Detectors& detectors() { return det_; }

  /// alloc_page()/__free_page(): host pages for guest_memfd, VMSAs and firmware pages.
  Pfn alloc_page();
  void free_page(Pfn pfn);
  /// snp_alloc_firmware_page(): a page in the Firmware state (facts §4.3). 0 on failure.
  Pfn alloc_firmware_page(const OpContext& ctx);
  /// snp_free_firmware_page(): reclaim, make shared, free; a page that will not reclaim leaks.
  void free_firmware_page(Pfn pfn, const OpContext& ctx);
  /// snp_leak_pages(): pages the kernel gives up on (a reclaim or rmp_make_shared failed):
  /// never freed, reported as a leaked-page finding with their provenance. `ctx.op` names the
  /// path that failed.
  void snp_leak_pages(Pfn first, std::uint64_t npages, const OpContext& ctx);
  /// A kernel write through the direct map (memcpy, clear_page) to host page `pfn`: an
  /// RMP-checked host write (facts §3.1, 4K mapping). A page that is not hypervisor-owned
  /// takes an RMP #PF - an oops on a real host: reported to `sched` as "host-rmp-fault"
  /// naming `fn`, the PFN and its RMP entry; nothing is written and false is returned.
  /// `bytes` empty: clear_page().
  bool host_write(kern::Sched& sched, Pfn pfn, std::span<const std::uint8_t> bytes, std::string_view fn);
  /// sev_asid_new(): the lowest free SNP ASID; a WBINVD + SNP_DF_FLUSH recycles decommissioned
  /// ones when none is free. 0 when all are in use (the caller returns -EBUSY).
  std::uint32_t asid_new();
  void asid_free(std::uint32_t asid);
  /// A 2 MiB folio: 512 contiguous pages, the first 2 MiB aligned; returns the first.
  Pfn alloc_huge();
  /// snp_safe_alloc_page(): a page that is not 2 MiB aligned (the VMCB/VMSA erratum, facts §3.3).
  Pfn alloc_safe_page();

  /// v10 profiles: /dev/sev SNP_SET_EXT_CONFIG's certificate blob (empty: remove), published
  /// as psp_master->sev_data->snp_certs under sev_cmd_mutex. `locked`: the fix, the update
  /// under sev->snp_certs_lock, which the fixed getter takes too; v10 had no such lock.
  void set_global_certs(kern::Sched& sched, std::vector<std::uint8_t> blob, bool locked);
  /// sev_snp_global_certs_get(): a referenced blob or nullptr. `reload` is the v10 code: one
  /// plain load used three times, which the compiler may reload around kref_get_unless_zero()
  /// (facts §9(a)); a reference taken on a different object than the one returned is
  /// reported as "kref-reloaded-pointer". Otherwise the fixed getter, under the lock.
  SnpCerts* global_certs_get(kern::Sched& sched, bool reload);
  void certs_put(SnpCerts* c);
  const std::vector<std::uint8_t>* global_certs_peek() const;
  /// When no request is in flight, every certificate blob's count must be what owns it: 1
  /// for the published one (the platform's reference), 0 (released) for the others. More is a
  /// leaked reference ("kref-leak"); a published blob already released was put by someone
  /// who never got it ("kref-freed-while-published"). Reports to `sched`; returns the count.
  int audit_certs(kern::Sched& sched) const;
  /// The VMSA features KVM offers (KVM_X86_SEV_VMSA_FEATURES): DebugSwap.
  static constexpr std::uint64_t kSupportedVmsaFeatures = 1ULL << 5;
  /// The vCPU signature the simulated CPUs report (CPUID 1 EAX; EPYC-Milan).
  static constexpr std::uint32_t kVcpuSignature = 0xA00F11;

 private:
  Rmp rmp_;
  HostMemory mem_;
  Firmware fw_;
  Detectors det_;
  Pfn next_pfn_ = 0x100000;  // 4 GiB: host pages handed out upwards
  std::vector<Pfn> free_;
  std::vector<bool> asid_used_;
  std::vector<std::unique_ptr<SnpCerts>> certs_objs_;
  std::unique_ptr<kern::Shared<SnpCerts*>> global_certs_;
  std::unique_ptr<kern::Mutex> certs_lock_;  ///< the fix: taken by the getter and the update
};

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
};
struct SnpLaunchUpdateArgs {  // in/out: progress is handed back (facts §8.3)
  std::uint64_t gfn_start = 0;
  std::uint64_t uaddr = 0;
  std::uint64_t len = 0;
  std::uint8_t type = 0;
  std::uint16_t flags = 0;
  bool pad_nonzero = false;
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
};

int sev_init2(Vm& vm, const SevInit2Args& a, std::uint32_t* fw_error);
int snp_launch_start(Vm& vm, const SnpLaunchStartArgs& a, std::uint32_t* fw_error);
int snp_launch_update(Vm& vm, SnpLaunchUpdateArgs& a, std::uint32_t* fw_error);
int snp_launch_finish(Vm& vm, const SnpLaunchFinishArgs& a, std::uint32_t* fw_error);
int snp_enable_req_certs(Vm& vm);

/// GHCB results of the guest-request events (facts §7.1, §7.3).
inline constexpr std::uint64_t kGhcbMalformedInput = 2;     ///< SW_EXITINFO1
inline constexpr std::uint64_t kGhcbErrMissingInput = 4;    ///< SW_EXITINFO2 with it
inline constexpr std::uint32_t kVmmErrInvalidLen = 1, kVmmErrBusy = 2, kVmmErrGeneric = 0xFFFFFFFFU;
/// SNP_GUEST_ERR(vmm_err, fw_err): what SW_EXITINFO2 carries back to the guest.
constexpr std::uint64_t snp_guest_err(std::uint32_t vmm, std::uint32_t fw) {
  return (std::uint64_t{vmm} << 32) | fw;
}
/// __snp_handle_guest_req(): the request page copied in, SNP_GUEST_REQUEST, the response
/// copied back. 0 with `*fw_err` (0 or the firmware status), or -errno for a failure that
/// is not the firmware's (KVM_RUN then fails).
int snp_issue_guest_req(Vm& vm, Gpa req_gpa, Gpa resp_gpa, std::uint32_t* fw_err);

/// VM teardown (sev_vm_destroy): decommission, free the context, reclaim every private page.
void sev_vm_destroy(Vm& vm);
/// sev_gmem_invalidate(): guest_memfd pages leave the guest; private ones go back to the
/// hypervisor through SNP_PAGE_RECLAIM + RMPUPDATE, then to the page allocator.
void sev_gmem_invalidate(Vm& vm, const std::vector<Pfn>& pfns);

}  // namespace snplab::model::kvm
