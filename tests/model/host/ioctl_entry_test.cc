// The kernel model's own ioctl entry points, called without the API: sev_mem_enc_ioctl()
// (KVM_MEMORY_ENCRYPT_OP) and sev_ioctl() (/dev/sev SEV_ISSUE_CMD) take the uAPI structs and
// return -errno with the firmware status, as the kernel does; the sim adapter only maps
// handles to them.
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <optional>
#include <string_view>

#include "snp/model/engine/engine.h"
#include "snp/model/host/ccp/sev-dev.h"
#include "snp/model/host/kvm_host.h"
#include "snp/uapi/uapi.h"

namespace snplab::model::kvm {
namespace {

constexpr std::uint32_t kLegacyLaunchStart = 2;  // KVM_SEV_LAUNCH_START

uapi::kvm_sev_cmd cmd_of(std::uint32_t id, void* data) {
  uapi::kvm_sev_cmd c;
  c.id = id;
  c.data = reinterpret_cast<std::uintptr_t>(data);
  return c;
}

/// A VM of `type` on `host` after KVM_SEV_INIT2 succeeded.
Vm* initialized_vm(Host& host, unsigned long type) {
  Vm* vm = host.vm(static_cast<std::uint64_t>(host.create_vm(type)));
  EXPECT_NE(vm, nullptr);
  uapi::kvm_sev_init init;
  auto c = cmd_of(uapi::KVM_SEV_INIT2, &init);
  EXPECT_EQ(sev_mem_enc_ioctl(*vm, c), 0);
  return vm;
}

TEST(SevMemEncIoctl, BeforeInit2EveryOtherCommandIsEnotty) {
  Host host;
  Vm* vm = host.vm(static_cast<std::uint64_t>(host.create_vm(kVmSnp)));
  ASSERT_NE(vm, nullptr);
  uapi::kvm_sev_snp_launch_start start;
  auto c = cmd_of(uapi::KVM_SEV_SNP_LAUNCH_START, &start);
  std::string_view why;
  EXPECT_EQ(sev_mem_enc_ioctl(*vm, c, &why), -ENOTTY);
  EXPECT_EQ(why, "not an SEV guest");
}

TEST(SevMemEncIoctl, SnpGuestRefusesLegacyCommandsWithEperm) {
  Host host;
  Vm* vm = initialized_vm(host, kVmSnp);
  EXPECT_TRUE(vm->sev().active);
  std::uint8_t payload[64] = {};
  auto legacy = cmd_of(kLegacyLaunchStart, payload);
  EXPECT_EQ(sev_mem_enc_ioctl(*vm, legacy), -EPERM);
  EXPECT_EQ(legacy.error, 0U);
}

TEST(SevMemEncIoctl, SevGuestLegacyLaunchIsNotModelled) {
  Host host;
  Vm* vm = initialized_vm(host, kVmSev);
  std::uint8_t payload[64] = {};
  auto legacy = cmd_of(kLegacyLaunchStart, payload);
  std::string_view why;
  EXPECT_EQ(sev_mem_enc_ioctl(*vm, legacy, &why), -EOPNOTSUPP);
  EXPECT_EQ(why, "the legacy SEV launch commands are not modelled");
}

TEST(SevMemEncIoctl, NullPayloadIsEfaultAndSevDisabledIsEnotty) {
  Host host;
  Vm* vm = host.vm(static_cast<std::uint64_t>(host.create_vm(kVmSnp)));
  auto c = cmd_of(uapi::KVM_SEV_INIT2, nullptr);
  EXPECT_EQ(sev_mem_enc_ioctl(*vm, c), -EFAULT);

  HostConfig cfg;
  cfg.snp_enabled = false;
  Host plain(cfg);
  Vm* pv = plain.vm(static_cast<std::uint64_t>(plain.create_vm(kVmDefault)));
  ASSERT_NE(pv, nullptr);
  uapi::kvm_sev_init init;
  auto c2 = cmd_of(uapi::KVM_SEV_INIT2, &init);
  std::string_view why;
  EXPECT_EQ(sev_mem_enc_ioctl(*pv, c2, &why), -ENOTTY);
  EXPECT_EQ(why, "SEV is not enabled on this host");
}

TEST(SevMemEncIoctl, FirmwareStatusComesBackInCmdError) {
  Host host;
  Vm* vm = initialized_vm(host, kVmSnp);
  // LAUNCH_FINISH before LAUNCH_START: the kernel refuses it itself (no context), no firmware call.
  uapi::kvm_sev_snp_launch_finish fin;
  auto f = cmd_of(uapi::KVM_SEV_SNP_LAUNCH_FINISH, &fin);
  EXPECT_EQ(sev_mem_enc_ioctl(*vm, f), -EINVAL);
  EXPECT_EQ(f.error, 0U);
  // A policy asking for ABI major 0xFF passes the kernel's mask check but not the firmware's
  // (POLICY_FAILURE): -EIO with the status in cmd.error, as sev_issue_cmd() reports it.
  uapi::kvm_sev_snp_launch_start bad;
  bad.policy = 0x30000 | (0xFFULL << 8);
  auto b = cmd_of(uapi::KVM_SEV_SNP_LAUNCH_START, &bad);
  EXPECT_EQ(sev_mem_enc_ioctl(*vm, b), -EIO);
  EXPECT_EQ(b.error, static_cast<std::uint32_t>(FwStatus::PolicyFailure));
  uapi::kvm_sev_snp_launch_start start;
  start.policy = 0x30000;  // SMT allowed, bit 17 (must be one)
  auto s = cmd_of(uapi::KVM_SEV_SNP_LAUNCH_START, &start);
  ASSERT_EQ(sev_mem_enc_ioctl(*vm, s), 0);
  EXPECT_EQ(s.error, 0U);
  EXPECT_NE(vm->sev().gctx, 0U);
}

TEST(SevIoctl, PlatformStatusFillsTheStructAndUnknownCommandsAreEinval) {
  Host host;
  uapi::sev_user_data_snp_status st;
  std::uint32_t fw = 0xFFFF;
  ASSERT_EQ(sev_ioctl(host, uapi::SNP_PLATFORM_STATUS, &st, &fw), 0);
  EXPECT_EQ(fw, 0U);
  EXPECT_NE(st.api_major, 0);
  EXPECT_EQ(st.is_rmp_initialized & 1U, 1U);
  EXPECT_EQ(sev_ioctl(host, uapi::SNP_PLATFORM_STATUS, nullptr, &fw), -EFAULT);
  std::string_view why;
  EXPECT_EQ(sev_ioctl(host, 0x7777, &st, &fw, &why), -EINVAL);
  EXPECT_EQ(why, "unknown /dev/sev command");
}

TEST(SevCmdMutex, PspCommandsNeverOverlapAndSevIoctlHoldsItWithoutRelocking) {
  for (std::uint64_t seed = 1; seed <= 32; ++seed) {
    Host host;
    Vm* vm = host.vm(static_cast<std::uint64_t>(host.create_vm(kVmSnp)));
    engine::Options o;
    o.seed = seed;
    o.switch_one_in = 2;
    engine::Engine eng(host.sched(), o);
    int status_ret = -1, init_ret = -1;
    const engine::RunResult r = eng.run({
        {"dev-sev",
         [&] {
           uapi::sev_user_data_snp_status st;
           std::uint32_t fw = 0;
           status_ret = sev_ioctl(host, uapi::SNP_PLATFORM_STATUS, &st, &fw);
         }},
        {"vmm",
         [&] {
           uapi::kvm_sev_init init;
           auto c = cmd_of(uapi::KVM_SEV_INIT2, &init);
           init_ret = sev_mem_enc_ioctl(*vm, c);
           uapi::kvm_sev_snp_launch_start start;
           start.policy = 0x30000;
           auto s = cmd_of(uapi::KVM_SEV_SNP_LAUNCH_START, &start);
           if (init_ret == 0) init_ret = sev_mem_enc_ioctl(*vm, s);
         }},
    });
    EXPECT_EQ(status_ret, 0);
    EXPECT_EQ(init_ret, 0);
    EXPECT_TRUE(r.findings.empty()) << "seed " << seed << ": " << r.findings.front().kind << " " << r.findings.front().message;
    // Between one agent's sev_do_cmd and its sev_wait_cmd_ioc no other agent starts a command,
    // and every command starts with its agent holding sev_cmd_mutex.
    std::optional<std::uint32_t> inside;
    std::map<std::uint32_t, int> holds;
    int commands = 0;
    for (const engine::TraceEvent& e : r.trace) {
      if (e.object == "sev_cmd_mutex") holds[e.agent] += e.kind == kern::PointKind::Lock ? 1 : -1;
      if (e.kind == kern::PointKind::FirmwareCall) {
        EXPECT_FALSE(inside.has_value()) << "seed " << seed << ": two PSP commands in flight";
        EXPECT_EQ(holds[e.agent], 1) << "seed " << seed << ": a PSP command without sev_cmd_mutex";
        inside = e.agent;
        ++commands;
      }
      if (e.kind == kern::PointKind::FirmwareDone) inside.reset();
    }
    EXPECT_GE(commands, 2) << "seed " << seed;
  }
}

}  // namespace
}  // namespace snplab::model::kvm
