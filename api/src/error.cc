#include "snp/api/error.h"

#include <cstring>
#include <ostream>

namespace snplab::api {

std::string Error::to_string() const {
  std::string s = fmt::format("{}: errno={}", op, errno_value);
  if (errno_value != 0) s += fmt::format(" ({})", std::strerror(errno_value));
  s += fmt::format(" fw={}(0x{:x})", model::to_string(fw), static_cast<std::uint32_t>(fw));
  if (!detail.empty()) s += ": " + detail;
  return s;
}

std::ostream& operator<<(std::ostream& os, Op op) { return os << to_string(op); }

std::string_view to_string(Op op) {
  switch (op) {
    case Op::KvmGetApiVersion: return "KVM_GET_API_VERSION";
    case Op::KvmCheckExtension: return "KVM_CHECK_EXTENSION";
    case Op::KvmCreateVm: return "KVM_CREATE_VM";
    case Op::KvmGetVcpuMmapSize: return "KVM_GET_VCPU_MMAP_SIZE";
    case Op::KvmSetUserMemoryRegion: return "KVM_SET_USER_MEMORY_REGION";
    case Op::KvmSetUserMemoryRegion2: return "KVM_SET_USER_MEMORY_REGION2";
    case Op::KvmSetNrMmuPages: return "KVM_SET_NR_MMU_PAGES";
    case Op::KvmGetDeviceAttr: return "KVM_GET_DEVICE_ATTR";
    case Op::KvmHasDeviceAttr: return "KVM_HAS_DEVICE_ATTR";
    case Op::KvmCreateGuestMemfd: return "KVM_CREATE_GUEST_MEMFD";
    case Op::KvmSetMemoryAttributes: return "KVM_SET_MEMORY_ATTRIBUTES";
    case Op::KvmEnableCap: return "KVM_ENABLE_CAP";
    case Op::KvmCreateVcpu: return "KVM_CREATE_VCPU";
    case Op::KvmMemoryEncryptOp: return "KVM_MEMORY_ENCRYPT_OP";
    case Op::KvmRun: return "KVM_RUN";
    case Op::KvmGetRegs: return "KVM_GET_REGS";
    case Op::KvmSetRegs: return "KVM_SET_REGS";
    case Op::KvmGetSregs: return "KVM_GET_SREGS";
    case Op::KvmSetSregs: return "KVM_SET_SREGS";
    case Op::KvmGetSupportedCpuid: return "KVM_GET_SUPPORTED_CPUID";
    case Op::KvmSetCpuid2: return "KVM_SET_CPUID2";
    case Op::KvmGetCpuid2: return "KVM_GET_CPUID2";
    case Op::KvmGetXsave: return "KVM_GET_XSAVE";
    case Op::KvmSetXsave: return "KVM_SET_XSAVE";
    case Op::KvmSetDeviceAttr: return "KVM_SET_DEVICE_ATTR";
    case Op::SevIssueCmd: return "SEV_ISSUE_CMD";
    case Op::OpenDevKvm: return "open(/dev/kvm)";
    case Op::OpenDevSev: return "open(/dev/sev)";
    case Op::Mmap: return "mmap";
    case Op::MmapGuestMemfd: return "mmap(guest_memfd)";
    case Op::MmapKvmRun: return "mmap(kvm_run)";
    case Op::Munmap: return "munmap";
    case Op::Fallocate: return "fallocate";
    case Op::UserRead: return "user_read";
    case Op::UserWrite: return "user_write";
    case Op::SnplabLoadGuest: return "snplab_load_guest";
    case Op::SnplabRestore: return "snplab_restore";
    case Op::Vmm: return "vmm";
  }
  return "?";
}

}  // namespace snplab::api
