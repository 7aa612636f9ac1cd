// arch/x86/kvm/x86.c's KVM_GET_XSAVE / KVM_SET_XSAVE over the guest FPU, with the checks and
// copies of arch/x86/kernel/fpu/xstate.c (copy_uabi_to_xstate(), __copy_xstate_to_uabi_buf()).
//
// The image is the standard (non-compacted) format. The guest FPU keeps the bytes userspace
// gave and the XSTATE_BV it gave; a component whose bit is clear reads as its initial state
// (x87: FCW 0x37F, the rest zero; MXCSR 0x1F80 with the host's MXCSR_MASK; every other
// component zero), as XRSTOR would leave it. The 48 software-reserved bytes of the legacy
// area (the kernel's xstate_fx_sw_bytes) read as zero here: their contents are the host
// kernel's, not the guest's (docs/kvm.md).
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "snp/model/host/kvm_host.h"

namespace snplab::model::kvm {

namespace {

constexpr std::uint64_t kFp = 1U << 0, kSse = 1U << 1, kYmm = 1U << 2;
constexpr std::size_t kMxcsr = 24, kMxcsrMask = 28, kXmm = 160, kSwReserved = 464, kHeader = 512;
constexpr std::size_t kFpSize = 160;   // xstate_sizes[FP]: the legacy area up to XMM0
constexpr std::size_t kSseSize = 256;  // XMM0-15
constexpr std::uint16_t kFcwInit = 0x37f;
constexpr std::uint32_t kMxcsrDefault = 0x1f80;

std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace

int Vm::set_xsave(unsigned long vcpu_id, const uapi::kvm_xsave& in) {
  const kern::FunctionScope fs(host_->sched(), "kvm_vcpu_ioctl_x86_set_xsave");
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return -EINVAL;
  const kern::Guard vcpu_lock(vcpu_mutex(vcpu_id));
  VcpuArch& a = arch_.at(vcpu_id);
  // An SEV-ES/SNP vCPU's FPU is in its VMSA: refused for a VM type with protected state.
  if (a.fpu_confidential) return -EINVAL;
  const auto* b = reinterpret_cast<const std::uint8_t*>(in.region);
  const HostConfig& c = host_->config();
  const std::uint64_t xfeatures = get_u64(b + kHeader);
  // fpu_copy_uabi_to_guest_fpstate() and validate_user_xstate_header(): only supported
  // components, the standard format (XCOMP_BV 0), the reserved header bytes zero.
  if ((xfeatures & ~c.supported_xcr0) != 0) return -EINVAL;
  if (get_u64(b + kHeader + 8) != 0) return -EINVAL;
  if (std::any_of(b + kHeader + 16, b + kHeader + 64, [](std::uint8_t x) { return x != 0; })) return -EINVAL;
  // MXCSR's reserved bits must be clear when a component that uses it is present.
  if ((xfeatures & (kFp | kSse | kYmm)) != 0 && (get_u32(b + kMxcsr) & ~c.mxcsr_feature_mask) != 0) return -EINVAL;
  std::uint8_t* s = a.xsave.data();
  if ((xfeatures & (kSse | kYmm)) != 0 && (xfeatures & kFp) == 0) std::memcpy(s + kMxcsr, b + kMxcsr, 8);
  if ((xfeatures & kFp) != 0) std::memcpy(s, b, kFpSize);
  if ((xfeatures & kSse) != 0) std::memcpy(s + kXmm, b + kXmm, kSseSize);
  for (const auto& [component, at] : c.xstate_layout) {
    if ((xfeatures >> component & 1) != 0 && at.first + at.second <= sizeof(uapi::kvm_xsave)) {
      std::memcpy(s + at.first, b + at.first, at.second);
    }
  }
  a.xfeatures = xfeatures;
  return 0;
}

int Vm::get_xsave(unsigned long vcpu_id, uapi::kvm_xsave* out) const {
  const kern::FunctionScope fs(host_->sched(), "kvm_vcpu_ioctl_x86_get_xsave");
  if (std::find(vcpu_ids_.begin(), vcpu_ids_.end(), vcpu_id) == vcpu_ids_.end()) return -EINVAL;
  const kern::Guard vcpu_lock(vcpu_mutex(vcpu_id));
  const VcpuArch& a = arch_.at(vcpu_id);
  if (a.fpu_confidential) return -EINVAL;
  const HostConfig& c = host_->config();
  // kvm_vcpu_ioctl_x86_get_xsave2(): the components the vCPU's CPUID enables
  // (guest_supported_xcr0: leaf 0xD.0 EDX:EAX within the supported XCR0), x87 and SSE always.
  std::uint64_t guest_xcr0 = 0;
  for (const auto& e : a.cpuid) {
    if (e.function == 0xd && ((e.flags & uapi::KVM_CPUID_FLAG_SIGNIFCANT_INDEX) == 0 || e.index == 0)) {
      guest_xcr0 = (e.eax | std::uint64_t{e.edx} << 32) & c.supported_xcr0;
      break;
    }
  }
  const std::uint64_t shown = a.xfeatures & (guest_xcr0 | kFp | kSse);
  *out = uapi::kvm_xsave{};
  auto* o = reinterpret_cast<std::uint8_t*>(out->region);
  const std::uint8_t* s = a.xsave.data();
  if ((shown & kFp) != 0) {
    std::memcpy(o, s, kMxcsr);
    std::memcpy(o + 32, s + 32, kXmm - 32);
  } else {
    std::memcpy(o, &kFcwInit, sizeof(kFcwInit));
  }
  if ((shown & (kSse | kYmm)) != 0) {
    std::memcpy(o + kMxcsr, s + kMxcsr, 8);
  } else {
    std::memcpy(o + kMxcsr, &kMxcsrDefault, sizeof(kMxcsrDefault));
    std::memcpy(o + kMxcsrMask, &c.mxcsr_feature_mask, sizeof(c.mxcsr_feature_mask));
  }
  if ((shown & kSse) != 0) std::memcpy(o + kXmm, s + kXmm, kSseSize);
  static_assert(kSwReserved + 48 == kHeader);
  std::memcpy(o + kHeader, &shown, sizeof(shown));
  for (const auto& [component, at] : c.xstate_layout) {
    if ((shown >> component & 1) != 0 && at.first + at.second <= sizeof(uapi::kvm_xsave)) {
      std::memcpy(o + at.first, s + at.first, at.second);
    }
  }
  return 0;
}

}  // namespace snplab::model::kvm
