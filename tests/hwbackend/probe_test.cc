// The hw backend's probe against the real /dev/kvm of this machine. Skips, naming the
// missing device, where there is none.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "snp/hw/probe.h"

namespace snplab::hw {
namespace {

bool have_kvm() {
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

TEST(Probe, DevKvm_AnswersApiVersion12) {
  if (!have_kvm()) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << errno;
  auto r = probe();
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->api_version, 12);  // KVM_API_VERSION, unchanged since 2.6.22
}

TEST(Probe, DevKvm_ReportsEveryCapabilityItAsked) {
  if (!have_kvm()) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << errno;
  auto r = probe();
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_FALSE(r->caps.empty());
  for (const CapValue& c : r->caps) {
    EXPECT_GE(c.value, 0) << c.name << " failed with errno " << c.errno_value;
  }
  // KVM_CAP_VM_TYPES always includes the default VM type when present.
  EXPECT_NE(r->vm_types & 1U, 0U);
}

TEST(Probe, SnpMissing_NamesTheFirstMissingPiece) {
  if (!have_kvm()) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << errno;
  auto r = probe("/dev/kvm", "/nonexistent/sev");
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_FALSE(r->sev.present);
  const std::string why = r->snp_missing();
  // With no /dev/sev SNP cannot be supported, whatever else this kernel offers.
  EXPECT_FALSE(why.empty());
  EXPECT_NE(r->describe().find("SNP guests: unsupported"), std::string::npos);
}

TEST(Probe, MissingKvmDevice_FailsWithOpenErrno) {
  auto r = probe("/nonexistent/kvm", "/nonexistent/sev");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().op, snplab::api::Op::OpenDevKvm);
  EXPECT_EQ(r.error().errno_value, ENOENT);
  EXPECT_EQ(r.error().fw, api::FwStatus::NoFwCall);
  EXPECT_NE(r.error().to_string().find("errno=2"), std::string::npos);
}


// ---- features(): the reasons, from synthetic reports (no hardware needed) ----------------

const Feature& find(const std::vector<Feature>& fs, const std::string& prefix) {
  for (const Feature& f : fs) {
    if (f.name.rfind(prefix, 0) == 0) return f;
  }
  static const Feature none{"(absent)", false, "no such feature"};
  ADD_FAILURE() << "no feature '" << prefix << "'";
  return none;
}

/// An EPYC host with everything an SNP launch needs.
ProbeReport snp_host() {
  ProbeReport r;
  r.cpu.vendor = "AuthenticAMD";
  r.cpu.signature = 0xa10f11;
  r.cpu.has_8000001f = true;
  r.cpu.eax_8000001f = 0x1 | 0x2 | 0x8 | 0x10 | (1U << 14);
  r.cpu.ebx_8000001f = 51 | (4U << 12);  // C-bit 51, 4 VMPLs
  r.modules.loaded = {"kvm", "kvm_amd"};
  r.modules.kvm_amd = {{"sev", "Y"}, {"sev_es", "Y"}, {"sev_snp", "Y"}};
  r.api_version = 12;
  r.caps = {{"KVM_CAP_GUEST_MEMFD", 234, 1, 0}, {"KVM_CAP_VM_TYPES", 235, 0x1d, 0}, {"KVM_CAP_SYS_ATTRIBUTES", 209, 1, 0}};
  r.vm_types = 0x1d;
  r.snp_vm_type = true;
  r.sev_vmsa_features = 0x2;
  r.sev.present = true;
  r.sev.have_status = true;
  return r;
}

TEST(ProbeFeatures, SnpHost_EverySevFeatureAvailable) {
  const ProbeReport r = snp_host();
  const auto fs = r.features();
  EXPECT_TRUE(find(fs, "SNP VMs").available) << find(fs, "SNP VMs").detail;
  EXPECT_NE(find(fs, "SNP VMs").detail.find("4 VMPLs, C-bit 51"), std::string::npos) << find(fs, "SNP VMs").detail;
  EXPECT_TRUE(find(fs, "SNP launch").available) << find(fs, "SNP launch").detail;
  EXPECT_TRUE(find(fs, "KVM_X86_SEV_VMSA_FEATURES").available);
  EXPECT_EQ(r.snp_missing(), "");
}

TEST(ProbeFeatures, IntelHost_NamesTheCpuNeverKvmAmd) {
  ProbeReport r = snp_host();
  r.cpu.vendor = "GenuineIntel";
  r.cpu.has_8000001f = false;
  r.modules.loaded = {"kvm", "kvm_intel"};
  r.modules.kvm_amd.clear();
  for (const Feature& f : r.features()) {
    EXPECT_EQ(f.detail.find("kvm_amd"), std::string::npos) << f.name << ": " << f.detail;
  }
  EXPECT_EQ(find(r.features(), "SEV VMs").detail, "the CPU is GenuineIntel: SEV needs an AMD CPU");
  EXPECT_EQ(r.snp_missing(), "the CPU is GenuineIntel: SEV-SNP needs an AMD CPU");
}

TEST(ProbeFeatures, EachMissingPiece_IsTheReason) {
  ProbeReport guest = snp_host();
  guest.cpu.eax_8000001f = 0;
  guest.cpu.hypervisor = true;
  guest.cpu.hypervisor_vendor = "KVMKVMKVM";
  EXPECT_EQ(guest.snp_missing(),
            "CPUID Fn8000_001F_EAX[4] (SEV-SNP) is 0 (this CPU is a guest of the 'KVMKVMKVM' hypervisor, which does "
            "not offer it)");
  ProbeReport no_snp_bit = snp_host();
  no_snp_bit.cpu.eax_8000001f &= ~0x10U;
  EXPECT_EQ(no_snp_bit.snp_missing(), "CPUID Fn8000_001F_EAX[4] (SEV-SNP) is 0");
  EXPECT_TRUE(find(no_snp_bit.features(), "SEV-ES VMs").available) << "SEV-ES does not need the SNP bit";
  ProbeReport pvm = snp_host();
  pvm.modules.loaded = {"kvm", "kvm_pvm"};
  EXPECT_EQ(pvm.snp_missing(), "kvm_amd is not loaded (KVM's vendor module: kvm_pvm)");
  ProbeReport param = snp_host();
  param.modules.kvm_amd["sev_snp"] = "N";
  EXPECT_EQ(param.snp_missing(), "kvm_amd.sev_snp=N (the module parameter is off)");
  EXPECT_TRUE(find(param.features(), "SEV VMs").available);
  ProbeReport old_kernel = snp_host();
  old_kernel.vm_types = 0x1;
  EXPECT_EQ(old_kernel.snp_missing(), "KVM_X86_SNP_VM (4) not in KVM_CAP_VM_TYPES (0x1)");
  ProbeReport no_dev = snp_host();
  no_dev.sev.present = false;
  no_dev.sev.open_errno = ENOENT;
  EXPECT_EQ(no_dev.snp_missing(), "/dev/sev absent (No such file or directory)");
  EXPECT_FALSE(find(no_dev.features(), "SNP_PLATFORM_STATUS").available);
  EXPECT_TRUE(find(no_dev.features(), "SNP VMs").available) << "the VM type does not need /dev/sev to be listed";
}

TEST(ProbeModules, ReadsTheLoadedKvmModulesAndKvmAmdsParameters) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("snplab-probe-modules-" + std::to_string(::getpid()));
  fs::create_directories(root / "kvm_amd" / "parameters");
  fs::create_directories(root / "kvm");
  fs::create_directories(root / "nvme");
  std::ofstream(root / "kvm_amd" / "parameters" / "sev_snp") << "N\n";
  std::ofstream(root / "kvm_amd" / "parameters" / "sev") << "Y\n";
  const KvmModules m = probe_modules(root.c_str());
  fs::remove_all(root);
  EXPECT_EQ(m.loaded, (std::vector<std::string>{"kvm", "kvm_amd"}));
  EXPECT_EQ(m.vendor(), "kvm_amd");
  EXPECT_EQ(m.kvm_amd.at("sev_snp"), "N");
  EXPECT_EQ(m.kvm_amd.at("sev"), "Y");
  EXPECT_EQ(m.kvm_amd.count("sev_es"), 0u);
}

TEST(Probe, ThisHost_CpuAndModulesAsTheKernelSeesThem) {
  if (!have_kvm()) GTEST_SKIP() << "hw: open /dev/kvm: errno=" << errno;
  auto r = probe();
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_FALSE(r->cpu.vendor.empty());
  EXPECT_FALSE(r->modules.vendor().empty()) << "/dev/kvm opened, so some kvm_* vendor module is loaded";
  // The SNP feature is available exactly when snp_missing() has nothing to say.
  EXPECT_EQ(find(r->features(), "SNP launch").available, r->snp_missing().empty());
  if (r->cpu.vendor != "AuthenticAMD") {
    EXPECT_EQ(r->describe().find("kvm_amd"), std::string::npos) << r->describe();
  }
}

}  // namespace
}  // namespace snplab::hw
