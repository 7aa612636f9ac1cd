// The validate suite's properties (validate.h). Each is written against the API only.
#include "validate.h"

#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <cerrno>
#include <iostream>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ref_memslots.h"
#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/scenarios/snp_vm.h"
#if SNPLAB_HAVE_HW
#include "snp/hw/kvm_backend.h"
#endif

namespace snplab::validate {

namespace {

constexpr std::uint64_t kPage = 0x1000;
constexpr std::uint64_t kMemSize = 16 * kPage;  // each user mapping
constexpr std::size_t kMaxVms = 4, kMaxGmems = 6, kMaxVcpus = 8;

int errno_of(const api::Status& s) { return s ? 0 : s.error().errno_value; }
template <class T>
int errno_of(const api::Result<T>& r) {
  return r ? 0 : r.error().errno_value;
}

// ---- the reference model --------------------------------------------------------------------

struct VmModel {
  bool open = true;
  RefMemslots slots{1};
  std::set<unsigned long> vcpu_ids;
};

struct GmemModel {
  std::uint64_t size = 0;
};

struct Model {
  std::vector<VmModel> vms;
  std::vector<GmemModel> gmems;
  std::size_t vcpus = 0;
  std::vector<std::vector<std::uint8_t>> mems;  ///< what each user mapping holds
  std::uint32_t address_spaces = 1;             ///< KVM_CAP_MULTI_ADDRESS_SPACE of a default VM
  std::uint64_t gmem_flags = 0;                 ///< KVM_CAP_GUEST_MEMFD_FLAGS of a default VM
  bool gmem = false;                            ///< KVM_CAP_GUEST_MEMFD
};

// ---- the systems under test: one backend, or the simulator and the real one side by side ----

struct Side {
  std::string name;
  std::unique_ptr<api::Backend> backend;
  std::optional<api::Kvm> kvm;
  std::vector<std::optional<api::Vm>> vms;
  std::vector<api::Vcpu> vcpus;
  std::vector<api::GuestMemfd> gmems;
  std::vector<api::UserMemory> mems;
};

struct Sut {
  std::vector<Side> sides;
};

/// Every side's answer; the sides must agree with each other (the differential), and with the
/// model where it has one (`want`, an errno).
void agree(const std::string& what, const std::vector<int>& got, std::optional<int> want) {
  for (std::size_t i = 1; i < got.size(); ++i) {
    if (got[i] != got[0]) {
      RC_FAIL(what + ": backends disagree: errno " + std::to_string(got[0]) + " vs " + std::to_string(got[i]));
    }
  }
  if (want && got[0] != *want) {
    RC_FAIL(what + ": errno " + std::to_string(got[0]) + ", the kernel's rules say " + std::to_string(*want));
  }
}

using Command = rc::state::Command<Model, Sut>;

struct CreateVm : Command {
  explicit CreateVm(const Model& m) { RC_PRE(m.vms.size() < kMaxVms); }
  void apply(Model& m) const override { m.vms.push_back(VmModel{true, RefMemslots(m.address_spaces), {}}); }
  void run(const Model&, Sut& s) const override {
    std::vector<int> got;
    for (Side& side : s.sides) {
      auto vm = side.kvm->create_vm();
      got.push_back(errno_of(vm));
      side.vms.emplace_back();
      if (vm) side.vms.back().emplace(std::move(*vm));
    }
    agree("KVM_CREATE_VM", got, 0);
  }
  void show(std::ostream& os) const override { os << "KVM_CREATE_VM(0)"; }
};

struct CloseVm : Command {
  std::size_t vm;
  explicit CloseVm(const Model& m) {
    RC_PRE(!m.vms.empty());
    vm = *rc::gen::inRange<std::size_t>(0, m.vms.size());
  }
  void checkPreconditions(const Model& m) const override { const bool valid = vm < m.vms.size() && m.vms[vm].open;
    RC_PRE(valid); }
  void apply(Model& m) const override { m.vms[vm].open = false; }
  void run(const Model&, Sut& s) const override {
    for (Side& side : s.sides) side.vms[vm].reset();
  }
  void show(std::ostream& os) const override { os << "close(vm" << vm << ")"; }
};

/// KVM_SET_USER_MEMORY_REGION2 or (v1) KVM_SET_USER_MEMORY_REGION without guest_memfd.
struct SetRegion : Command {
  std::size_t vm = 0, mem = 0;
  bool v1 = false;
  std::uint32_t slot = 0, flags = 0;
  std::uint64_t gpa = 0, size = 0, uoff = 0;
  explicit SetRegion(const Model& m) {
    const bool valid = !m.vms.empty() && !m.mems.empty();
    RC_PRE(valid);
    vm = *rc::gen::inRange<std::size_t>(0, m.vms.size());
    mem = *rc::gen::inRange<std::size_t>(0, m.mems.size());
    v1 = *rc::gen::arbitrary<bool>();
    slot = *rc::gen::weightedElement<std::uint32_t>({{8, 0}, {8, 1}, {4, 2}, {1, 0x10000}, {1, 40000}});
    flags = *rc::gen::weightedElement<std::uint32_t>({{12, 0}, {3, 1}, {2, 2}, {1, 8}, {1, 0x80000000U}});
    gpa = *rc::gen::weightedElement<std::uint64_t>({{6, 0}, {6, 0x4000}, {4, 0x10000}, {1, 0x100}});
    size = *rc::gen::weightedElement<std::uint64_t>({{6, 0x4000}, {4, 0x8000}, {3, 0}, {1, 0x1001}});
    uoff = *rc::gen::weightedElement<std::uint64_t>({{10, 0}, {3, 0x8000}, {1, 8}});
  }
  void checkPreconditions(const Model& m) const override {
    const bool valid = vm < m.vms.size() && m.vms[vm].open && mem < m.mems.size();
    RC_PRE(valid);
  }
  void apply(Model& m) const override { (void)m.vms[vm].slots.set(slot, flags, gpa, size, model_uaddr()); }
  /// The address the oracle sees: distinct per mapping, page aligned like the real ones.
  std::uint64_t model_uaddr() const { return (mem + 1) * 0x1000000 + uoff; }
  void run(const Model& m, Sut& s) const override {
    RefMemslots ref = m.vms[vm].slots;
    const int want = ref.set(slot, flags, gpa, size, model_uaddr());
    std::vector<int> got;
    for (Side& side : s.sides) {
      uapi::kvm_userspace_memory_region2 r;
      r.slot = slot;
      r.flags = flags;
      r.guest_phys_addr = gpa;
      r.memory_size = size;
      r.userspace_addr = side.mems[mem].addr() + uoff;
      // The v1 struct is the v2 one's first 32 bytes.
      const uapi::kvm_userspace_memory_region r1{r.slot, r.flags, r.guest_phys_addr, r.memory_size, r.userspace_addr};
      got.push_back(errno_of(v1 ? side.vms[vm]->set_user_memory_region(r1) : side.vms[vm]->set_user_memory_region2(r)));
    }
    std::ostringstream what;
    show(what);
    agree(what.str(), got, want);
  }
  void show(std::ostream& os) const override {
    os << (v1 ? "KVM_SET_USER_MEMORY_REGION" : "KVM_SET_USER_MEMORY_REGION2") << "(vm" << vm << ", slot 0x" << std::hex
       << slot << ", flags 0x" << flags << ", gpa 0x" << gpa << ", size 0x" << size << ", mem" << std::dec << mem
       << "+0x" << std::hex << uoff << std::dec << ")";
  }
};

struct CreateVcpu : Command {
  std::size_t vm = 0;
  unsigned long id = 0;
  explicit CreateVcpu(const Model& m) {
    const bool valid = !m.vms.empty() && m.vcpus < kMaxVcpus;
    RC_PRE(valid);
    vm = *rc::gen::inRange<std::size_t>(0, m.vms.size());
    id = *rc::gen::element<unsigned long>(0, 1, 2, 7);
  }
  void checkPreconditions(const Model& m) const override {
    const bool valid = vm < m.vms.size() && m.vms[vm].open && m.vcpus < kMaxVcpus;
    RC_PRE(valid);
  }
  void apply(Model& m) const override {
    if (m.vms[vm].vcpu_ids.insert(id).second) ++m.vcpus;
  }
  void run(const Model& m, Sut& s) const override {
    const int want = m.vms[vm].vcpu_ids.contains(id) ? EEXIST : 0;
    std::vector<int> got;
    for (Side& side : s.sides) {
      auto c = side.vms[vm]->create_vcpu(id);
      got.push_back(errno_of(c));
      if (c) side.vcpus.push_back(std::move(*c));
    }
    agree("KVM_CREATE_VCPU(vm" + std::to_string(vm) + ", " + std::to_string(id) + ")", got, want);
  }
  void show(std::ostream& os) const override { os << "KVM_CREATE_VCPU(vm" << vm << ", " << id << ")"; }
};

/// KVM_GET_REGS on a vCPU: it works (whatever became of its VM fd) and it is at the reset vector.
struct GetRegs : Command {
  std::size_t vcpu = 0;
  explicit GetRegs(const Model& m) {
    RC_PRE(m.vcpus > 0);
    vcpu = *rc::gen::inRange<std::size_t>(0, m.vcpus);
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(vcpu < m.vcpus); }
  void apply(Model&) const override {}
  void run(const Model&, Sut& s) const override {
    std::vector<int> got;
    for (Side& side : s.sides) {
      auto r = side.vcpus[vcpu].get_regs();
      got.push_back(errno_of(r));
      if (r) {
        RC_ASSERT(r->rip == 0xfff0U);
        RC_ASSERT(r->rflags == 2U);
      }
    }
    agree("KVM_GET_REGS(vcpu" + std::to_string(vcpu) + ")", got, 0);
  }
  void show(std::ostream& os) const override { os << "KVM_GET_REGS(vcpu" << vcpu << ")"; }
};

struct CreateGmem : Command {
  std::size_t vm = 0;
  std::uint64_t size = 0, flags = 0;
  explicit CreateGmem(const Model& m) {
    const bool valid = m.gmem && !m.vms.empty() && m.gmems.size() < kMaxGmems;
    RC_PRE(valid);
    vm = *rc::gen::inRange<std::size_t>(0, m.vms.size());
    size = *rc::gen::weightedElement<std::uint64_t>({{6, 0x4000}, {3, 0x8000}, {1, 0}, {1, 0x1001}});
    flags = *rc::gen::weightedElement<std::uint64_t>({{6, 0}, {2, 1}, {1, 2}, {1, 3}, {1, 0x100}});
  }
  void checkPreconditions(const Model& m) const override {
    const bool valid = vm < m.vms.size() && m.vms[vm].open && m.gmems.size() < kMaxGmems;
    RC_PRE(valid);
  }
  int want(const Model& m) const {
    if ((flags & ~m.gmem_flags) != 0 || size == 0 || size % kPage != 0) return EINVAL;
    return 0;
  }
  void apply(Model& m) const override {
    if (want(m) == 0) m.gmems.push_back(GmemModel{size});
  }
  void run(const Model& m, Sut& s) const override {
    std::vector<int> got;
    for (Side& side : s.sides) {
      uapi::kvm_create_guest_memfd g;
      g.size = size;
      g.flags = flags;
      auto gm = side.vms[vm]->create_guest_memfd(g);
      got.push_back(errno_of(gm));
      if (gm) side.gmems.push_back(std::move(*gm));
    }
    std::ostringstream what;
    show(what);
    agree(what.str(), got, want(m));
  }
  void show(std::ostream& os) const override {
    os << "KVM_CREATE_GUEST_MEMFD(vm" << vm << ", size 0x" << std::hex << size << ", flags 0x" << flags << std::dec
       << ")";
  }
};

/// fallocate(PUNCH_HOLE | KEEP_SIZE): page-aligned, non-empty; past the end is allowed.
struct PunchHole : Command {
  std::size_t gmem = 0;
  std::uint64_t offset = 0, len = 0;
  explicit PunchHole(const Model& m) {
    RC_PRE(!m.gmems.empty());
    gmem = *rc::gen::inRange<std::size_t>(0, m.gmems.size());
    offset = *rc::gen::weightedElement<std::uint64_t>({{6, 0}, {4, kPage}, {2, 0x8000}, {1, 8}});
    len = *rc::gen::weightedElement<std::uint64_t>({{6, kPage}, {4, 0x4000}, {1, 0}, {1, 0x800}});
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(gmem < m.gmems.size()); }
  void apply(Model&) const override {}
  void run(const Model&, Sut& s) const override {
    const int want = offset % kPage != 0 || len % kPage != 0 || len == 0 ? EINVAL : 0;
    std::vector<int> got;
    for (Side& side : s.sides) got.push_back(errno_of(side.gmems[gmem].punch_hole(offset, len)));
    std::ostringstream what;
    show(what);
    agree(what.str(), got, want);
  }
  void show(std::ostream& os) const override {
    os << "fallocate(gmem" << gmem << ", PUNCH_HOLE|KEEP_SIZE, 0x" << std::hex << offset << ", 0x" << len << std::dec
       << ")";
  }
};

/// Bytes written to user memory, then a range read back: the model's bytes on every side.
struct WriteRead : Command {
  std::size_t mem = 0;
  std::uint64_t offset = 0, read_off = 0, read_len = 0;
  std::vector<std::uint8_t> bytes;
  explicit WriteRead(const Model& m) {
    RC_PRE(!m.mems.empty());
    mem = *rc::gen::inRange<std::size_t>(0, m.mems.size());
    offset = *rc::gen::inRange<std::uint64_t>(0, kMemSize - 64);
    bytes = *rc::gen::container<std::vector<std::uint8_t>>(*rc::gen::inRange<std::size_t>(0, 64), rc::gen::arbitrary<std::uint8_t>());
    read_off = *rc::gen::inRange<std::uint64_t>(0, kMemSize);
    read_len = *rc::gen::inRange<std::uint64_t>(0, 256);
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(mem < m.mems.size()); }
  void apply(Model& m) const override { std::copy(bytes.begin(), bytes.end(), m.mems[mem].begin() + static_cast<long>(offset)); }
  void run(const Model& m, Sut& s) const override {
    std::vector<std::uint8_t> want = m.mems[mem];
    std::copy(bytes.begin(), bytes.end(), want.begin() + static_cast<long>(offset));
    const bool inside = read_off + read_len <= kMemSize;
    std::vector<int> got;
    for (Side& side : s.sides) {
      RC_ASSERT(side.mems[mem].write(offset, bytes).has_value());
      std::vector<std::uint8_t> out(read_len);
      const auto st = side.mems[mem].read(read_off, out);
      got.push_back(errno_of(st));
      if (st) {
        const std::vector<std::uint8_t> expect(want.begin() + static_cast<long>(read_off),
                                               want.begin() + static_cast<long>(read_off + read_len));
        if (out != expect) RC_FAIL(side.name + ": user memory does not hold what was written");
      }
    }
    agree("user memory read", got, inside ? 0 : EFAULT);
  }
  void show(std::ostream& os) const override {
    os << "write(mem" << mem << "+0x" << std::hex << offset << ", " << std::dec << bytes.size() << " bytes); read(0x"
       << std::hex << read_off << ", 0x" << read_len << std::dec << ")";
  }
};

struct NrMmuPages : Command {
  std::size_t vm = 0;
  std::uint64_t pages = 0;
  explicit NrMmuPages(const Model& m) {
    RC_PRE(!m.vms.empty());
    vm = *rc::gen::inRange<std::size_t>(0, m.vms.size());
    pages = *rc::gen::element<std::uint64_t>(0, 1, 63, 64, 65, 4096, 1U << 20);
  }
  void checkPreconditions(const Model& m) const override { const bool valid = vm < m.vms.size() && m.vms[vm].open;
    RC_PRE(valid); }
  void apply(Model&) const override {}
  void run(const Model&, Sut& s) const override {
    std::vector<int> got;
    for (Side& side : s.sides) got.push_back(errno_of(side.vms[vm]->set_nr_mmu_pages(pages)));
    agree("KVM_SET_NR_MMU_PAGES(" + std::to_string(pages) + ")", got, pages < uapi::KVM_MIN_ALLOC_MMU_PAGES ? EINVAL : 0);
  }
  void show(std::ostream& os) const override { os << "KVM_SET_NR_MMU_PAGES(vm" << vm << ", " << pages << ")"; }
};

/// A VM ioctl on a vCPU or guest_memfd, a vCPU ioctl on a VM: the file's errno.
struct WrongFile : Command {
  int kind = 0;  // 0 KVM_CREATE_VCPU on a vCPU, 1 on a guest_memfd, 2 KVM_RUN-family on a VM
  std::size_t index = 0;
  explicit WrongFile(const Model& m) {
    kind = *rc::gen::inRange(0, 3);
    const std::size_t n = kind == 0 ? m.vcpus : kind == 1 ? m.gmems.size() : m.vms.size();
    RC_PRE(n > 0);
    index = *rc::gen::inRange<std::size_t>(0, n);
  }
  void checkPreconditions(const Model& m) const override {
    const bool valid =
        kind == 0 ? index < m.vcpus : kind == 1 ? index < m.gmems.size() : index < m.vms.size() && m.vms[index].open;
    RC_PRE(valid);
  }
  void apply(Model&) const override {}
  void run(const Model&, Sut& s) const override {
    std::vector<int> got;
    for (Side& side : s.sides) {
      api::Backend& b = *side.backend;
      if (kind == 0) got.push_back(errno_of(b.kvm_create_vcpu(side.vcpus[index].handle(), 3)));
      if (kind == 1) got.push_back(errno_of(b.kvm_create_vcpu(side.gmems[index].handle(), 3)));
      if (kind == 2) got.push_back(errno_of(b.kvm_get_regs(side.vms[index]->handle())));
    }
    const int want = kind == 0 ? EINVAL : ENOTTY;
    std::ostringstream what;
    show(what);
    agree(what.str(), got, want);
  }
  void show(std::ostream& os) const override {
    os << (kind == 0 ? "KVM_CREATE_VCPU on vcpu" : kind == 1 ? "KVM_CREATE_VCPU on gmem" : "KVM_GET_REGS on vm") << index;
  }
};

/// A rapidcheck result as an outcome: the shrunk counter-example when it failed.
Outcome outcome_of(const rc::detail::TestResult& r) {
  if (r.template is<rc::detail::SuccessResult>()) return Outcome{Outcome::Status::Passed, {}, 0};
  std::ostringstream os;
  rc::detail::printResultMessage(r, os);
  return Outcome{Outcome::Status::Failed, os.str(), 0};
}

}  // namespace

Outcome command_sequences(const std::vector<std::pair<std::string, MakeBackend>>& makes, int cases, std::uint64_t seed) {
  Outcome skipped{Outcome::Status::Skipped, {}, 0};
  // rapidcheck reads RC_PARAMS once and prints what it read to std::cerr; the seed and case
  // count here are explicit, so that line would only mislead.
  static const bool quiet = [] {
    std::streambuf* saved = std::cerr.rdbuf(nullptr);
    (void)rc::detail::configuration();
    std::cerr.rdbuf(saved);
    return true;
  }();
  (void)quiet;
  // What the model takes from the host: the first backend's answer (the sides must agree on it).
  Model m0;
  {
    auto b = makes.front().second();
    if (!b) return skipped.detail = b.error().to_string(), skipped;
    auto kvm = api::Kvm::open(**b);
    if (!kvm) return skipped.detail = kvm.error().to_string(), skipped;
    auto vm = kvm->create_vm();
    if (!vm) return skipped.detail = vm.error().to_string(), skipped;
    const auto as = vm->check_extension(uapi::KVM_CAP_MULTI_ADDRESS_SPACE);
    m0.address_spaces = as && *as > 1 ? static_cast<std::uint32_t>(*as) : 1U;
    const auto gm = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD);
    m0.gmem = gm && *gm > 0;
    const auto fl = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD_FLAGS);
    m0.gmem_flags = fl && *fl > 0 ? static_cast<std::uint64_t>(*fl) : 0;
    m0.mems.assign(2, std::vector<std::uint8_t>(kMemSize, 0));
  }
  rc::detail::TestParams p = rc::detail::configuration().testParams;
  p.maxSuccess = cases;
  p.seed = seed;
  rc::detail::TestMetadata md;
  md.id = "kvm command sequences";
  const auto r = rc::detail::checkTestable(
      [&] {
        Sut sut;
        for (const auto& [name, make] : makes) {
          auto b = make();
          RC_ASSERT(b.has_value());
          Side side;
          side.name = name;
          side.backend = std::move(*b);
          auto kvm = api::Kvm::open(*side.backend);
          RC_ASSERT(kvm.has_value());
          side.kvm.emplace(std::move(*kvm));
          for (std::size_t i = 0; i < m0.mems.size(); ++i) {
            auto mem = api::UserMemory::alloc(*side.backend, kMemSize);
            RC_ASSERT(mem.has_value());
            side.mems.push_back(std::move(*mem));
          }
          sut.sides.push_back(std::move(side));
        }
        rc::state::check(m0, sut,
                         rc::state::gen::execOneOfWithArgs<CreateVm, CloseVm, SetRegion, CreateVcpu, GetRegs, CreateGmem,
                                                           PunchHole, WriteRead, NrMmuPages, WrongFile>());
        // Handles go before their backends (the Side order does it: members die in reverse).
      },
      md, p);
  return outcome_of(r);
}


api::Result<std::unique_ptr<api::Backend>> sim_like(api::Backend& real) {
  model::kvm::HostConfig cfg;
  if (auto kvm = api::Kvm::open(real)) {
    if (auto vm = kvm->create_vm()) {
      const auto as = vm->check_extension(uapi::KVM_CAP_MULTI_ADDRESS_SPACE);
      cfg.address_spaces = as && *as > 1 ? static_cast<std::uint32_t>(*as) : 1U;
    }
  }
  cfg.snp_enabled = false;
  cfg.sev_enabled = false;
  cfg.sev_es_enabled = false;
  cfg.sw_protected_vm = false;
  return api::make_sim_backend(cfg);
}

std::string_view to_string(Outcome::Status st) {
  switch (st) {
    case Outcome::Status::Passed: return "passed";
    case Outcome::Status::Failed: return "failed";
    case Outcome::Status::Skipped: return "skipped";
  }
  return "?";
}

namespace {

Outcome pass() { return Outcome{Outcome::Status::Passed, {}, 0}; }
Outcome fail(std::string why) { return Outcome{Outcome::Status::Failed, std::move(why), 0}; }
Outcome skip(std::string why) { return Outcome{Outcome::Status::Skipped, std::move(why), 0}; }

/// The backend and its /dev/kvm, or the reason there is none (a skip).
struct Opened {
  std::unique_ptr<api::Backend> backend;
  std::optional<api::Kvm> kvm;
  std::string missing;
};
Opened open(const Context& c) {
  Opened o;
  auto b = c.make();
  if (!b) {
    o.missing = b.error().to_string();
    return o;
  }
  o.backend = std::move(*b);
  auto kvm = api::Kvm::open(*o.backend);
  if (!kvm) {
    o.missing = kvm.error().to_string();
    return o;
  }
  o.kvm.emplace(std::move(*kvm));
  return o;
}

Outcome api_version(const Context& c) {
  Opened o = open(c);
  if (!o.kvm) return skip(o.missing);
  auto v = o.kvm->get_api_version();
  if (!v) return fail(v.error().to_string());
  return *v == 12 ? pass() : fail(fmt::format("KVM_GET_API_VERSION = {}, not 12", *v));
}

Outcome vm_types(const Context& c) {
  Opened o = open(c);
  if (!o.kvm) return skip(o.missing);
  auto types = o.kvm->check_extension(uapi::KVM_CAP_VM_TYPES);
  if (!types) return fail(types.error().to_string());
  const unsigned mask = *types > 0 ? static_cast<unsigned>(*types) : 1U;
  for (unsigned long t = 0; t < 32; ++t) {
    auto vm = o.kvm->create_vm(t);
    const bool offered = (mask & (1U << t)) != 0;
    if (offered && !vm) return fail(fmt::format("type {} is in KVM_CAP_VM_TYPES (0x{:x}) but {}", t, mask, vm.error().to_string()));
    if (!offered && vm) return fail(fmt::format("type {} is not in KVM_CAP_VM_TYPES (0x{:x}) but KVM_CREATE_VM took it", t, mask));
    if (!offered && vm.error().errno_value != EINVAL) return fail(fmt::format("type {}: {}, not EINVAL", t, vm.error().to_string()));
  }
  return pass();
}

Outcome wrong_files(const Context& c) {
  Opened o = open(c);
  if (!o.kvm) return skip(o.missing);
  api::Backend& b = *o.backend;
  auto vm = o.kvm->create_vm();
  if (!vm) return fail(vm.error().to_string());
  auto vcpu = vm->create_vcpu(0);
  if (!vcpu) return fail(vcpu.error().to_string());
  api::Handle closed = 0;
  {
    auto spare = o.kvm->create_vm();
    if (!spare) return fail(spare.error().to_string());
    closed = spare->handle();
  }
  struct Case {
    const char* what;
    int got;
    int want;
  };
  auto e = [](const auto& r) { return r ? 0 : r.error().errno_value; };
  const Case cases[] = {
      {"KVM_CREATE_VM on a closed fd", e(b.kvm_create_vm(closed, 0)), EBADF},
      {"KVM_SET_NR_MMU_PAGES on /dev/kvm", e(b.kvm_set_nr_mmu_pages(o.kvm->handle(), 64)), EINVAL},
      {"KVM_CREATE_VCPU on a vCPU", e(b.kvm_create_vcpu(vcpu->handle(), 1)), EINVAL},
      {"KVM_GET_REGS on a VM", e(b.kvm_get_regs(vm->handle())), ENOTTY},
      {"KVM_GET_DEVICE_ATTR on a VM", e(b.kvm_get_device_attr(vm->handle(), 0, 0)), ENOTTY},
      {"fallocate on a VM", e(b.gmem_fallocate(vm->handle(), 3, 0, 0x1000)), ENODEV},
      {"fallocate on a closed fd", e(b.gmem_fallocate(closed, 3, 0, 0x1000)), EBADF},
  };
  for (const Case& k : cases) {
    if (k.got != k.want) return fail(fmt::format("{}: errno {}, the kernel's {}", k.what, k.got, k.want));
  }
  return pass();
}

Outcome handles_outlive_backend(const Context& c) {
  Opened o = open(c);
  if (!o.kvm) return skip(o.missing);
  auto vm = o.kvm->create_vm();
  if (!vm) return fail(vm.error().to_string());
  auto vcpu = vm->create_vcpu(0);
  if (!vcpu) return fail(vcpu.error().to_string());
  o.backend.reset();
  auto regs = vcpu->get_regs();
  if (regs || regs.error().errno_value != EBADF) return fail("KVM_GET_REGS after the backend was destroyed did not fail EBADF");
  auto more = vm->create_vcpu(1);
  if (more || more.error().errno_value != EBADF) return fail("KVM_CREATE_VCPU after the backend was destroyed did not fail EBADF");
  return pass();
}

Outcome sequences(const Context& c) {
  return command_sequences({{c.backend, c.make}}, c.cases, c.seed);
}

Outcome differential(const Context& c) {
  if (c.backend != "hw") return skip("compares the simulator with a real /dev/kvm: run with --backend hw");
  auto host = c.make();
  if (!host) return skip(host.error().to_string());
  api::Backend& real = **host;
  return command_sequences({{"sim", [&] { return sim_like(real); }}, {"hw", c.make}}, c.cases, c.seed);
}

Outcome destructive_refused(const Context& c) {
  if (c.backend != "hw") return skip("the simulator models the kernel and has no guard: its /dev/sev takes every command");
  if (c.allow_destructive) return skip("--allow-destructive: the hw backend passes destructive commands, so their refusal is not checked");
  Opened o = open(c);
  if (!o.backend) return skip(o.missing);
  auto sev = api::SevDevice::open(*o.backend);
#if SNPLAB_HAVE_HW
  if (!sev) {
    // No /dev/sev here: /dev/null stands in for it. The refusal comes before any ioctl, so
    // it is the same refusal a real /dev/sev would get (and /dev/null would answer ENOTTY).
    hw::KvmBackendOptions null_sev;
    null_sev.sev_path = "/dev/null";
    auto b = hw::make_kvm_backend(null_sev);
    if (!b) return skip(b.error().to_string());
    o.backend = std::move(*b);
    sev = api::SevDevice::open(*o.backend);
  }
#endif
  if (!sev) return skip(fmt::format("no /dev/sev to refuse on: {}", sev.error().to_string()));
  // Refused before any ioctl: EPERM with the opt-in named, whatever the platform's state.
  std::uint32_t fw = 0;
  auto commit = sev->snp_commit(&fw);
  if (commit || commit.error().errno_value != EPERM) return fail("SNP_COMMIT was not refused with EPERM");
  uapi::sev_user_data_snp_config cfg{};
  auto set = sev->snp_set_config(cfg, &fw);
  if (set || set.error().errno_value != EPERM) return fail("SNP_SET_CONFIG was not refused with EPERM");
  auto unknown = sev->issue_cmd(0x7777, nullptr, &fw);
  if (unknown || unknown.error().errno_value != EPERM) return fail("an unknown command number was not refused with EPERM");
  return pass();
}

/// An SNP guest launched (INIT2, LAUNCH_START, LAUNCH_UPDATE of a few pages, LAUNCH_FINISH)
/// and torn down through the API; SNP_PLATFORM_STATUS's guest count is back where it was.
Outcome snp_launch(const Context& c) {
  if (!c.snp_missing.empty()) return skip(c.snp_missing);
  Opened o = open(c);
  if (!o.backend) return skip(o.missing);
  auto sev = api::SevDevice::open(*o.backend);
  if (!sev) return skip(sev.error().to_string());
  uapi::sev_user_data_snp_status before{};
  if (auto st = sev->snp_platform_status(before); !st) return fail(st.error().to_string());
  {
    scenarios::SnpVmConfig cfg;
    cfg.mem = 64 * 1024;
    cfg.launched = 4;
    cfg.secrets_gpa = 0;
    auto guest = scenarios::SnpVm::launch(*o.backend, cfg);
    if (!guest) return fail(fmt::format("the launch failed: {}", guest.error().to_string()));
    uapi::sev_user_data_snp_status during{};
    if (auto st = sev->snp_platform_status(during); !st) return fail(st.error().to_string());
    if (during.guest_count != before.guest_count + 1) {
      return fail(fmt::format("SNP_PLATFORM_STATUS counts {} guests during the launch, {} before", during.guest_count,
                              before.guest_count));
    }
    (*guest)->close();
  }
  uapi::sev_user_data_snp_status after{};
  if (auto st = sev->snp_platform_status(after); !st) return fail(st.error().to_string());
  if (after.guest_count != before.guest_count) {
    return fail(fmt::format("{} guests after the teardown, {} before: the guest's context was not decommissioned",
                            after.guest_count, before.guest_count));
  }
  return pass();
}

}  // namespace

const std::vector<Property>& properties() {
  static const std::vector<Property> all = {
      {"kvm.api_version", "KVM_GET_API_VERSION is 12", api_version},
      {"kvm.vm_types", "KVM_CREATE_VM takes exactly the types KVM_CAP_VM_TYPES lists (EINVAL otherwise)", vm_types},
      {"kvm.wrong_files", "ioctls and fallocate on files that lack them fail with the kernel's errno", wrong_files},
      {"kvm.command_sequences",
       "random VM, memslot, vCPU, guest_memfd, user-memory and MMU command sequences match the reference model",
       sequences},
      {"kvm.differential",
       "the same command sequences on the simulator (configured like this host) and on the real /dev/kvm: the same "
       "answers",
       differential},
      {"api.handles_outlive_backend", "handles of a destroyed backend fail EBADF and close nothing", handles_outlive_backend},
      {"psp.destructive_refused", "SNP_COMMIT, SNP_SET_CONFIG and unknown /dev/sev commands are refused (EPERM) by default",
       destructive_refused},
      {"snp.launch_teardown", "an SNP guest launches (INIT2, LAUNCH_START/UPDATE/FINISH) and its teardown leaves no guest",
       snp_launch},
  };
  return all;
}

}  // namespace snplab::validate
