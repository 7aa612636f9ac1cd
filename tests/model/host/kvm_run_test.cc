// KVM_RUN as the kernel runs it (kvm_arch_vcpu_ioctl_run, svm_vcpu_run): under vcpu->mutex,
// with scheduling points at VMRUN, before each guest operation and at #VMEXIT, and the VMSA
// page in use between VMRUN and #VMEXIT, so an RMPUPDATE on it fails FAIL_INUSE meanwhile
// (facts §2.1; PSMASH's in-use check on a 2M range is tested in rmp_insn_test.cc). A recording hook stands in for the engine: it sees every point and
// may act at one, as another CPU would.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/model/host/x86/sev.h"
#include "snp/model/host/kvm_host.h"
#include "snp/scenarios/snp_vm.h"

namespace snplab::api {
namespace {

using model::kvm::GuestOp;
using model::kern::Point;
using model::kern::PointKind;
using scenarios::SnpVm;

/// Records every point as "kind name"; runs `act` (once per point, not re-entered) at each.
class Recorder : public model::kern::SchedHook {
 public:
  void on_point(const Point& p) override {
    seen.push_back(std::string(model::kern::to_string(p.kind)) + " " + std::string(p.name));
    if (act && !acting_) {
      acting_ = true;
      act(p);
      acting_ = false;
    }
  }
  bool block_until(const Point&, bool (*ready)(const void*), const void* arg) override { return ready(arg); }

  std::vector<std::string> seen;
  std::function<void(const Point&)> act;

 private:
  bool acting_ = false;
};

class KvmRun : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::move(*make_sim_backend());
    auto vm = SnpVm::launch(*backend_, {});
    ASSERT_TRUE(vm) << vm.error().to_string();
    vm_ = std::move(*vm);
    host().sched().set_hook(&rec_);
  }
  void TearDown() override {
    host().sched().set_hook(nullptr);
    vm_->close();
  }
  model::kvm::Host& host() { return *sim_host(*backend_); }
  model::kvm::Vm& kvm() { return *host().vm(host().vm_ids().front()); }
  model::Pfn vmsa() { return kvm().sev().vmsas.at(0); }
  void load(std::vector<GuestOp> ops) {
    ASSERT_TRUE(sim_load_guest(*backend_, vm_->vcpu(0).handle(), std::move(ops)));
  }
  /// The recorded points of kinds the test looks at, in order.
  std::vector<std::string> run_points(std::initializer_list<PointKind> kinds) {
    std::vector<std::string> names;
    for (PointKind k : kinds) names.push_back(std::string(model::kern::to_string(k)) + " ");
    std::vector<std::string> out;
    for (const auto& s : rec_.seen) {
      for (const auto& n : names) {
        if (s.compare(0, n.size(), n) == 0) out.push_back(s);
      }
    }
    return out;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<SnpVm> vm_;
  Recorder rec_;
};

TEST_F(KvmRun, PointsAtVmrunEachGuestOpAndVmexit_VmgexitLeavesAndReenters) {
  load({GuestOp::pvalidate(0x10000), GuestOp::map_gpa_range(0x20000, 1, false)});
  rec_.seen.clear();
  auto e = vm_->vcpu().run();
  ASSERT_TRUE(e) << e.error().to_string();
  const std::vector<std::string> want = {"lock vcpu->mutex",       "VMRUN VMRUN",
                                         "guest PVALIDATE",        "#VMEXIT #VMEXIT",  // the #NPF: sev_gmem_prepare
                                         "VMRUN VMRUN",            "guest PVALIDATE",
                                         "guest VMMCALL(KVM_HC_MAP_GPA_RANGE)", "#VMEXIT #VMEXIT",
                                         "unlock vcpu->mutex"};
  EXPECT_EQ(run_points({PointKind::Lock, PointKind::Unlock, PointKind::VmEntry, PointKind::GuestInsn,
                        PointKind::VmExit}),
            want);
}

TEST_F(KvmRun, VmsaInUseWhileInTheGuest_RmpupdateFailsInUse_AfterVmexitItGoesThrough) {
  load({GuestOp::pvalidate(0x0), GuestOp::halt()});  // page 0 is launched: no #NPF
  const model::Pfn pfn = vmsa();
  model::Rmp& rmp = host().sev()->rmp();
  const model::OpContext other{"another CPU", 0};
  std::vector<model::RmpStatus> in_guest, outside;
  rec_.act = [&](const Point& p) {
    if (p.kind == PointKind::GuestInsn) {
      in_guest.push_back(model::rmp_make_shared(rmp, pfn, model::PageSize::Size4K, other));
    }
  };
  auto e = vm_->vcpu().run();
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_EQ(e->exit_reason, uapi::KVM_EXIT_HLT);
  ASSERT_EQ(in_guest.size(), 2u);  // at PVALIDATE and at HLT
  for (auto st : in_guest) EXPECT_EQ(st, model::RmpStatus::FailInUse) << model::to_string(st);
  EXPECT_TRUE(rmp.inspect(pfn).vmsa()) << "the VMSA is untouched";
  // After #VMEXIT nothing holds it: the same RMPUPDATE goes through.
  rec_.act = nullptr;
  EXPECT_FALSE(rmp.in_use(pfn));
  EXPECT_EQ(model::rmp_make_shared(rmp, pfn, model::PageSize::Size4K, other), model::RmpStatus::Success);
  // ... and the next VMRUN's checks see it (facts §3.4): KVM_EXIT_FAIL_ENTRY.
  e = vm_->vcpu().run();
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_EQ(e->exit_reason, uapi::KVM_EXIT_FAIL_ENTRY);
  // Give the page back to the guest as it was, so teardown reclaims it.
  EXPECT_EQ(model::rmp_make_private(rmp, pfn, 0, model::PageSize::Size4K, kvm().sev().asid, false, other),
            model::RmpStatus::Success);
}

TEST_F(KvmRun, GuestMemfdPunchHoleAndRelease_TakeTheInvalidateLockInTheKernelsOrder) {
  rec_.seen.clear();
  ASSERT_TRUE(vm_->gmem().punch_hole(0x30000, model::kPageSize));  // kvm_gmem_punch_hole
  EXPECT_EQ(run_points({PointKind::Lock, PointKind::Unlock}),
            (std::vector<std::string>{"lock mapping->invalidate_lock", "unlock mapping->invalidate_lock"}));
  rec_.seen.clear();
  // kvm_gmem_release(): kvm->slots_lock, then the invalidate lock (the VM lives on: its fd).
  { GuestMemfd closing = std::move(vm_->gmem()); }
  const auto locks = run_points({PointKind::Lock});
  ASSERT_GE(locks.size(), 2u);
  EXPECT_EQ(locks[0], "lock kvm->slots_lock");
  EXPECT_EQ(locks[1], "lock mapping->invalidate_lock");
  EXPECT_TRUE(host().sched().findings().empty()) << "no lockdep inversion against LAUNCH_UPDATE's order";
}

TEST_F(KvmRun, RegsIoctlsTakeTheVcpuMutex) {
  rec_.seen.clear();
  (void)vm_->vcpu().get_regs();  // refused after LAUNCH_FINISH, but under the lock
  EXPECT_EQ(run_points({PointKind::Lock, PointKind::Unlock}),
            (std::vector<std::string>{"lock vcpu->mutex", "unlock vcpu->mutex"}));
}

}  // namespace
}  // namespace snplab::api

namespace snplab::api {
namespace {

TEST(VmLifetime, KvmBug_KillsTheVm_EveryVmAndVcpuIoctlEio) {
  auto backend = std::move(*make_sim_backend());
  auto kvm = std::move(*Kvm::open(*backend));
  auto vm = kvm.create_vm(uapi::KVM_X86_SNP_VM);
  ASSERT_TRUE(vm);
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  model::kvm::Host& host = *sim_host(*backend);
  host.vm(host.vm_ids().front())->kvm_vm_bugged("snp_page_reclaim", "Failed to reclaim PFN 0x1234");
  ASSERT_EQ(host.sched().findings().size(), 1u);
  EXPECT_EQ(host.sched().findings()[0].kind, snplab::model::FindingKind::KvmBug);
  EXPECT_NE(host.sched().findings()[0].message.find("KVM_BUG in snp_page_reclaim()"), std::string::npos);
  uapi::kvm_memory_attributes a;
  a.size = 0x1000;
  const auto attrs = vm->set_memory_attributes(a);
  ASSERT_FALSE(attrs.has_value());
  EXPECT_EQ(attrs.error().errno_value, EIO);
  const auto regs = vcpu->get_regs();
  ASSERT_FALSE(regs.has_value());
  EXPECT_EQ(regs.error().errno_value, EIO);
  const auto run = vcpu->run();
  ASSERT_FALSE(run.has_value());
  EXPECT_EQ(run.error().errno_value, EIO);
  uapi::kvm_sev_init init;
  const auto op = vm->memory_encrypt_op(uapi::KVM_SEV_INIT2, &init, 0);
  ASSERT_FALSE(op.has_value());
  EXPECT_EQ(op.error().errno_value, EIO);
}

TEST(VmLifetime, LastReferenceDestroysTheVm_NotTheVmFd) {
  auto backend = std::move(*make_sim_backend());
  auto kvm = std::move(*Kvm::open(*backend));
  auto vm = kvm.create_vm(uapi::KVM_X86_SNP_VM);
  ASSERT_TRUE(vm);
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  uapi::kvm_create_guest_memfd g;
  g.size = 0x4000;
  auto gmem = vm->create_guest_memfd(g);
  ASSERT_TRUE(gmem);
  model::kvm::Host& host = *sim_host(*backend);
  const auto id = host.vm_ids().front();
  EXPECT_EQ(host.vm(id)->users_count().count(), 3);  // the VM fd, the vCPU, the guest_memfd
  { Vm closing = std::move(*vm); }
  ASSERT_NE(host.vm(id), nullptr) << "the vCPU and the guest_memfd still hold it";
  { Vcpu closing = std::move(*vcpu); }
  ASSERT_NE(host.vm(id), nullptr) << "the guest_memfd still holds it";
  { GuestMemfd closing = std::move(*gmem); }
  EXPECT_EQ(host.vm(id), nullptr) << "the last reference destroyed it";
  EXPECT_TRUE(host.sched().findings().empty());
}

}  // namespace
}  // namespace snplab::api
