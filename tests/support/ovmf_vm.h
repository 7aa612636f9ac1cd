// A VMM's SNP launch from a firmware image, as QEMU does it (vectors/measure/FIRMWARE-FORMAT.md,
// facts §5): the image as NORMAL pages ending at 4 GiB, then the SEV metadata sections in
// block order (SNP_SEC_MEM zero, SECRETS, CPUID, the kernel-hashes page with QEMU's hash table
// or zero), then LAUNCH_FINISH measuring one VMSA per vCPU. Guest RAM is one guest_memfd
// slot at GPA 0 (it must hold every section); the firmware has its own slot below 4 GiB.
// Used by the end-to-end test and the launch benchmark.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snp/api/kvm.h"
#include "snp/model/measure/guest_measure.h"
#include "snp/model/measure/ovmf.h"
#include "snp/scenarios/snp_vm.h"

namespace snplab::testsupport {

struct OvmfVmConfig {
  std::uint64_t ram = 16ULL << 20;  ///< guest RAM at GPA 0
  unsigned vcpus = 1;
  std::uint64_t policy = 0x30000;
  std::optional<model::KernelHashInputs> kernel;  ///< hashed into the kernel-hashes page
  bool req_certs = true;                          ///< KVM_SEV_SNP_ENABLE_REQ_CERTS
  std::uint64_t chunk = 2ULL << 20;               ///< bytes per LAUNCH_UPDATE of RAM-sized ranges
};

/// How many of each LAUNCH_UPDATE page type the launch issued.
struct LaunchCounts {
  std::uint64_t normal = 0, zero = 0, secrets = 0, cpuid = 0, ioctls = 0;
};

class OvmfVm {
 public:
  static api::Result<std::unique_ptr<OvmfVm>> launch(api::Backend& b, std::span<const std::uint8_t> image,
                                                     const OvmfVmConfig& cfg) {
    auto vm = std::unique_ptr<OvmfVm>(new OvmfVm(b));
    if (auto s = vm->launch_(image, cfg); !s) return s.error();
    return vm;
  }

  api::Vm& vm() { return *vm_; }
  api::Vcpu& vcpu(unsigned i = 0) { return vcpus_.at(i); }
  api::UserMemory& ram_shared() { return *ram_shared_; }
  std::uint64_t secrets_gpa() const { return secrets_gpa_; }
  const LaunchCounts& counts() const { return counts_; }

  /// QEMU's conversion (scenarios::qemu_convert): RAM's guest_memfd is at GPA 0.
  api::Status convert(std::uint64_t gpa, std::uint64_t size, bool to_private) {
    return scenarios::qemu_convert(*vm_, *ram_gmem_, gpa, gpa, size, to_private);
  }

  void close() {
    vcpus_.clear();
    ram_gmem_.reset();
    fw_gmem_.reset();
    vm_.reset();
    ram_shared_.reset();
    fw_shared_.reset();
  }

 private:
  explicit OvmfVm(api::Backend& b) : b_(b) {}

  static api::Error bad(std::string what) { return api::Error{api::Op::Vmm, EINVAL, api::FwStatus::NoFwCall, std::move(what)}; }

  api::Status update(std::uint64_t gpa, std::uint64_t uaddr, std::uint64_t len, std::uint8_t type) {
    namespace u = uapi;
    u::kvm_sev_snp_launch_update up;
    up.gfn_start = gpa >> model::kPageShift;
    up.uaddr = uaddr;
    up.len = len;
    up.type = type;
    while (up.len != 0) {  // partial progress: call again with the remainder (facts §8.3)
      ++counts_.ioctls;
      if (auto s = vm_->snp_launch_update(up); !s) return s;
    }
    const std::uint64_t pages = len >> model::kPageShift;
    switch (type) {
      case u::KVM_SEV_SNP_PAGE_TYPE_NORMAL: counts_.normal += pages; break;
      case u::KVM_SEV_SNP_PAGE_TYPE_ZERO: counts_.zero += pages; break;
      case u::KVM_SEV_SNP_PAGE_TYPE_SECRETS: counts_.secrets += pages; break;
      case u::KVM_SEV_SNP_PAGE_TYPE_CPUID: counts_.cpuid += pages; break;
      default: break;
    }
    return api::ok();
  }

  api::Status slot(std::uint32_t id, std::uint64_t gpa, std::uint64_t size, std::optional<api::GuestMemfd>& gmem,
                   std::optional<api::UserMemory>& shared) {
    namespace u = uapi;
    u::kvm_create_guest_memfd g;
    g.size = size;
    auto gm = vm_->create_guest_memfd(g);
    if (!gm) return gm.error();
    gmem.emplace(std::move(*gm));
    auto user = api::UserMemory::alloc(b_, size);
    if (!user) return user.error();
    shared.emplace(std::move(*user));
    u::kvm_userspace_memory_region2 r;
    r.slot = id;
    r.flags = u::KVM_MEM_GUEST_MEMFD;
    r.guest_phys_addr = gpa;
    r.memory_size = size;
    r.userspace_addr = shared->addr();
    r.guest_memfd = static_cast<std::uint32_t>(gmem->handle());
    if (auto s = vm_->set_user_memory_region2(r); !s) return s;
    u::kvm_memory_attributes a;
    a.address = gpa;
    a.size = size;
    a.attributes = u::KVM_MEMORY_ATTRIBUTE_PRIVATE;
    return vm_->set_memory_attributes(a);
  }

  api::Status launch_(std::span<const std::uint8_t> image, const OvmfVmConfig& cfg) {
    namespace u = uapi;
    auto parsed = model::FirmwareImage::parse(image);
    if (auto* e = std::get_if<model::ParseError>(&parsed)) return bad("firmware image: " + e->message);
    const model::FirmwareImage& img = std::get<model::FirmwareImage>(parsed);
    if (image.size() % model::kPageSize != 0) return bad("firmware image size is not a multiple of 4096");
    for (const model::MetadataSection& s : img.sections()) {
      if (std::uint64_t{s.gpa} + s.size > cfg.ram) {
        return bad(fmt::format("section at {:#x}+{:#x} is outside guest RAM [0, {:#x})", s.gpa, s.size, cfg.ram));
      }
    }
    auto files = scenarios::open_snp_vm(b_);
    if (!files) return files.error();
    vm_.emplace(std::move(files->vm));
    api::SevDevice& sev = files->sev;
    u::kvm_enable_cap c;
    c.cap = u::KVM_CAP_EXIT_HYPERCALL;
    c.args[0] = 1ULL << u::KVM_HC_MAP_GPA_RANGE;
    if (auto s = vm_->enable_cap(c); !s) return s;
    u::kvm_sev_init init;  // vmsa_features 0: the measured SEV_FEATURES is SNP_ACTIVE alone
    if (auto s = vm_->sev_init2(init, sev); !s) {
      return s;
    }
    u::kvm_sev_snp_launch_start start;
    start.policy = cfg.policy;
    if (auto s = vm_->snp_launch_start(start); !s) return s;
    if (auto s = slot(0, 0, cfg.ram, ram_gmem_, ram_shared_); !s) return s;
    const std::uint64_t fw_gpa = model::FirmwareImage::gpa_ending_at(model::kFirmwareEndGpa, image.size());
    if (auto s = slot(1, fw_gpa, image.size(), fw_gmem_, fw_shared_); !s) return s;

    // 1. The firmware image, NORMAL pages, from its own (shared) copy.
    if (auto s = fw_shared_->write(0, image); !s) return s;
    if (auto s = update(fw_gpa, fw_shared_->addr(), image.size(), u::KVM_SEV_SNP_PAGE_TYPE_NORMAL); !s) return s;
    // 2. The metadata sections, in block order.
    auto src = api::UserMemory::alloc(b_, model::kPageSize);
    if (!src) return src.error();
    for (const model::MetadataSection& s : img.sections()) {
      const auto type = s.type();
      if (!type) return bad(fmt::format("unknown section type {}", s.raw_type));
      api::Status st = api::ok();
      switch (*type) {
        case model::SectionType::SnpSecMem:
        case model::SectionType::SvsmCaa:
          st = update(s.gpa, 0, s.size, u::KVM_SEV_SNP_PAGE_TYPE_ZERO);
          break;
        case model::SectionType::SnpSecrets:
          secrets_gpa_ = s.gpa;
          st = update(s.gpa, src->addr(), model::kPageSize, u::KVM_SEV_SNP_PAGE_TYPE_SECRETS);
          break;
        case model::SectionType::Cpuid: {
          std::vector<std::uint8_t> empty(model::kPageSize, 0);  // count 0: an empty CPUID table
          if (st = src->write(0, empty); st) st = update(s.gpa, src->addr(), model::kPageSize, u::KVM_SEV_SNP_PAGE_TYPE_CPUID);
          break;
        }
        case model::SectionType::SnpKernelHashes:
          if (cfg.kernel) {
            const auto table = model::sev_hash_table(*cfg.kernel);
            const auto table_gpa = img.sev_hash_table_gpa();
            if (!table_gpa) return bad("the image has no SEV hash table GPA for the kernel hashes");
            std::vector<std::uint8_t> page(model::kPageSize, 0);
            std::copy(table.begin(), table.end(), page.begin() + (*table_gpa & (model::kPageSize - 1)));
            if (st = src->write(0, page); st) st = update(s.gpa, src->addr(), model::kPageSize, u::KVM_SEV_SNP_PAGE_TYPE_NORMAL);
          } else {
            st = update(s.gpa, 0, s.size, u::KVM_SEV_SNP_PAGE_TYPE_ZERO);
          }
          break;
      }
      if (!st) return st;
    }
    if (cfg.req_certs) {
      if (auto s = vm_->memory_encrypt_op(u::KVM_SEV_SNP_ENABLE_REQ_CERTS, nullptr, 0); !s) return s;
    }
    const auto ap_eip = img.sev_es_reset_eip();
    for (unsigned i = 0; i < cfg.vcpus; ++i) {
      auto v = vm_->create_vcpu(i);
      if (!v) return v.error();
      if (i > 0) {
        // QEMU points every AP at the firmware's SEV-ES reset block before the launch
        // measures its VMSA: CS.base = eip & 0xffff0000, RIP = eip & 0xffff.
        if (!ap_eip || *ap_eip == 0) return bad("more than one vCPU, but the image has no SEV-ES reset block");
        auto sregs = v->get_sregs();
        if (!sregs) return sregs.error();
        sregs->cs.base = *ap_eip & 0xFFFF0000U;
        sregs->cs.selector = static_cast<std::uint16_t>((*ap_eip >> 4) & 0xF000U);
        if (auto s = v->set_sregs(*sregs); !s) return s;
        auto regs = v->get_regs();
        if (!regs) return regs.error();
        regs->rip = *ap_eip & 0xFFFFU;
        if (auto s = v->set_regs(*regs); !s) return s;
      }
      vcpus_.push_back(std::move(*v));
    }
    u::kvm_sev_snp_launch_finish fin;
    return vm_->snp_launch_finish(fin);
  }

  api::Backend& b_;
  std::optional<api::Vm> vm_;
  std::optional<api::GuestMemfd> ram_gmem_, fw_gmem_;
  std::optional<api::UserMemory> ram_shared_, fw_shared_;
  std::vector<api::Vcpu> vcpus_;
  std::uint64_t secrets_gpa_ = 0;
  LaunchCounts counts_;
};

}  // namespace snplab::testsupport
