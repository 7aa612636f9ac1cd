// The SEV platform the simulated host drives: the RMP, host memory, the firmware model and the
// detectors, with the host-side services around them that the kernel spreads over several
// files - page allocation (sev_platform.cc), snp_leak_pages() and RMP-checked host writes
// (x86/virt/svm/sev.cc), firmware pages and the v10 global certificates (ccp/sev-dev.cc),
// and SNP ASIDs (kvm/svm/sev.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "snp/model/hw/detectors.h"
#include "snp/model/hw/memory.h"
#include "snp/model/hw/rmp.h"
#include "snp/model/kern/sync.h"
#include "snp/model/psp/firmware.h"

namespace snplab::model::kvm {

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

}  // namespace snplab::model::kvm
