// arch/x86/virt/svm/sev.c: the x86 SNP host code KVM and the CCP driver call - leaking pages
// the kernel gives up on (snp_leak_pages) and the RMP check of the kernel's own writes to
// host pages (the RMP #PF a real host would oops on). rmp_make_private()/rmp_make_shared()
// are inline in snp/model/host/x86/sev.h.
#include <fmt/format.h>

#include "snp/model/host/sev_platform.h"
#include "snp/model/hw/access.h"

namespace snplab::model::kvm {

void SevPlatform::snp_leak_pages(Pfn first, std::uint64_t npages, const OpContext& ctx) {
  det_.pages_leaked(rmp_, first, npages, ctx);
}

bool SevPlatform::host_write(kern::Sched& sched, Pfn pfn, std::span<const std::uint8_t> bytes, std::string_view fn) {
  const Fault f = check_host_access(rmp_, pfn_to_spa(pfn), AccessKind::Write, MapLevel::Size4K);
  if (f.raised()) {
    // As the kernel's oops and dump_rmpentry() print it: the fault, then the raw entry.
    const RmpEntryRaw e = rmp_.inspect(pfn);
    sched.report(FindingKind::HostRmpFault,
                 fmt::format("BUG: unable to handle page fault for address: PFN 0x{:x} in {}(); #PF: supervisor "
                             "write access in kernel mode; #PF: error_code(0x{:x}) - RMP violation ({} check); "
                             "RMP entry for PFN 0x{:x}: [high=0x{:016x} low=0x{:016x}] ({}){}",
                             pfn, fn, f.code, f.check, pfn, e.hi, e.lo, describe(e),
                             sched.function().empty() ? std::string()
                                                      : "; call trace: " + sched.backtrace(sched.current())));
    return false;
  }
  if (bytes.empty()) {
    mem_.zero_page(pfn);
  } else {
    mem_.write(pfn_to_spa(pfn), bytes);
  }
  return true;
}

}  // namespace snplab::model::kvm
