#include "snp/hw/probe.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cpuid.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

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

HostCpu probe_cpu() {
  HostCpu c;
  unsigned a = 0, b = 0, cx = 0, d = 0;
  auto text = [](std::initializer_list<unsigned> words) {
    std::string t;
    for (const unsigned w : words) {
      for (int i = 0; i < 4; ++i) t.push_back(static_cast<char>((w >> (8 * i)) & 0xFFU));
    }
    while (!t.empty() && t.back() == '\0') t.pop_back();
    return t;
  };
  __cpuid(0, a, b, cx, d);
  c.vendor = text({b, d, cx});
  if (a >= 1) {
    __cpuid(1, a, b, cx, d);
    c.signature = a;
    c.hypervisor = (cx >> 31) != 0;
  }
  if (c.hypervisor) {
    __cpuid(0x40000000U, a, b, cx, d);
    c.hypervisor_vendor = text({b, cx, d});
  }
  __cpuid(0x80000000U, a, b, cx, d);
  c.has_8000001f = a >= 0x8000001FU;
  if (c.has_8000001f) __cpuid(0x8000001FU, c.eax_8000001f, c.ebx_8000001f, c.ecx_8000001f, c.edx_8000001f);
  return c;
}

KvmModules probe_modules(const char* sys_module) {
  namespace fs = std::filesystem;
  KvmModules m;
  std::error_code ec;
  for (fs::directory_iterator it(sys_module, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == "kvm" || name.rfind("kvm_", 0) == 0) m.loaded.push_back(name);
  }
  std::sort(m.loaded.begin(), m.loaded.end());
  for (const char* p : {"sev", "sev_es", "sev_snp", "debug_swap"}) {
    std::ifstream in(fs::path(sys_module) / "kvm_amd" / "parameters" / p);
    std::string v;
    if (in && std::getline(in, v)) m.kvm_amd[p] = v;
  }
  return m;
}

std::string KvmModules::vendor() const {
  for (const std::string& n : loaded) {
    if (n.rfind("kvm_", 0) == 0) return n;
  }
  return {};
}

bool KvmModules::has(const std::string& name) const {
  return std::find(loaded.begin(), loaded.end(), name) != loaded.end();
}

api::Result<ProbeReport> probe(const char* kvm_path, const char* sev_path, const char* sys_module) {
  Fd kvm(::open(kvm_path, O_RDWR | O_CLOEXEC));
  if (!kvm.valid()) {
    return api::Error{api::Op::OpenDevKvm, errno, api::FwStatus::NoFwCall, kvm_path};
  }
  ProbeReport r;
  r.cpu = probe_cpu();
  r.modules = probe_modules(sys_module);
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

namespace {

enum class SevLevel { Sev, SevEs, Snp };

/// Why VMs of `level` cannot run here, in the order a validation engineer would check: the CPU,
/// its SEV leaf, the vendor module, its parameter, then the VM type KVM offers. Empty: they can.
std::string sev_unavailable(const ProbeReport& r, SevLevel level) {
  struct Level {
    unsigned bit;
    const char* cpuid_name;
    const char* param;
    unsigned vm_type;
    const char* vm_type_name;
  };
  static constexpr Level kLevels[] = {{1, "SEV", "sev", KVM_X86_SEV_VM, "KVM_X86_SEV_VM"},
                                      {3, "SEV-ES", "sev_es", KVM_X86_SEV_ES_VM, "KVM_X86_SEV_ES_VM"},
                                      {4, "SEV-SNP", "sev_snp", KVM_X86_SNP_VM, "KVM_X86_SNP_VM"}};
  const Level& l = kLevels[static_cast<int>(level)];
  const HostCpu& c = r.cpu;
  const std::string under =
      c.hypervisor ? fmt::format(" (this CPU is a guest of the '{}' hypervisor, which does not offer it)",
                                 c.hypervisor_vendor)
                   : std::string();
  if (c.vendor != "AuthenticAMD") return fmt::format("the CPU is {}: {} needs an AMD CPU", c.vendor, l.cpuid_name);
  if (!c.has_8000001f) return fmt::format("CPUID Fn8000_001F (the SEV leaf) is not offered{}", under);
  if ((c.eax_8000001f & (1U << l.bit)) == 0) {
    return fmt::format("CPUID Fn8000_001F_EAX[{}] ({}) is 0{}", l.bit, l.cpuid_name, under);
  }
  if (!r.modules.has("kvm_amd")) {
    const std::string v = r.modules.vendor();
    return fmt::format("kvm_amd is not loaded (KVM's vendor module: {})", v.empty() ? "none" : v);
  }
  if (auto it = r.modules.kvm_amd.find(l.param); it != r.modules.kvm_amd.end() && (it->second == "N" || it->second == "0")) {
    return fmt::format("kvm_amd.{}={} (the module parameter is off)", l.param, it->second);
  }
  if ((r.vm_types & (1U << l.vm_type)) == 0) {
    return fmt::format("{} ({}) not in KVM_CAP_VM_TYPES (0x{:x})", l.vm_type_name, l.vm_type, r.vm_types);
  }
  return {};
}

Feature feature(std::string name, std::string missing, std::string offered) {
  const bool ok = missing.empty();
  return Feature{std::move(name), ok, ok ? std::move(offered) : std::move(missing)};
}

std::string cap_missing(const ProbeReport& r, const char* name, int number) {
  for (const CapValue& c : r.caps) {
    if (std::strcmp(c.name, name) != 0) continue;
    if (c.value < 0) return fmt::format("KVM_CHECK_EXTENSION({}) failed: errno={}", name, c.errno_value);
    if (c.value == 0) return fmt::format("{} ({}) is 0 on this kernel", name, number);
    return {};
  }
  return fmt::format("{} ({}) not probed", name, number);
}

std::string sev_device_missing(const SevStatus& s) {
  if (!s.present) return fmt::format("/dev/sev absent ({})", std::strerror(s.open_errno));
  if (s.open_errno != 0) return fmt::format("open(/dev/sev): errno={} ({})", s.open_errno, std::strerror(s.open_errno));
  return {};
}

}  // namespace

std::vector<Feature> ProbeReport::features() const {
  std::vector<Feature> f;
  f.push_back(feature("KVM (/dev/kvm)", api_version == 12 ? "" : fmt::format("KVM_GET_API_VERSION = {}", api_version),
                      fmt::format("API version 12, vendor module {}",
                                  modules.vendor().empty() ? "not found in /sys/module" : modules.vendor())));
  f.push_back(feature("default VMs (KVM_X86_DEFAULT_VM)", (vm_types & 1U) != 0 ? "" : "type 0 not in KVM_CAP_VM_TYPES",
                      "KVM_CREATE_VM type 0"));
  f.push_back(feature("KVM_SET_USER_MEMORY_REGION2", cap_missing(*this, "KVM_CAP_USER_MEMORY2", KVM_CAP_USER_MEMORY2),
                      "memslots with guest_memfd fields"));
  f.push_back(feature("guest_memfd (KVM_CREATE_GUEST_MEMFD)", cap_missing(*this, "KVM_CAP_GUEST_MEMFD", KVM_CAP_GUEST_MEMFD),
                      "private memory files"));
  {
    std::string why = cap_missing(*this, "KVM_CAP_GUEST_MEMFD_FLAGS", KVM_CAP_GUEST_MEMFD_FLAGS);
    if (why.empty() && (static_cast<unsigned>(cap("KVM_CAP_GUEST_MEMFD_FLAGS")) & GUEST_MEMFD_FLAG_MMAP) == 0) {
      why = fmt::format("GUEST_MEMFD_FLAG_MMAP not in KVM_CAP_GUEST_MEMFD_FLAGS (0x{:x})", cap("KVM_CAP_GUEST_MEMFD_FLAGS"));
    }
    f.push_back(feature("guest_memfd mmap (GUEST_MEMFD_FLAG_MMAP)", why, "host access to guest_memfd pages"));
  }
  {
    std::string why = cap_missing(*this, "KVM_CAP_MEMORY_ATTRIBUTES", KVM_CAP_MEMORY_ATTRIBUTES);
    if (why.empty() && (static_cast<unsigned>(cap("KVM_CAP_MEMORY_ATTRIBUTES")) & KVM_MEMORY_ATTRIBUTE_PRIVATE) == 0) {
      why = "KVM_MEMORY_ATTRIBUTE_PRIVATE not in KVM_CAP_MEMORY_ATTRIBUTES";
    }
    f.push_back(feature("private memory attributes (KVM_SET_MEMORY_ATTRIBUTES)", why, "PRIVATE on the system fd"));
  }
  f.push_back(feature("software-protected VMs (KVM_X86_SW_PROTECTED_VM)",
                      (vm_types & (1U << KVM_X86_SW_PROTECTED_VM)) != 0
                          ? ""
                          : fmt::format("KVM_X86_SW_PROTECTED_VM (1) not in KVM_CAP_VM_TYPES (0x{:x})", vm_types),
                      "KVM_CREATE_VM type 1"));
  {
    std::string why = cap_missing(*this, "KVM_CAP_EXIT_HYPERCALL", KVM_CAP_EXIT_HYPERCALL);
    if (why.empty() && (cap("KVM_CAP_EXIT_HYPERCALL") & (1 << 12)) == 0) why = "KVM_HC_MAP_GPA_RANGE (12) not in the mask";
    f.push_back(feature("KVM_EXIT_HYPERCALL for KVM_HC_MAP_GPA_RANGE", why, "conversions reach userspace"));
  }
  f.push_back(feature("KVM_EXIT_MEMORY_FAULT", cap_missing(*this, "KVM_CAP_MEMORY_FAULT_INFO", KVM_CAP_MEMORY_FAULT_INFO),
                      "private/shared mismatches reach userspace"));
  f.push_back(feature("SEV VMs (KVM_X86_SEV_VM)", sev_unavailable(*this, SevLevel::Sev), "KVM_CREATE_VM type 2"));
  f.push_back(feature("SEV-ES VMs (KVM_X86_SEV_ES_VM)", sev_unavailable(*this, SevLevel::SevEs), "KVM_CREATE_VM type 3"));
  f.push_back(feature("SNP VMs (KVM_X86_SNP_VM)", sev_unavailable(*this, SevLevel::Snp),
                      fmt::format("KVM_CREATE_VM type 4; {} VMPLs, C-bit {}", cpu.vmpls(), cpu.c_bit())));
  {
    std::string why = sev_unavailable(*this, SevLevel::Sev);
    if (why.empty()) why = cap_missing(*this, "KVM_CAP_SYS_ATTRIBUTES", KVM_CAP_SYS_ATTRIBUTES);
    if (why.empty() && !sev_vmsa_features) why = "KVM_GET_DEVICE_ATTR(KVM_X86_GRP_SEV) failed";
    f.push_back(feature("KVM_X86_SEV_VMSA_FEATURES", why,
                        fmt::format("0x{:x}", sev_vmsa_features.value_or(0))));
  }
  f.push_back(feature("/dev/sev", sev_device_missing(sev), "opened read-only"));
  {
    std::string why = sev_device_missing(sev);
    if (why.empty() && sev.status_error) why = sev.status_error->to_string();
    f.push_back(feature("SNP_PLATFORM_STATUS", why,
                        fmt::format("api {}.{} build {}, {} guests", sev.api_major, sev.api_minor, sev.build_id,
                                    sev.guest_count)));
  }
  const std::string missing = snp_missing();
  f.push_back(feature("SNP launch (INIT2, LAUNCH_START/UPDATE/FINISH)", missing, "everything it needs is here"));
  return f;
}

std::string ProbeReport::snp_missing() const {
  if (std::string why = sev_unavailable(*this, SevLevel::Snp); !why.empty()) return why;
  if (cap("KVM_CAP_GUEST_MEMFD") == 0) return "KVM_CAP_GUEST_MEMFD (234) absent";
  if (std::string why = sev_device_missing(sev); !why.empty()) return why;
  if (sev.status_error) return sev.status_error->to_string();
  return {};
}

std::string ProbeReport::describe() const {
  std::string s = fmt::format("CPU: {} signature 0x{:x}{}\n", cpu.vendor, cpu.signature,
                              cpu.hypervisor ? fmt::format(", a guest of '{}'", cpu.hypervisor_vendor) : "");
  if (cpu.has_8000001f) {
    s += fmt::format("  CPUID Fn8000_001F: EAX 0x{:08x} (SME {} SEV {} SEV-ES {} SNP {}) EBX 0x{:08x} (C-bit {}, "
                     "{} VMPLs) ECX {} guests, EDX first SEV-only ASID {}\n",
                     cpu.eax_8000001f, cpu.sme() ? 1 : 0, cpu.sev() ? 1 : 0, cpu.sev_es() ? 1 : 0, cpu.snp() ? 1 : 0,
                     cpu.ebx_8000001f, cpu.c_bit(), cpu.vmpls(), cpu.max_encrypted_guests(), cpu.min_sev_asid());
  } else {
    s += "  CPUID Fn8000_001F: not offered\n";
  }
  std::string mods;
  for (const std::string& m : modules.loaded) mods += (mods.empty() ? "" : " ") + m;
  s += fmt::format("KVM modules: {}\n", mods.empty() ? "none found in /sys/module" : mods);
  for (const auto& [k, v] : modules.kvm_amd) s += fmt::format("  kvm_amd.{} = {}\n", k, v);
  s += fmt::format("/dev/kvm: KVM_GET_API_VERSION = {}\n", api_version);
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
  s += "features:\n";
  for (const Feature& f : features()) {
    s += fmt::format("  {:<3} {:<54} {}\n", f.available ? "yes" : "no", f.name, f.detail);
  }
  const std::string missing = snp_missing();
  s += missing.empty() ? "SNP guests: supported\n" : fmt::format("SNP guests: unsupported: {}\n", missing);
  return s;
}

}  // namespace snplab::hw
