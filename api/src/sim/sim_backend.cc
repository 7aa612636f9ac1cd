#include "snp/api/sim_backend.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <vector>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "snp/model/host/ccp/sev-dev.h"

namespace snplab::api {

namespace {

using model::kvm::Host;

// What a handle names, like the file behind an fd.
struct KvmObj {};
struct VmObj {
  std::uint64_t vm;
};
struct GmemObj {
  std::uint64_t vm;
  std::uint64_t gmem;
};
struct VcpuObj {
  std::uint64_t vm;
  unsigned long vcpu_id;
};
struct SevObj {};
using Obj = std::variant<KvmObj, VmObj, GmemObj, VcpuObj, SevObj>;

Error err(Op op, int e, std::string detail = {}) { return Error{op, e, FwStatus::NoFwCall, std::move(detail)}; }

/// A kernel return of -errno with the firmware status it reported (NO_FW_CALL when none).
Status kret(Op op, int r, std::uint32_t fw_error, std::string_view why = {}) {
  if (r == 0) return ok();
  const FwStatus fw = fw_error == 0 ? FwStatus::NoFwCall : static_cast<FwStatus>(fw_error);
  return Error{op, -r, fw, std::string(why)};
}

}  // namespace

/// sim_snapshot(): the host and the open handles.
/// A guest_memfd mmap: the file it maps (which the mapping keeps open) and where.
struct GmemMap {
  std::uint64_t vm = 0, gmem = 0, offset = 0, len = 0;
};

struct SimSnapshot {
  std::unique_ptr<const model::kvm::HostSnapshot> host;
  std::map<Handle, Obj> objs;
  std::map<std::uint64_t, GmemMap> gmem_maps;
  std::uint64_t next_gmem_map = 0;
  std::map<Handle, std::uint32_t> last_exit;
  Handle next_handle = 0;
  const Backend* from = nullptr;
};

namespace {

class SimBackend final : public Backend {
 public:
  explicit SimBackend(model::kvm::HostConfig cfg) : host_(cfg) {}
  std::string_view name() const override { return "sim"; }

  Result<Handle> open_kvm() override { return add(KvmObj{}); }

  Result<int> kvm_get_api_version(Handle kvm) override {
    if (!is<KvmObj>(kvm)) return wrong_file(Op::KvmGetApiVersion, kvm);
    return 12;  // KVM_API_VERSION
  }

  Result<int> kvm_check_extension(Handle h, long cap) override {
    if (is<KvmObj>(h)) return host_.check_extension(nullptr, cap);
    if (const VmObj* v = get<VmObj>(h)) return host_.check_extension(host_.vm(v->vm), cap);
    return wrong_file(Op::KvmCheckExtension, h);
  }

  Result<Handle> kvm_create_vm(Handle kvm, unsigned long type) override {
    if (!is<KvmObj>(kvm)) return wrong_file(Op::KvmCreateVm, kvm);
    const long id = host_.create_vm(type);
    if (id < 0) return err(Op::KvmCreateVm, static_cast<int>(-id));
    return add(VmObj{static_cast<std::uint64_t>(id)});
  }

  Result<std::uint64_t> kvm_get_device_attr(Handle h, std::uint32_t group, std::uint64_t attr) override {
    std::uint64_t value = 0;
    if (const int e = device_attr(Op::KvmGetDeviceAttr, h, group, attr, &value); e != 0) {
      return e < 0 ? err(Op::KvmGetDeviceAttr, -e) : wrong_file(Op::KvmGetDeviceAttr, h);
    }
    return value;
  }

  Status kvm_has_device_attr(Handle h, std::uint32_t group, std::uint64_t attr) override {
    std::uint64_t value = 0;
    if (const int e = device_attr(Op::KvmHasDeviceAttr, h, group, attr, &value); e != 0) {
      return e < 0 ? err(Op::KvmHasDeviceAttr, -e) : wrong_file(Op::KvmHasDeviceAttr, h);
    }
    return ok();
  }

  Status kvm_set_device_attr(Handle h, std::uint32_t group, std::uint64_t attr, std::uint64_t value) override {
    constexpr Op kOp = Op::KvmSetDeviceAttr;
    // kvm_arch_dev_ioctl() has no KVM_SET_DEVICE_ATTR: its default answer.
    if (is<KvmObj>(h)) return err(kOp, EINVAL, "/dev/kvm has no writable attribute");
    const VcpuObj* c = get<VcpuObj>(h);
    if (c == nullptr) return wrong_file(kOp, h);
    model::kvm::Vm* v = host_.vm(c->vm);
    if (v == nullptr || v->vm_dead()) return err(kOp, EIO);  // kvm_vcpu_ioctl(): vm_dead
    // kvm_vcpu_ioctl_device_attr() -> kvm_arch_tsc_set_attr(): the TSC offset only.
    if (group != uapi::KVM_VCPU_TSC_CTRL || attr != uapi::KVM_VCPU_TSC_OFFSET) return err(kOp, ENXIO);
    v->set_tsc_offset(c->vcpu_id, value);
    return ok();
  }

  Result<std::vector<uapi::kvm_cpuid_entry2>> kvm_get_supported_cpuid(Handle kvm, std::uint32_t nent) override {
    if (!is<KvmObj>(kvm)) return wrong_file(Op::KvmGetSupportedCpuid, kvm);
    std::vector<uapi::kvm_cpuid_entry2> out;
    if (const int e = host_.get_supported_cpuid(nent, &out); e < 0) return err(Op::KvmGetSupportedCpuid, -e);
    return out;
  }

  Status kvm_set_user_memory_region(Handle vm, const uapi::kvm_userspace_memory_region& r) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return wrong_file(Op::KvmSetUserMemoryRegion, vm);
    if (v->vm_dead()) return err(Op::KvmSetUserMemoryRegion, EIO);  // kvm_vm_ioctl(): KVM_BUG() killed the VM
    // kvm_vm_ioctl(): the v1 struct fills the v2 one's first 32 bytes, the rest zero, and the
    // v1 ioctl takes LOG_DIRTY_PAGES and READONLY only.
    if ((r.flags & ~uapi::KVM_SET_USER_MEMORY_REGION_V1_FLAGS) != 0) {
      return err(Op::KvmSetUserMemoryRegion, EINVAL, "flags the v1 ioctl does not take");
    }
    model::kvm::MemoryRegion2 m{};
    m.slot = r.slot;
    m.flags = r.flags;
    m.guest_phys_addr = r.guest_phys_addr;
    m.memory_size = r.memory_size;
    m.userspace_addr = r.userspace_addr;
    if (const int e = v->set_user_memory_region2(m); e < 0) return err(Op::KvmSetUserMemoryRegion, -e);
    return ok();
  }

  Status kvm_set_nr_mmu_pages(Handle vm, std::uint64_t pages) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return wrong_file(Op::KvmSetNrMmuPages, vm);
    if (v->vm_dead()) return err(Op::KvmSetNrMmuPages, EIO);  // kvm_vm_ioctl(): KVM_BUG() killed the VM
    if (const int e = v->set_nr_mmu_pages(pages); e < 0) return err(Op::KvmSetNrMmuPages, -e);
    return ok();
  }

  Status kvm_set_user_memory_region2(Handle vm, const uapi::kvm_userspace_memory_region2& r) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return wrong_file(Op::KvmSetUserMemoryRegion2, vm);
    if (v->vm_dead()) return err(Op::KvmSetUserMemoryRegion2, EIO);  // kvm_vm_ioctl(): KVM_BUG() killed the VM
    // The handle table is the fd table: the guest_memfd fd becomes the guest_memfd it names
    // (fget()); one that is not a guest_memfd of this VM names none, which kvm_gmem_bind()
    // refuses (EINVAL).
    uapi::kvm_userspace_memory_region2 m = r;
    m.guest_memfd = 0;
    if ((r.flags & uapi::KVM_MEM_GUEST_MEMFD) != 0) {
      const GmemObj* g = get<GmemObj>(r.guest_memfd);
      m.guest_memfd = g != nullptr && g->vm == v->id() ? static_cast<std::uint32_t>(g->gmem) : 0;
    }
    if (const int e = v->set_user_memory_region2(m); e < 0) return err(Op::KvmSetUserMemoryRegion2, -e);
    return ok();
  }

  Result<Handle> kvm_create_guest_memfd(Handle vm, const uapi::kvm_create_guest_memfd& g) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return wrong_file(Op::KvmCreateGuestMemfd, vm);
    if (v->vm_dead()) return err(Op::KvmCreateGuestMemfd, EIO);  // kvm_vm_ioctl(): KVM_BUG() killed the VM
    const long id = v->create_guest_memfd(g.size, g.flags);
    if (id < 0) return err(Op::KvmCreateGuestMemfd, static_cast<int>(-id));
    host_.get_vm(v->id());  // the guest_memfd file holds the VM (kvm_gmem_create)
    return add(GmemObj{v->id(), static_cast<std::uint64_t>(id)});
  }

  Status kvm_set_memory_attributes(Handle vm, const uapi::kvm_memory_attributes& a) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return wrong_file(Op::KvmSetMemoryAttributes, vm);
    if (v->vm_dead()) return err(Op::KvmSetMemoryAttributes, EIO);  // kvm_vm_ioctl(): KVM_BUG() killed the VM
    if (const int e = v->set_memory_attributes(a.address, a.size, a.attributes, a.flags); e < 0) {
      return err(Op::KvmSetMemoryAttributes, -e);
    }
    return ok();
  }

  Status kvm_enable_cap(Handle vm, const uapi::kvm_enable_cap& c) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return wrong_file(Op::KvmEnableCap, vm);
    if (v->vm_dead()) return err(Op::KvmEnableCap, EIO);  // kvm_vm_ioctl(): KVM_BUG() killed the VM
    if (const int e = v->enable_cap(c.cap, c.flags, c.args); e < 0) return err(Op::KvmEnableCap, -e);
    return ok();
  }

  Result<Handle> kvm_create_vcpu(Handle vm, unsigned long vcpu_id) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return wrong_file(Op::KvmCreateVcpu, vm);
    if (v->vm_dead()) return err(Op::KvmCreateVcpu, EIO);  // kvm_vm_ioctl(): KVM_BUG() killed the VM
    if (const int e = v->create_vcpu(vcpu_id); e < 0) return err(Op::KvmCreateVcpu, -e);
    host_.get_vm(v->id());  // the vCPU file holds the VM (kvm_vm_ioctl_create_vcpu)
    return add(VcpuObj{v->id(), vcpu_id});
  }

  Status kvm_memory_encrypt_op(Handle vm, uapi::kvm_sev_cmd& cmd) override {
    model::kvm::Vm* v = vm_of(vm);
    constexpr Op kOp = Op::KvmMemoryEncryptOp;
    if (v == nullptr) return wrong_file(kOp, vm);
    if (v->vm_dead()) return err(kOp, EIO);
    std::string_view why;
    // The fd table resolves kvm_sev_cmd.sev_fd, as the kernel's fdget() does.
    const int r = model::kvm::sev_mem_enc_ioctl(*v, cmd, &why, is<SevObj>(cmd.sev_fd));
    return kret(kOp, r, cmd.error, why);
  }

  Status gmem_fallocate(Handle gmem, int mode, std::uint64_t offset, std::uint64_t len) override {
    const GmemObj* g = get<GmemObj>(gmem);
    if (g == nullptr) return fallocate_not_gmem(gmem, mode, offset, len);
    model::kvm::Vm* v = host_.vm(g->vm);
    if (v == nullptr) return err(Op::Fallocate, EBADF);
    if (const int e = v->gmem_fallocate(g->gmem, mode, offset, len); e < 0) return err(Op::Fallocate, -e);
    return ok();
  }

  Result<std::uint64_t> gmem_mmap(Handle gmem, std::uint64_t offset, std::uint64_t len) override {
    constexpr Op kOp = Op::MmapGuestMemfd;
    const GmemObj* g = get<GmemObj>(gmem);
    if (g == nullptr) {
      // mmap(2) of a file that is not open: EBADF; of one without mmap (the KVM, VM, vCPU and
      // /dev/sev files here): ENODEV.
      return err(kOp, objs_.find(gmem) == objs_.end() ? EBADF : ENODEV);
    }
    model::kvm::Vm* v = host_.vm(g->vm);
    if (v == nullptr) return err(kOp, EBADF);
    if (const int e = v->gmem_mmap(g->gmem, offset, len); e < 0) return err(kOp, -e);
    // Addresses of their own, outside the modelled VMM memory: the simulated kernel's
    // copy_from_user does not reach a guest_memfd mapping (docs/kvm.md).
    const std::uint64_t addr = kGmemMapBase + next_gmem_map_;
    next_gmem_map_ += (len + 0xfff) / 0x1000 * 0x1000 + 0x1000;  // a guard page between mappings
    gmem_maps_[addr] = GmemMap{g->vm, g->gmem, offset, len};
    return addr;
  }

  Result<RunExit> kvm_run(Handle vcpu) override {
    const VcpuObj* c = get<VcpuObj>(vcpu);
    if (c == nullptr) return wrong_file(Op::KvmRun, vcpu);
    model::kvm::Vm* v = host_.vm(c->vm);
    if (v == nullptr || v->vm_dead()) return err(Op::KvmRun, EIO);  // kvm_vcpu_ioctl(): vm_dead
    const model::kvm::Exit x = v->run_vcpu(c->vcpu_id);
    // KVM_RUN fails with EFAULT *and* leaves the memory-fault exit (facts §8.4): the caller
    // sees the exit, exactly as the hw backend reports it.
    if (x.ret != 0 && !(x.ret == -EFAULT && x.reason == model::kvm::kExitMemoryFault)) return err(Op::KvmRun, -x.ret);
    RunExit e;
    e.exit_reason = x.reason;
    e.hypercall.nr = x.hypercall_nr;
    for (int i = 0; i < 3; ++i) e.hypercall.args[i] = x.hypercall_args[i];
    e.memory_fault.flags = x.memory_fault_flags;
    e.memory_fault.gpa = x.memory_fault_gpa;
    e.memory_fault.size = x.memory_fault_size;
    if (x.reason == model::kvm::kExitSnpReqCerts) {
      e.snp_req_certs.gpa = x.certs_gpa;
      e.snp_req_certs.npages = x.certs_npages;
    }
    if (x.reason == model::kvm::kExitVmgexit) {
      e.vmgexit.type = x.vmgexit_type;
      e.vmgexit.data_gpa = x.certs_gpa;
      e.vmgexit.data_npages = x.certs_npages;
      e.vmgexit.flags = x.vmgexit_flags;
      e.vmgexit.status = x.vmgexit_status;
    }
    if (x.reason == model::kvm::kExitFailEntry) e.fail_entry_reason = x.fail_entry_reason;
    if (x.reason == uapi::KVM_EXIT_IO) {
      e.io.direction = x.io_direction;
      e.io.size = x.io_size;
      e.io.port = x.io_port;
      e.io.count = x.io_count;
      e.io.data[0] = x.io_data;
    }
    if (x.reason == model::kvm::kExitInternalError) e.internal_suberror = x.internal_suberror;
    if (x.reason == model::kvm::kExitSystemEvent) {
      e.system_event.type = x.system_event_type;
      e.system_event.ndata = 1;
      e.system_event.data0 = x.system_event_data0;
    }
    last_exit_[vcpu] = x.reason;
    return e;
  }

  Status kvm_run_complete(Handle vcpu, const RunCompletion& rc) override {
    const VcpuObj* c = get<VcpuObj>(vcpu);
    if (c == nullptr) return wrong_file(Op::KvmRun, vcpu);
    auto it = last_exit_.find(vcpu);
    const std::uint32_t reason = it == last_exit_.end() ? 0 : it->second;
    if (reason != uapi::KVM_EXIT_HYPERCALL && reason != uapi::KVM_EXIT_SNP_REQ_CERTS &&
        reason != uapi::KVM_EXIT_VMGEXIT_SEED) {
      return err(Op::KvmRun, EINVAL, fmt::format("exit reason {} takes no answer", reason));
    }
    model::kvm::Vm* v = host_.vm(c->vm);
    if (v == nullptr || v->vm_dead()) return err(Op::KvmRun, EIO);  // kvm_vcpu_ioctl(): vm_dead
    model::kvm::UserCompletion uc;
    uc.ret = reason == uapi::KVM_EXIT_VMGEXIT_SEED ? static_cast<std::uint32_t>(rc.ret) : rc.ret;  // __u32 there
    uc.set_npages = rc.npages.has_value();
    uc.npages = rc.npages.value_or(0);
    uc.flags = rc.flags;
    if (const int r = v->complete_vcpu(c->vcpu_id, uc); r < 0) return err(Op::KvmRun, -r);
    return ok();
  }

  // ---- registers: the kernel's reset state until the VMM sets them ----
  static uapi::kvm_regs reset_regs() { return model::kvm::Vm::reset_regs(); }
  static uapi::kvm_sregs reset_sregs() { return model::kvm::Vm::reset_sregs(); }
  template <class T>
  Result<T> get_arch(Handle vcpu, bool sregs, Op op) {
    const VcpuObj* c = get<VcpuObj>(vcpu);
    if (c == nullptr) return wrong_file(op, vcpu);
    model::kvm::Vm* v = host_.vm(c->vm);
    if (v == nullptr || v->vm_dead()) return err(op, EIO);  // kvm_vcpu_ioctl(): vm_dead
    std::vector<std::uint8_t> bytes;
    if (const int r = v->vcpu_regs(c->vcpu_id, sregs, &bytes); r < 0) return err(op, -r);
    T out;
    if constexpr (std::is_same_v<T, uapi::kvm_regs>) out = reset_regs();
    else out = reset_sregs();
    if (bytes.size() == sizeof(T)) std::memcpy(&out, bytes.data(), sizeof(T));
    return out;
  }
  template <class T>
  Status set_arch(Handle vcpu, const T& val, bool sregs, Op op) {
    const VcpuObj* c = get<VcpuObj>(vcpu);
    if (c == nullptr) return wrong_file(op, vcpu);
    model::kvm::Vm* v = host_.vm(c->vm);
    if (v == nullptr || v->vm_dead()) return err(op, EIO);  // kvm_vcpu_ioctl(): vm_dead
    auto regs = get_arch<uapi::kvm_regs>(vcpu, false, op);
    if (!regs) return regs.error();
    auto sr = get_arch<uapi::kvm_sregs>(vcpu, true, op);
    if (!sr) return sr.error();
    std::uint64_t entry = 0;  // CS.base + RIP with the new value and the other struct's current one
    if constexpr (std::is_same_v<T, uapi::kvm_sregs>) {
      entry = val.cs.base + regs->rip;
    } else {
      entry = sr->cs.base + val.rip;
    }
    const auto* p = reinterpret_cast<const std::uint8_t*>(&val);
    if (const int r = v->set_vcpu_regs(c->vcpu_id, sregs, {p, sizeof(T)}, entry); r < 0) return err(op, -r);
    return ok();
  }
  Result<uapi::kvm_regs> kvm_get_regs(Handle vcpu) override {
    return get_arch<uapi::kvm_regs>(vcpu, false, Op::KvmGetRegs);
  }
  Status kvm_set_regs(Handle vcpu, const uapi::kvm_regs& r) override { return set_arch(vcpu, r, false, Op::KvmSetRegs); }
  Result<uapi::kvm_sregs> kvm_get_sregs(Handle vcpu) override {
    return get_arch<uapi::kvm_sregs>(vcpu, true, Op::KvmGetSregs);
  }
  Status kvm_set_sregs(Handle vcpu, const uapi::kvm_sregs& s) override { return set_arch(vcpu, s, true, Op::KvmSetSregs); }

  /// A vCPU's VM and id for a vCPU ioctl, or the error the kernel gives instead.
  Result<std::pair<model::kvm::Vm*, unsigned long>> vcpu_of(Handle vcpu, Op op) {
    const VcpuObj* c = get<VcpuObj>(vcpu);
    if (c == nullptr) return wrong_file(op, vcpu);
    model::kvm::Vm* v = host_.vm(c->vm);
    if (v == nullptr || v->vm_dead()) return err(op, EIO);  // kvm_vcpu_ioctl(): vm_dead
    return std::pair{v, c->vcpu_id};
  }
  Status kvm_set_cpuid2(Handle vcpu, std::span<const uapi::kvm_cpuid_entry2> entries) override {
    auto vc = vcpu_of(vcpu, Op::KvmSetCpuid2);
    if (!vc) return vc.error();
    if (const int e = vc->first->set_cpuid2(vc->second, entries); e < 0) return err(Op::KvmSetCpuid2, -e);
    return ok();
  }
  Result<std::vector<uapi::kvm_cpuid_entry2>> kvm_get_cpuid2(Handle vcpu, std::uint32_t nent) override {
    auto vc = vcpu_of(vcpu, Op::KvmGetCpuid2);
    if (!vc) return vc.error();
    std::vector<uapi::kvm_cpuid_entry2> out;
    if (const int e = vc->first->get_cpuid2(vc->second, nent, &out); e < 0) return err(Op::KvmGetCpuid2, -e);
    return out;
  }
  Result<uapi::kvm_xsave> kvm_get_xsave(Handle vcpu) override {
    auto vc = vcpu_of(vcpu, Op::KvmGetXsave);
    if (!vc) return vc.error();
    uapi::kvm_xsave x;
    if (const int e = vc->first->get_xsave(vc->second, &x); e < 0) return err(Op::KvmGetXsave, -e);
    return x;
  }
  Status kvm_set_xsave(Handle vcpu, const uapi::kvm_xsave& x) override {
    auto vc = vcpu_of(vcpu, Op::KvmSetXsave);
    if (!vc) return vc.error();
    if (const int e = vc->first->set_xsave(vc->second, x); e < 0) return err(Op::KvmSetXsave, -e);
    return ok();
  }

  /// The simulated guest program of a vCPU handle (sim_backend.h).
  Status load_guest(Handle vcpu, std::vector<model::kvm::GuestOp> ops) {
    const VcpuObj* c = get<VcpuObj>(vcpu);
    if (c == nullptr) return err(Op::SnplabLoadGuest, EBADF);
    model::kvm::Vm* v = host_.vm(c->vm);
    if (v == nullptr) return err(Op::SnplabLoadGuest, EBADF);
    if (const int r = v->set_guest_program(c->vcpu_id, std::move(ops)); r < 0) return err(Op::SnplabLoadGuest, -r);
    return ok();
  }

  model::kvm::Vm* vm_named(Handle h) { return vm_of(h); }
  const model::kvm::GuestLog* guest_log(Handle vcpu) {
    const VcpuObj* c = get<VcpuObj>(vcpu);
    if (c == nullptr) return nullptr;
    model::kvm::Vm* v = host_.vm(c->vm);
    return v == nullptr ? nullptr : v->guest_log(c->vcpu_id);
  }

  const std::vector<std::uint8_t>* guest_report(Handle vcpu) {
    const VcpuObj* c = get<VcpuObj>(vcpu);
    if (c == nullptr) return nullptr;
    model::kvm::Vm* v = host_.vm(c->vm);
    return v == nullptr ? nullptr : v->guest_report(c->vcpu_id);
  }

  model::kvm::Host& host() { return host_; }

  std::shared_ptr<const SimSnapshot> snapshot() const {
    auto s = std::make_shared<SimSnapshot>();
    s->host = host_.snapshot();
    s->objs = objs_;
    s->gmem_maps = gmem_maps_;
    s->next_gmem_map = next_gmem_map_;
    s->last_exit = last_exit_;
    s->next_handle = next_handle_;
    s->from = this;
    return s;
  }

  Status restore(const SimSnapshot& s) {
    if (s.from != this) return err(Op::SnplabRestore, EINVAL, "the snapshot was taken of another backend");
    host_.restore(*s.host);
    objs_ = s.objs;
    gmem_maps_ = s.gmem_maps;
    next_gmem_map_ = s.next_gmem_map;
    last_exit_ = s.last_exit;
    next_handle_ = s.next_handle;
    return ok();
  }

  Result<Handle> open_sev() override {
    if (host_.sev() == nullptr) return err(Op::OpenDevSev, ENOENT, "SEV is not enabled on this host");
    return add(SevObj{});
  }

  Status sev_issue_cmd(Handle sev, std::uint32_t cmd, void* data, std::uint32_t* fw_error) override {
    constexpr Op kOp = Op::SevIssueCmd;
    if (fw_error != nullptr) *fw_error = 0;
    if (!is<SevObj>(sev)) return wrong_file(kOp, sev);
    std::uint32_t fw = 0;
    std::string_view why;
    const int r = model::kvm::sev_ioctl(host_, cmd, data, &fw, &why);
    if (fw_error != nullptr) *fw_error = fw;
    return kret(kOp, r, fw, why);
  }

  Result<std::uint64_t> user_alloc(std::uint64_t size) override {
    const std::uint64_t addr = host_.user().map(size);
    if (addr == 0) return err(Op::Mmap, EINVAL);
    return addr;
  }

  Status user_write(std::uint64_t uaddr, std::span<const std::uint8_t> bytes) override {
    if (const auto [base, m] = gmem_map(uaddr, bytes.size()); m != nullptr) {
      std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
      return gmem_copy(base, *m, uaddr, copy, true, Op::UserWrite);
    }
    if (!host_.user().copy_to(uaddr, bytes)) return err(Op::UserWrite, EFAULT);
    return ok();
  }

  Status user_read(std::uint64_t uaddr, std::span<std::uint8_t> out) override {
    if (const auto [base, m] = gmem_map(uaddr, out.size()); m != nullptr) return gmem_copy(base, *m, uaddr, out, false, Op::UserRead);
    if (!host_.user().copy_from(uaddr, out)) return err(Op::UserRead, EFAULT);
    return ok();
  }

  Status user_free(std::uint64_t uaddr, std::uint64_t size) override {
    if (auto it = gmem_maps_.find(uaddr); it != gmem_maps_.end()) {
      if (it->second.len != size) return err(Op::Munmap, EINVAL, "not a live mapping of that size");
      const GmemMap m = it->second;
      gmem_maps_.erase(it);
      release_gmem_if_unused(m.vm, m.gmem);
      return ok();
    }
    if (!host_.user().unmap(uaddr)) return err(Op::Munmap, EINVAL);
    return ok();
  }

  void close(Handle h) override {
    auto it = objs_.find(h);
    if (it == objs_.end()) return;
    // Each file drops its reference on the VM; the last one destroys it (kvm_put_kvm).
    if (const VmObj* v = std::get_if<VmObj>(&it->second)) host_.put_vm(v->vm);
    if (const VcpuObj* c = std::get_if<VcpuObj>(&it->second)) host_.put_vm(c->vm);
    const GmemObj* g = std::get_if<GmemObj>(&it->second);
    const std::optional<GmemObj> gmem = g != nullptr ? std::optional<GmemObj>(*g) : std::nullopt;
    objs_.erase(it);
    last_exit_.erase(h);
    // The file lives while a mapping of it does (vma->vm_file): released with the last.
    if (gmem) release_gmem_if_unused(gmem->vm, gmem->gmem);
  }

 private:
  static constexpr std::uint64_t kGmemMapBase = 0x7e0000000000ULL;
  /// The guest_memfd mapping holding [uaddr, uaddr + n): its start address and the mapping,
  /// or {0, nullptr}.
  std::pair<std::uint64_t, const GmemMap*> gmem_map(std::uint64_t uaddr, std::uint64_t n) const {
    auto it = gmem_maps_.upper_bound(uaddr);
    if (it == gmem_maps_.begin()) return {0, nullptr};
    --it;
    const std::uint64_t off = uaddr - it->first;
    if (off > it->second.len || n > it->second.len - off) return {0, nullptr};
    return {it->first, &it->second};
  }
  /// A user access through the guest_memfd mapping that starts at `base`: the file's pages,
  /// or EFAULT where its fault handler refuses.
  Status gmem_copy(std::uint64_t base, const GmemMap& m, std::uint64_t uaddr, std::span<std::uint8_t> buf, bool write,
                   Op op) {
    model::kvm::Vm* v = host_.vm(m.vm);
    if (v == nullptr) return err(op, EFAULT);
    if (const int e = v->gmem_user_copy(m.gmem, m.offset + (uaddr - base), buf, write); e < 0) {
      return err(op, -e, "the guest_memfd page cannot be faulted in (SIGBUS)");
    }
    return ok();
  }
  /// close_gmem() and the file's VM reference, once neither a handle nor a mapping has it.
  void release_gmem_if_unused(std::uint64_t vm, std::uint64_t gmem) {
    for (const auto& [h, o] : objs_) {
      const GmemObj* g = std::get_if<GmemObj>(&o);
      if (g != nullptr && g->vm == vm && g->gmem == gmem) return;
    }
    for (const auto& [addr, m] : gmem_maps_) {
      if (m.vm == vm && m.gmem == gmem) return;
    }
    if (model::kvm::Vm* v = host_.vm(vm)) v->close_gmem(gmem);
    host_.put_vm(vm);
  }
  Handle add(Obj o) {
    const Handle h = next_handle_++;
    objs_.emplace(h, o);
    return h;
  }
  template <class T>
  const T* get(Handle h) const {
    auto it = objs_.find(h);
    return it == objs_.end() ? nullptr : std::get_if<T>(&it->second);
  }
  template <class T>
  bool is(Handle h) const {
    return get<T>(h) != nullptr;
  }
  /// An ioctl on a file that has no such ioctl, answered as the kernel does: an fd that is
  /// not open: EBADF (fdget); /dev/kvm: EINVAL (kvm_arch_dev_ioctl()'s default); a VM: EIO once
  /// it is dead, else ENOTTY (kvm_vm_ioctl(), kvm_arch_vm_ioctl()'s default); a vCPU: EIO once
  /// its VM is dead, else EINVAL (kvm_vcpu_ioctl(), kvm_arch_vcpu_ioctl()'s default); a
  /// guest_memfd: ENOTTY (no unlocked_ioctl: vfs_ioctl()); /dev/sev: EINVAL (sev_ioctl()).
  Error wrong_file(Op op, Handle h) {
    auto it = objs_.find(h);
    if (it == objs_.end()) return err(op, EBADF, "not an open file");
    const Obj& o = it->second;
    if (std::holds_alternative<KvmObj>(o)) return err(op, EINVAL, "not a /dev/kvm ioctl");
    if (const VmObj* v = std::get_if<VmObj>(&o)) {
      const model::kvm::Vm* vm = host_.vm(v->vm);
      return vm != nullptr && vm->vm_dead() ? err(op, EIO) : err(op, ENOTTY, "not a VM ioctl");
    }
    if (const VcpuObj* c = std::get_if<VcpuObj>(&o)) {
      const model::kvm::Vm* vm = host_.vm(c->vm);
      return vm == nullptr || vm->vm_dead() ? err(op, EIO) : err(op, EINVAL, "not a vCPU ioctl");
    }
    if (std::holds_alternative<GmemObj>(o)) return err(op, ENOTTY, "a guest_memfd has no ioctls");
    return err(op, EINVAL, "not SEV_ISSUE_CMD");
  }
  /// KVM_GET/HAS_DEVICE_ATTR: 0, -errno, or 1 when `h` is a file without the ioctl (a VM,
  /// a guest_memfd, /dev/sev, no file): wrong_file() answers then. /dev/kvm:
  /// Host::dev_get_attr(); a vCPU (kvm_vcpu_ioctl_device_attr): EIO once its VM is dead, the
  /// TSC control group's TSC offset (what KVM_SET_DEVICE_ATTR set, 0 before; docs/kvm.md),
  /// ENXIO for any other group or attribute.
  int device_attr(Op, Handle h, std::uint32_t group, std::uint64_t attr, std::uint64_t* value) {
    if (is<KvmObj>(h)) return host_.dev_get_attr(group, attr, value);
    const VcpuObj* c = get<VcpuObj>(h);
    if (c == nullptr) return 1;
    const model::kvm::Vm* v = host_.vm(c->vm);
    if (v == nullptr || v->vm_dead()) return -EIO;
    if (group != uapi::KVM_VCPU_TSC_CTRL || attr != uapi::KVM_VCPU_TSC_OFFSET) return -ENXIO;
    *value = v->tsc_offset(c->vcpu_id);
    return 0;
  }
  /// fallocate(2) on a file that is not a guest_memfd: EBADF for an fd that is not open
  /// (ksys_fallocate), then vfs_fallocate()'s checks of the range and mode, then ENODEV - the
  /// KVM, VM, vCPU and /dev/sev files are not regular files.
  Status fallocate_not_gmem(Handle h, int mode, std::uint64_t offset, std::uint64_t len) {
    if (objs_.find(h) == objs_.end()) return err(Op::Fallocate, EBADF, "not an open file");
    constexpr int kKeepSize = 0x01, kPunchHole = 0x02, kCollapse = 0x08, kZero = 0x10, kInsert = 0x20,
                  kUnshare = 0x40, kModeMask = kPunchHole | kCollapse | kZero | kInsert | kUnshare;
    if (static_cast<std::int64_t>(offset) < 0 || static_cast<std::int64_t>(len) <= 0) return err(Op::Fallocate, EINVAL);
    if ((mode & ~(kModeMask | kKeepSize)) != 0) return err(Op::Fallocate, EOPNOTSUPP);
    switch (mode & kModeMask) {
      case 0:
      case kUnshare:
      case kZero:
        break;
      case kPunchHole:
        if ((mode & kKeepSize) == 0) return err(Op::Fallocate, EOPNOTSUPP);
        break;
      case kCollapse:
      case kInsert:
        if ((mode & kKeepSize) != 0) return err(Op::Fallocate, EOPNOTSUPP);
        break;
      default:
        return err(Op::Fallocate, EOPNOTSUPP);
    }
    return err(Op::Fallocate, ENODEV, "not a regular file");
  }
  model::kvm::Vm* vm_of(Handle h) {
    const VmObj* v = get<VmObj>(h);
    return v == nullptr ? nullptr : host_.vm(v->vm);
  }

  Host host_;
  std::map<Handle, Obj> objs_;
  std::map<Handle, std::uint32_t> last_exit_;  ///< vCPU handle -> the exit its last KVM_RUN gave
  std::map<std::uint64_t, GmemMap> gmem_maps_;  ///< user address -> guest_memfd mapping
  std::uint64_t next_gmem_map_ = 0;
  Handle next_handle_ = 3;  // like fds: 0-2 are taken
};

}  // namespace

Status sim_load_guest(Backend& b, Handle vcpu, std::vector<model::kvm::GuestOp> ops) {
  auto* sim = dynamic_cast<SimBackend*>(&b);
  if (sim == nullptr) return err(Op::SnplabLoadGuest, EOPNOTSUPP, "simulated guests run on the sim backend only");
  return sim->load_guest(vcpu, std::move(ops));
}

const model::kvm::GuestLog* sim_guest_log(Backend& b, Handle vcpu) {
  auto* sim = dynamic_cast<SimBackend*>(&b);
  return sim == nullptr ? nullptr : sim->guest_log(vcpu);
}

const std::vector<std::uint8_t>* sim_guest_report(Backend& b, Handle vcpu) {
  auto* sim = dynamic_cast<SimBackend*>(&b);
  return sim == nullptr ? nullptr : sim->guest_report(vcpu);
}

std::shared_ptr<const SimSnapshot> sim_snapshot(Backend& b) {
  auto* sim = dynamic_cast<SimBackend*>(&b);
  return sim == nullptr ? nullptr : sim->snapshot();
}

Status sim_restore(Backend& b, const SimSnapshot& snap) {
  auto* sim = dynamic_cast<SimBackend*>(&b);
  if (sim == nullptr) return err(Op::SnplabRestore, EOPNOTSUPP, "snapshots are a simulator facility");
  return sim->restore(snap);
}

model::kvm::Host* sim_host(Backend& b) {
  auto* sim = dynamic_cast<SimBackend*>(&b);
  return sim == nullptr ? nullptr : &sim->host();
}

const model::kvm::Vm* sim_vm(Backend& b, Handle vm) {
  auto* sim = dynamic_cast<SimBackend*>(&b);
  return sim == nullptr ? nullptr : sim->vm_named(vm);
}

Result<std::unique_ptr<Backend>> make_sim_backend(model::kvm::HostConfig cfg) {
  return std::unique_ptr<Backend>(std::make_unique<SimBackend>(cfg));
}

}  // namespace snplab::api
