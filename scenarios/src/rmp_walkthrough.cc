#include "snp/scenarios/rmp_walkthrough.h"

#include <cerrno>

#include <fmt/format.h>

#include "snp/model/hw/access.h"
#include "snp/model/psp/fw_rmp.h"
#include "snp/model/host/x86/sev.h"

namespace snplab::scenarios {

using namespace snplab::model;  // NOLINT: scenario code reads like the kernel

namespace {

/// Prints each RMP instruction as one ftrace-like line.
class TextTrace final : public RmpObserver {
 public:
  explicit TextTrace(std::string& out) : out_(out) {}
  void on_event(const Rmp& /*rmp*/, const RmpEvent& ev) override {
    std::string what;
    if (ev.insn == RmpInsn::Rmpupdate) {
      what = ev.requested.assigned != 0
                 ? fmt::format("assign ASID {} gpa 0x{:x}{}", ev.requested.asid, ev.requested.gpa,
                               ev.requested.immutable != 0 ? " immutable" : "")
                 : std::string("make shared");
    }
    const std::string result = ev.fault.raised() ? fmt::format("{} 0x{:x} ({})", to_string(ev.fault.kind), ev.fault.code, ev.fault.check)
                                                 : std::string(to_string(ev.status));
    out_ += fmt::format("  #{:<3} {:<9} PFN 0x{:x} {:<2} {:<34} [{}, {}] -> {}\n", ev.seq, to_string(ev.insn),
                        spa_to_pfn(ev.spa), to_string(ev.size), what, ev.ctx.op,
                        ev.ctx.vm == 0 ? std::string("host") : fmt::format("vm {}", ev.ctx.vm), result);
  }

 private:
  std::string& out_;
};

struct Guest {
  VmId vm;
  Asid asid;
};

/// The host kernel under test: the pieces of KVM's SNP code the walk-through needs.
class HostKernel {
 public:
  HostKernel(Rmp& rmp, WalkthroughKernel k, std::string& log) : rmp_(rmp), kernel_(k), log_(log) {}

  /// A private fault on a running guest's GFN: sev_gmem_prepare() assigns the page
  /// (immutable=0, Guest-Invalid) and the guest validates it (facts §8.5).
  void fault_in_private(const Guest& g, Pfn pfn, Gpa gpa) {
    (void)rmp_make_private(rmp_, pfn, gpa, PageSize::Size4K, g.asid, false, {"sev_gmem_prepare", g.vm});
    (void)pvalidate(rmp_, GuestCpu{g.asid, 0}, gpa, pfn_to_spa(pfn), 0, 1, {"guest PVALIDATE", g.vm});
  }

  /// KVM_SEV_SNP_LAUNCH_UPDATE over `pfns` (GFN i at gpa_base + i*4K). The firmware step is
  /// stood in for: `fw_fails_at` makes SNP_LAUNCH_UPDATE fail on that index, as the CPUID
  /// page does when its table is rejected (facts §5.1). Returns 0 or a negative errno.
  int snp_launch_update(const Guest& g, const std::vector<Pfn>& pfns, Gpa gpa_base, std::size_t fw_fails_at) {
    const OpContext ctx{"KVM_SEV_SNP_LAUNCH_UPDATE", g.vm};
    std::size_t converted = 0;
    for (std::size_t i = 0; i < pfns.size(); ++i) {
      const Pfn pfn = pfns[i];
      if (kernel_ == WalkthroughKernel::Fixed && rmp_.inspect(pfn).assigned()) {
        // Upstream sev_gmem_post_populate(): snp_lookup_rmpentry() says assigned -> -EEXIST.
        log_ += fmt::format("  KVM_SEV_SNP_LAUNCH_UPDATE: PFN 0x{:x} already assigned: -EEXIST\n", pfn);
        revert(g, pfns, converted);
        return -EEXIST;
      }
      if (rmp_make_private(rmp_, pfn, gpa_base + pfn_to_spa(i), PageSize::Size4K, g.asid, true, ctx) !=
          RmpStatus::Success) {
        revert(g, pfns, converted);
        return -EFAULT;
      }
      ++converted;
      if (i == fw_fails_at) {
        log_ += fmt::format("  SNP_LAUNCH_UPDATE (firmware) on PFN 0x{:x}: INVALID_PARAM -> error path\n", pfn);
        revert(g, pfns, converted);
        return -EIO;
      }
    }
    return 0;
  }

  /// Teardown: every page this VM's memory used goes back to the hypervisor.
  void destroy_vm(const Guest& g, const std::vector<Pfn>& pages, Detectors& det) {
    for (Pfn pfn : pages) {
      const RmpEntryRaw e = rmp_.inspect(pfn);
      if (e.assigned() && e.asid() == g.asid) reclaim_and_share(pfn, {"kvm_gmem_release", g.vm});
    }
    det.owner_torn_down(rmp_, g.vm, g.asid, {"KVM_DESTROY_VM", g.vm});
  }

 private:
  // RFC v4: RMPUPDATE all-zero over every page of the range. Fixed: only the `converted`
  // pages this call made private (upstream's n_private).
  void revert(const Guest& g, const std::vector<Pfn>& pfns, std::size_t converted) {
    const OpContext ctx{"KVM_SEV_SNP_LAUNCH_UPDATE", g.vm};
    const std::size_t n = kernel_ == WalkthroughKernel::RfcV4 ? pfns.size() : converted;
    for (std::size_t i = 0; i < n; ++i) reclaim_and_share(pfns[i], ctx);
  }

  // KVM's pattern for a page that may be immutable: SNP_PAGE_RECLAIM, then RMPUPDATE to
  // shared (facts §4.3). Reclaim is a no-op success on a mutable page.
  void reclaim_and_share(Pfn pfn, const OpContext& ctx) {
    if (snp_page_reclaim(rmp_, pfn_to_spa(pfn), PageSize::Size4K, {"SNP_PAGE_RECLAIM", ctx.vm}) != FwStatus::Success) {
      return;  // the kernel leaks such a page (snp_leak_pages); the leak detector reports it
    }
    (void)rmp_make_shared(rmp_, pfn, PageSize::Size4K, ctx);
  }

  Rmp& rmp_;
  WalkthroughKernel kernel_;
  std::string& log_;
};

void show_access(Rmp& rmp, std::string& log, const Guest& g, Pfn pfn, Gpa gpa) {
  GuestAccess a;
  a.spa = pfn_to_spa(pfn);
  a.gpa = gpa;
  a.asid = g.asid;
  a.kind = AccessKind::Read;
  const Fault f = check_guest_access(rmp, a);
  if (!f.raised()) {
    log += fmt::format("  vm {} reads GPA 0x{:x}: no fault\n", g.vm, gpa);
  } else {
    log += fmt::format("  vm {} reads GPA 0x{:x}: {} code 0x{:x} ({} check)\n", g.vm, gpa, to_string(f.kind), f.code,
                       f.check);
  }
}

}  // namespace

WalkthroughResult run_rmp_walkthrough(WalkthroughKernel kernel) {
  WalkthroughResult res;
  std::string& log = res.log;
  auto layout = RmpLayout::covering(64ULL << 30);  // a 64 GiB host
  Rmp rmp(*layout);
  Detectors det;
  TextTrace trace(log);
  rmp.add_observer(&det);
  rmp.add_observer(&trace);
  HostKernel kvm(rmp, kernel, log);

  const Guest vm1{1, 1}, vm2{2, 2}, vm3{3, 3};
  const Pfn a = 0x100000;  // vm 1's memory: PFN 0x100000.. (SPA 4 GiB)
  const Pfn b = 0x200000;  // vm 3's launch buffer

  log += fmt::format("RMP: {}\n", rmp.layout().describe());
  log += "\n1. vm 1 (ASID 1) runs and faults in two private pages; it validates them.\n";
  kvm.fault_in_private(vm1, a, 0x0);
  kvm.fault_in_private(vm1, a + 1, 0x1000);

  log += "\n2. Userspace hands vm 1's page PFN 0x100001 to vm 2's KVM_SEV_SNP_LAUNCH_UPDATE.\n";
  const int r2 = kvm.snp_launch_update(vm2, {a + 1}, 0x0, ~std::size_t{0});
  log += fmt::format("  KVM_SEV_SNP_LAUNCH_UPDATE returned {}\n", r2);
  show_access(rmp, log, vm1, a + 1, 0x1000);

  log += "\n3. vm 3's KVM_SEV_SNP_LAUNCH_UPDATE covers PFN 0x200000..0x200001, then vm 1's PFN\n"
         "   0x100000, then PFN 0x200003; the firmware rejects the second page.\n";
  const int r3 = kvm.snp_launch_update(vm3, {b, b + 1, a, b + 3}, 0x0, 1);
  log += fmt::format("  KVM_SEV_SNP_LAUNCH_UPDATE returned {}\n", r3);
  show_access(rmp, log, vm1, a, 0x0);

  log += "\n4. Every VM is destroyed.\n";
  kvm.destroy_vm(vm3, {b, b + 1, a, b + 3}, det);
  kvm.destroy_vm(vm2, {a + 1}, det);
  kvm.destroy_vm(vm1, {a, a + 1}, det);

  res.findings = det.findings();
  return res;
}

}  // namespace snplab::scenarios
