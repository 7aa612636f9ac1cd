#include "snp/api/sim_backend.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <variant>

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
using Obj = std::variant<KvmObj, VmObj, GmemObj, VcpuObj>;

Error err(Op op, int e, std::string detail = {}) { return Error{op, e, FwStatus::NoFwCall, std::move(detail)}; }

class SimBackend final : public Backend {
 public:
  explicit SimBackend(model::kvm::HostConfig cfg) : host_(cfg) {}
  std::string_view name() const override { return "sim"; }

  Result<Handle> open_kvm() override { return add(KvmObj{}); }

  Result<int> kvm_get_api_version(Handle kvm) override {
    if (!is<KvmObj>(kvm)) return err("KVM_GET_API_VERSION", ENOTTY);
    return 12;  // KVM_API_VERSION
  }

  Result<int> kvm_check_extension(Handle h, long cap) override {
    if (is<KvmObj>(h)) return host_.check_extension(nullptr, cap);
    if (const VmObj* v = get<VmObj>(h)) return host_.check_extension(host_.vm(v->vm), cap);
    return err("KVM_CHECK_EXTENSION", ENOTTY);
  }

  Result<Handle> kvm_create_vm(Handle kvm, unsigned long type) override {
    if (!is<KvmObj>(kvm)) return err("KVM_CREATE_VM", ENOTTY);
    const long id = host_.create_vm(type);
    if (id < 0) return err("KVM_CREATE_VM", static_cast<int>(-id));
    return add(VmObj{static_cast<std::uint64_t>(id)});
  }

  Status kvm_set_user_memory_region2(Handle vm, const uapi::kvm_userspace_memory_region2& r) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return err("KVM_SET_USER_MEMORY_REGION2", ENOTTY);
    model::kvm::MemoryRegion2 m;
    m.slot = r.slot;
    m.flags = r.flags;
    m.guest_phys_addr = r.guest_phys_addr;
    m.memory_size = r.memory_size;
    m.userspace_addr = r.userspace_addr;
    m.guest_memfd_offset = r.guest_memfd_offset;
    if ((r.flags & uapi::KVM_MEM_GUEST_MEMFD) != 0) {
      // The fd must be a guest_memfd of this VM; anything else is EINVAL (kvm_gmem_bind).
      const GmemObj* g = get<GmemObj>(r.guest_memfd);
      m.guest_memfd = g != nullptr && g->vm == v->id() ? g->gmem : 0;
    }
    if (const int e = v->set_user_memory_region2(m); e < 0) return err("KVM_SET_USER_MEMORY_REGION2", -e);
    return ok();
  }

  Result<Handle> kvm_create_guest_memfd(Handle vm, const uapi::kvm_create_guest_memfd& g) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return err("KVM_CREATE_GUEST_MEMFD", ENOTTY);
    const long id = v->create_guest_memfd(g.size, g.flags);
    if (id < 0) return err("KVM_CREATE_GUEST_MEMFD", static_cast<int>(-id));
    return add(GmemObj{v->id(), static_cast<std::uint64_t>(id)});
  }

  Status kvm_set_memory_attributes(Handle vm, const uapi::kvm_memory_attributes& a) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return err("KVM_SET_MEMORY_ATTRIBUTES", ENOTTY);
    if (const int e = v->set_memory_attributes(a.address, a.size, a.attributes, a.flags); e < 0) {
      return err("KVM_SET_MEMORY_ATTRIBUTES", -e);
    }
    return ok();
  }

  Status kvm_enable_cap(Handle vm, const uapi::kvm_enable_cap& c) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return err("KVM_ENABLE_CAP", ENOTTY);
    if (const int e = v->enable_cap(c.cap, c.flags, c.args); e < 0) return err("KVM_ENABLE_CAP", -e);
    return ok();
  }

  Result<Handle> kvm_create_vcpu(Handle vm, unsigned long vcpu_id) override {
    model::kvm::Vm* v = vm_of(vm);
    if (v == nullptr) return err("KVM_CREATE_VCPU", ENOTTY);
    if (const int e = v->create_vcpu(vcpu_id); e < 0) return err("KVM_CREATE_VCPU", -e);
    return add(VcpuObj{v->id(), vcpu_id});
  }

  Status kvm_memory_encrypt_op(Handle vm, uapi::kvm_sev_cmd& cmd) override {
    if (vm_of(vm) == nullptr) return err("KVM_MEMORY_ENCRYPT_OP", ENOTTY);
    cmd.error = 0;
    return err("KVM_MEMORY_ENCRYPT_OP", ENOTTY, "SEV commands are not modelled by the sim backend yet");
  }

  Status gmem_fallocate(Handle gmem, int mode, std::uint64_t offset, std::uint64_t len) override {
    const GmemObj* g = get<GmemObj>(gmem);
    if (g == nullptr) return err("fallocate", EBADF);
    model::kvm::Vm* v = host_.vm(g->vm);
    if (v == nullptr) return err("fallocate", EBADF);
    if (const int e = v->gmem_fallocate(g->gmem, mode, offset, len); e < 0) return err("fallocate", -e);
    return ok();
  }

  Result<RunExit> kvm_run(Handle vcpu) override {
    if (get<VcpuObj>(vcpu) == nullptr) return err("KVM_RUN", ENOTTY);
    // A simulated vCPU with no guest program halts at once (docs/kvm.md).
    RunExit e;
    e.exit_reason = uapi::KVM_EXIT_HLT;
    return e;
  }

  Result<Handle> open_sev() override { return err("open(/dev/sev)", ENOENT, "the sim backend has no /dev/sev yet"); }

  Status sev_issue_cmd(Handle, std::uint32_t, void*, std::uint32_t* fw_error) override {
    if (fw_error != nullptr) *fw_error = 0;
    return err("SEV_ISSUE_CMD", EBADF);
  }

  Result<std::uint64_t> user_alloc(std::uint64_t size) override {
    if (size == 0) return err("mmap", EINVAL);
    const std::uint64_t len = (size + model::kPageSize - 1) & ~(model::kPageSize - 1);
    const std::uint64_t addr = next_user_;
    next_user_ += len + model::kPageSize;  // a guard page between mappings
    user_[addr] = std::vector<std::uint8_t>(len, 0);
    return addr;
  }

  Status user_write(std::uint64_t uaddr, std::span<const std::uint8_t> bytes) override {
    auto it = user_.upper_bound(uaddr);
    if (it == user_.begin()) return err("user_write", EFAULT);
    --it;
    const std::uint64_t off = uaddr - it->first;
    if (off > it->second.size() || bytes.size() > it->second.size() - off) return err("user_write", EFAULT);
    std::memcpy(it->second.data() + off, bytes.data(), bytes.size());
    return ok();
  }

  Status user_free(std::uint64_t uaddr, std::uint64_t) override {
    if (user_.erase(uaddr) == 0) return err("munmap", EINVAL);
    return ok();
  }

  void close(Handle h) override {
    auto it = objs_.find(h);
    if (it == objs_.end()) return;
    if (const VmObj* v = std::get_if<VmObj>(&it->second)) host_.destroy_vm(v->vm);
    if (const GmemObj* g = std::get_if<GmemObj>(&it->second)) {
      if (model::kvm::Vm* vm = host_.vm(g->vm)) vm->close_gmem(g->gmem);
    }
    objs_.erase(it);
  }

 private:
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
  model::kvm::Vm* vm_of(Handle h) {
    const VmObj* v = get<VmObj>(h);
    return v == nullptr ? nullptr : host_.vm(v->vm);
  }

  Host host_;
  std::map<Handle, Obj> objs_;
  Handle next_handle_ = 3;  // like fds: 0-2 are taken
  std::map<std::uint64_t, std::vector<std::uint8_t>> user_;
  std::uint64_t next_user_ = 0x7f0000000000ULL;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_sim_backend(model::kvm::HostConfig cfg) {
  return std::unique_ptr<Backend>(std::make_unique<SimBackend>(cfg));
}

}  // namespace snplab::api
