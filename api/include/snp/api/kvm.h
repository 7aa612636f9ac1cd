// The KVM-shaped handles (kvm-ioctls style): one type per kernel object, methods named after
// their ioctl, taking the uAPI structs. Every handle closes its object when destroyed, on
// every path.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "snp/api/backend.h"

namespace snplab::api {

/// Base: a backend object that is closed when the handle dies. A handle may outlive its
/// backend: from then on every call on it fails with EBADF (dead_backend()) and its
/// destruction closes nothing, the backend having closed everything when it was destroyed.
class Owned {
 public:
  Owned(Backend* b, Handle h) : backend_(b), life_(b->life()), handle_(h) {}
  ~Owned() { reset(); }
  Owned(Owned&& o) noexcept
      : backend_(o.backend_), life_(std::move(o.life_)), handle_(std::exchange(o.handle_, 0)) {}
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_;
      life_ = std::move(o.life_);
      handle_ = std::exchange(o.handle_, 0);
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;

  Handle handle() const { return handle_; }
  /// The backend, or dead_backend() once it has been destroyed.
  Backend& backend() const { return life_.expired() ? dead_backend() : *backend_; }

 private:
  void reset() {
    if (handle_ != 0 && !life_.expired()) backend_->close(handle_);
    handle_ = 0;
  }
  Backend* backend_;
  std::weak_ptr<const bool> life_;
  Handle handle_;
};

class SevDevice;
class UserMemory;

class GuestMemfd : public Owned {
 public:
  using Owned::Owned;
  /// fallocate(PUNCH_HOLE | KEEP_SIZE): discards the range; private pages go back to the
  /// hypervisor through the RMP on SNP hosts.
  Status punch_hole(std::uint64_t offset, std::uint64_t len);
  /// mmap(2) of [offset, offset + len) of the file (GUEST_MEMFD_FLAG_MMAP; backend.h):
  /// unmapped when the UserMemory dies.
  Result<UserMemory> mmap(std::uint64_t offset, std::uint64_t len);
};

class Vcpu : public Owned {
 public:
  using Owned::Owned;
  /// KVM_RUN: runs until an exit to userspace; returns what kvm_run then holds.
  Result<RunExit> run() { return backend().kvm_run(handle()); }
  /// kvm_run->hypercall.ret (or snp_req_certs.ret) for the exit run() returned.
  Status set_exit_ret(std::uint64_t ret) { return backend().kvm_run_complete(handle(), RunCompletion{ret, {}, 0}); }
  /// The full answer to a certificate exit (ret, npages, flags).
  Status complete(const RunCompletion& c) { return backend().kvm_run_complete(handle(), c); }
  Result<uapi::kvm_regs> get_regs() { return backend().kvm_get_regs(handle()); }
  Status set_regs(const uapi::kvm_regs& r) { return backend().kvm_set_regs(handle(), r); }
  Result<uapi::kvm_sregs> get_sregs() { return backend().kvm_get_sregs(handle()); }
  Status set_sregs(const uapi::kvm_sregs& s) { return backend().kvm_set_sregs(handle(), s); }
  Status set_cpuid2(std::span<const uapi::kvm_cpuid_entry2> entries) { return backend().kvm_set_cpuid2(handle(), entries); }
  Result<std::vector<uapi::kvm_cpuid_entry2>> get_cpuid2(std::uint32_t nent = uapi::KVM_MAX_CPUID_ENTRIES) {
    return backend().kvm_get_cpuid2(handle(), nent);
  }
  Result<uapi::kvm_xsave> get_xsave() { return backend().kvm_get_xsave(handle()); }
  Status set_xsave(const uapi::kvm_xsave& x) { return backend().kvm_set_xsave(handle(), x); }
  Status set_device_attr(std::uint32_t group, std::uint64_t attr, std::uint64_t value) {
    return backend().kvm_set_device_attr(handle(), group, attr, value);
  }
  Result<std::uint64_t> get_device_attr(std::uint32_t group, std::uint64_t attr) {
    return backend().kvm_get_device_attr(handle(), group, attr);
  }
  Status has_device_attr(std::uint32_t group, std::uint64_t attr) {
    return backend().kvm_has_device_attr(handle(), group, attr);
  }
};

class Vm : public Owned {
 public:
  using Owned::Owned;
  Result<int> check_extension(long cap) { return backend().kvm_check_extension(handle(), cap); }
  Status set_user_memory_region(const uapi::kvm_userspace_memory_region& r) {
    return backend().kvm_set_user_memory_region(handle(), r);
  }
  Status set_user_memory_region2(const uapi::kvm_userspace_memory_region2& r) {
    return backend().kvm_set_user_memory_region2(handle(), r);
  }
  Status set_nr_mmu_pages(std::uint64_t pages) { return backend().kvm_set_nr_mmu_pages(handle(), pages); }
  Result<GuestMemfd> create_guest_memfd(const uapi::kvm_create_guest_memfd& g);
  Status set_memory_attributes(const uapi::kvm_memory_attributes& a) {
    return backend().kvm_set_memory_attributes(handle(), a);
  }
  Status enable_cap(const uapi::kvm_enable_cap& c) { return backend().kvm_enable_cap(handle(), c); }
  Result<Vcpu> create_vcpu(unsigned long vcpu_id);
  /// KVM_MEMORY_ENCRYPT_OP with `id` and a pointer to `data`; `*fw_error` gets the firmware
  /// status the kernel reports in kvm_sev_cmd.error.
  Status memory_encrypt_op(std::uint32_t id, void* data, std::uint32_t sev_fd, std::uint32_t* fw_error = nullptr);

  // The SEV commands of KVM_MEMORY_ENCRYPT_OP, typed: each is memory_encrypt_op() with its
  // kvm_sev_* struct. The kernel writes some back (LAUNCH_UPDATE's progress), so they are
  // taken by reference; `fw_error` gets kvm_sev_cmd.error.
  /// KVM_SEV_INIT2; `sev` is the /dev/sev file the kernel checks (sev_guest_init2()).
  Status sev_init2(uapi::kvm_sev_init& init, const SevDevice& sev, std::uint32_t* fw_error = nullptr);
  // LAUNCH_START, LAUNCH_UPDATE and LAUNCH_FINISH issue their firmware commands through
  // kvm_sev_cmd.sev_fd, which must be an open /dev/sev (the kernel's __sev_issue_cmd(): EBADF
  // otherwise, seen as ENOTTY from LAUNCH_START and EIO from LAUNCH_UPDATE). These wrappers
  // pass the /dev/sev file the VM was given at sev_init2() (0, none, before it).
  Status snp_launch_start(uapi::kvm_sev_snp_launch_start& start, std::uint32_t* fw_error = nullptr) {
    return memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_START, &start, sev_fd_, fw_error);
  }
  /// Returns with `up.gfn_start`, `up.uaddr` and `up.len` advanced past what was done.
  Status snp_launch_update(uapi::kvm_sev_snp_launch_update& up, std::uint32_t* fw_error = nullptr) {
    return memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_UPDATE, &up, sev_fd_, fw_error);
  }
  Status snp_launch_finish(uapi::kvm_sev_snp_launch_finish& fin, std::uint32_t* fw_error = nullptr) {
    return memory_encrypt_op(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &fin, sev_fd_, fw_error);
  }
  /// KVM_SEV_SNP_ENABLE_REQ_CERTS (no data).
  Status snp_enable_req_certs() { return memory_encrypt_op(uapi::KVM_SEV_SNP_ENABLE_REQ_CERTS, nullptr, 0); }

 private:
  std::uint32_t sev_fd_ = 0;  ///< the /dev/sev handle sev_init2() named
};

class SevDevice : public Owned {
 public:
  using Owned::Owned;
  static Result<SevDevice> open(Backend& b);
  Status issue_cmd(std::uint32_t cmd, void* data, std::uint32_t* fw_error = nullptr) {
    return backend().sev_issue_cmd(handle(), cmd, data, fw_error);
  }
  // SEV_ISSUE_CMD's SNP commands, typed.
  Status snp_platform_status(uapi::sev_user_data_snp_status& st, std::uint32_t* fw_error = nullptr) {
    return issue_cmd(uapi::SNP_PLATFORM_STATUS, &st, fw_error);
  }
  /// SNP_SET_CONFIG (6.11 numbering; the hw backend refuses it without the destructive opt-in).
  Status snp_set_config(uapi::sev_user_data_snp_config& c, std::uint32_t* fw_error = nullptr) {
    return issue_cmd(uapi::SNP_SET_CONFIG, &c, fw_error);
  }
  /// SNP_COMMIT (no data: the firmware commits its current TCB; the hw backend refuses it
  /// without the destructive opt-in).
  Status snp_commit(std::uint32_t* fw_error = nullptr) { return issue_cmd(uapi::SNP_COMMIT, nullptr, fw_error); }
  /// SNP_VLEK_LOAD (the hw backend refuses it without the destructive opt-in).
  Status snp_vlek_load(uapi::sev_user_data_snp_vlek_load& v, std::uint32_t* fw_error = nullptr) {
    return issue_cmd(uapi::SNP_VLEK_LOAD, &v, fw_error);
  }
  /// The v10 series' SNP_SET_EXT_CONFIG (a kernel that has it: profiles v10-*).
  Status snp_set_ext_config_v10(uapi::sev_user_data_ext_snp_config& c, std::uint32_t* fw_error = nullptr) {
    return issue_cmd(uapi::SNP_SET_EXT_CONFIG_V10, &c, fw_error);
  }
};

class Kvm : public Owned {
 public:
  using Owned::Owned;
  static Result<Kvm> open(Backend& b);
  Result<int> get_api_version() { return backend().kvm_get_api_version(handle()); }
  Result<int> check_extension(long cap) { return backend().kvm_check_extension(handle(), cap); }
  Result<Vm> create_vm(unsigned long type = 0 /* KVM_X86_DEFAULT_VM */);
  Result<std::uint64_t> get_device_attr(std::uint32_t group, std::uint64_t attr) {
    return backend().kvm_get_device_attr(handle(), group, attr);
  }
  Status has_device_attr(std::uint32_t group, std::uint64_t attr) {
    return backend().kvm_has_device_attr(handle(), group, attr);
  }
  Status set_device_attr(std::uint32_t group, std::uint64_t attr, std::uint64_t value) {
    return backend().kvm_set_device_attr(handle(), group, attr, value);
  }
  /// KVM_GET_SUPPORTED_CPUID with room for `nent` entries (backend.h).
  Result<std::vector<uapi::kvm_cpuid_entry2>> get_supported_cpuid(std::uint32_t nent = uapi::KVM_MAX_CPUID_ENTRIES) {
    return backend().kvm_get_supported_cpuid(handle(), nent);
  }
};

/// Userspace memory a memslot or LAUNCH_UPDATE source points at; freed on destruction.
class UserMemory {
 public:
  static Result<UserMemory> alloc(Backend& b, std::uint64_t size);
  ~UserMemory();
  UserMemory(UserMemory&& o) noexcept
      : backend_(o.backend_),
        life_(std::move(o.life_)),
        addr_(std::exchange(o.addr_, 0)),
        size_(std::exchange(o.size_, 0)) {}
  UserMemory& operator=(UserMemory&&) = delete;
  UserMemory(const UserMemory&) = delete;
  UserMemory& operator=(const UserMemory&) = delete;

  std::uint64_t addr() const { return addr_; }
  std::uint64_t size() const { return size_; }
  Status write(std::uint64_t offset, std::span<const std::uint8_t> bytes);
  /// The bytes at `offset` now (what the guest, the kernel or write() left there).
  Status read(std::uint64_t offset, std::span<std::uint8_t> out) const;

 private:
  friend class GuestMemfd;
  UserMemory(Backend* b, std::uint64_t addr, std::uint64_t size)
      : backend_(b), life_(b->life()), addr_(addr), size_(size) {}
  Backend& backend() const { return life_.expired() ? dead_backend() : *backend_; }
  Backend* backend_;
  std::weak_ptr<const bool> life_;  ///< the mapping dies with its backend (see Owned)
  std::uint64_t addr_;
  std::uint64_t size_;
};

}  // namespace snplab::api
