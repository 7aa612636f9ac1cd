// Real guest code on a vCPU without protected state: KVM_RUN executes the x86 instructions
// in guest memory, as the hardware would under KVM, and returns at the exits userspace sees.
//
// The simulator runs a small real-mode subset, a documented choice (docs/kvm.md): enough for
// the guests a validation run writes (store bytes, port output, halt), not a CPU model. The
// instructions:
//   F4 hlt; 90 nop; B0 ib mov al,imm8; BA iw mov dx,imm16; FE C0 inc al; EB cb jmp rel8;
//   A2 iw mov [moffs16],al; C6 06 iw ib mov byte [disp16],imm8; E6 ib out imm8,al;
//   EE out dx,al.
// Anything else, a fetch or store with no memslot behind it, a store to a read-only slot and
// a 16-bit IP that wraps end KVM_RUN with KVM_EXIT_INTERNAL_ERROR (KVM_INTERNAL_ERROR_EMULATION),
// where the hardware would raise an exception, emulate MMIO or exit for it.
#include <cerrno>
#include <cstring>

#include "snp/model/host/kvm_host.h"
#include "snp/model/host/sev_platform.h"

namespace snplab::model::kvm {

namespace {

constexpr std::uint32_t kInternalErrorEmulation = 1;  // KVM_INTERNAL_ERROR_EMULATION
constexpr std::uint8_t kIoOut = 1;                     // KVM_EXIT_IO_OUT
/// Instructions one KVM_RUN executes before it returns with nothing to report (a guest that
/// loops): the simulated equivalent of a pending signal, EINTR.
constexpr int kMaxSteps = 1 << 16;

/// A little-endian 16-bit immediate or displacement.
constexpr std::uint64_t word(std::uint8_t lo, std::uint8_t hi) { return std::uint64_t{lo} | std::uint64_t{hi} << 8; }

}  // namespace

uapi::kvm_regs Vm::reset_regs() {
  uapi::kvm_regs r;
  r.rip = 0xFFF0;
  r.rflags = 0x2;
  r.rdx = SevPlatform::kVcpuSignature;  // the CPUID signature, as at RESET
  return r;
}

uapi::kvm_sregs Vm::reset_sregs() {
  uapi::kvm_sregs s;
  auto seg = [](std::uint64_t base, std::uint16_t sel, std::uint8_t type) {
    uapi::kvm_segment g;
    g.base = base;
    g.limit = 0xFFFF;
    g.selector = sel;
    g.type = type;
    g.present = 1;
    g.s = 1;
    return g;
  };
  s.cs = seg(0xFFFF0000, 0xF000, 0xB);
  s.ds = s.es = s.fs = s.gs = s.ss = seg(0, 0, 0x3);
  s.tr = seg(0, 0, 0xB);
  s.tr.s = 0;
  s.ldt = seg(0, 0, 0x2);
  s.ldt.s = 0;
  s.gdt.limit = s.idt.limit = 0xFFFF;
  s.cr0 = 0x60000010;
  s.apic_base = 0xFEE00900;
  return s;
}

Exit Vm::run_x86(unsigned long vcpu_id) {
  const kern::FunctionScope fs(host_->sched(), "vcpu_run");
  VcpuArch& a = arch_.at(vcpu_id);
  uapi::kvm_regs regs = reset_regs();
  uapi::kvm_sregs sregs = reset_sregs();
  if (a.regs.size() == sizeof(regs)) std::memcpy(&regs, a.regs.data(), sizeof(regs));
  if (a.sregs.size() == sizeof(sregs)) std::memcpy(&sregs, a.sregs.data(), sizeof(sregs));
  // A byte of guest memory through the memslots: false where no slot (or a read-only one,
  // for a store) backs it.
  auto access = [&](Gpa gpa, std::uint8_t* byte, bool write) {
    const std::optional<Memslot> slot = gfn_to_memslot(gpa >> kPageShift);
    if (!slot || (slot->flags & kMemGuestMemfd) != 0 || (write && (slot->flags & kMemReadonly) != 0)) return false;
    const std::uint64_t uaddr = slot->userspace_addr + (gpa - (slot->base_gfn << kPageShift));
    return write ? host_->user().copy_to(uaddr, {byte, 1}) : host_->user().copy_from(uaddr, {byte, 1});
  };
  std::uint16_t ip = static_cast<std::uint16_t>(regs.rip);
  auto fetch = [&](std::uint8_t* b) {
    const bool ok = access(sregs.cs.base + ip, b, false);
    ++ip;
    return ok;
  };
  auto save = [&] {
    regs.rip = ip;
    a.regs.resize(sizeof(regs));
    std::memcpy(a.regs.data(), &regs, sizeof(regs));
  };
  auto internal_error = [&] {
    Exit e;
    e.reason = kExitInternalError;
    e.internal_suberror = kInternalErrorEmulation;
    return e;
  };
  for (int step = 0; step < kMaxSteps; ++step) {
    host_->sched().point(kern::PointKind::GuestInsn, &a, "x86 insn");
    const std::uint16_t start = ip;
    std::uint8_t op = 0, b1 = 0, b2 = 0, b3 = 0;
    if (!fetch(&op)) return internal_error();
    auto al = [&]() -> std::uint8_t { return static_cast<std::uint8_t>(regs.rax); };
    auto set_al = [&](std::uint8_t v) { regs.rax = (regs.rax & ~0xFFULL) | v; };
    switch (op) {
      case 0x90: break;
      case 0xF4: {
        save();
        Exit e;
        e.reason = kExitHlt;
        return e;
      }
      case 0xB0:
        if (!fetch(&b1)) return internal_error();
        set_al(b1);
        break;
      case 0xBA:
        if (!fetch(&b1) || !fetch(&b2)) return internal_error();
        regs.rdx = (regs.rdx & ~0xFFFFULL) | word(b1, b2);
        break;
      case 0xFE:
        if (!fetch(&b1) || b1 != 0xC0) return internal_error();
        set_al(static_cast<std::uint8_t>(al() + 1));
        break;
      case 0xEB:
        if (!fetch(&b1)) return internal_error();
        ip = static_cast<std::uint16_t>(ip + static_cast<std::int8_t>(b1));
        break;
      case 0xA2: {
        if (!fetch(&b1) || !fetch(&b2)) return internal_error();
        std::uint8_t v = al();
        if (!access(sregs.ds.base + word(b1, b2), &v, true)) return internal_error();
        break;
      }
      case 0xC6: {
        if (!fetch(&b1) || b1 != 0x06 || !fetch(&b2) || !fetch(&b3)) return internal_error();
        std::uint8_t v = 0;
        if (!fetch(&v)) return internal_error();
        if (!access(sregs.ds.base + word(b2, b3), &v, true)) return internal_error();
        break;
      }
      case 0xE6:
      case 0xEE: {
        std::uint16_t port = static_cast<std::uint16_t>(regs.rdx);
        if (op == 0xE6) {
          if (!fetch(&b1)) return internal_error();
          port = b1;
        }
        save();  // KVM_RUN resumes after the OUT
        Exit e;
        e.reason = uapi::KVM_EXIT_IO;
        e.io_direction = kIoOut;
        e.io_size = 1;
        e.io_port = port;
        e.io_count = 1;
        e.io_data = al();
        return e;
      }
      default:
        ip = start;
        save();
        return internal_error();
    }
    if (ip < start && op != 0xEB) return internal_error();  // the IP wrapped
  }
  save();
  return Exit{-EINTR};
}

}  // namespace snplab::model::kvm
