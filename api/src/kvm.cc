#include "snp/api/kvm.h"

#include <cerrno>

namespace snplab::api {

namespace {

/// Every call of a handle whose backend is gone: EBADF, as a closed fd answers.
class DeadBackend final : public Backend {
 public:
  std::string_view name() const override { return "destroyed"; }
  Result<Handle> open_kvm() override { return gone(Op::OpenDevKvm); }
  Result<int> kvm_get_api_version(Handle) override { return gone(Op::KvmGetApiVersion); }
  Result<int> kvm_check_extension(Handle, long) override { return gone(Op::KvmCheckExtension); }
  Result<Handle> kvm_create_vm(Handle, unsigned long) override { return gone(Op::KvmCreateVm); }
  Result<std::uint64_t> kvm_get_device_attr(Handle, std::uint32_t, std::uint64_t) override {
    return gone(Op::KvmGetDeviceAttr);
  }
  Status kvm_has_device_attr(Handle, std::uint32_t, std::uint64_t) override { return gone(Op::KvmHasDeviceAttr); }
  Status kvm_set_device_attr(Handle, std::uint32_t, std::uint64_t, std::uint64_t) override {
    return gone(Op::KvmSetDeviceAttr);
  }
  Result<std::vector<uapi::kvm_cpuid_entry2>> kvm_get_supported_cpuid(Handle, std::uint32_t) override {
    return gone(Op::KvmGetSupportedCpuid);
  }
  Status kvm_set_user_memory_region(Handle, const uapi::kvm_userspace_memory_region&) override {
    return gone(Op::KvmSetUserMemoryRegion);
  }
  Status kvm_set_user_memory_region2(Handle, const uapi::kvm_userspace_memory_region2&) override {
    return gone(Op::KvmSetUserMemoryRegion2);
  }
  Status kvm_set_nr_mmu_pages(Handle, std::uint64_t) override { return gone(Op::KvmSetNrMmuPages); }
  Result<Handle> kvm_create_guest_memfd(Handle, const uapi::kvm_create_guest_memfd&) override {
    return gone(Op::KvmCreateGuestMemfd);
  }
  Status kvm_set_memory_attributes(Handle, const uapi::kvm_memory_attributes&) override {
    return gone(Op::KvmSetMemoryAttributes);
  }
  Status kvm_enable_cap(Handle, const uapi::kvm_enable_cap&) override { return gone(Op::KvmEnableCap); }
  Result<Handle> kvm_create_vcpu(Handle, unsigned long) override { return gone(Op::KvmCreateVcpu); }
  Status kvm_memory_encrypt_op(Handle, uapi::kvm_sev_cmd&) override { return gone(Op::KvmMemoryEncryptOp); }
  Status gmem_fallocate(Handle, int, std::uint64_t, std::uint64_t) override { return gone(Op::Fallocate); }
  Result<std::uint64_t> gmem_mmap(Handle, std::uint64_t, std::uint64_t) override { return gone(Op::MmapGuestMemfd); }
  Result<RunExit> kvm_run(Handle) override { return gone(Op::KvmRun); }
  Status kvm_run_complete(Handle, const RunCompletion&) override { return gone(Op::KvmRun); }
  Result<uapi::kvm_regs> kvm_get_regs(Handle) override { return gone(Op::KvmGetRegs); }
  Status kvm_set_regs(Handle, const uapi::kvm_regs&) override { return gone(Op::KvmSetRegs); }
  Result<uapi::kvm_sregs> kvm_get_sregs(Handle) override { return gone(Op::KvmGetSregs); }
  Status kvm_set_sregs(Handle, const uapi::kvm_sregs&) override { return gone(Op::KvmSetSregs); }
  Status kvm_set_cpuid2(Handle, std::span<const uapi::kvm_cpuid_entry2>) override { return gone(Op::KvmSetCpuid2); }
  Result<std::vector<uapi::kvm_cpuid_entry2>> kvm_get_cpuid2(Handle, std::uint32_t) override {
    return gone(Op::KvmGetCpuid2);
  }
  Result<uapi::kvm_xsave> kvm_get_xsave(Handle) override { return gone(Op::KvmGetXsave); }
  Status kvm_set_xsave(Handle, const uapi::kvm_xsave&) override { return gone(Op::KvmSetXsave); }
  Result<Handle> open_sev() override { return gone(Op::OpenDevSev); }
  Status sev_issue_cmd(Handle, std::uint32_t, void*, std::uint32_t* fw_error) override {
    if (fw_error != nullptr) *fw_error = 0;
    return gone(Op::SevIssueCmd);
  }
  Result<std::uint64_t> user_alloc(std::uint64_t) override { return gone(Op::Mmap); }
  Status user_write(std::uint64_t, std::span<const std::uint8_t>) override { return gone(Op::UserWrite); }
  Status user_read(std::uint64_t, std::span<std::uint8_t>) override { return gone(Op::UserRead); }
  Status user_free(std::uint64_t, std::uint64_t) override { return gone(Op::Munmap); }
  void close(Handle) override {}

 private:
  static Error gone(Op op) {
    return Error{op, EBADF, FwStatus::NoFwCall, "the backend this handle belongs to was destroyed"};
  }
};

}  // namespace

Backend& dead_backend() {
  static DeadBackend dead;
  return dead;
}

Status GuestMemfd::punch_hole(std::uint64_t offset, std::uint64_t len) {
  constexpr int kFallocKeepSize = 0x01, kFallocPunchHole = 0x02;  // <linux/falloc.h>
  return backend().gmem_fallocate(handle(), kFallocKeepSize | kFallocPunchHole, offset, len);
}

Result<UserMemory> GuestMemfd::mmap(std::uint64_t offset, std::uint64_t len) {
  auto addr = backend().gmem_mmap(handle(), offset, len);
  if (!addr) return addr.error();
  return UserMemory(&backend(), *addr, len);
}

Result<GuestMemfd> Vm::create_guest_memfd(const uapi::kvm_create_guest_memfd& g) {
  auto h = backend().kvm_create_guest_memfd(handle(), g);
  if (!h) return h.error();
  return GuestMemfd(&backend(), *h);
}

Result<Vcpu> Vm::create_vcpu(unsigned long vcpu_id) {
  auto h = backend().kvm_create_vcpu(handle(), vcpu_id);
  if (!h) return h.error();
  return Vcpu(&backend(), *h);
}

Status Vm::memory_encrypt_op(std::uint32_t id, void* data, std::uint32_t sev_fd, std::uint32_t* fw_error) {
  uapi::kvm_sev_cmd cmd;
  cmd.id = id;
  cmd.data = reinterpret_cast<std::uintptr_t>(data);
  cmd.sev_fd = sev_fd;
  Status st = backend().kvm_memory_encrypt_op(handle(), cmd);
  if (fw_error != nullptr) *fw_error = cmd.error;
  return st;
}

Status Vm::sev_init2(uapi::kvm_sev_init& init, const SevDevice& sev, std::uint32_t* fw_error) {
  sev_fd_ = static_cast<std::uint32_t>(sev.handle());
  return memory_encrypt_op(uapi::KVM_SEV_INIT2, &init, sev_fd_, fw_error);
}

Result<SevDevice> SevDevice::open(Backend& b) {
  auto h = b.open_sev();
  if (!h) return h.error();
  return SevDevice(&b, *h);
}

Result<Kvm> Kvm::open(Backend& b) {
  auto h = b.open_kvm();
  if (!h) return h.error();
  return Kvm(&b, *h);
}

Result<Vm> Kvm::create_vm(unsigned long type) {
  auto h = backend().kvm_create_vm(handle(), type);
  if (!h) return h.error();
  return Vm(&backend(), *h);
}

Result<UserMemory> UserMemory::alloc(Backend& b, std::uint64_t size) {
  auto a = b.user_alloc(size);
  if (!a) return a.error();
  return UserMemory(&b, *a, size);
}

UserMemory::~UserMemory() {
  if (addr_ != 0 && !life_.expired()) (void)backend_->user_free(addr_, size_);
}

Status UserMemory::read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  if (offset > size_ || out.size() > size_ - offset) {
    return Error{Op::UserRead, EFAULT, FwStatus::NoFwCall, "read past the end of the user mapping"};
  }
  return backend().user_read(addr_ + offset, out);
}

Status UserMemory::write(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  if (offset > size_ || bytes.size() > size_ - offset) {
    return Error{Op::UserWrite, EFAULT, FwStatus::NoFwCall, "write past the end of the user mapping"};
  }
  return backend().user_write(addr_ + offset, bytes);
}

}  // namespace snplab::api
