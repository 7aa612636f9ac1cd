#include "snp/model/host/kvm/svm/sev.h"

#include <array>
#include <cerrno>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "snp/model/hw/access.h"
#include "snp/model/base/assert.h"
#include "snp/model/psp/fw_rmp.h"
#include "snp/model/host/x86/sev.h"
#include "snp/model/hw/rmp_insn.h"
#include "snp/model/measure/measure.h"
#include "snp/model/host/kvm_host.h"
#include "snp/model/measure/vmsa.h"
#include "snp/model/base/bytes.h"
#include "snp/uapi/uapi.h"

namespace snplab::model::kvm {

namespace {

constexpr std::uint16_t kGhcbVersionMax = 2, kGhcbVersionDefault = 2;
constexpr std::uint64_t kSnpActive = 1;  // SEV_FEATURES bit 0
constexpr std::uint64_t kDebugSwap = 1ULL << 5;  // SEV_FEATURES bit 5 (DebugSwap)
/// SNP_POLICY_MASK_VALID: bits 0-17, 19, 20 (facts §4.7).
constexpr std::uint64_t kPolicyMaskValid = 0x3FFFFULL | (1ULL << 19) | (1ULL << 20);
constexpr std::uint64_t kPolicyRsvdMbo = 1ULL << 17;
constexpr std::uint64_t kPolicySmt = 1ULL << 16, kPolicySingleSocket = 1ULL << 20;  // facts §4.7
constexpr Gpa kInitialVmsaGpa = 0xFFFFFFFFF000ULL;  // facts §5.3
constexpr std::uint8_t kPageTypeNormal = 1, kPageTypeVmsa = 2, kPageTypeZero = 3, kPageTypeUnmeasured = 4,
                        kPageTypeSecrets = 5, kPageTypeCpuid = 6;
/// Below this many NORMAL pages per call the parallel pre-hash is not worth starting.
constexpr std::uint64_t kHintMinPages = 64;

bool is_snp(const Vm& vm) { return vm.type() == kVmSnp; }

OpContext ctx_for(const Vm& vm, std::string_view op) { return OpContext{op, static_cast<VmId>(vm.id())}; }

/// snp_page_reclaim() / kvm_rmp_make_shared(): SNP_PAGE_RECLAIM, then back to the
/// hypervisor; a page for which either fails is leaked (snp_leak_pages), the VM is killed
/// (KVM_BUG) and -EIO returned.
int snp_page_reclaim(Vm& vm, Pfn pfn, const OpContext& ctx) {
  const kern::FunctionScope fs(vm.host().sched(), "snp_page_reclaim");
  SevPlatform* sev = vm.host().sev();
  const FwStatus st = sev->fw().snp_page_reclaim(pfn_to_spa(pfn), PageSize::Size4K, ctx);
  const RmpStatus shared = st == FwStatus::Success ? rmp_make_shared(sev->rmp(), pfn, PageSize::Size4K, ctx)
                                                   : RmpStatus::FailInput;
  if (st != FwStatus::Success || shared != RmpStatus::Success) {
    sev->snp_leak_pages(pfn, 1, OpContext{"snp_page_reclaim", ctx.vm, ctx.call, true});
    vm.kvm_vm_bugged(st != FwStatus::Success ? "snp_page_reclaim" : "kvm_rmp_make_shared",
                     st != FwStatus::Success
                         ? fmt::format("Failed to reclaim PFN 0x{:x}, fw_err {}", pfn, to_string(st))
                         : fmt::format("rmp_make_shared(PFN 0x{:x}) failed: {}", pfn, to_string(shared)));
    return -EIO;
  }
  return 0;
}

FwStatus fw(std::uint32_t* out, FwStatus st) {
  if (out != nullptr) *out = static_cast<std::uint32_t>(st);
  return st;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// ASIDs (sev_asid_new / sev_asid_free)

std::uint32_t SevPlatform::asid_new() {
  for (int round = 0; round < 2; ++round) {
    for (std::uint32_t a = 1; a < asid_used_.size(); ++a) {
      if (!asid_used_[a] && !fw_.asid_dirty(a)) {
        asid_used_[a] = true;
        return a;
      }
    }
    // sev_flush_asids(): WBINVD on every CPU, then SNP_DF_FLUSH, and try again.
    fw_.note_wbinvd_all_cpus();
    (void)fw_.snp_df_flush();
  }
  return 0;
}

void SevPlatform::asid_free(std::uint32_t asid) {
  if (asid < asid_used_.size()) asid_used_[asid] = false;
}

// ---------------------------------------------------------------------------------------
// KVM_SEV_INIT2 (sev_guest_init2 / __sev_guest_init)

int sev_init2(Vm& vm, const SevInit2Args& a, std::uint32_t* fw_error) {
  const kern::FunctionScope fs(vm.host().sched(), "sev_guest_init2");
  if (fw_error != nullptr) *fw_error = 0;
  SevPlatform* sev = vm.host().sev();
  if (sev == nullptr) return -ENOTTY;
  if (!vm.is_sev_type()) return -EINVAL;
  SevVmState& s = vm.sev();
  if (vm.vcpu_count() != 0) return -EINVAL;  // before any vCPU exists
  if (a.flags != 0) return -EINVAL;  // 6.12 checks flags only; the padding is ignored
  if ((a.vmsa_features & ~SevPlatform::kSupportedVmsaFeatures) != 0) return -EINVAL;
  if (a.ghcb_version > kGhcbVersionMax) return -EINVAL;
  if (vm.type() == kVmSev && (a.ghcb_version != 0 || a.vmsa_features != 0)) return -EINVAL;
  if (s.active) return -EINVAL;
  const std::uint32_t asid = sev->asid_new();
  if (asid == 0) return -EBUSY;
  if (sev->fw().platform_state() == PlatformState::Uninit) {
    if (FwStatus st = sev->fw().snp_init(); st != FwStatus::Success) {
      fw(fw_error, st);
      sev->asid_free(asid);
      return -EIO;
    }
  }
  // --- point of no return ---
  s.active = true;
  s.es_active = vm.type() != kVmSev;
  s.asid = asid;
  // The VMM's features exactly, plus SNP_ACTIVE for SNP: nothing added behind its back
  // (facts §9(d)).
  s.vmsa_features = a.vmsa_features | (is_snp(vm) ? kSnpActive : 0);
  if (s.es_active && vm.host().config().profile.force_debug_swap) {
    s.vmsa_features |= kDebugSwap;  // debug_swap=1 module default, behind the VMM's back (facts §9(d))
  }
  s.ghcb_version = s.es_active && a.ghcb_version == 0 ? kGhcbVersionDefault : a.ghcb_version;
  return 0;
}

// ---------------------------------------------------------------------------------------
// KVM_SEV_SNP_LAUNCH_START (snp_launch_start / snp_context_create / snp_bind_asid)

int snp_launch_start(Vm& vm, const SnpLaunchStartArgs& a, std::uint32_t* fw_error) {
  const kern::FunctionScope fs(vm.host().sched(), "snp_launch_start");
  if (fw_error != nullptr) *fw_error = 0;
  SevPlatform* sev = vm.host().sev();
  SevVmState& s = vm.sev();
  if (sev == nullptr || !is_snp(vm) || !s.active) return -ENOTTY;
  if (s.gctx != 0) return -EINVAL;  // one context per VM
  if (a.flags != 0) return -EINVAL;  // 6.12 checks flags only; the padding is ignored
  if ((a.policy & ~kPolicyMaskValid) != 0 || (a.policy & kPolicyRsvdMbo) == 0) return -EINVAL;
  // 6.12 also insists on SMT allowed (KVM does not know whether the host runs SMT) and refuses
  // SINGLE_SOCKET (it cannot guarantee it).
  if ((a.policy & kPolicySmt) == 0 || (a.policy & kPolicySingleSocket) != 0) return -EINVAL;
  // snp_context_create(): SNP_GCTX_CREATE through kvm_sev_cmd.sev_fd; with no /dev/sev there
  // it fails (EBADF), no context is made, and snp_launch_start() answers ENOTTY.
  if (!a.sev_fd_ok) return -ENOTTY;
  const OpContext ctx = ctx_for(vm, "KVM_SEV_SNP_LAUNCH_START");
  const Pfn gctx = sev->alloc_firmware_page(ctx);
  if (gctx == 0) return -ENOMEM;
  Firmware& f = sev->fw();
  if (FwStatus st = f.snp_gctx_create(pfn_to_spa(gctx), ctx); st != FwStatus::Success) {
    fw(fw_error, st);
    sev->free_firmware_page(gctx, ctx);
    return -EIO;
  }
  SnpLaunchStartCmd cmd;
  cmd.gctx_paddr = pfn_to_spa(gctx);
  cmd.policy = a.policy;
  cmd.gosvw = a.gosvw;
  FwStatus st = f.snp_launch_start(cmd);
  if (st == FwStatus::Success) st = f.snp_activate(pfn_to_spa(gctx), s.asid);
  if (st != FwStatus::Success) {
    fw(fw_error, st);
    (void)f.snp_decommission(pfn_to_spa(gctx), ctx);
    sev->free_firmware_page(gctx, ctx);
    return -EIO;
  }
  // snp_context_create(): the guest-request bounce pages, kept for the VM's life.
  s.guest_req_buf = sev->alloc_page();
  s.guest_resp_buf = sev->alloc_firmware_page(ctx);
  s.gctx = gctx;
  return 0;
}

int snp_enable_req_certs(Vm& vm) {
  // KVM_SEV_SNP_ENABLE_REQ_CERTS (facts §8.3): SNP VMs only, before any vCPU exists. The
  // errno for breaking either rule is not in the facts: EINVAL, as the neighbours use.
  if (!is_snp(vm) || !vm.sev().active) return -EINVAL;
  if (vm.vcpu_count() != 0) return -EINVAL;
  if (vm.host().config().profile.cert_exit != CertExit::SnpReqCerts) return -EINVAL;  // not in that kernel
  vm.sev().req_certs = true;
  return 0;
}

int snp_issue_guest_req(Vm& vm, Gpa req_gpa, Gpa resp_gpa, std::uint32_t* fw_err) {
  const kern::FunctionScope fs(vm.host().sched(), "snp_issue_guest_req");
  *fw_err = 0;
  SevPlatform* sev = vm.host().sev();
  SevVmState& s = vm.sev();
  if (sev == nullptr || s.gctx == 0 || s.guest_resp_buf == 0) return -EINVAL;
  kern::Guard lock(vm.guest_req_mutex());
  std::array<std::uint8_t, kPageSize> page{};
  if (!vm.read_guest(req_gpa, page)) return -EIO;
  sev->mem().write(pfn_to_spa(s.guest_req_buf), page);
  const FwStatus st = sev->fw().snp_guest_request(pfn_to_spa(s.gctx), pfn_to_spa(s.guest_req_buf),
                                                  pfn_to_spa(s.guest_resp_buf));
  if (st != FwStatus::Success) {
    *fw_err = static_cast<std::uint32_t>(st);
    return 0;
  }
  sev->mem().read(pfn_to_spa(s.guest_resp_buf), page);
  if (!vm.write_guest(resp_gpa, page)) return -EIO;
  return 0;
}

// ---------------------------------------------------------------------------------------
// KVM_SEV_SNP_LAUNCH_UPDATE (snp_launch_update / kvm_gmem_populate / sev_gmem_post_populate)

namespace {

/// The parallel pre-hash - not kernel behaviour, a simulator speed-up: the firmware will
/// SHA-384 every NORMAL page a call copies in; the source pages are hashed here on all cores
/// first, and each digest goes to the firmware as a hint it uses only if neither the source
/// page (before the copy) nor the guest page (after it) was written in between. Same result.
struct SourceHints {
  std::uint64_t uaddr = 0;
  std::vector<Sha384Digest> digests;
  std::vector<std::uint64_t> src_gens;  ///< each source page's generation when hashed

  void prehash(Vm& vm, std::uint64_t src, std::uint64_t npages) {
    if (npages < kHintMinPages) return;
    std::vector<std::uint8_t> bytes(npages << kPageShift);
    if (!vm.host().user().copy_from(src, bytes)) return;
    uaddr = src;
    src_gens.resize(npages);
    for (std::uint64_t i = 0; i < npages; ++i) src_gens[i] = vm.host().user().generation(src + (i << kPageShift));
    digests.resize(npages);
    sha384_pages_parallel(bytes, digests);
  }
  /// The digest of the source page at `src_addr` if it was hashed and not written since.
  const Sha384Digest* find(Vm& vm, std::uint64_t src_addr) const {
    if (digests.empty() || src_addr < uaddr) return nullptr;
    const std::uint64_t i = (src_addr - uaddr) >> kPageShift;
    if (i >= digests.size() || vm.host().user().generation(src_addr) != src_gens[i]) return nullptr;
    return &digests[i];
  }
};

/// struct sev_gmem_populate_args: what sev_gmem_post_populate() needs besides the page.
struct SevGmemPopulateArgs {
  std::uint8_t type = 0;
  std::uint32_t fw_error = 0;
  OpContext ctx;
  OpContext err_ctx;  ///< the error path: may undo only this call's conversions
  SourceHints hints;  ///< not kernel state (above)
};

/// What SNP_LAUNCH_UPDATE puts into guest page `pfn` before the firmware measures it: the
/// source page at `src_addr` (copy_from_user through the kernel's mapping), or zeroes for a
/// ZERO page - an RMP-checked host write by `fn`. On success `*hint`/`*hint_gen` are the
/// pre-hash to pass on (nullptr/0: none). false: the source is unreadable or the write faulted.
bool fill_launch_page(Vm& vm, Pfn pfn, bool zero, std::uint64_t src_addr, const SourceHints& hints,
                      std::string_view fn, const Sha384Digest** hint, std::uint64_t* hint_gen) {
  SevPlatform* sev = vm.host().sev();
  *hint = nullptr;
  *hint_gen = 0;
  if (zero) return sev->host_write(vm.host().sched(), pfn, {}, fn);
  const Sha384Digest* found = hints.find(vm, src_addr);
  std::array<std::uint8_t, kPageSize> buf{};
  if (!vm.host().user().copy_from(src_addr, buf) || !sev->host_write(vm.host().sched(), pfn, buf, fn)) return false;
  if (found != nullptr) {
    *hint = found;
    *hint_gen = sev->mem().generation(pfn);
  }
  return true;
}

/// The failing page of a firmware LAUNCH_UPDATE: reclaimed and made shared (or leaked). A
/// CPUID page the firmware refused holds the values it expected: handed back to userspace
/// once it is the hypervisor's again.
void launch_update_fw_failed(Vm& vm, Pfn pfn, std::uint8_t type, FwStatus st, std::uint64_t src,
                             const OpContext& err_ctx) {
  if (snp_page_reclaim(vm, pfn, err_ctx) == 0 && type == kPageTypeCpuid && st == FwStatus::InvalidParam) {
    std::array<std::uint8_t, kPageSize> buf{};
    vm.host().sev()->mem().read(pfn_to_spa(pfn), buf);
    (void)vm.host().user().copy_to(src, buf);
  }
}

/// SNP_LAUNCH_UPDATE of one page already private at `gfn`: the firmware command, with the
/// pre-hash hint when it is still good. FwStatus::Success or the firmware's failure.
FwStatus launch_update_page(Vm& vm, Pfn pfn, std::uint8_t type, const Sha384Digest* hint, std::uint64_t hint_gen,
                            const OpContext& ctx) {
  SnpLaunchUpdateCmd cmd;
  cmd.gctx_paddr = pfn_to_spa(vm.sev().gctx);
  cmd.page_type = type;
  cmd.address = pfn_to_spa(pfn);
  if (hint != nullptr && hint_gen != 0) {
    cmd.contents_hint = hint;
    cmd.hint_generation = hint_gen;
  }
  return vm.host().sev()->fw().snp_launch_update(cmd, ctx);
}

/// sev_gmem_post_populate(): kvm_gmem_populate()'s callback for the 2^order pages at
/// gfn_start (pfn...): each must still be shared in the RMP (snp_lookup_rmpentry, -EEXIST),
/// gets the source page copied in (a host write; ZERO: cleared), becomes private
/// (rmp_make_private, immutable) and is measured by SNP_LAUNCH_UPDATE. On a failure the
/// pages this call made private go back to the hypervisor; a page the firmware failed is
/// reclaimed first (or leaked).
int sev_gmem_post_populate(Vm& vm, Gpa gfn_start, Pfn pfn, std::optional<std::uint64_t> src, int order,
                           SevGmemPopulateArgs& args) {
  const kern::FunctionScope fs(vm.host().sched(), "sev_gmem_post_populate");
  SevPlatform* sev = vm.host().sev();
  Rmp& rmp = sev->rmp();
  const KernelProfile& prof = vm.host().config().profile;
  const bool zero = args.type == kPageTypeZero;
  if (!zero && !src) return -EINVAL;
  const std::uint64_t npages = 1ULL << order;
  std::uint64_t n_private = 0;
  int ret = 0;
  for (std::uint64_t i = 0; i < npages; ++i) {
    const Gpa gfn = gfn_start + i;
    // snp_lookup_rmpentry(): the page must still be in its initial shared state.
    if (!prof.launch_update_no_assigned_check && rmp.inspect(pfn + i).assigned()) {
      ret = -EEXIST;
      break;
    }
    // copy_from_user() into the guest_memfd page (kmap_local_pfn), or clear it: a host write.
    const Sha384Digest* hint = nullptr;
    std::uint64_t hint_gen = 0;
    if (!fill_launch_page(vm, pfn + i, zero, zero ? 0 : *src + (i << kPageShift), args.hints,
                          "sev_gmem_post_populate", &hint, &hint_gen)) {
      ret = -EFAULT;
      break;
    }
    if (rmp_make_private(rmp, pfn + i, pfn_to_spa(gfn), PageSize::Size4K, vm.sev().asid, true, args.ctx) !=
        RmpStatus::Success) {
      ret = -EIO;
      break;
    }
    ++n_private;
    if (const FwStatus st = launch_update_page(vm, pfn + i, args.type, hint, hint_gen, args.ctx);
        st != FwStatus::Success) {
      args.fw_error = static_cast<std::uint32_t>(st);
      launch_update_fw_failed(vm, pfn + i, args.type, st, src ? *src + (i << kPageShift) : 0, args.err_ctx);
      --n_private;  // pfn + i is the hypervisor's again (or leaked)
      ret = -EIO;
      break;
    }
  }
  if (ret != 0) {
    // Only the pages this call made private go back.
    for (std::uint64_t i = 0; i < n_private; ++i) (void)rmp_make_shared(rmp, pfn + i, PageSize::Size4K, args.err_ctx);
  }
  return ret;
}

/// SNP_LAUNCH_UPDATE as the RFC v4 series had it (profiles launch-update-revert-all,
/// launch-update-hva-lookup, rfc-v4-pinned*): one loop over the range under kvm->lock only,
/// the GPA from an hva->gpa memslot lookup or the page pinned behind `uaddr`, and an error
/// path that reverts the range (facts §9(b)). Errors are the loop's own: -EINVAL, -EEXIST
/// (with the review's already-assigned check), -EFAULT, -EIO for the firmware's.
int snp_launch_update_rfc_v4(Vm& vm, SnpLaunchUpdateArgs& a, std::uint32_t* fw_error) {
  const kern::FunctionScope fs(vm.host().sched(), "snp_launch_update");
  SevPlatform* sev = vm.host().sev();
  SevVmState& s = vm.sev();
  const bool zero = a.type == kPageTypeZero;
  if (a.len == 0 || a.pad_nonzero || (!zero && (a.uaddr & (kPageSize - 1)) != 0)) return -EINVAL;
  OpContext ctx = ctx_for(vm, "KVM_SEV_SNP_LAUNCH_UPDATE");
  ctx.call = vm.host().new_call_id();
  OpContext err_ctx = ctx;
  err_ctx.error_path = true;
  Rmp& rmp = sev->rmp();
  const KernelProfile& prof = vm.host().config().profile;
  kern::lockdep_assert_held(vm.kvm_lock(), "sev_mem_enc_ioctl");
  if (prof.launch_update_hva_lookup && !zero) {
    // The guest page is found from the source address through the memslots (hva->gpa),
    // with plain loads of kvm->memslots outside SRCU (facts §9(b)).
    const auto gfn = vm.hva_to_gfn_unlocked(a.uaddr);
    if (!gfn) return -EINVAL;
    a.gfn_start = *gfn;
  }
  const auto slot = vm.gfn_to_memslot(a.gfn_start);
  const bool pinned = prof.launch_update_pins_uaddr && !zero;
  if (!slot || (!pinned && (slot->flags & kMemGuestMemfd) == 0)) return -EINVAL;
  std::optional<kern::Guard> invalidate;
  if (!pinned && vm.is_gmem(slot->gmem_id)) invalidate.emplace(vm.gmem_invalidate_lock(slot->gmem_id));
  const std::uint64_t npages = a.len >> kPageShift;
  SourceHints hints;
  if (a.type == kPageTypeNormal) hints.prehash(vm, a.uaddr, npages);
  std::uint64_t done = 0;
  int err = 0;
  std::vector<Pfn> converted;
  for (; done < npages; ++done) {
    const Gpa gfn = a.gfn_start + done;
    if (gfn >= slot->base_gfn + slot->npages || (!pinned && (vm.attributes(gfn) & kAttrPrivate) == 0)) {
      err = -EINVAL;
      break;
    }
    // The page behind the source address itself, pinned (sev_pin_memory) and encrypted in
    // place; or (revert-all, hva lookup) the guest_memfd page the source is copied into.
    const auto pfn = pinned ? vm.host().pin_user_page(a.uaddr + pfn_to_spa(done)) : vm.gmem_pfn(*slot, gfn);
    if (!pfn) {
      err = -EINVAL;
      break;
    }
    if (!prof.launch_update_no_assigned_check && rmp.inspect(*pfn).assigned()) {
      err = -EEXIST;
      break;
    }
    // Pinned: in place, the page already holds the source bytes; else copied in or cleared.
    const std::uint64_t src_addr = a.uaddr + pfn_to_spa(done);
    const Sha384Digest* hint = nullptr;
    std::uint64_t hint_gen = 0;
    if (!pinned && !fill_launch_page(vm, *pfn, zero, src_addr, hints, "snp_launch_update", &hint, &hint_gen)) {
      err = -EFAULT;
      break;
    }
    if (rmp_make_private(rmp, *pfn, pfn_to_spa(gfn), PageSize::Size4K, s.asid, true, ctx) != RmpStatus::Success) {
      err = -EIO;
      break;
    }
    if (const FwStatus st = launch_update_page(vm, *pfn, a.type, hint, hint_gen, ctx); st != FwStatus::Success) {
      fw(fw_error, st);
      launch_update_fw_failed(vm, *pfn, a.type, st, src_addr, err_ctx);
      if (prof.launch_update_revert_all) {
        // RMPUPDATE to the zero state over every page of the range, whoever made it private
        // (facts §9(b)); the erroneous-revert detector sees the ones it never assigned.
        for (std::uint64_t i = 0; i < npages; ++i) {
          const Gpa g = a.gfn_start + i;
          if (g >= slot->base_gfn + slot->npages || g == gfn) continue;
          if (const auto p = vm.gmem_pfn(*slot, g)) (void)rmp_make_shared(rmp, *p, PageSize::Size4K, err_ctx);
        }
      } else {
        for (Pfn p : converted) (void)rmp_make_shared(rmp, p, PageSize::Size4K, err_ctx);
      }
      return -EIO;
    }
    converted.push_back(*pfn);
  }
  if (err != 0 && done == 0) return err;
  a.gfn_start += done;
  a.len -= done << kPageShift;
  if (!zero) a.uaddr += done << kPageShift;
  return 0;
}

}  // namespace

int snp_launch_update(Vm& vm, SnpLaunchUpdateArgs& a, std::uint32_t* fw_error) {
  const kern::FunctionScope fs(vm.host().sched(), "snp_launch_update");
  if (fw_error != nullptr) *fw_error = 0;
  SevPlatform* sev = vm.host().sev();
  if (sev == nullptr || !is_snp(vm) || vm.sev().gctx == 0) return -EINVAL;
  const bool zero = a.type == kPageTypeZero;
  if ((a.len & (kPageSize - 1)) != 0 || a.flags != 0 ||
      (a.type != kPageTypeNormal && !zero && a.type != kPageTypeUnmeasured && a.type != kPageTypeSecrets &&
       a.type != kPageTypeCpuid)) {
    return -EINVAL;
  }
  const KernelProfile& prof = vm.host().config().profile;
  if (prof.launch_update_pins_uaddr || prof.launch_update_revert_all || prof.launch_update_hva_lookup) {
    return snp_launch_update_rfc_v4(vm, a, fw_error);
  }
  // kvm->slots_lock guards the attribute and memslot checks against concurrent updates.
  const kern::Guard slots_lock(vm.slots_lock());
  const auto slot = vm.gfn_to_memslot(a.gfn_start);
  if (!slot || (slot->flags & kMemGuestMemfd) == 0) return -EINVAL;  // kvm_slot_can_be_private
  // sev_gmem_post_populate() issues SNP_LAUNCH_UPDATE through kvm_sev_cmd.sev_fd: without a
  // /dev/sev there the first page fails (EBADF, its RMP entry reverted), and any failure on
  // the first page is EIO with fw_error 0 (nothing done, nothing left assigned).
  if (!a.sev_fd_ok) return -EIO;
  SevGmemPopulateArgs args;
  args.type = a.type;
  args.ctx = ctx_for(vm, "KVM_SEV_SNP_LAUNCH_UPDATE");
  args.ctx.call = vm.host().new_call_id();
  args.err_ctx = args.ctx;
  args.err_ctx.error_path = true;
  const std::optional<std::uint64_t> src = zero ? std::nullopt : std::optional<std::uint64_t>(a.uaddr);
  const auto npages = static_cast<long>(a.len >> kPageShift);
  // The speed-up hashes the source pages ahead, but only those kvm_gmem_populate() can reach:
  // it clips the range to the slot, and a hostile VMM's len (up to 2^64 - 4096) must not
  // become an allocation.
  const std::uint64_t reachable = std::min<std::uint64_t>(a.len >> kPageShift, slot->npages - (a.gfn_start - slot->base_gfn));
  if (a.type == kPageTypeNormal) args.hints.prehash(vm, a.uaddr, reachable);
  const long count = vm.kvm_gmem_populate(
      a.gfn_start, src, npages,
      [&](Gpa gfn, Pfn pfn, std::optional<std::uint64_t> page_src, int order) {
        return sev_gmem_post_populate(vm, gfn, pfn, page_src, order, args);
      });
  if (count < 0) {
    if (fw_error != nullptr) *fw_error = args.fw_error;
    return -EIO;  // whatever failed: the kernel reports every populate failure as EIO
  }
  // Partial progress is handed back (facts §8.3): the remainder is what is left to do.
  const auto done = static_cast<std::uint64_t>(count);
  a.gfn_start += done;
  a.len -= done << kPageShift;
  if (!zero) a.uaddr += done << kPageShift;
  return 0;
}

// ---------------------------------------------------------------------------------------
// KVM_SEV_SNP_LAUNCH_FINISH (snp_launch_update_vmsa + snp_launch_finish)

namespace {

/// kvm_lock_all_vcpus() for a scope, kvm_unlock_all_vcpus() at its end (`lock` false: neither).
class AllVcpusLocked {
 public:
  AllVcpusLocked(Vm& vm, bool lock) : vm_(vm), locked_(lock && vm.kvm_lock_all_vcpus() == 0) {}
  AllVcpusLocked(const AllVcpusLocked&) = delete;
  AllVcpusLocked& operator=(const AllVcpusLocked&) = delete;
  ~AllVcpusLocked() {
    if (locked_) vm_.kvm_unlock_all_vcpus();
  }

 private:
  Vm& vm_;
  bool locked_;
};

/// sev_es_sync_vmsa(): the vCPU's register state written into its VMSA page by the kernel,
/// a host write (an RMP #PF if the page is no longer the hypervisor's). -EINVAL once the
/// vCPU's state is protected.
int sev_es_sync_vmsa(Vm& vm, std::size_t index) {
  const kern::FunctionScope fs(vm.host().sched(), "sev_es_sync_vmsa");
  SevPlatform* sev = vm.host().sev();
  SevVmState& s = vm.sev();
  const unsigned long vcpu_id = vm.vcpu_ids()[index];
  if (!vm.host().config().profile.launch_finish_unlocked_vcpus) {
    kern::lockdep_assert_held(vm.vcpu_mutex(vcpu_id), "sev_es_sync_vmsa");
  }
  if (s.guest_state_protected[index]) return -EINVAL;
  // The entry point the VMM set with KVM_SET_SREGS/REGS (CS.base + RIP), the reset vector
  // otherwise: QEMU points its APs at the firmware's SEV-ES reset block this way.
  const auto eip = static_cast<std::uint32_t>(vm.vcpu_entry(vcpu_id));
  const VmsaPage page = to_page(reset_save_area(eip, s.vmsa_features, SevPlatform::kVcpuSignature, VmmType::Qemu));
  return sev->host_write(vm.host().sched(), s.vmsas[index], page, "sev_es_sync_vmsa") ? 0 : -EFAULT;
}

/// snp_launch_update_vmsa(): under every vCPU's mutex (kvm_lock_all_vcpus; not in profile
/// launch-finish-unlocked-vcpus), every vCPU's VMSA in vCPU order: synced, made the guest's at
/// INITIAL_VMSA_GPA (facts §5.3), measured by SNP_LAUNCH_UPDATE as a VMSA page; a failed
/// LAUNCH_UPDATE reclaims the page. Then the vCPU's state is protected.
int snp_launch_update_vmsa(Vm& vm, std::uint32_t* fw_error, bool sev_fd_ok) {
  const kern::FunctionScope fs(vm.host().sched(), "snp_launch_update_vmsa");
  const AllVcpusLocked vcpus(vm, !vm.host().config().profile.launch_finish_unlocked_vcpus);
  SevPlatform* sev = vm.host().sev();
  SevVmState& s = vm.sev();
  const OpContext ctx = ctx_for(vm, "KVM_SEV_SNP_LAUNCH_FINISH");
  SNPLAB_ASSERT(s.vmsas.size() == vm.vcpu_count(), "every vCPU of an SNP VM has a VMSA page");
  for (std::size_t i = 0; i < vm.vcpu_count(); ++i) {
    const Pfn pfn = s.vmsas[i];
    if (int r = sev_es_sync_vmsa(vm, i); r != 0) return r;
    if (rmp_make_private(sev->rmp(), pfn, kInitialVmsaGpa, PageSize::Size4K, s.asid, true, ctx) !=
        RmpStatus::Success) {
      return -EFAULT;  // rmpupdate()'s error
    }
    SnpLaunchUpdateCmd u;
    u.gctx_paddr = pfn_to_spa(s.gctx);
    u.page_type = kPageTypeVmsa;
    u.address = pfn_to_spa(pfn);
    if (!sev_fd_ok) {  // __sev_issue_cmd(argp->sev_fd, ...): EBADF; the page is reclaimed
      (void)snp_page_reclaim(vm, pfn, OpContext{ctx.op, ctx.vm, ctx.call, true});
      return -EBADF;
    }
    if (FwStatus st = sev->fw().snp_launch_update(u, ctx); st != FwStatus::Success) {
      fw(fw_error, st);
      (void)snp_page_reclaim(vm, pfn, OpContext{ctx.op, ctx.vm, ctx.call, true});
      return -EIO;
    }
    s.guest_state_protected[i] = true;
  }
  return 0;
}

}  // namespace

int snp_launch_finish(Vm& vm, const SnpLaunchFinishArgs& a, std::uint32_t* fw_error) {
  const kern::FunctionScope fs(vm.host().sched(), "snp_launch_finish");
  if (fw_error != nullptr) *fw_error = 0;
  SevPlatform* sev = vm.host().sev();
  SevVmState& s = vm.sev();
  if (sev == nullptr || !is_snp(vm)) return -ENOTTY;  // !sev_snp_guest()
  if (s.gctx == 0) return -EINVAL;                     // no snp_context
  if (a.flags != 0) return -EINVAL;  // 6.12 checks flags only; the padding is ignored
  Firmware& f = sev->fw();
  if (int r = snp_launch_update_vmsa(vm, fw_error, a.sev_fd_ok); r != 0) return r;
  SnpLaunchFinishCmd cmd;
  cmd.gctx_paddr = pfn_to_spa(s.gctx);
  cmd.host_data = a.host_data;
  cmd.vcek_disabled = a.vcek_disabled;
  Pfn id_block = 0, id_auth = 0;
  if (a.id_block_en) {  // copied from user memory into firmware-readable pages
    std::array<std::uint8_t, 96> blk{};
    std::array<std::uint8_t, kPageSize> auth{};
    if (!vm.host().user().copy_from(a.id_block_uaddr, blk) || !vm.host().user().copy_from(a.id_auth_uaddr, auth)) {
      return -EFAULT;
    }
    id_block = sev->alloc_page();
    id_auth = sev->alloc_page();
    sev->mem().write(pfn_to_spa(id_block), blk);
    sev->mem().write(pfn_to_spa(id_auth), auth);
    cmd.id_block_en = true;
    cmd.auth_key_en = a.auth_key_en;
    cmd.id_block_paddr = pfn_to_spa(id_block);
    cmd.id_auth_paddr = pfn_to_spa(id_auth);
  }
  const FwStatus st = f.snp_launch_finish(cmd);
  if (id_block != 0) {
    sev->free_page(id_block);
    sev->free_page(id_auth);
  }
  if (st != FwStatus::Success) {
    fw(fw_error, st);
    return -EIO;
  }
  s.finished = true;
  return 0;
}

// ---------------------------------------------------------------------------------------
// Teardown

void sev_gmem_prepare(Vm& vm, const Memslot& slot, Gpa gfn, Pfn pfn) {
  const kern::FunctionScope fs(vm.host().sched(), "sev_gmem_prepare");
  SevPlatform* sev = vm.host().sev();
  Rmp& rmp = sev->rmp();
  const OpContext ctx{"sev_gmem_prepare", static_cast<VmId>(vm.id())};
  if (effective_entry(rmp, pfn).assigned()) return;
  const Gpa gfn_base = gfn & ~(kPagesPerHuge - 1);
  const Pfn pfn_base = pfn - (gfn - gfn_base);
  bool huge = vm.host().config().gmem_huge_folios && huge_offset(pfn_base) == 0 && gfn_base >= slot.base_gfn &&
              gfn_base + kPagesPerHuge <= slot.base_gfn + slot.npages;
  for (Gpa g = gfn_base; huge && g < gfn_base + kPagesPerHuge; ++g) {
    const auto p = vm.gmem_pfn(slot, g);
    huge = (vm.attributes(g) & kAttrPrivate) != 0 && p && *p == pfn_base + (g - gfn_base) && !rmp.inspect(*p).assigned();
  }
  if (huge) {
    (void)rmp_make_private(rmp, pfn_base, gfn_base << kPageShift, PageSize::Size2M, vm.sev().asid, false, ctx);
  } else {
    (void)rmp_make_private(rmp, pfn, gfn << kPageShift, PageSize::Size4K, vm.sev().asid, false, ctx);
  }
}

void sev_gmem_invalidate(Vm& vm, const std::vector<Pfn>& pfns) {
  const kern::FunctionScope fs(vm.host().sched(), "sev_gmem_invalidate");
  SevPlatform* sev = vm.host().sev();
  if (sev == nullptr) return;
  const OpContext ctx = ctx_for(vm, "kvm_gmem_invalidate");
  Rmp& rmp = sev->rmp();
  // A 2M RMP entry goes back whole when every page of it is being freed; otherwise it is
  // PSMASHed first and its pages go back one by one (sev_gmem_invalidate's huge handling).
  std::set<Pfn> freeing(pfns.begin(), pfns.end());
  for (Pfn pfn : pfns) {
    const Pfn base = huge_base(pfn);
    const RmpEntryRaw head = rmp.inspect(base);
    if (!head.assigned() || head.page_size() != PageSize::Size2M) continue;
    bool whole = true;
    for (Pfn p = base; p < base + kPagesPerHuge && whole; ++p) whole = freeing.contains(p);
    if (whole) {
      (void)rmp_make_shared(rmp, base, PageSize::Size2M, ctx);
    } else {
      (void)psmash(rmp, pfn_to_spa(base), ctx);
    }
  }
  for (Pfn pfn : pfns) {
    const RmpEntryRaw e = rmp.inspect(pfn);
    if (e.assigned()) {
      // An immutable (Pre-Guest) page needs the firmware first; a page that will not go back
      // is leaked, as snp_leak_pages() does.
      if ((e.immutable() && sev->fw().snp_page_reclaim(pfn_to_spa(pfn), PageSize::Size4K, ctx) != FwStatus::Success) ||
          rmp_make_shared(rmp, pfn, PageSize::Size4K, ctx) != RmpStatus::Success) {
        sev->snp_leak_pages(pfn, 1, ctx);
        continue;
      }
    }
    sev->free_page(pfn);
  }
}

void sev_vm_destroy(Vm& vm) {
  const kern::FunctionScope fs(vm.host().sched(), "sev_vm_destroy");
  SevPlatform* sev = vm.host().sev();
  SevVmState& s = vm.sev();
  if (sev == nullptr || !s.active) return;
  const OpContext ctx = ctx_for(vm, "KVM_DESTROY_VM");
  if (s.guest_resp_buf != 0) sev->free_firmware_page(s.guest_resp_buf, ctx);
  if (s.guest_req_buf != 0) sev->free_page(s.guest_req_buf);
  s.guest_resp_buf = s.guest_req_buf = 0;
  if (s.gctx != 0) {
    (void)sev->fw().snp_decommission(pfn_to_spa(s.gctx), ctx);
    sev->free_firmware_page(s.gctx, ctx);
    s.gctx = 0;
  }
  sev_gmem_invalidate(vm, vm.gmem_pages());
  sev_gmem_invalidate(vm, s.vmsas);  // VMSA pages go back the same way
  s.vmsas.clear();
  sev->detectors().owner_torn_down(sev->rmp(), static_cast<VmId>(vm.id()), s.asid, ctx);
  sev->asid_free(s.asid);
  s.active = false;
}

// ---------------------------------------------------------------------------------------
// KVM_MEMORY_ENCRYPT_OP (sev_mem_enc_ioctl)

int sev_mem_enc_ioctl(Vm& vm, uapi::kvm_sev_cmd& cmd, std::string_view* why, bool sev_fd_is_dev_sev) {
  const kern::FunctionScope fs(vm.host().sched(), "sev_mem_enc_ioctl");
  auto fail = [why](int e, std::string_view reason) {
    if (why != nullptr) *why = reason;
    return e;
  };
  cmd.error = 0;
  if (vm.host().sev() == nullptr) return fail(-ENOTTY, "SEV is not enabled on this host");
  // Before INIT2 (the only init the model has) the VM is not an SEV guest and every other
  // command is ENOTTY.
  if (!vm.sev().active && cmd.id != uapi::KVM_SEV_INIT2) return fail(-ENOTTY, "not an SEV guest");
  // Once INIT2 made it an SNP guest, the legacy SEV commands are refused (facts §8.3).
  if (vm.sev().active && is_snp(vm) && cmd.id < 100) return -EPERM;
  // An SEV or SEV-ES guest's own launch (KVM_SEV_LAUNCH_START, ...) is not modelled: refused
  // with EOPNOTSUPP, an errno the kernel's sev_mem_enc_ioctl() never returns (docs/kvm.md).
  if (vm.sev().active && !is_snp(vm) && cmd.id < 100 && cmd.id != uapi::KVM_SEV_INIT2) {
    return fail(-EOPNOTSUPP, "the legacy SEV launch commands are not modelled");
  }
  // copy_from_user() of the command's struct: `data` is the caller's pointer.
  void* data = reinterpret_cast<void*>(static_cast<std::uintptr_t>(cmd.data));
  // KVM_SEV_SNP_ENABLE_REQ_CERTS takes no payload; every other command copies one in.
  if (data == nullptr && cmd.id != uapi::KVM_SEV_SNP_ENABLE_REQ_CERTS) return -EFAULT;
  const kern::Guard kvm_lock(vm.kvm_lock());
  int r = 0;
  switch (cmd.id) {
    case uapi::KVM_SEV_SNP_ENABLE_REQ_CERTS:
      r = snp_enable_req_certs(vm);
      break;
    case uapi::KVM_SEV_INIT2: {
      const auto* d = static_cast<const uapi::kvm_sev_init*>(data);
      const SevInit2Args a{d->vmsa_features, d->flags, d->ghcb_version, d->pad1 != 0 || any_nonzero(d->pad2, sizeof(d->pad2))};
      r = sev_init2(vm, a, &cmd.error);
      break;
    }
    case uapi::KVM_SEV_SNP_LAUNCH_START: {
      const auto* d = static_cast<const uapi::kvm_sev_snp_launch_start*>(data);
      SnpLaunchStartArgs a;
      a.policy = d->policy;
      std::copy(std::begin(d->gosvw), std::end(d->gosvw), a.gosvw.begin());
      a.flags = d->flags;
      a.pad_nonzero = any_nonzero(d->pad0, sizeof(d->pad0)) || any_nonzero(d->pad1, sizeof(d->pad1));
      a.sev_fd_ok = sev_fd_is_dev_sev;
      r = snp_launch_start(vm, a, &cmd.error);
      break;
    }
    case uapi::KVM_SEV_SNP_LAUNCH_UPDATE: {
      auto* d = static_cast<uapi::kvm_sev_snp_launch_update*>(data);
      SnpLaunchUpdateArgs a{d->gfn_start, d->uaddr, d->len, d->type, d->flags,
                            d->pad0 != 0 || d->pad1 != 0 || any_nonzero(d->pad2, sizeof(d->pad2)), sev_fd_is_dev_sev};
      r = snp_launch_update(vm, a, &cmd.error);
      if (r == 0) {  // copy_to_user(): the progress goes back into the caller's struct
        d->gfn_start = a.gfn_start;
        d->uaddr = a.uaddr;
        d->len = a.len;
      }
      break;
    }
    case uapi::KVM_SEV_SNP_LAUNCH_FINISH: {
      const auto* d = static_cast<const uapi::kvm_sev_snp_launch_finish*>(data);
      SnpLaunchFinishArgs a;
      a.id_block_uaddr = d->id_block_uaddr;
      a.id_auth_uaddr = d->id_auth_uaddr;
      a.id_block_en = d->id_block_en != 0;
      a.auth_key_en = d->auth_key_en != 0;
      a.vcek_disabled = d->vcek_disabled != 0;
      std::copy(std::begin(d->host_data), std::end(d->host_data), a.host_data.begin());
      a.flags = d->flags;
      a.pad_nonzero = any_nonzero(d->pad0, sizeof(d->pad0)) || any_nonzero(d->pad1, sizeof(d->pad1));
      a.sev_fd_ok = sev_fd_is_dev_sev;
      r = snp_launch_finish(vm, a, &cmd.error);
      break;
    }
    default:
      r = -EINVAL;
      break;
  }
  return r;
}

}  // namespace snplab::model::kvm
