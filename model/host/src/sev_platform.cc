// The SEV platform the host drives: the RMP, host memory, the firmware, the detectors, and the
// host page allocator (alloc_page / __free_page, 2 MiB folios, snp_safe_alloc_page).
#include "snp/model/host/sev_platform.h"

namespace snplab::model::kvm {

SevPlatform::SevPlatform(std::uint64_t seed)
    : rmp_(*RmpLayout::covering(64ULL << 30)),  // a 64 GiB host
      fw_(rmp_, mem_, [seed] {
        FirmwareConfig c;
        c.seed = seed;
        return c;
      }()),
      asid_used_(fw_.config().max_snp_asid + 1, false) {
  rmp_.add_observer(&det_);
  // The ccp driver initialises SNP when it probes (SNP_INIT before any VM exists).
  const FwStatus st = fw_.snp_init(OpContext{"snp_rmptable_init", 0});
  SNPLAB_ASSERT(st == FwStatus::Success, "SNP_INIT of a fresh simulated platform failed");
}

Pfn SevPlatform::alloc_page() {
  if (!free_.empty()) {
    const Pfn p = free_.back();
    free_.pop_back();
    return p;
  }
  return next_pfn_++;
}

void SevPlatform::free_page(Pfn pfn) {
  mem_.zero_page(pfn);
  free_.push_back(pfn);
}

Pfn SevPlatform::alloc_huge() {
  while (huge_offset(next_pfn_) != 0) free_.push_back(next_pfn_++);  // the skipped pages stay usable
  const Pfn base = next_pfn_;
  next_pfn_ += kPagesPerHuge;
  return base;
}

Pfn SevPlatform::alloc_safe_page() {
  std::vector<Pfn> aligned;
  Pfn p = alloc_page();
  while (huge_offset(p) == 0) {
    aligned.push_back(p);
    p = alloc_page();
  }
  for (Pfn a : aligned) free_page(a);
  return p;
}

SevPlatform::SevPlatform(const SevPlatform& o)
    : rmp_(o.rmp_),
      mem_(o.mem_),
      fw_(o.fw_),
      det_(o.det_),
      next_pfn_(o.next_pfn_),
      free_(o.free_),
      asid_used_(o.asid_used_) {
  for (const auto& c : o.certs_objs_) certs_objs_.push_back(std::make_unique<SnpCerts>(*c));
  // The copy of sev->snp_certs points at the live blob: restore() puts that pointer back
  // into a platform whose blobs kept their addresses.
  if (o.global_certs_) {
    global_certs_ = std::make_unique<kern::Shared<SnpCerts*>>(*o.global_certs_);
    certs_lock_ = std::make_unique<kern::Mutex>(*o.certs_lock_);
  }
}

void SevPlatform::restore(const SevPlatform& snap) {
  rmp_.restore(snap.rmp_);
  mem_ = snap.mem_;
  fw_.restore(snap.fw_);
  det_ = snap.det_;
  next_pfn_ = snap.next_pfn_;
  free_ = snap.free_;
  asid_used_ = snap.asid_used_;
  // Blobs are never deleted while the platform lives, so every blob of the snapshot is
  // still here, at its address; later ones go.
  SNPLAB_ASSERT(certs_objs_.size() >= snap.certs_objs_.size(), "a certificate blob was deleted since the snapshot");
  certs_objs_.resize(snap.certs_objs_.size());
  for (std::size_t i = 0; i < certs_objs_.size(); ++i) *certs_objs_[i] = *snap.certs_objs_[i];
  if (snap.global_certs_ && global_certs_) {
    *global_certs_ = *snap.global_certs_;
    *certs_lock_ = *snap.certs_lock_;
  } else if (snap.global_certs_) {
    global_certs_ = std::make_unique<kern::Shared<SnpCerts*>>(*snap.global_certs_);
    certs_lock_ = std::make_unique<kern::Mutex>(*snap.certs_lock_);
  } else {
    global_certs_.reset();
    certs_lock_.reset();
  }
}

}  // namespace snplab::model::kvm
