// An SNP guest launched through the KVM-shaped API, the way a VMM launches one: an SNP VM,
// INIT2, LAUNCH_START, a guest_memfd slot over [0, mem) with shared user memory beside it
// (all private), LAUNCH_UPDATE of the first `launched` pages, vCPUs, LAUNCH_FINISH. Used by
// the guest, end-to-end and benchmark programs; every step's failure is returned, not hidden.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "snp/api/kvm.h"
#include "snp/model/base/types.h"

namespace snplab::scenarios {

struct SnpVmConfig {
  std::uint64_t mem = 2ULL << 20;   ///< bytes of guest memory at GPA 0
  std::uint64_t launched = 4;       ///< pages measured at launch (NORMAL), from GPA 0
  unsigned vcpus = 1;
  std::uint64_t policy = 0x30000;   ///< bit 17 (must be one) + SMT
  bool exit_hypercall = true;       ///< enable KVM_CAP_EXIT_HYPERCALL for KVM_HC_MAP_GPA_RANGE
  std::uint64_t secrets_gpa = 0xF000;  ///< where SNP_LAUNCH_UPDATE(SECRETS) places the secrets page; 0: none
  bool req_certs = false;           ///< issue KVM_SEV_SNP_ENABLE_REQ_CERTS
  std::uint64_t vmsa_features = 0;  ///< KVM_SEV_INIT2's vmsa_features
  bool finish = true;               ///< issue LAUNCH_FINISH (false: stop after the memory set-up)
};

/// What QEMU does for a conversion of [gpa, gpa + size): the memory attribute, and for a
/// conversion to shared the guest_memfd range discarded too (the private page goes back
/// through the RMP). `gmem_offset` is where `gpa` is in `gmem`.
inline api::Status qemu_convert(api::Vm& vm, api::GuestMemfd& gmem, std::uint64_t gpa, std::uint64_t gmem_offset,
                                std::uint64_t size, bool to_private) {
  uapi::kvm_memory_attributes a;
  a.address = gpa;
  a.size = size;
  a.attributes = to_private ? uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
  if (auto s = vm.set_memory_attributes(a); !s) return s;
  if (!to_private) return gmem.punch_hole(gmem_offset, size);
  return api::ok();
}

/// What a VMM opens before KVM_SEV_INIT2: an SNP VM (KVM_CREATE_VM with KVM_X86_SNP_VM) and
/// /dev/sev, whose fd INIT2 names.
struct SnpVmFiles {
  api::Vm vm;
  api::SevDevice sev;
};
inline api::Result<SnpVmFiles> open_snp_vm(api::Backend& b) {
  auto kvm = api::Kvm::open(b);
  if (!kvm) return kvm.error();
  auto vm = kvm->create_vm(uapi::KVM_X86_SNP_VM);
  if (!vm) return vm.error();
  auto sev = api::SevDevice::open(b);
  if (!sev) return sev.error();
  return SnpVmFiles{std::move(*vm), std::move(*sev)};
}

class SnpVm {
 public:
  /// Launches the guest on `b`; the error of the first step that fails.
  static api::Result<std::unique_ptr<SnpVm>> launch(api::Backend& b, const SnpVmConfig& cfg = {}) {
    auto vm = std::unique_ptr<SnpVm>(new SnpVm(b));
    if (auto s = vm->launch_(cfg); !s) return s.error();
    return vm;
  }

  api::Vm& vm() { return *vm_; }
  api::Vcpu& vcpu(unsigned i = 0) { return vcpus_.at(i); }
  api::GuestMemfd& gmem() { return *gmem_; }
  api::UserMemory& shared() { return *shared_; }

  api::Status set_attributes(std::uint64_t gpa, std::uint64_t size, bool priv) {
    uapi::kvm_memory_attributes a;
    a.address = gpa;
    a.size = size;
    a.attributes = priv ? uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
    return vm_->set_memory_attributes(a);
  }

  /// A conversion as QEMU makes it (qemu_convert; the guest_memfd is at GPA 0).
  api::Status convert(std::uint64_t gpa, std::uint64_t size, bool to_private) {
    return qemu_convert(*vm_, *gmem_, gpa, gpa, size, to_private);
  }

  /// Closes everything in the order a VMM exits: vCPUs, the guest_memfd, the VM.
  void close() {
    vcpus_.clear();
    gmem_.reset();
    vm_.reset();
    sev_.reset();
    shared_.reset();
    src_.reset();
  }

 private:
  explicit SnpVm(api::Backend& b) : b_(b) {}

  api::Status launch_(const SnpVmConfig& cfg) {
    namespace u = uapi;
    auto files = open_snp_vm(b_);
    if (!files) return files.error();
    vm_.emplace(std::move(files->vm));
    // /dev/sev stays open with the VM: the launch commands go through it (kvm_sev_cmd.sev_fd).
    sev_.emplace(std::move(files->sev));
    api::SevDevice& sev = *sev_;
    if (cfg.exit_hypercall) {
      u::kvm_enable_cap c;
      c.cap = u::KVM_CAP_EXIT_HYPERCALL;
      c.args[0] = 1ULL << u::KVM_HC_MAP_GPA_RANGE;
      if (auto s = vm_->enable_cap(c); !s) return s;
    }
    u::kvm_sev_init init;
    init.vmsa_features = cfg.vmsa_features;
    if (auto s = vm_->sev_init2(init, sev); !s) return s;
    u::kvm_sev_snp_launch_start start;
    start.policy = cfg.policy;
    if (auto s = vm_->snp_launch_start(start); !s) return s;
    u::kvm_create_guest_memfd g;
    g.size = cfg.mem;
    auto gm = vm_->create_guest_memfd(g);
    if (!gm) return gm.error();
    gmem_.emplace(std::move(*gm));
    auto user = api::UserMemory::alloc(b_, cfg.mem);
    if (!user) return user.error();
    shared_.emplace(std::move(*user));
    u::kvm_userspace_memory_region2 r;
    r.slot = 0;
    r.flags = u::KVM_MEM_GUEST_MEMFD;
    r.memory_size = cfg.mem;
    r.userspace_addr = shared_->addr();
    r.guest_memfd = static_cast<std::uint32_t>(gmem_->handle());
    if (auto s = vm_->set_user_memory_region2(r); !s) return s;
    if (auto s = set_attributes(0, cfg.mem, true); !s) return s;
    if (cfg.launched != 0) {
      auto src = api::UserMemory::alloc(b_, cfg.launched * model::kPageSize);
      if (!src) return src.error();
      src_.emplace(std::move(*src));
      for (std::uint64_t i = 0; i < cfg.launched; ++i) {
        std::vector<std::uint8_t> page(model::kPageSize, static_cast<std::uint8_t>(i + 1));
        if (auto s = src_->write(i * model::kPageSize, page); !s) return s;
      }
      u::kvm_sev_snp_launch_update up;
      up.gfn_start = 0;
      up.uaddr = src_->addr();
      up.len = cfg.launched * model::kPageSize;
      up.type = u::KVM_SEV_SNP_PAGE_TYPE_NORMAL;
      if (auto s = vm_->snp_launch_update(up); !s) return s;
    }
    if (cfg.secrets_gpa != 0) {
      // The firmware writes the page (VMPCKs); the source is only a placeholder.
      auto src = api::UserMemory::alloc(b_, model::kPageSize);
      if (!src) return src.error();
      u::kvm_sev_snp_launch_update up;
      up.gfn_start = cfg.secrets_gpa >> model::kPageShift;
      up.uaddr = src->addr();
      up.len = model::kPageSize;
      up.type = u::KVM_SEV_SNP_PAGE_TYPE_SECRETS;
      if (auto s = vm_->snp_launch_update(up); !s) return s;
    }
    if (cfg.req_certs) {
      if (auto s = vm_->snp_enable_req_certs(); !s) return s;
    }
    for (unsigned i = 0; i < cfg.vcpus; ++i) {
      auto v = vm_->create_vcpu(i);
      if (!v) return v.error();
      vcpus_.push_back(std::move(*v));
    }
    if (!cfg.finish) return api::ok();
    u::kvm_sev_snp_launch_finish fin;
    return vm_->snp_launch_finish(fin);
  }

  api::Backend& b_;
  std::optional<api::SevDevice> sev_;  ///< closed after the VM (declared first)
  std::optional<api::Vm> vm_;
  std::optional<api::GuestMemfd> gmem_;
  std::optional<api::UserMemory> shared_, src_;
  std::vector<api::Vcpu> vcpus_;
};

}  // namespace snplab::scenarios
