#include "snp/hw/probe.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "fd.h"
#include "snp_uapi.h"

namespace snplab::hw {

namespace {

struct CapDef {
  const char* name;
  int number;
};

// The capabilities snplab's KVM paths use (facts §8.4, §8.5).
constexpr CapDef kCaps[] = {
    {"KVM_CAP_EXIT_HYPERCALL", KVM_CAP_EXIT_HYPERCALL},
    {"KVM_CAP_SYS_ATTRIBUTES", KVM_CAP_SYS_ATTRIBUTES},
    {"KVM_CAP_USER_MEMORY2", KVM_CAP_USER_MEMORY2},
    {"KVM_CAP_MEMORY_FAULT_INFO", KVM_CAP_MEMORY_FAULT_INFO},
    {"KVM_CAP_MEMORY_ATTRIBUTES", KVM_CAP_MEMORY_ATTRIBUTES},
    {"KVM_CAP_GUEST_MEMFD", KVM_CAP_GUEST_MEMFD},
    {"KVM_CAP_VM_TYPES", KVM_CAP_VM_TYPES},
    {"KVM_CAP_GUEST_MEMFD_FLAGS", KVM_CAP_GUEST_MEMFD_FLAGS},
};

void probe_sev(const char* sev_path, SevStatus& out) {
  struct stat st {};
  if (::stat(sev_path, &st) != 0) {
    out.present = false;
    out.open_errno = errno;
    return;
  }
  out.present = true;
  // uapi: open(2) of /dev/sev needs CAP_SYS_ADMIN for write commands; SNP_PLATFORM_STATUS
  // is a read and works on an fd opened read-only.
  Fd sev(::open(sev_path, O_RDONLY | O_CLOEXEC));
  if (!sev.valid()) {
    out.open_errno = errno;
    return;
  }
  alignas(4096) static thread_local unsigned char page[4096];
  std::memset(page, 0, sizeof(page));
  sev_issue_cmd cmd{};
  cmd.cmd = compat::kSnpPlatformStatus;
  cmd.data = reinterpret_cast<std::uintptr_t>(page);
  // uapi: SEV_ISSUE_CMD(SNP_PLATFORM_STATUS) - the kernel reads cmd/data and writes the
  // 32-byte sev_user_data_snp_status to `data` and the firmware status to `error`
  // (Documentation/virt/coco/sev-guest.rst, facts §8.7).
  if (::ioctl(sev.get(), SEV_ISSUE_CMD, &cmd) != 0) {
    out.status_error = api::Error{api::Op::SevIssueCmd, errno, static_cast<api::FwStatus>(cmd.error), "SNP_PLATFORM_STATUS"};
    return;
  }
  compat::SnpPlatformStatus s{};
  std::memcpy(&s, page, sizeof(s));
  out.have_status = true;
  out.api_major = s.api_major;
  out.api_minor = s.api_minor;
  out.state = s.state;
  out.rmp_initialized = (s.is_rmp_initialized & 1U) != 0;
  out.build_id = s.build_id;
  out.guest_count = s.guest_count;
  out.current_tcb = s.current_tcb_version;
  out.reported_tcb = s.reported_tcb_version;
}

}  // namespace

api::Result<ProbeReport> probe(const char* kvm_path, const char* sev_path) {
  Fd kvm(::open(kvm_path, O_RDWR | O_CLOEXEC));
  if (!kvm.valid()) {
    return api::Error{api::Op::OpenDevKvm, errno, api::FwStatus::NoFwCall, kvm_path};
  }
  ProbeReport r;
  // uapi: KVM_GET_API_VERSION takes no argument and returns 12 (KVM_API_VERSION).
  r.api_version = ::ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
  if (r.api_version < 0) return api::Error{api::Op::KvmGetApiVersion, errno, api::FwStatus::NoFwCall, {}};
  for (const CapDef& c : kCaps) {
    // uapi: KVM_CHECK_EXTENSION on the system fd; the argument is the capability number,
    // the return 0 (absent) or a capability-specific positive value.
    const int v = ::ioctl(kvm.get(), KVM_CHECK_EXTENSION, c.number);
    r.caps.push_back(CapValue{c.name, c.number, v, v < 0 ? errno : 0});
  }
  if (const int types = r.cap("KVM_CAP_VM_TYPES"); types > 0) r.vm_types = static_cast<std::uint32_t>(types);
  r.snp_vm_type = (r.vm_types & (1U << KVM_X86_SNP_VM)) != 0;
  if (r.cap("KVM_CAP_SYS_ATTRIBUTES") > 0) {
    std::uint64_t features = 0;
    kvm_device_attr attr{};
    attr.group = KVM_X86_GRP_SEV;
    attr.attr = KVM_X86_SEV_VMSA_FEATURES;
    attr.addr = reinterpret_cast<std::uintptr_t>(&features);
    // uapi: KVM_GET_DEVICE_ATTR on /dev/kvm, group KVM_X86_GRP_SEV: the kernel writes the
    // supported vmsa_features mask to attr.addr; ENXIO when SEV is not enabled (facts §8.2).
    if (::ioctl(kvm.get(), KVM_GET_DEVICE_ATTR, &attr) == 0) r.sev_vmsa_features = features;
  }
  probe_sev(sev_path, r.sev);
  return r;
}

int ProbeReport::cap(const char* name) const {
  for (const CapValue& c : caps) {
    if (std::strcmp(c.name, name) == 0) return c.value > 0 ? c.value : 0;
  }
  return 0;
}

std::string ProbeReport::snp_missing() const {
  if (cap("KVM_CAP_VM_TYPES") == 0) return "KVM_CAP_VM_TYPES (235) absent: kernel older than v6.10";
  if (!snp_vm_type) return fmt::format("KVM_X86_SNP_VM (4) not in KVM_CAP_VM_TYPES (0x{:x})", vm_types);
  if (cap("KVM_CAP_GUEST_MEMFD") == 0) return "KVM_CAP_GUEST_MEMFD (234) absent";
  if (!sev.present) return fmt::format("/dev/sev absent (errno={})", sev.open_errno);
  if (sev.open_errno != 0) return fmt::format("open(/dev/sev): errno={} ({})", sev.open_errno, std::strerror(sev.open_errno));
  if (sev.status_error) return sev.status_error->to_string();
  return {};
}

std::string ProbeReport::describe() const {
  std::string s = fmt::format("/dev/kvm: KVM_GET_API_VERSION = {}\n", api_version);
  for (const CapValue& c : caps) {
    if (c.value < 0) {
      s += fmt::format("  {:<28} ({:3}) ioctl failed: errno={}\n", c.name, c.number, c.errno_value);
    } else {
      s += fmt::format("  {:<28} ({:3}) = {}{}\n", c.name, c.number, c.value, c.value == 0 ? "  (absent)" : "");
    }
  }
  s += fmt::format("  VM types: 0x{:x} (DEFAULT{}{}{}{})\n", vm_types,
                   (vm_types & (1U << KVM_X86_SW_PROTECTED_VM)) != 0 ? ", SW_PROTECTED" : "",
                   (vm_types & (1U << KVM_X86_SEV_VM)) != 0 ? ", SEV" : "",
                   (vm_types & (1U << KVM_X86_SEV_ES_VM)) != 0 ? ", SEV_ES" : "", snp_vm_type ? ", SNP" : "");
  if (sev_vmsa_features) {
    s += fmt::format("  KVM_X86_SEV_VMSA_FEATURES = 0x{:x}\n", *sev_vmsa_features);
  } else {
    s += "  KVM_X86_SEV_VMSA_FEATURES: not offered (SEV not enabled in kvm_amd)\n";
  }
  if (!sev.present) {
    s += "/dev/sev: absent\n";
  } else if (sev.open_errno != 0) {
    s += fmt::format("/dev/sev: open failed: errno={} ({})\n", sev.open_errno, std::strerror(sev.open_errno));
  } else if (sev.status_error) {
    s += fmt::format("/dev/sev: {}\n", sev.status_error->to_string());
  } else if (sev.have_status) {
    s += fmt::format("/dev/sev: SNP_PLATFORM_STATUS api {}.{} build {} state {} rmp_initialized={} guests={} "
                     "current_tcb=0x{:016x} reported_tcb=0x{:016x}\n",
                     sev.api_major, sev.api_minor, sev.build_id, sev.state, sev.rmp_initialized ? 1 : 0,
                     sev.guest_count, sev.current_tcb, sev.reported_tcb);
  }
  const std::string missing = snp_missing();
  s += missing.empty() ? "SNP guests: supported\n" : fmt::format("SNP guests: unsupported: {}\n", missing);
  return s;
}

}  // namespace snplab::hw
