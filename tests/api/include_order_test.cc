// snp/uapi/uapi.h keeps the kernel's names, which <linux/kvm.h> defines as macros: a user's file
// may include both, in either order. This file includes the kernel header first; the other
// order is what every api source does. It compiles, and the two agree on each value.
#include <linux/kvm.h>

#include <gtest/gtest.h>

#include "snp/api/kvm.h"

namespace {

TEST(UapiHeader, AfterLinuxKvmH_CompilesAndAgreesWithTheKernelMacros) {
  EXPECT_EQ(KVM_CAP_EXIT_HYPERCALL, 201);
  EXPECT_EQ(KVM_EXIT_HLT, 5);
  EXPECT_EQ(sizeof(snplab::uapi::kvm_enable_cap), sizeof(struct kvm_enable_cap));
  EXPECT_EQ(sizeof(snplab::uapi::kvm_sev_cmd), sizeof(struct kvm_sev_cmd));
  snplab::api::RunExit e;
  EXPECT_EQ(e.exit_reason, static_cast<std::uint32_t>(KVM_EXIT_UNKNOWN));
}

}  // namespace
