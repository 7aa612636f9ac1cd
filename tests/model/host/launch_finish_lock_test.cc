// SNP_LAUNCH_FINISH against a vCPU ioctl, explored: upstream syncs every VMSA under
// kvm_lock_all_vcpus() (cb923ee6a80f), so KVM_SET_REGS either runs before the sync (and is
// measured) or after it (and fails EINVAL: the state is protected); 6.12 took no vCPU lock, and
// the engine sees KVM_SET_REGS's store race sev_es_sync_vmsa()'s load of the same state.
#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <string>

#include "snp/model/engine/engine.h"
#include "snp/model/host/kvm_host.h"
#include "snp/uapi/uapi.h"

namespace snplab::model::kvm {
namespace {

struct Outcome {
  std::set<std::string> findings;  ///< kinds, with the object of a data race
  int set_regs = 0;
  int finish = 0;
};

Outcome explore_one(const KernelProfile& profile, std::uint64_t seed) {
  HostConfig cfg;
  cfg.profile = profile;
  Host host(cfg);
  Vm* vm = host.vm(static_cast<std::uint64_t>(host.create_vm(kVmSnp)));
  uapi::kvm_sev_init init;
  uapi::kvm_sev_cmd c{uapi::KVM_SEV_INIT2, 0, reinterpret_cast<std::uintptr_t>(&init), 0, 0};
  EXPECT_EQ(sev_mem_enc_ioctl(*vm, c), 0);
  EXPECT_EQ(vm->create_vcpu(0), 0);  // after INIT2: the vCPU gets its VMSA page
  uapi::kvm_sev_snp_launch_start start;
  start.policy = 0x30000;
  c = {uapi::KVM_SEV_SNP_LAUNCH_START, 0, reinterpret_cast<std::uintptr_t>(&start), 0, 0};
  EXPECT_EQ(sev_mem_enc_ioctl(*vm, c), 0);

  Outcome out;
  engine::Options o;
  o.seed = seed;
  o.switch_one_in = 2;
  engine::Engine eng(host.sched(), o);
  const std::uint8_t regs[8] = {1};
  const engine::RunResult r = eng.run({
      {"vmm-finish",
       [&] {
         uapi::kvm_sev_snp_launch_finish fin;
         uapi::kvm_sev_cmd f{uapi::KVM_SEV_SNP_LAUNCH_FINISH, 0, reinterpret_cast<std::uintptr_t>(&fin), 0, 0};
         out.finish = sev_mem_enc_ioctl(*vm, f);
       }},
      {"vmm-set-regs", [&] { out.set_regs = vm->set_vcpu_regs(0, false, regs, 0x1000); }},
  });
  EXPECT_FALSE(r.deadlock) << r.replay;
  for (const kern::KernelFinding& f : r.findings) {
    out.findings.insert(f.kind == snplab::model::FindingKind::DataRace && f.message.find("'vcpu->arch.regs'") != std::string::npos
                            ? std::string("data-race vcpu->arch.regs")
                            : std::string(to_string(f.kind)));
  }
  return out;
}

TEST(LaunchFinishLocking, UpstreamLocksEveryVcpu_NoRaceAndSetRegsIsOrdered) {
  const KernelProfile* up = find_profile("upstream");
  ASSERT_NE(up, nullptr);
  std::set<int> set_regs_results;
  for (std::uint64_t seed = 1; seed <= 48; ++seed) {
    const Outcome o = explore_one(*up, seed);
    EXPECT_TRUE(o.findings.empty()) << "seed " << seed << ": " << *o.findings.begin();
    EXPECT_EQ(o.finish, 0) << "seed " << seed;
    set_regs_results.insert(o.set_regs);
  }
  // Both orders happen: KVM_SET_REGS first (0), or after LAUNCH_FINISH protected the state.
  EXPECT_EQ(set_regs_results, (std::set<int>{0, -EINVAL}));
}

TEST(LaunchFinishLocking, Profile612_SetRegsRacesTheVmsaSync) {
  const KernelProfile* old = find_profile("launch-finish-unlocked-vcpus");
  ASSERT_NE(old, nullptr);
  bool raced = false;
  for (std::uint64_t seed = 1; seed <= 48 && !raced; ++seed) {
    raced = explore_one(*old, seed).findings.contains("data-race vcpu->arch.regs");
  }
  EXPECT_TRUE(raced) << "no schedule of 48 put KVM_SET_REGS beside sev_es_sync_vmsa()";
}

}  // namespace
}  // namespace snplab::model::kvm
