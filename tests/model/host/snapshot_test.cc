// Snapshots of the simulated host (model::kvm::Host::snapshot, api::sim_snapshot): a restore
// puts back every piece of state a schedule can change - RMP, host and user memory, VMs and
// their vCPUs, firmware, detectors - in place, and the restored host then behaves as it did
// the first time. Also the memory-attribute ranges the snapshot made cheap to copy, checked
// against a per-gfn oracle.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/model/host/kvm_host.h"
#include "snp/model/hw/memory.h"
#include "snp/scenarios/snp_vm.h"

namespace snplab::api {
namespace {

using model::kPageSize;
using model::kvm::GuestOp;
using scenarios::SnpVm;
using scenarios::SnpVmConfig;

/// What a restore must bring back, read from outside the modelled world.
struct Fingerprint {
  std::map<model::Pfn, model::RmpEntryRaw> rmp;
  std::map<model::Pfn, std::vector<std::uint8_t>> pages;  ///< host memory behind every RMP entry
  std::vector<std::uint64_t> vms;
  std::size_t rmp_findings = 0;
  std::size_t kern_findings = 0;
  std::uint64_t rmp_seq = 0;
  bool operator==(const Fingerprint&) const = default;
};

Fingerprint fingerprint(model::kvm::Host& h) {
  Fingerprint f;
  h.sev()->rmp().entries().for_each_nonzero([&](model::Pfn pfn, const model::RmpEntryRaw& e) {
    f.rmp[pfn] = e;
    const auto page = h.sev()->mem().page(pfn);
    f.pages[pfn].assign(page.begin(), page.end());
  });
  f.vms = h.vm_ids();
  f.rmp_findings = h.sev()->detectors().findings().size();
  f.kern_findings = h.sched().findings().size();
  f.rmp_seq = h.sev()->rmp().seq();
  return f;
}

/// Runs vCPU 0 until it halts or stops exiting normally; the exits and the guest's log.
std::vector<std::string> run_to_halt(Backend& b, SnpVm& vm) {
  std::vector<std::string> seen;
  for (int i = 0; i < 8; ++i) {
    auto e = vm.vcpu().run();
    if (!e) {
      seen.push_back("KVM_RUN: " + e.error().to_string());
      break;
    }
    seen.push_back(fmt::format("exit {}", e->exit_reason));
    if (e->exit_reason == uapi::KVM_EXIT_HLT || e->exit_reason == uapi::KVM_EXIT_SYSTEM_EVENT) break;
  }
  if (const auto* log = sim_guest_log(b, vm.vcpu().handle())) seen.insert(seen.end(), log->begin(), log->end());
  return seen;
}

class Snapshot : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::move(*make_sim_backend());
    auto vm = SnpVm::launch(*backend_, SnpVmConfig{});
    ASSERT_TRUE(vm) << vm.error().to_string();
    vm_ = std::move(*vm);
    ASSERT_TRUE(sim_load_guest(*backend_, vm_->vcpu().handle(),
                               {GuestOp::pvalidate(0x10000), GuestOp::read(0x10000, true),
                                GuestOp::write(0x10000, true, 0x5A), GuestOp::read(0x10000, true), GuestOp::halt()}));
  }
  model::kvm::Host& host() { return *sim_host(*backend_); }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<SnpVm> vm_;
};

TEST_F(Snapshot, Restore_AfterTheGuestRan_StateAndBehaviourAsBefore) {
  const auto snap = sim_snapshot(*backend_);
  ASSERT_NE(snap, nullptr);
  const Fingerprint before = fingerprint(host());

  const std::vector<std::string> first = run_to_halt(*backend_, *vm_);
  ASSERT_NE(fingerprint(host()), before);  // the run changed the RMP (PVALIDATE) and memory

  ASSERT_TRUE(sim_restore(*backend_, *snap));
  EXPECT_EQ(fingerprint(host()), before);
  EXPECT_EQ(run_to_halt(*backend_, *vm_), first);
}

TEST_F(Snapshot, Restore_DropsAVmCreatedSince_AndBringsBackOneDestroyedSince) {
  const auto snap = sim_snapshot(*backend_);
  const Fingerprint before = fingerprint(host());
  const std::vector<std::string> first = run_to_halt(*backend_, *vm_);
  ASSERT_TRUE(sim_restore(*backend_, *snap));

  // Another guest launched (its handles dropped, as the snapshot's contract asks) and a VM
  // the host made without a handle; then the first guest's VM torn down behind its handle.
  {
    auto other = SnpVm::launch(*backend_, SnpVmConfig{});
    ASSERT_TRUE(other) << other.error().to_string();
  }
  ASSERT_GT(host().create_vm(model::kvm::kVmSnp), 0);
  const std::uint64_t id = host().vm_ids().front();
  host().destroy_vm(id);
  ASSERT_EQ(host().vm(id), nullptr);

  ASSERT_TRUE(sim_restore(*backend_, *snap));
  EXPECT_EQ(fingerprint(host()), before);
  ASSERT_NE(host().vm(id), nullptr);
  EXPECT_EQ(run_to_halt(*backend_, *vm_), first);
  // Nothing the restore dropped was torn down through the RMP: no detector fired.
  EXPECT_TRUE(host().sev()->detectors().findings().empty());
}

TEST_F(Snapshot, Restore_IsRepeatable_EveryRunFromTheSnapshotTheSame) {
  const auto snap = sim_snapshot(*backend_);
  const std::vector<std::string> first = run_to_halt(*backend_, *vm_);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(sim_restore(*backend_, *snap));
    EXPECT_EQ(run_to_halt(*backend_, *vm_), first) << "run " << i + 2;
  }
}

TEST_F(Snapshot, UserMemoryWrittenAfterTheSnapshot_ComesBackAsItWas) {
  auto buf = UserMemory::alloc(*backend_, 2 * kPageSize);
  ASSERT_TRUE(buf);
  ASSERT_TRUE(buf->write(0, std::vector<std::uint8_t>(kPageSize, 0xAA)));
  const auto snap = sim_snapshot(*backend_);

  ASSERT_TRUE(buf->write(0, std::vector<std::uint8_t>(kPageSize, 0xBB)));
  ASSERT_TRUE(buf->write(kPageSize, std::vector<std::uint8_t>(16, 0xCC)));  // a page never written before
  std::vector<std::uint8_t> got(2 * kPageSize);
  ASSERT_TRUE(host().user().copy_from(buf->addr(), got));
  ASSERT_EQ(got[0], 0xBB);

  ASSERT_TRUE(sim_restore(*backend_, *snap));
  ASSERT_TRUE(host().user().copy_from(buf->addr(), got));
  EXPECT_EQ(got[0], 0xAA);
  EXPECT_EQ(got[kPageSize - 1], 0xAA);
  EXPECT_EQ(got[kPageSize], 0x00);
}

TEST_F(Snapshot, RestoreIntoAnotherBackend_IsEinval_AndChangesNothing) {
  auto other = std::move(*make_sim_backend());
  const auto snap = sim_snapshot(*other);
  const Fingerprint before = fingerprint(host());

  const Status st = sim_restore(*backend_, *snap);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().errno_value, EINVAL);
  EXPECT_EQ(fingerprint(host()), before);
  EXPECT_EQ(host().vm_ids().size(), 1u);
}

TEST(HostMemorySnapshot, CopySharesPagesUntilWritten_ThenEachSideKeepsItsOwn) {
  model::HostMemory live;
  live.write(0x5000, std::vector<std::uint8_t>{1, 2, 3});
  const model::HostMemory snap = live;

  live.write(0x5001, std::vector<std::uint8_t>{9});
  live.write(0x9000, std::vector<std::uint8_t>{7});
  EXPECT_EQ(snap.page(5)[1], 2);
  EXPECT_EQ(snap.pages_held(), 1u);
  EXPECT_EQ(live.page(5)[1], 9);

  live = snap;
  EXPECT_EQ(live.page(5)[1], 2);
  EXPECT_EQ(live.page(9)[0], 0);
  EXPECT_EQ(live.generation(5), snap.generation(5));
}

// KVM_SET_MEMORY_ATTRIBUTES keeps gfn ranges; any sequence of updates reads back as a
// per-gfn map would.
TEST(MemoryAttributes, RandomUpdates_ReadBackAsAPerGfnMap) {
  const bool ok = rc::check("attribute ranges match a per-gfn oracle", [] {
    model::kvm::Host h;
    const long id = h.create_vm(model::kvm::kVmSnp);
    RC_ASSERT(id > 0);
    model::kvm::Vm& vm = *h.vm(static_cast<std::uint64_t>(id));
    constexpr std::uint64_t kGfns = 64;
    std::map<std::uint64_t, std::uint64_t> oracle;
    const auto n = *rc::gen::inRange(1, 24);
    for (int i = 0; i < n; ++i) {
      const auto first = *rc::gen::inRange<std::uint64_t>(0, kGfns);
      const auto len = *rc::gen::inRange<std::uint64_t>(1, kGfns - first + 1);
      const std::uint64_t attrs = *rc::gen::element<std::uint64_t>(0, model::kvm::kAttrPrivate);
      RC_ASSERT(vm.set_memory_attributes(first * kPageSize, len * kPageSize, attrs, 0) == 0);
      for (std::uint64_t g = first; g < first + len; ++g) oracle[g] = attrs;
    }
    for (std::uint64_t g = 0; g <= kGfns; ++g) {
      const auto it = oracle.find(g);
      RC_ASSERT(vm.attributes(g) == (it == oracle.end() ? 0 : it->second));
    }
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace snplab::api
