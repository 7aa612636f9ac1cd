// The validate suite's properties (validate.h). Each is written against the API only.
#include "validate.h"

#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <cerrno>
#include <iostream>
#include <algorithm>
#include <chrono>
#include <cstring>
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
#include "snp/model/attest/attestation.h"
#include "snp/model/host/kvm_host.h"
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
  std::uint64_t flags = 0;
  std::map<std::uint64_t, std::vector<std::uint8_t>> pages;  ///< written pages (mmap view)
};

/// A guest_memfd mapping: which file, where in it.
struct GmemMapModel {
  std::size_t gmem = 0;
  std::uint64_t offset = 0, len = 0;
};

/// A vCPU's CPUID and FPU as the kernel keeps them.
struct VcpuModel {
  std::optional<std::size_t> cpuid;  ///< which cpuid_variant() was set (none: empty CPUID)
  bool has_run = false;
  std::uint64_t xfeatures = 0;  ///< the XSTATE_BV userspace set
  std::uint16_t fcw = 0;
  std::uint32_t mxcsr = 0;
  std::uint8_t xmm0 = 0;
  std::uint8_t ymm0 = 0;
  std::uint64_t tsc_offset = 0;
};

struct Model {
  std::vector<VmModel> vms;
  std::vector<GmemModel> gmems;
  std::vector<GmemMapModel> gmem_maps;
  std::size_t vcpus = 0;
  std::vector<VcpuModel> vcpu_state;  ///< per created vCPU, in creation order
  std::vector<std::vector<std::uint8_t>> mems;  ///< what each user mapping holds
  std::uint32_t address_spaces = 1;             ///< KVM_CAP_MULTI_ADDRESS_SPACE of a default VM
  std::uint64_t gmem_flags = 0;                 ///< KVM_CAP_GUEST_MEMFD_FLAGS of a default VM
  bool gmem = false;                            ///< KVM_CAP_GUEST_MEMFD
  std::uint64_t supported_xcr0 = 3;             ///< KVM_X86_XCOMP_GUEST_SUPP
  std::uint32_t mxcsr_mask = 0xffff;            ///< a fresh vCPU's KVM_GET_XSAVE MXCSR_MASK
};

// ---- the systems under test: one backend, or the simulator and the real one side by side ----

struct Side {
  std::string name;
  std::unique_ptr<api::Backend> backend;
  std::optional<api::Kvm> kvm;
  std::vector<std::optional<api::Vm>> vms;
  std::vector<api::Vcpu> vcpus;
  std::vector<api::GuestMemfd> gmems;
  std::vector<api::UserMemory> gmem_maps;
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
    if (m.vms[vm].vcpu_ids.insert(id).second) {
      ++m.vcpus;
      m.vcpu_state.emplace_back();
    }
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
    if (want(m) == 0) m.gmems.push_back(GmemModel{size, flags, {}});
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
  bool valid() const { return offset % kPage == 0 && len % kPage == 0 && len != 0; }
  void apply(Model& m) const override {
    if (!valid()) return;
    auto& pages = m.gmems[gmem].pages;
    pages.erase(pages.lower_bound(offset / kPage), pages.lower_bound((offset + len) / kPage));
  }
  void run(const Model&, Sut& s) const override {
    const int want = valid() ? 0 : EINVAL;
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

// ---- CPUID, XSAVE, device attributes, guest_memfd mappings ------------------------------------

uapi::kvm_cpuid_entry2 cpuid_entry(std::uint32_t function, bool indexed, std::uint32_t eax) {
  uapi::kvm_cpuid_entry2 e;
  e.function = function;
  e.flags = indexed ? uapi::KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
  e.eax = eax;
  return e;
}

/// The CPUID sets the suite gives a vCPU: 0-3 valid (empty; 48-bit VA; XSAVE leaf with x87,
/// SSE and AVX; the same and 57-bit VA), 4 a VA width the kernel refuses, 5 more entries than
/// KVM_MAX_CPUID_ENTRIES. An XSAVE leaf enables at most what every KVM host supports (x87,
/// SSE, AVX): a nested host's kernel (PVM) widens leaf 0xD.0's EAX to the host's XCR0.
constexpr std::size_t kCpuidBadVa = 4, kCpuidTooMany = 5;
std::vector<uapi::kvm_cpuid_entry2> cpuid_variant(std::size_t i) {
  switch (i) {
    case 0: return {};
    case 1: return {cpuid_entry(0x80000008, false, 0x3030)};
    case 2: return {cpuid_entry(0xd, true, 0x7)};
    case 3: return {cpuid_entry(0xd, true, 0x7), cpuid_entry(0x80000008, false, 0x3930)};
    case kCpuidBadVa: return {cpuid_entry(0x80000008, false, 0x2830)};
    default: return std::vector<uapi::kvm_cpuid_entry2>(uapi::KVM_MAX_CPUID_ENTRIES + 1, cpuid_entry(0x1, false, 0));
  }
}

/// What KVM_GET_CPUID2 returns for a variant: the entries as set. Leaf 0xD.0's EAX, EBX and
/// ECX are the kernel's to keep current (6.12 rewrites EBX with the XSAVE size of the vCPU's
/// XCR0; a PVM host rewrites EAX and ECX too), so only its function, index, flags and EDX are
/// compared.
bool same_cpuid(const std::vector<uapi::kvm_cpuid_entry2>& a, const std::vector<uapi::kvm_cpuid_entry2>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool xsave_leaf = a[i].function == 0xd && a[i].index == 0;
    const bool same = a[i].function == b[i].function && a[i].index == b[i].index && a[i].flags == b[i].flags &&
                      a[i].edx == b[i].edx &&
                      (xsave_leaf || (a[i].eax == b[i].eax && a[i].ebx == b[i].ebx && a[i].ecx == b[i].ecx));
    if (!same) return false;
  }
  return true;
}

struct SupportedCpuid : Command {
  std::uint32_t nent = 0;
  explicit SupportedCpuid(const Model&) { nent = *rc::gen::element<std::uint32_t>(0, 1, 256, 1000); }
  void apply(Model&) const override {}
  void run(const Model&, Sut& s) const override {
    std::vector<int> got;
    for (Side& side : s.sides) {
      auto r = side.kvm->get_supported_cpuid(nent);
      got.push_back(errno_of(r));
      if (r && r->empty()) RC_FAIL(side.name + ": KVM_GET_SUPPORTED_CPUID succeeded with no entries");
    }
    // Every host reports more than one leaf, and fewer than KVM_MAX_CPUID_ENTRIES.
    agree("KVM_GET_SUPPORTED_CPUID(nent " + std::to_string(nent) + ")", got, nent <= 1 ? E2BIG : 0);
  }
  void show(std::ostream& os) const override { os << "KVM_GET_SUPPORTED_CPUID(nent " << nent << ")"; }
};

struct SetCpuid : Command {
  std::size_t vcpu = 0, kind = 0;
  explicit SetCpuid(const Model& m) {
    RC_PRE(m.vcpus > 0);
    vcpu = *rc::gen::inRange<std::size_t>(0, m.vcpus);
    kind = *rc::gen::weightedElement<std::size_t>({{3, 0}, {3, 1}, {3, 2}, {3, 3}, {1, kCpuidBadVa}, {1, kCpuidTooMany}});
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(vcpu < m.vcpus); }
  int want(const Model& m) const {
    if (kind == kCpuidTooMany) return E2BIG;
    const VcpuModel& v = m.vcpu_state[vcpu];
    if (v.has_run) return kind == v.cpuid.value_or(0) ? 0 : EINVAL;
    return kind == kCpuidBadVa ? EINVAL : 0;
  }
  void apply(Model& m) const override {
    if (want(m) == 0 && !m.vcpu_state[vcpu].has_run) m.vcpu_state[vcpu].cpuid = kind;
  }
  void run(const Model& m, Sut& s) const override {
    const auto entries = cpuid_variant(kind);
    std::vector<int> got;
    for (Side& side : s.sides) got.push_back(errno_of(side.vcpus[vcpu].set_cpuid2(entries)));
    std::ostringstream what;
    show(what);
    agree(what.str(), got, want(m));
  }
  void show(std::ostream& os) const override { os << "KVM_SET_CPUID2(vcpu" << vcpu << ", variant " << kind << ")"; }
};

struct GetCpuid : Command {
  std::size_t vcpu = 0;
  std::uint32_t nent = 0;
  explicit GetCpuid(const Model& m) {
    RC_PRE(m.vcpus > 0);
    vcpu = *rc::gen::inRange<std::size_t>(0, m.vcpus);
    nent = *rc::gen::element<std::uint32_t>(0, 1, 256);
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(vcpu < m.vcpus); }
  void apply(Model&) const override {}
  void run(const Model& m, Sut& s) const override {
    const auto expect = cpuid_variant(m.vcpu_state[vcpu].cpuid.value_or(0));
    std::vector<int> got;
    for (Side& side : s.sides) {
      auto r = side.vcpus[vcpu].get_cpuid2(nent);
      got.push_back(errno_of(r));
      if (r && !same_cpuid(*r, expect)) RC_FAIL(side.name + ": KVM_GET_CPUID2 does not return what KVM_SET_CPUID2 set");
    }
    agree("KVM_GET_CPUID2(vcpu" + std::to_string(vcpu) + ", nent " + std::to_string(nent) + ")", got,
          nent < expect.size() ? E2BIG : 0);
  }
  void show(std::ostream& os) const override { os << "KVM_GET_CPUID2(vcpu" << vcpu << ", nent " << nent << ")"; }
};

/// KVM_SET_XSAVE of an image with the given XSTATE_BV (or one broken header field), then
/// KVM_GET_XSAVE: the fields the model tracks match the kernel's copy rules.
struct Xsave : Command {
  std::size_t vcpu = 0;
  std::uint64_t xfeatures = 0;
  int broken = 0;  // 0 none, 1 XCOMP_BV set, 2 a reserved header byte, 3 a reserved MXCSR bit
  std::uint16_t fcw = 0;
  std::uint32_t mxcsr = 0;
  std::uint8_t xmm0 = 0, ymm0 = 0;
  explicit Xsave(const Model& m) {
    RC_PRE(m.vcpus > 0);
    vcpu = *rc::gen::inRange<std::size_t>(0, m.vcpus);
    xfeatures = *rc::gen::element<std::uint64_t>(0, 1, 2, 3, 4, 7, 0x100, 0x200);
    broken = *rc::gen::weightedElement<int>({{8, 0}, {1, 1}, {1, 2}, {1, 3}});
    fcw = *rc::gen::arbitrary<std::uint16_t>();
    mxcsr = 0x1f80U | *rc::gen::inRange<std::uint32_t>(0, 0x40);
    xmm0 = *rc::gen::arbitrary<std::uint8_t>();
    ymm0 = *rc::gen::arbitrary<std::uint8_t>();
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(vcpu < m.vcpus); }
  int want(const Model& m) const {
    if ((xfeatures & ~m.supported_xcr0) != 0 || broken == 1 || broken == 2) return EINVAL;
    if (broken == 3 && (xfeatures & 7) != 0) return EINVAL;
    return 0;
  }
  void apply(Model& m) const override {
    if (want(m) != 0) return;
    VcpuModel& v = m.vcpu_state[vcpu];
    v.xfeatures = xfeatures;
    if ((xfeatures & 1) != 0) v.fcw = fcw;
    if ((xfeatures & 7) != 0) v.mxcsr = image_mxcsr();
    if ((xfeatures & 2) != 0) v.xmm0 = xmm0;
    if ((xfeatures & 4) != 0) v.ymm0 = ymm0;
  }
  std::uint32_t image_mxcsr() const { return broken == 3 ? mxcsr | 1U << 16 : mxcsr; }
  uapi::kvm_xsave image(const Model& m) const {
    uapi::kvm_xsave x;
    auto* b = reinterpret_cast<std::uint8_t*>(x.region);
    const std::uint32_t mx = image_mxcsr();
    std::memcpy(b, &fcw, 2);
    std::memcpy(b + 24, &mx, 4);
    std::memcpy(b + 28, &m.mxcsr_mask, 4);
    b[160] = xmm0;
    b[576] = ymm0;
    std::memcpy(b + 512, &xfeatures, 8);
    if (broken == 1) b[520 + 7] = 0x80;  // XCOMP_BV bit 63: the compacted format
    if (broken == 2) b[512 + 20] = 1;
    return x;
  }
  void run(const Model& m, Sut& s) const override {
    Model after = m;
    apply(after);
    const VcpuModel& v = after.vcpu_state[vcpu];
    std::uint64_t guest_xcr0 = 0;
    for (const auto& e : cpuid_variant(v.cpuid.value_or(0))) {
      if (e.function == 0xd) guest_xcr0 = (e.eax | std::uint64_t{e.edx} << 32) & m.supported_xcr0;
    }
    const std::uint64_t shown = v.xfeatures & (guest_xcr0 | 3);
    std::vector<int> got;
    for (Side& side : s.sides) {
      got.push_back(errno_of(side.vcpus[vcpu].set_xsave(image(m))));
      auto x = side.vcpus[vcpu].get_xsave();
      if (!x) RC_FAIL(side.name + ": KVM_GET_XSAVE: " + x.error().to_string());
      const auto* b = reinterpret_cast<const std::uint8_t*>(x->region);
      std::uint16_t got_fcw;
      std::uint32_t got_mxcsr;
      std::uint64_t got_xf;
      std::memcpy(&got_fcw, b, 2);
      std::memcpy(&got_mxcsr, b + 24, 4);
      std::memcpy(&got_xf, b + 512, 8);
      const bool fields = got_xf == shown && got_fcw == ((shown & 1) != 0 ? v.fcw : 0x37f) &&
                          got_mxcsr == ((shown & 6) != 0 ? v.mxcsr : 0x1f80U) && b[160] == ((shown & 2) != 0 ? v.xmm0 : 0) &&
                          b[576] == ((shown & 4) != 0 ? v.ymm0 : 0);
      if (!fields) {
        RC_FAIL(fmt::format("{}: KVM_GET_XSAVE: XSTATE_BV 0x{:x} FCW 0x{:x} MXCSR 0x{:x} XMM0 0x{:x} YMM0 0x{:x}; the "
                            "kernel's rules give 0x{:x}, 0x{:x}, 0x{:x}, 0x{:x}, 0x{:x}",
                            side.name, got_xf, got_fcw, got_mxcsr, b[160], b[576], shown, (shown & 1) != 0 ? v.fcw : 0x37f,
                            (shown & 6) != 0 ? v.mxcsr : 0x1f80U, (shown & 2) != 0 ? v.xmm0 : 0, (shown & 4) != 0 ? v.ymm0 : 0));
      }
    }
    std::ostringstream what;
    show(what);
    agree(what.str(), got, want(m));
  }
  void show(std::ostream& os) const override {
    os << "KVM_SET_XSAVE(vcpu" << vcpu << ", XSTATE_BV 0x" << std::hex << xfeatures << std::dec
       << (broken == 1 ? ", XCOMP_BV set" : broken == 2 ? ", reserved header byte" : broken == 3 ? ", MXCSR bit 16" : "")
       << "); KVM_GET_XSAVE";
  }
};

/// KVM_SET_DEVICE_ATTR / KVM_GET_DEVICE_ATTR on a vCPU's TSC offset, an attribute it lacks,
/// and /dev/kvm (which has no writable attribute).
struct TscOffset : Command {
  std::size_t vcpu = 0;
  int kind = 0;  // 0 the TSC offset, 1 another group, 2 /dev/kvm
  std::uint64_t value = 0;
  explicit TscOffset(const Model& m) {
    RC_PRE(m.vcpus > 0);
    vcpu = *rc::gen::inRange<std::size_t>(0, m.vcpus);
    kind = *rc::gen::weightedElement<int>({{4, 0}, {1, 1}, {1, 2}});
    value = *rc::gen::arbitrary<std::uint64_t>();
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(vcpu < m.vcpus); }
  void apply(Model& m) const override {
    if (kind == 0) m.vcpu_state[vcpu].tsc_offset = value;
  }
  void run(const Model&, Sut& s) const override {
    std::vector<int> got;
    for (Side& side : s.sides) {
      if (kind == 0) got.push_back(errno_of(side.vcpus[vcpu].set_device_attr(uapi::KVM_VCPU_TSC_CTRL, uapi::KVM_VCPU_TSC_OFFSET, value)));
      if (kind == 1) got.push_back(errno_of(side.vcpus[vcpu].set_device_attr(5, 0, value)));
      if (kind == 2) got.push_back(errno_of(side.kvm->set_device_attr(uapi::KVM_X86_GRP_SYSTEM, 0, value)));
      // The offset read back is the kernel's vcpu->arch.l1_tsc_offset: what was written. It is
      // compared on the simulator only: a nested host (PVM) keeps it at 0 (docs/hw-backend.md).
      if (kind == 0) {
        auto r = side.vcpus[vcpu].get_device_attr(uapi::KVM_VCPU_TSC_CTRL, uapi::KVM_VCPU_TSC_OFFSET);
        if (!r) RC_FAIL(side.name + ": KVM_GET_DEVICE_ATTR(TSC_OFFSET): " + r.error().to_string());
        if (side.backend->name() == "sim" && *r != value) {
          RC_FAIL(fmt::format("sim: KVM_GET_DEVICE_ATTR(TSC_OFFSET) = 0x{:x} after writing 0x{:x}", *r, value));
        }
      }
    }
    std::ostringstream what;
    show(what);
    agree(what.str(), got, kind == 0 ? 0 : kind == 1 ? ENXIO : EINVAL);
  }
  void show(std::ostream& os) const override {
    os << "KVM_SET_DEVICE_ATTR(" << (kind == 0 ? "vcpu" + std::to_string(vcpu) + ", TSC_CTRL, TSC_OFFSET"
                                     : kind == 1 ? "vcpu" + std::to_string(vcpu) + ", group 5"
                                                 : std::string("/dev/kvm, GRP_SYSTEM"))
       << ", 0x" << std::hex << value << std::dec << ")";
  }
};

struct GmemMmap : Command {
  std::size_t gmem = 0;
  std::uint64_t offset = 0, len = 0;
  explicit GmemMmap(const Model& m) {
    const bool valid = !m.gmems.empty() && m.gmem_maps.size() < 8;
    RC_PRE(valid);
    gmem = *rc::gen::inRange<std::size_t>(0, m.gmems.size());
    offset = *rc::gen::weightedElement<std::uint64_t>({{6, 0}, {3, kPage}, {2, 0x6000}, {1, 8}});
    len = *rc::gen::weightedElement<std::uint64_t>({{6, 2 * kPage}, {3, 0x4000}, {1, 0}});
  }
  void checkPreconditions(const Model& m) const override {
    const bool valid = gmem < m.gmems.size() && m.gmem_maps.size() < 8;
    RC_PRE(valid);
  }
  int want(const Model& m) const {
    if (len == 0 || offset % kPage != 0) return EINVAL;
    return (m.gmems[gmem].flags & uapi::GUEST_MEMFD_FLAG_MMAP) == 0 ? ENODEV : 0;
  }
  void apply(Model& m) const override {
    if (want(m) == 0) m.gmem_maps.push_back(GmemMapModel{gmem, offset, len});
  }
  void run(const Model& m, Sut& s) const override {
    std::vector<int> got;
    for (Side& side : s.sides) {
      auto map = side.gmems[gmem].mmap(offset, len);
      got.push_back(errno_of(map));
      if (map) side.gmem_maps.push_back(std::move(*map));
    }
    std::ostringstream what;
    show(what);
    agree(what.str(), got, want(m));
  }
  void show(std::ostream& os) const override {
    os << "mmap(gmem" << gmem << ", offset 0x" << std::hex << offset << ", len 0x" << len << std::dec << ")";
  }
};

/// Bytes written through a guest_memfd mapping, then read back: the file's pages (zero where
/// never written or punched), EFAULT where the kernel's fault handler refuses (SIGBUS).
struct GmemAccess : Command {
  std::size_t map = 0;
  std::uint64_t offset = 0;
  std::vector<std::uint8_t> bytes;
  explicit GmemAccess(const Model& m) {
    RC_PRE(!m.gmem_maps.empty());
    map = *rc::gen::inRange<std::size_t>(0, m.gmem_maps.size());
    offset = *rc::gen::inRange<std::uint64_t>(0, m.gmem_maps[map].len);
    const std::uint64_t room = std::min<std::uint64_t>(m.gmem_maps[map].len - offset, 64);
    bytes = *rc::gen::container<std::vector<std::uint8_t>>(*rc::gen::inRange<std::size_t>(0, static_cast<std::size_t>(room) + 1),
                                                           rc::gen::arbitrary<std::uint8_t>());
  }
  void checkPreconditions(const Model& m) const override {
    const bool valid = map < m.gmem_maps.size() && offset + bytes.size() <= m.gmem_maps[map].len;
    RC_PRE(valid);
  }
  /// Writes page by page as the kernel faults them in: up to the first page it refuses.
  /// Returns the errno (0 or EFAULT).
  int write_model(GmemModel& g, std::uint64_t file_off) const {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const std::uint64_t at = file_off + done;
      if (at >= g.size || (g.flags & uapi::GUEST_MEMFD_FLAG_INIT_SHARED) == 0) return EFAULT;
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kPage - at % kPage, bytes.size() - done));
      auto& page = g.pages[at / kPage];
      if (page.empty()) page.assign(kPage, 0);
      std::copy_n(bytes.begin() + static_cast<long>(done), n, page.begin() + static_cast<long>(at % kPage));
      done += n;
    }
    return 0;
  }
  void apply(Model& m) const override {
    const GmemMapModel& mm = m.gmem_maps[map];
    (void)write_model(m.gmems[mm.gmem], mm.offset + offset);
  }
  void run(const Model& m, Sut& s) const override {
    Model after = m;
    const GmemMapModel& mm = m.gmem_maps[map];
    const int want = write_model(after.gmems[mm.gmem], mm.offset + offset);
    std::vector<std::uint8_t> expect(bytes.size(), 0);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      const std::uint64_t at = mm.offset + offset + i;
      const auto& pages = after.gmems[mm.gmem].pages;
      auto p = pages.find(at / kPage);
      if (p != pages.end()) expect[i] = p->second[at % kPage];
    }
    std::vector<int> got;
    for (Side& side : s.sides) {
      got.push_back(errno_of(side.gmem_maps[map].write(offset, bytes)));
      std::vector<std::uint8_t> out(bytes.size());
      const auto rd = side.gmem_maps[map].read(offset, out);
      if (want == 0 && !rd) RC_FAIL(side.name + ": reading back through the guest_memfd mapping: " + rd.error().to_string());
      if (rd && out != expect) RC_FAIL(side.name + ": the guest_memfd mapping does not hold what was written");
    }
    std::ostringstream what;
    show(what);
    agree(what.str(), got, want);
  }
  void show(std::ostream& os) const override {
    os << "write(gmem map" << map << "+0x" << std::hex << offset << std::dec << ", " << bytes.size() << " bytes); read back";
  }
};

// ---- real guest code ----------------------------------------------------------------------------

/// A real-mode guest of a few instructions that store bytes into its data page and write
/// ports, then halt: run on a fresh VM (one memslot of user memory at GPA 0, code at 0x1000,
/// data at 0x2000) until HLT. Every exit, the data page and the vCPU's CPUID lock after the
/// run are compared with the model and across backends.
struct RunGuest : Command {
  struct Insn {
    int kind = 0;  // 0 mov al,imm + out imm8; 1 mov dx,imm + out dx; 2 mov byte [d],imm; 3 mov al,imm + mov [d],al;
                   // 4 inc al; 5 jmp over a nop; 6 nop
    std::uint8_t imm = 0;
    std::uint16_t port = 0, disp = 0;
  };
  static constexpr std::uint64_t kCode = 0x1000, kData = 0x2000, kGuestMem = 0x4000;
  std::vector<Insn> insns;
  explicit RunGuest(const Model&) {
    const std::size_t n = *rc::gen::inRange<std::size_t>(1, 7);
    for (std::size_t i = 0; i < n; ++i) {
      Insn k;
      k.kind = *rc::gen::inRange(0, 7);
      k.imm = *rc::gen::arbitrary<std::uint8_t>();
      k.port = k.kind == 0 ? *rc::gen::inRange<std::uint16_t>(0x10, 0x80) : *rc::gen::inRange<std::uint16_t>(0x1000, 0x1100);
      k.disp = static_cast<std::uint16_t>(kData + *rc::gen::inRange<std::uint16_t>(0, 0x1000));
      insns.push_back(k);
    }
  }
  void apply(Model&) const override {}
  std::vector<std::uint8_t> code() const {
    std::vector<std::uint8_t> c;
    auto lo = [](std::uint16_t v) { return static_cast<std::uint8_t>(v); };
    auto hi = [](std::uint16_t v) { return static_cast<std::uint8_t>(v >> 8); };
    for (const Insn& k : insns) {
      switch (k.kind) {
        case 0: c.insert(c.end(), {0xB0, k.imm, 0xE6, lo(k.port)}); break;
        case 1: c.insert(c.end(), {0xBA, lo(k.port), hi(k.port), 0xEE}); break;
        case 2: c.insert(c.end(), {0xC6, 0x06, lo(k.disp), hi(k.disp), k.imm}); break;
        case 3: c.insert(c.end(), {0xB0, k.imm, 0xA2, lo(k.disp), hi(k.disp)}); break;
        case 4: c.insert(c.end(), {0xFE, 0xC0}); break;
        case 5: c.insert(c.end(), {0xEB, 0x01, 0x90}); break;
        default: c.push_back(0x90); break;
      }
    }
    c.push_back(0xF4);
    return c;
  }
  /// What the model says: the exits ("IO port=data", then "HLT") and the data page.
  std::pair<std::vector<std::string>, std::vector<std::uint8_t>> expect() const {
    std::vector<std::string> exits;
    std::vector<std::uint8_t> data(kPage, 0);
    std::uint8_t al = 0;
    for (const Insn& k : insns) {
      if (k.kind == 0 || k.kind == 3) al = k.imm;
      if (k.kind == 4) ++al;
      if (k.kind == 0) exits.push_back(fmt::format("IO out port 0x{:x} data 0x{:x}", k.port & 0xff, al));
      if (k.kind == 1) exits.push_back(fmt::format("IO out port 0x{:x} data 0x{:x}", k.port, al));
      if (k.kind == 2) data[k.disp - kData] = k.imm;
      if (k.kind == 3) data[k.disp - kData] = al;
    }
    exits.push_back("HLT");
    return {exits, data};
  }
  void run(const Model&, Sut& s) const override {
    const auto [want_exits, want_data] = expect();
    std::vector<int> lock;
    for (Side& side : s.sides) {
      auto vm = side.kvm->create_vm();
      RC_ASSERT(vm.has_value());
      auto mem = api::UserMemory::alloc(*side.backend, kGuestMem);
      RC_ASSERT(mem.has_value());
      // Exceptions go through the zeroed IVT to 0:0, where a HLT stops the guest.
      const std::vector<std::uint8_t> hlt{0xF4};
      RC_ASSERT(mem->write(0, hlt).has_value());
      RC_ASSERT(mem->write(kCode, code()).has_value());
      uapi::kvm_userspace_memory_region2 r;
      r.memory_size = kGuestMem;
      r.userspace_addr = mem->addr();
      RC_ASSERT(vm->set_user_memory_region2(r).has_value());
      auto vcpu = vm->create_vcpu(0);
      RC_ASSERT(vcpu.has_value());
      auto sregs = vcpu->get_sregs();
      RC_ASSERT(sregs.has_value());
      for (uapi::kvm_segment* seg : {&sregs->cs, &sregs->ds, &sregs->es, &sregs->fs, &sregs->gs, &sregs->ss}) {
        seg->base = 0;
        seg->selector = 0;
      }
      RC_ASSERT(vcpu->set_sregs(*sregs).has_value());
      uapi::kvm_regs regs;
      regs.rip = kCode;
      regs.rflags = 2;
      RC_ASSERT(vcpu->set_regs(regs).has_value());
      std::vector<std::string> exits;
      for (std::size_t i = 0; i < want_exits.size() + 2; ++i) {
        auto x = vcpu->run();
        if (!x) {
          exits.push_back("KVM_RUN: " + x.error().to_string());
          break;
        }
        if (x->exit_reason == uapi::KVM_EXIT_IO) {
          exits.push_back(fmt::format("IO {} port 0x{:x} data 0x{:x}", x->io.direction == 1 ? "out" : "in", x->io.port,
                                      x->io.data[0]));
          continue;
        }
        exits.push_back(x->exit_reason == uapi::KVM_EXIT_HLT ? std::string("HLT")
                                                              : fmt::format("exit {} (suberror {})", x->exit_reason,
                                                                            x->internal_suberror));
        break;
      }
      if (exits != want_exits) {
        std::string all, want;
        for (const auto& e : exits) all += " [" + e + "]";
        for (const auto& e : want_exits) want += " [" + e + "]";
        RC_FAIL(side.name + ": the guest's exits:" + all + "; the model's:" + want);
      }
      std::vector<std::uint8_t> data(kPage);
      RC_ASSERT(mem->read(kData, data).has_value());
      if (data != want_data) RC_FAIL(side.name + ": the guest's data page does not hold what its stores wrote");
      // The vCPU has run: KVM_SET_CPUID2 may only repeat the (empty) CPUID it has.
      lock.push_back(errno_of(vcpu->set_cpuid2(std::vector<uapi::kvm_cpuid_entry2>{})));
      lock.push_back(errno_of(vcpu->set_cpuid2(cpuid_variant(1))));
    }
    std::ostringstream what;
    show(what);
    for (std::size_t i = 0; i + 2 <= lock.size(); i += 2) {
      if (lock[i] != 0 || lock[i + 1] != EINVAL) {
        RC_FAIL(what.str() + ": KVM_SET_CPUID2 after KVM_RUN: errno " + std::to_string(lock[i]) + " for the same CPUID, " +
                std::to_string(lock[i + 1]) + " for another (the kernel: 0, EINVAL)");
      }
    }
  }
  void show(std::ostream& os) const override {
    os << "run real-mode guest:";
    for (const std::uint8_t b : code()) os << fmt::format(" {:02x}", b);
  }
};

/// The simulator's detector findings, one line each ("" when none).
std::string findings_of(api::Backend& b) {
  std::string out;
  if (model::kvm::Host* h = api::sim_host(b); h != nullptr && h->sev() != nullptr) {
    for (const auto& f : h->sev()->detectors().findings()) out += f.describe() + "\n";
  }
  return out;
}

/// rapidcheck reads RC_PARAMS once and prints what it read to std::cerr; the seeds and case
/// counts here are explicit, so that line would only mislead.
void quiet_rapidcheck() {
  static const bool quiet = [] {
    std::streambuf* saved = std::cerr.rdbuf(nullptr);
    (void)rc::detail::configuration();
    std::cerr.rdbuf(saved);
    return true;
  }();
  (void)quiet;
}

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
  quiet_rapidcheck();
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
    const auto xcr0 = kvm->get_device_attr(uapi::KVM_X86_GRP_SYSTEM, uapi::KVM_X86_XCOMP_GUEST_SUPP);
    m0.supported_xcr0 = xcr0 ? *xcr0 : 3;
    if (auto vcpu = vm->create_vcpu(0)) {
      if (auto x = vcpu->get_xsave()) std::memcpy(&m0.mxcsr_mask, reinterpret_cast<const std::uint8_t*>(x->region) + 28, 4);
    }
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
                                                           PunchHole, WriteRead, NrMmuPages, WrongFile, SupportedCpuid,
                                                           SetCpuid, GetCpuid, Xsave, TscOffset, GmemMmap, GmemAccess,
                                                           RunGuest>());
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
      const auto gm = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD);
      cfg.guest_memfd = gm && *gm > 0;
      const auto fl = vm->check_extension(uapi::KVM_CAP_GUEST_MEMFD_FLAGS);
      cfg.gmem_flags = fl && *fl > 0 ? static_cast<std::uint64_t>(*fl) : 0;
      if (auto vcpu = vm->create_vcpu(0)) {
        // The FXSAVE MXCSR_MASK of this CPU, as a fresh vCPU's XSAVE image reports it.
        if (auto x = vcpu->get_xsave()) std::memcpy(&cfg.mxcsr_feature_mask, reinterpret_cast<const std::uint8_t*>(x->region) + 28, 4);
      }
    }
    // The XSAVE components KVM supports and where this CPU puts them (CPUID 0xD.i).
    if (auto xcr0 = kvm->get_device_attr(uapi::KVM_X86_GRP_SYSTEM, uapi::KVM_X86_XCOMP_GUEST_SUPP)) cfg.supported_xcr0 = *xcr0;
    if (auto cpuid = kvm->get_supported_cpuid()) {
      cfg.xstate_layout.clear();
      for (const auto& e : *cpuid) {
        if (e.function == 0xd && e.index >= 2 && e.index < 64 && e.eax != 0) cfg.xstate_layout[e.index] = {e.ebx, e.eax};
      }
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

/// The backend, its /dev/kvm and /dev/sev for an SNP property, or why not (a skip: the
/// probe's SNP reason first).
struct SnpOpened {
  Opened o;
  std::optional<api::SevDevice> sev;
  std::string missing;
};
SnpOpened open_snp(const Context& c) {
  SnpOpened so;
  if (!c.snp_missing.empty()) {
    so.missing = c.snp_missing;
    return so;
  }
  so.o = open(c);
  if (!so.o.kvm) {
    so.missing = so.o.missing;
    return so;
  }
  auto sev = api::SevDevice::open(*so.o.backend);
  if (!sev) {
    so.missing = sev.error().to_string();
    return so;
  }
  so.sev.emplace(std::move(*sev));
  return so;
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
  SnpOpened so = open_snp(c);
  if (!so.sev) return skip(so.missing);
  Opened& o = so.o;
  auto& sev = so.sev;
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

/// rapidcheck's parameters for a property of this suite: the run's seed and case count.
rc::detail::TestParams params_of(const Context& c, int cases) {
  quiet_rapidcheck();
  rc::detail::TestParams p = rc::detail::configuration().testParams;
  p.maxSuccess = cases;
  p.seed = c.seed;
  return p;
}

/// KVM_SEV_INIT2 with random flags, VMSA features, GHCB version and padding, before or after
/// a vCPU, once or twice, on every SEV VM type the host offers: __sev_guest_init()'s rules
/// (6.12), with the supported features from KVM_GET_DEVICE_ATTR(KVM_X86_GRP_SEV).
Outcome snp_init2(const Context& c) {
  SnpOpened so = open_snp(c);
  if (!so.sev) return skip(so.missing);
  Opened& o = so.o;
  auto& sev = so.sev;
  const auto types = o.kvm->check_extension(uapi::KVM_CAP_VM_TYPES);
  std::vector<unsigned long> sev_types;
  for (const unsigned long t : {uapi::KVM_X86_SEV_VM, uapi::KVM_X86_SEV_ES_VM, uapi::KVM_X86_SNP_VM}) {
    if (types && (static_cast<unsigned>(*types) >> t & 1U) != 0) sev_types.push_back(t);
  }
  if (sev_types.empty()) return skip(fmt::format("KVM_CAP_VM_TYPES (0x{:x}) offers no SEV VM type", types ? *types : 0));
  const auto supported = o.kvm->get_device_attr(uapi::KVM_X86_GRP_SEV, uapi::KVM_X86_SEV_VMSA_FEATURES);
  const std::uint64_t features_es = supported ? *supported : 0;
  rc::detail::TestMetadata md;
  md.id = "KVM_SEV_INIT2";
  const auto r = rc::detail::checkTestable(
      [&] {
        const unsigned long type = *rc::gen::elementOf(sev_types);
        const bool vcpu_first = *rc::gen::weightedElement<bool>({{1, true}, {5, false}});
        const std::uint32_t flags = *rc::gen::weightedElement<std::uint32_t>({{5, 0}, {1, 1}, {1, 1U << 31}});
        const std::uint64_t features = *rc::gen::element<std::uint64_t>(0, features_es, features_es | 1ULL << 62, 1ULL << 5, 1ULL << 7);
        const std::uint16_t ghcb = *rc::gen::element<std::uint16_t>(0, 1, 2, 3);
        const std::uint32_t pad = *rc::gen::weightedElement<std::uint32_t>({{4, 0}, {1, 1}});
        const bool twice = *rc::gen::arbitrary<bool>();
        auto vm = o.kvm->create_vm(type);
        RC_ASSERT(vm.has_value());
        std::optional<api::Vcpu> vcpu;
        if (vcpu_first) {
          auto v = vm->create_vcpu(0);
          RC_ASSERT(v.has_value());
          vcpu.emplace(std::move(*v));
        }
        uapi::kvm_sev_init init;
        init.flags = flags;
        init.vmsa_features = features;
        init.ghcb_version = ghcb;
        init.pad2[3] = pad;
        const bool es = type != uapi::KVM_X86_SEV_VM;
        const std::uint64_t valid = es ? features_es : 0;
        int want = 0;
        if (vcpu_first || flags != 0 || (features & ~valid) != 0 || ghcb > 2 || (!es && ghcb != 0)) want = EINVAL;
        std::uint32_t fw = 0;
        const auto st = vm->sev_init2(init, *sev, &fw);
        const std::string what = fmt::format("KVM_SEV_INIT2(type {}, flags 0x{:x}, vmsa_features 0x{:x}, ghcb {}, pad {}{})",
                                             type, flags, features, ghcb, pad, vcpu_first ? ", after a vCPU" : "");
        if (errno_of(st) != want) {
          RC_FAIL(fmt::format("{}: {}, the kernel's rules say errno {}", what, st ? std::string("success") : st.error().to_string(), want));
        }
        if (st && twice) {
          // A second INIT2: EINVAL (need_init is gone); on an SNP VM every id below 100 is
          // EPERM first (facts §8.3).
          const auto again = vm->sev_init2(init, *sev, &fw);
          const int want2 = type == uapi::KVM_X86_SNP_VM ? EPERM : EINVAL;
          if (errno_of(again) != want2) RC_FAIL(fmt::format("{} twice: errno {}, the kernel's {}", what, errno_of(again), want2));
        }
      },
      md, params_of(c, c.cases));
  return outcome_of(r);
}

/// The SNP launch commands in random order on an SNP VM with 16 pages of guest_memfd at GPA 0
/// (0-11 private, 12-15 shared): LAUNCH_START with valid and refused policies, LAUNCH_UPDATE
/// of any page type, range (past the slot's end, across shared pages, over populated pages)
/// and flags, vCPUs, LAUNCH_FINISH; each answer, LAUNCH_UPDATE's partial progress and the
/// vCPUs' protection checked against 6.12's rules; the teardown leaves SNP_PLATFORM_STATUS's
/// guest count where it was.
Outcome snp_launch_sequences(const Context& c) {
  SnpOpened so = open_snp(c);
  if (!so.sev) return skip(so.missing);
  Opened& o = so.o;
  auto& sev = so.sev;
  constexpr std::uint64_t kPages = 16, kPrivate = 12;
  rc::detail::TestMetadata md;
  md.id = "SNP launch sequences";
  const auto r = rc::detail::checkTestable(
      [&] {
        uapi::sev_user_data_snp_status before{};
        RC_ASSERT(sev->snp_platform_status(before).has_value());
        {
          auto vm = o.kvm->create_vm(uapi::KVM_X86_SNP_VM);
          RC_ASSERT(vm.has_value());
          uapi::kvm_sev_init init;
          RC_ASSERT(vm->sev_init2(init, *sev).has_value());
          uapi::kvm_create_guest_memfd g;
          g.size = kPages * kPage;
          auto gmem = vm->create_guest_memfd(g);
          RC_ASSERT(gmem.has_value());
          auto shared = api::UserMemory::alloc(*o.backend, kPages * kPage);
          RC_ASSERT(shared.has_value());
          auto src = api::UserMemory::alloc(*o.backend, 8 * kPage);  // zeros: a valid CPUID page too
          RC_ASSERT(src.has_value());
          uapi::kvm_userspace_memory_region2 region;
          region.flags = uapi::KVM_MEM_GUEST_MEMFD;
          region.memory_size = kPages * kPage;
          region.userspace_addr = shared->addr();
          region.guest_memfd = static_cast<std::uint32_t>(gmem->handle());
          RC_ASSERT(vm->set_user_memory_region2(region).has_value());
          uapi::kvm_memory_attributes attrs;
          attrs.size = kPrivate * kPage;
          attrs.attributes = uapi::KVM_MEMORY_ATTRIBUTE_PRIVATE;
          RC_ASSERT(vm->set_memory_attributes(attrs).has_value());

          bool started = false, finished = false;
          std::set<std::uint64_t> populated;
          std::vector<api::Vcpu> vcpus;
          std::vector<bool> protected_vcpu;
          std::ostringstream log;
          const int n = *rc::gen::inRange(1, 14);
          for (int step = 0; step < n; ++step) {
            const int op = *rc::gen::weightedElement<int>({{2, 0}, {6, 1}, {1, 2}, {2, 3}});
            if (op == 0) {
              const std::uint64_t policy =
                  *rc::gen::element<std::uint64_t>(0x30000, 0x30000 | 1ULL << 19, 0x10000, 0x20000, 0x30000 | 1ULL << 20, 0x30000 | 1ULL << 18);
              uapi::kvm_sev_snp_launch_start start;
              start.policy = policy;
              const bool policy_ok = (policy & 0x30000) == 0x30000 && (policy & (1ULL << 20 | 1ULL << 18)) == 0;
              const int want = started || !policy_ok ? EINVAL : 0;
              const auto st = vm->snp_launch_start(start);
              log << fmt::format("LAUNCH_START(policy 0x{:x}) = {}\n", policy, errno_of(st));
              if (errno_of(st) != want) RC_FAIL(fmt::format("{}the kernel's rules say errno {}", log.str(), want));
              if (st) started = true;
            } else if (op == 1) {
              const std::uint64_t gfn = *rc::gen::inRange<std::uint64_t>(0, kPages + 2);
              const std::uint64_t npages = *rc::gen::inRange<std::uint64_t>(0, 5);
              const std::uint8_t type = *rc::gen::element<std::uint8_t>(1, 1, 3, 4, 5, 6, 2, 7);
              const std::uint16_t flags = *rc::gen::weightedElement<std::uint16_t>({{8, 0}, {1, 1}});
              uapi::kvm_sev_snp_launch_update up;
              up.gfn_start = gfn;
              up.uaddr = src->addr();
              up.len = npages * kPage;
              up.type = type;
              up.flags = flags;
              const bool type_ok = type == 1 || type == 3 || type == 4 || type == 5 || type == 6;
              // The model: the pages done before the first that fails, and how it fails.
              int want = 0;
              std::uint64_t done = 0;
              bool firmware_refused = false;
              if (!started || flags != 0 || !type_ok || gfn >= kPages) {
                want = EINVAL;
              } else {
                const std::uint64_t todo = std::min(npages, kPages - gfn);  // clipped to the slot
                for (; done < todo; ++done) {
                  const std::uint64_t page = gfn + done;
                  if (populated.contains(page) || page >= kPrivate) break;  // EEXIST / not private
                  if (finished) {
                    firmware_refused = true;  // the guest is RUNNING: INVALID_GUEST_STATE
                    break;
                  }
                }
                if (done < todo && done == 0) want = EIO;
              }
              std::uint32_t fw = 0;
              const auto st = vm->snp_launch_update(up, &fw);
              log << fmt::format("LAUNCH_UPDATE(gfn {}, {} pages, type {}, flags {}) = {}, {} left\n", gfn, npages, type,
                                 flags, errno_of(st), up.len / kPage);
              if (errno_of(st) != want) RC_FAIL(fmt::format("{}the kernel's rules say errno {}", log.str(), want));
              if (want == EIO && firmware_refused && st.error().fw != api::FwStatus::InvalidGuestState) {
                RC_FAIL(log.str() + "the firmware's INVALID_GUEST_STATE was expected: " + st.error().to_string());
              }
              if (st) {
                const bool progress = up.gfn_start == gfn + done && up.len == (npages - done) * kPage &&
                                      up.uaddr == src->addr() + (type == 3 ? 0 : done * kPage);
                if (!progress) RC_FAIL(fmt::format("{}the progress handed back is not {} page(s) done", log.str(), done));
                for (std::uint64_t i = 0; i < done; ++i) populated.insert(gfn + i);
              }
            } else if (op == 2) {
              if (vcpus.size() >= 2) continue;
              auto v = vm->create_vcpu(vcpus.size());
              log << "KVM_CREATE_VCPU = " << errno_of(v) << "\n";
              if (!v) RC_FAIL(log.str() + "KVM_CREATE_VCPU failed: " + v.error().to_string());
              vcpus.push_back(std::move(*v));
              protected_vcpu.push_back(false);
            } else {
              const std::uint16_t flags = *rc::gen::weightedElement<std::uint16_t>({{6, 0}, {1, 1}});
              uapi::kvm_sev_snp_launch_finish fin;
              fin.flags = flags;
              const auto st = vm->snp_launch_finish(fin);
              log << fmt::format("LAUNCH_FINISH(flags {}) = {}\n", flags, errno_of(st));
              if (finished) {
                // Again: the first vCPU's VMSA sync (EINVAL: protected) or the firmware (EIO:
                // the guest is RUNNING) refuses it.
                if (st) RC_FAIL(log.str() + "a second LAUNCH_FINISH succeeded");
                const int e = st.error().errno_value;
                if (e != EINVAL && e != EIO) RC_FAIL(log.str() + "a second LAUNCH_FINISH: " + st.error().to_string());
                continue;
              }
              const int want = !started || flags != 0 ? EINVAL : 0;
              if (errno_of(st) != want) RC_FAIL(fmt::format("{}the kernel's rules say errno {}", log.str(), want));
              if (st) {
                finished = true;
                for (std::size_t i = 0; i < protected_vcpu.size(); ++i) protected_vcpu[i] = true;
              }
            }
          }
          // Launched vCPUs' state is protected: KVM_GET_REGS is EINVAL on them, and only on them.
          for (std::size_t i = 0; i < vcpus.size(); ++i) {
            const int got = errno_of(vcpus[i].get_regs());
            if (got != (protected_vcpu[i] ? EINVAL : 0)) {
              RC_FAIL(fmt::format("{}KVM_GET_REGS on vCPU {}: errno {}, {} protected", log.str(), i, got,
                                  protected_vcpu[i] ? "" : "not"));
            }
          }
          uapi::sev_user_data_snp_status during{};
          RC_ASSERT(sev->snp_platform_status(during).has_value());
          const std::uint32_t guests = started ? before.guest_count + 1 : before.guest_count;
          if (during.guest_count != guests) {
            RC_FAIL(fmt::format("{}SNP_PLATFORM_STATUS counts {} guests, the launch state says {}", log.str(),
                                during.guest_count, guests));
          }
        }
        uapi::sev_user_data_snp_status after{};
        RC_ASSERT(sev->snp_platform_status(after).has_value());
        if (after.guest_count != before.guest_count) {
          RC_FAIL(fmt::format("{} guests after the teardown, {} before: a guest context was not decommissioned",
                              after.guest_count, before.guest_count));
        }
        // A backend that audits itself (the simulator's detectors: a page left assigned, a
        // reclaim that failed, a double assignment) has nothing to report; the hw backend has
        // no such audit and reports nothing.
        if (const std::string f = findings_of(*o.backend); !f.empty()) RC_FAIL("detector findings after the teardown:\n" + f);
      },
      md, params_of(c, std::max(1, c.cases / 2)));
  return outcome_of(r);
}

/// Certificate configuration: KVM_SEV_SNP_ENABLE_REQ_CERTS where the kernel has it
/// (KVM_HAS_DEVICE_ATTR(KVM_X86_GRP_SEV, KVM_X86_SEV_SNP_REQ_CERTS)): ENOTTY before INIT2
/// (not an SEV guest yet), success after it, EINVAL once a vCPU exists;
/// where it lacks it, the unknown command id is EINVAL.
Outcome snp_req_certs(const Context& c) {
  SnpOpened so = open_snp(c);
  if (!so.sev) return skip(so.missing);
  Opened& o = so.o;
  auto& sev = so.sev;
  const bool has = o.kvm->has_device_attr(uapi::KVM_X86_GRP_SEV, uapi::KVM_X86_SEV_SNP_REQ_CERTS).has_value();
  auto vm = o.kvm->create_vm(uapi::KVM_X86_SNP_VM);
  if (!vm) return fail(vm.error().to_string());
  const int before = errno_of(vm->snp_enable_req_certs());
  if (before != ENOTTY) return fail(fmt::format("KVM_SEV_SNP_ENABLE_REQ_CERTS before INIT2: errno {}, the kernel's ENOTTY", before));
  uapi::kvm_sev_init init;
  if (auto st = vm->sev_init2(init, *sev); !st) return fail(st.error().to_string());
  const int after = errno_of(vm->snp_enable_req_certs());
  if (after != (has ? 0 : EINVAL)) {
    return fail(fmt::format("KVM_SEV_SNP_ENABLE_REQ_CERTS after INIT2: errno {}; the kernel {} it: {}", after,
                            has ? "has" : "lacks", has ? 0 : EINVAL));
  }
  if (has) {
    auto vcpu = vm->create_vcpu(0);
    if (!vcpu) return fail(vcpu.error().to_string());
    const int late = errno_of(vm->snp_enable_req_certs());
    if (late != EINVAL) return fail(fmt::format("KVM_SEV_SNP_ENABLE_REQ_CERTS after a vCPU: errno {}, not EINVAL", late));
  }
  return pass();
}

// ---- guest-side properties: simulated guests, so the simulator only ------------------------------

constexpr const char* kGuestSideOnly =
    "guest-side: the guest is a simulated guest program, which runs on the simulator only; on real hardware it "
    "needs a test guest image (not yet written)";

/// Random pages of a launched SNP guest converted to shared and back by the guest
/// (KVM_HC_MAP_GPA_RANGE exits the VMM serves as QEMU does), written on each side: the VMM
/// reads the guest's shared bytes from its own memory, the guest reads its private bytes
/// back, nothing terminates and no detector fires.
Outcome guest_conversions(const Context& c) {
  if (c.backend != "sim") return skip(kGuestSideOnly);
  rc::detail::TestMetadata md;
  md.id = "guest conversions";
  const auto r = rc::detail::checkTestable(
      [&] {
        auto b = c.make();
        RC_ASSERT(b.has_value());
        scenarios::SnpVmConfig cfg;
        cfg.mem = 1ULL << 20;
        auto vm = scenarios::SnpVm::launch(**b, cfg);
        RC_ASSERT(vm.has_value());
        constexpr std::uint64_t kBase = 0x80000;
        const auto pages = *rc::gen::unique<std::vector<std::uint64_t>>(
            *rc::gen::inRange<std::size_t>(1, 6), rc::gen::inRange<std::uint64_t>(0, 16));
        const auto value = *rc::gen::inRange<int>(1, 256);
        std::vector<model::kvm::GuestOp> ops;
        for (const std::uint64_t p : pages) {
          const std::uint64_t gpa = kBase + p * kPage;
          const auto v = static_cast<std::uint8_t>(value + static_cast<int>(p));
          ops.push_back(model::kvm::GuestOp::map_gpa_range(gpa, 1, false));
          ops.push_back(model::kvm::GuestOp::write(gpa, false, v));
          ops.push_back(model::kvm::GuestOp::map_gpa_range(gpa, 1, true));
          ops.push_back(model::kvm::GuestOp::pvalidate(gpa));
          ops.push_back(model::kvm::GuestOp::write(gpa, true, static_cast<std::uint8_t>(v ^ 0xff)));
          ops.push_back(model::kvm::GuestOp::read(gpa, true));
        }
        ops.push_back(model::kvm::GuestOp::halt());
        RC_ASSERT(api::sim_load_guest(**b, (*vm)->vcpu().handle(), ops).has_value());
        std::size_t hypercalls = 0;
        for (int i = 0; i < 64; ++i) {
          auto x = (*vm)->vcpu().run();
          RC_ASSERT(x.has_value());
          if (x->exit_reason == uapi::KVM_EXIT_HLT) break;
          if (x->exit_reason != uapi::KVM_EXIT_HYPERCALL) RC_FAIL("the guest exited " + std::to_string(x->exit_reason));
          const bool to_private = (x->hypercall.args[2] & uapi::KVM_MAP_GPA_RANGE_ENCRYPTED) != 0;
          RC_ASSERT((*vm)->convert(x->hypercall.args[0], x->hypercall.args[1] * kPage, to_private).has_value());
          // Before the page goes back to private, the VMM sees what the guest wrote shared.
          if (to_private) {
            std::uint8_t got = 0;
            RC_ASSERT((*vm)->shared().read(x->hypercall.args[0], {&got, 1}).has_value());
            const std::uint64_t p = (x->hypercall.args[0] - kBase) / kPage;
            if (got != static_cast<std::uint8_t>(value + static_cast<int>(p))) RC_FAIL("the VMM does not see the guest's shared write");
          }
          RC_ASSERT((*vm)->vcpu().set_exit_ret(0).has_value());
          ++hypercalls;
        }
        if (hypercalls != 2 * pages.size()) RC_FAIL("the guest made " + std::to_string(hypercalls) + " conversions, not two per page");
        const model::kvm::GuestLog* log = api::sim_guest_log(**b, (*vm)->vcpu().handle());
        RC_ASSERT(log != nullptr);
        for (const auto& line : *log) {
          if (line.find("terminating") != std::string::npos) RC_FAIL("the guest gave up: " + line);
        }
        // The guest reads its private write back, through the RMP-checked private mapping.
        for (const std::uint64_t p : pages) {
          const auto v = static_cast<std::uint8_t>(value + static_cast<int>(p)) ^ 0xff;
          const std::string want = fmt::format("read 0x{:x} (private): 0x{:02x}", kBase + p * kPage, v);
          if (std::find(log->begin(), log->end(), want) == log->end()) RC_FAIL("the guest's log lacks \"" + want + "\"");
        }
        (*vm)->close();
        if (const std::string f = findings_of(**b); !f.empty()) RC_FAIL("detector findings:\n" + f);
      },
      md, params_of(c, std::max(1, c.cases / 4)));
  return outcome_of(r);
}

/// Guest requests (MSG_REPORT_REQ under VMPCK0) with random REPORT_DATA: each gets a report
/// that parses, carries that REPORT_DATA and the launch's measurement is what the guest owner
/// would check; no detector fires.
Outcome guest_requests(const Context& c) {
  if (c.backend != "sim") return skip(kGuestSideOnly);
  rc::detail::TestMetadata md;
  md.id = "guest requests";
  const auto r = rc::detail::checkTestable(
      [&] {
        auto b = c.make();
        RC_ASSERT(b.has_value());
        auto vm = scenarios::SnpVm::launch(**b);
        RC_ASSERT(vm.has_value());
        constexpr std::uint64_t kReq = 0x80000, kResp = 0x81000;
        RC_ASSERT((*vm)->convert(kReq, 2 * kPage, false).has_value());
        model::kvm::GuestRequestPages pages;
        pages.secrets = 0xF000;
        pages.req = kReq;
        pages.resp = kResp;
        const auto data = *rc::gen::container<std::vector<std::uint8_t>>(*rc::gen::inRange<std::size_t>(1, 4),
                                                                         rc::gen::arbitrary<std::uint8_t>());
        std::vector<model::kvm::GuestOp> ops;
        for (const std::uint8_t d : data) ops.push_back(model::kvm::GuestOp::guest_request(pages, d));
        ops.push_back(model::kvm::GuestOp::halt());
        RC_ASSERT(api::sim_load_guest(**b, (*vm)->vcpu().handle(), ops).has_value());
        auto x = (*vm)->vcpu().run();
        RC_ASSERT(x.has_value());
        if (x->exit_reason != uapi::KVM_EXIT_HLT) RC_FAIL("the guest exited " + std::to_string(x->exit_reason));
        const model::kvm::GuestLog* log = api::sim_guest_log(**b, (*vm)->vcpu().handle());
        RC_ASSERT(log != nullptr);
        std::size_t received = 0;
        for (const auto& line : *log) received += line == "guest request: report received" ? 1U : 0U;
        if (received != data.size()) RC_FAIL(std::to_string(received) + " reports for " + std::to_string(data.size()) + " requests");
        const auto* raw = api::sim_guest_report(**b, (*vm)->vcpu().handle());
        RC_ASSERT(raw != nullptr);
        const auto rep = model::parse_attestation_report(*raw);
        if (!rep) RC_FAIL("the last report does not parse: " + rep.error().message);
        for (const std::uint8_t byte : rep->report_data) {
          if (byte != data.back()) RC_FAIL("the last report's REPORT_DATA is not the guest's");
        }
        (*vm)->close();
        if (const std::string f = findings_of(**b); !f.empty()) RC_FAIL("detector findings:\n" + f);
      },
      md, params_of(c, std::max(1, c.cases / 4)));
  return outcome_of(r);
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
      {"snp.init2", "KVM_SEV_INIT2 flags, VMSA features, GHCB versions, padding and order on every SEV VM type: 6.12's rules",
       snp_init2},
      {"snp.launch_sequences",
       "LAUNCH_START/UPDATE/FINISH and vCPUs in any order, any page type and range: 6.12's answers, partial progress, "
       "protection, and a teardown that leaves no guest",
       snp_launch_sequences},
      {"snp.req_certs",
       "KVM_SEV_SNP_ENABLE_REQ_CERTS after INIT2 and before vCPUs where the kernel offers it (ENOTTY, EINVAL otherwise)",
       snp_req_certs},
      {"guest.conversions",
       "a guest converts random pages to shared and back (KVM_HC_MAP_GPA_RANGE served as QEMU does): both sides see "
       "their bytes",
       guest_conversions},
      {"guest.requests", "guest requests with random REPORT_DATA each get a report that parses and carries it",
       guest_requests},
  };
  return all;
}

}  // namespace snplab::validate
