// drivers/crypto/ccp/sev-dev.c: the PSP driver's side of the host - firmware pages
// (snp_alloc_firmware_page / snp_free_firmware_page) and the v10 kernel's global certificate
// blob that /dev/sev SNP_SET_EXT_CONFIG publishes.
#include <fmt/format.h>

#include "snp/model/host/sev_platform.h"
#include "snp/model/host/x86/sev.h"

namespace snplab::model::kvm {

Pfn SevPlatform::alloc_firmware_page(const OpContext& ctx) {
  const Pfn pfn = alloc_page();
  if (rmp_make_private(rmp_, pfn, 0, PageSize::Size4K, 0, true, ctx) != RmpStatus::Success) {
    free_page(pfn);
    return 0;
  }
  return pfn;
}

void SevPlatform::free_firmware_page(Pfn pfn, const OpContext& ctx) {
  if (fw_.snp_page_reclaim(pfn_to_spa(pfn), PageSize::Size4K, ctx) != FwStatus::Success ||
      rmp_make_shared(rmp_, pfn, PageSize::Size4K, ctx) != RmpStatus::Success) {
    snp_leak_pages(pfn, 1, OpContext{"snp_free_firmware_page", ctx.vm, ctx.call});
    return;
  }
  free_page(pfn);
}

void SevPlatform::set_global_certs(kern::Sched& sched, std::vector<std::uint8_t> blob, bool locked) {
  if (!global_certs_) {
    global_certs_ = std::make_unique<kern::Shared<SnpCerts*>>(sched, "sev->snp_certs", nullptr);
    certs_lock_ = std::make_unique<kern::Mutex>(sched, "sev->snp_certs_lock");
  }
  SnpCerts* next = nullptr;
  if (!blob.empty()) {
    certs_objs_.push_back(std::make_unique<SnpCerts>(sched, std::move(blob)));
    next = certs_objs_.back().get();
    next->kref.init();
  }
  // sev_ioctl_snp_set_config(): publish the new blob, drop the platform's reference to the
  // old. v10 did it with plain accesses and no lock the getter takes; the fix (Sean's reply,
  // facts §9(a)) is one lock around the getter's load + get and around this update.
  if (locked) certs_lock_->lock();
  SnpCerts* old = global_certs_->load();
  global_certs_->store(next);
  if (locked) certs_lock_->unlock();
  if (old != nullptr) certs_put(old);
}

SnpCerts* SevPlatform::global_certs_get(kern::Sched& sched, bool reload) {
  if (!global_certs_) return nullptr;
  if (!reload) {
    // The fixed getter: the load and the reference under the lock the update takes.
    kern::Guard g(*certs_lock_);
    SnpCerts* c = global_certs_->load();
    if (c == nullptr || !c->kref.get_unless_zero()) return nullptr;
    return c;
  }
  // v10: `certs = sev->snp_certs; if (!certs) return NULL; if (!kref_get_unless_zero(
  // &certs->kref)) return NULL; return certs;` with a plain load and no lock: the compiler may
  // load sev->snp_certs again at each use (kern::Plain), and the engine explores that.
  kern::Plain<SnpCerts*> certs = global_certs_->load_plain();
  if (certs.use() == nullptr) return nullptr;
  SnpCerts* ref = certs.use();
  const std::uint64_t ref_step = certs.value_step();
  if (ref == nullptr || !ref->kref.get_unless_zero()) return nullptr;
  SnpCerts* ret = certs.use();
  if (ret != ref) {
    sched.report("kref-reloaded-pointer",
                 "sev_snp_global_certs_get(): reference taken on one snp_certs, another returned (the compiler "
                 "reloaded the plain load of sev->snp_certs around kref_get_unless_zero; facts §9(a))",
                 {ref_step, certs.value_step()});
  }
  return ret;
}

void SevPlatform::certs_put(SnpCerts* c) {
  if (c == nullptr) return;
  (void)c->kref.put([c] { c->freed = true; });
}

int SevPlatform::audit_certs(kern::Sched& sched) const {
  int problems = 0;
  const SnpCerts* published = global_certs_ ? global_certs_->peek() : nullptr;
  for (std::size_t i = 0; i < certs_objs_.size(); ++i) {
    const SnpCerts& c = *certs_objs_[i];
    const int want = &c == published ? 1 : 0;
    if (c.kref.count() > want) {
      sched.report("kref-leak", fmt::format("snp_certs blob #{} ({}) holds {} reference(s) nobody will put", i + 1,
                                            &c == published ? "published" : "replaced",
                                            c.kref.count() - want));
      ++problems;
    } else if (&c == published && c.kref.count() == 0) {
      sched.report("kref-freed-while-published",
                   fmt::format("snp_certs blob #{} is still sev->snp_certs but its last reference was put: the next "
                               "getter uses freed memory",
                               i + 1));
      ++problems;
    }
  }
  return problems;
}

const std::vector<std::uint8_t>* SevPlatform::global_certs_peek() const {
  if (!global_certs_ || global_certs_->peek() == nullptr) return nullptr;
  return &global_certs_->peek()->data;
}

}  // namespace snplab::model::kvm
