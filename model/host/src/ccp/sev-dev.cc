// drivers/crypto/ccp/sev-dev.c: the PSP driver's side of the host - /dev/sev's ioctls
// (sev_ioctl), firmware pages (snp_alloc_firmware_page / snp_free_firmware_page) and the v10
// kernel's global certificate blob that /dev/sev SNP_SET_EXT_CONFIG publishes.
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "snp/model/host/ccp/sev-dev.h"
#include "snp/model/host/kvm_host.h"
#include "snp/model/host/sev_platform.h"
#include "snp/model/host/x86/sev.h"
#include "snp/model/base/bytes.h"
#include "snp/uapi/uapi.h"

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
  const kern::FunctionScope fs(sched, "sev_snp_set_global_certs");
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
  const kern::FunctionScope fs(sched, "sev_snp_global_certs_get");
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
    sched.report(FindingKind::KrefReloadedPointer,
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
      sched.report(FindingKind::KrefLeak, fmt::format("snp_certs blob #{} ({}) holds {} reference(s) nobody will put", i + 1,
                                            &c == published ? "published" : "replaced",
                                            c.kref.count() - want));
      ++problems;
    } else if (&c == published && c.kref.count() == 0) {
      sched.report(FindingKind::KrefFreedWhilePublished,
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

namespace {

/// sev_do_cmd()'s return for a firmware status: 0, or -EIO with the status in *fw_error.
int fw_ret(FwStatus st, std::uint32_t* fw_error) {
  if (st == FwStatus::Success) return 0;
  if (fw_error != nullptr) *fw_error = static_cast<std::uint32_t>(st);
  return -EIO;
}

/// struct sev_user_data_snp_config as the firmware's SNP_CONFIG takes it.
SnpConfigCmd snp_config_cmd(const uapi::sev_user_data_snp_config& d) {
  SnpConfigCmd c;
  c.reported_tcb = d.reported_tcb;
  c.mask_chip_id = (d.flags & 1U) != 0;
  c.mask_chip_key = (d.flags & 2U) != 0;
  c.rsvd = (d.flags & ~3U) | (any_nonzero(d.rsvd1, sizeof(d.rsvd1)) ? 1U : 0U);
  return c;
}

constexpr std::uint32_t kMaxCertsLen = 64U << 10;  ///< v10's SEV_FW_BLOB_MAX_SIZE bound on certs_len

}  // namespace

int sev_ioctl_do_snp_platform_status(Host& host, void* data, std::uint32_t* fw_error) {
  const kern::FunctionScope fs(host.sched(), "sev_ioctl_do_snp_platform_status");
  if (data == nullptr) return -EFAULT;
  SnpPlatformStatus status;
  const FwStatus st = host.sev()->fw().snp_platform_status(&status);
  if (st == FwStatus::Success) {
    const auto bytes = to_bytes(status);
    std::memcpy(data, bytes.data(), bytes.size());
  }
  return fw_ret(st, fw_error);
}

int sev_ioctl_do_snp_set_config(Host& host, void* data, std::uint32_t* fw_error) {
  const kern::FunctionScope fs(host.sched(), "sev_ioctl_do_snp_set_config");
  if (data == nullptr) return -EFAULT;
  return fw_ret(host.sev()->fw().snp_config(snp_config_cmd(*static_cast<const uapi::sev_user_data_snp_config*>(data))),
                fw_error);
}

int sev_ioctl_do_snp_vlek_load(Host& host, void* data, std::uint32_t* fw_error) {
  const kern::FunctionScope fs(host.sched(), "sev_ioctl_do_snp_vlek_load");
  if (data == nullptr) return -EFAULT;
  const auto* d = static_cast<const uapi::sev_user_data_snp_vlek_load*>(data);
  WrappedVlek blob{};
  if (!host.user().copy_from(d->vlek_wrapped_address, blob)) return -EFAULT;
  return fw_ret(host.sev()->fw().snp_vlek_load(d->len, d->vlek_wrapped_version, blob), fw_error);
}

int sev_ioctl_do_snp_set_ext_config_v10(Host& host, void* data, std::uint32_t* fw_error, std::string_view* why) {
  const kern::FunctionScope fs(host.sched(), "sev_ioctl_do_snp_set_ext_config");
  if (data == nullptr) return -EFAULT;
  const auto* d = static_cast<const uapi::sev_user_data_ext_snp_config*>(data);
  SevPlatform* sev = host.sev();
  if (d->config_address != 0) {
    uapi::sev_user_data_snp_config cfg;
    std::span<std::uint8_t> bytes(reinterpret_cast<std::uint8_t*>(&cfg), sizeof(cfg));
    if (!host.user().copy_from(d->config_address, bytes)) return -EFAULT;
    if (const int r = fw_ret(sev->fw().snp_config(snp_config_cmd(cfg)), fw_error); r != 0) return r;
  }
  std::vector<std::uint8_t> blob;
  if (d->certs_address != 0) {
    if (d->certs_len == 0 || d->certs_len > kMaxCertsLen) {
      if (why != nullptr) *why = "certs_len out of range";
      return -EINVAL;
    }
    blob.resize(d->certs_len);
    if (!host.user().copy_from(d->certs_address, blob)) return -EFAULT;
  }
  sev->set_global_certs(host.sched(), std::move(blob), !host.config().profile.global_certs_reload);
  return 0;
}

int sev_ioctl(Host& host, std::uint32_t cmd, void* data, std::uint32_t* fw_error, std::string_view* why) {
  const kern::FunctionScope fs(host.sched(), "sev_ioctl");
  auto fail = [why](int e, std::string_view reason) {
    if (why != nullptr) *why = reason;
    return e;
  };
  if (fw_error != nullptr) *fw_error = 0;
  if (host.sev() == nullptr) return -EBADF;
  const kern::Guard cmd_lock(host.sev_cmd_mutex());
  const bool v10 = host.config().profile.v10_sev_ioctls();
  switch (cmd) {
    case uapi::SNP_PLATFORM_STATUS:
      return sev_ioctl_do_snp_platform_status(host, data, fw_error);
    case uapi::SNP_COMMIT:  // == SNP_SET_EXT_CONFIG in the v10 series
      if (v10) return sev_ioctl_do_snp_set_ext_config_v10(host, data, fw_error, why);
      return fw_ret(host.sev()->fw().snp_commit(), fw_error);
    case uapi::SNP_SET_CONFIG:  // == SNP_GET_EXT_CONFIG in the v10 series: not modelled
      if (v10) return fail(-EINVAL, "SNP_GET_EXT_CONFIG is not modelled");
      return sev_ioctl_do_snp_set_config(host, data, fw_error);
    case uapi::SNP_VLEK_LOAD:
      if (v10) return fail(-EINVAL, "no SNP_VLEK_LOAD in a v10 kernel");
      return sev_ioctl_do_snp_vlek_load(host, data, fw_error);
    default:
      return fail(-EINVAL, "unknown /dev/sev command");
  }
}

}  // namespace snplab::model::kvm
