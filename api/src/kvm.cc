#include "snp/api/kvm.h"

#include <cerrno>

namespace snplab::api {

Status GuestMemfd::punch_hole(std::uint64_t offset, std::uint64_t len) {
  constexpr int kFallocKeepSize = 0x01, kFallocPunchHole = 0x02;  // <linux/falloc.h>
  return backend().gmem_fallocate(handle(), kFallocKeepSize | kFallocPunchHole, offset, len);
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
  return memory_encrypt_op(uapi::KVM_SEV_INIT2, &init, static_cast<std::uint32_t>(sev.handle()), fw_error);
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
  if (addr_ != 0) (void)backend_->user_free(addr_, size_);
}

Status UserMemory::write(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  if (offset > size_ || bytes.size() > size_ - offset) {
    return Error{Op::UserWrite, EFAULT, FwStatus::NoFwCall, "write past the end of the user mapping"};
  }
  return backend_->user_write(addr_ + offset, bytes);
}

}  // namespace snplab::api
