// A failure exactly as a KVM user observes it: which ioctl, the errno, and the firmware
// status - kept apart, never folded into one number, never dropped (STYLE.md 3.3).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "snp/model/base/expected.h"
#include "snp/model/psp/fw_status.h"

namespace snplab::api {

using model::FwStatus;

/// The operation that failed: an ioctl, a system call, or one of snplab's own entry points
/// (`Vmm`: a VMM-side helper). `to_string` gives its ABI name ("KVM_CREATE_VM",
/// "SEV_ISSUE_CMD", "open(/dev/sev)"), which is what errors print.
enum class Op : std::uint8_t {
  KvmGetApiVersion,
  KvmCheckExtension,
  KvmCreateVm,
  KvmGetVcpuMmapSize,
  KvmSetUserMemoryRegion,
  KvmSetUserMemoryRegion2,
  KvmSetNrMmuPages,
  KvmGetDeviceAttr,
  KvmHasDeviceAttr,
  KvmCreateGuestMemfd,
  KvmSetMemoryAttributes,
  KvmEnableCap,
  KvmCreateVcpu,
  KvmMemoryEncryptOp,
  KvmRun,
  KvmGetRegs,
  KvmSetRegs,
  KvmGetSregs,
  KvmSetSregs,
  KvmGetSupportedCpuid,
  KvmSetCpuid2,
  KvmGetCpuid2,
  KvmGetXsave,
  KvmSetXsave,
  KvmSetDeviceAttr,
  SevIssueCmd,
  OpenDevKvm,
  OpenDevSev,
  Mmap,
  MmapGuestMemfd,
  MmapKvmRun,
  Munmap,
  Fallocate,
  UserWrite,
  UserRead,
  SnplabLoadGuest,
  SnplabRestore,
  Vmm,
};
std::string_view to_string(Op op);
std::ostream& operator<<(std::ostream& os, Op op);

struct Error {
  Op op = Op::Vmm;
  int errno_value = 0;                ///< 0 if the kernel itself accepted the call
  FwStatus fw = FwStatus::NoFwCall;   ///< NO_FW_CALL if the firmware was never reached
  /// Free text for the human reader (which flag, which bound). Not compared across
  /// backends: hardware cannot produce it.
  std::string detail;

  /// Backends agree when op, errno and firmware status agree.
  bool same_observable(const Error& o) const {
    return op == o.op && errno_value == o.errno_value && fw == o.fw;
  }
  /// "KVM_CREATE_VM: errno=22 (Invalid argument) fw=NO_FW_CALL(0xffffffff)[: detail]"
  std::string to_string() const;
};

/// What every API call returns: the value, or the Error a KVM user would see.
template <class T>
using Result = Expected<T, Error>;

using Status = Result<std::monostate>;
inline Status ok() { return Status(std::monostate{}); }

}  // namespace snplab::api

template <>
struct fmt::formatter<snplab::api::Op> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(snplab::api::Op op, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(snplab::api::to_string(op), ctx);
  }
};

template <>
struct fmt::formatter<snplab::api::Error> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const snplab::api::Error& e, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(e.to_string(), ctx);
  }
};
