// Uses the installed headers and libraries: a simulated host, an SNP VM through the API, and
// the hw backend's factory (which fails or works depending on the machine, never crashes).
#include <cstdio>

#include "snp/api/kvm.h"
#include "snp/api/sim_backend.h"
#include "snp/hw/kvm_backend.h"
#include "snp/uapi/uapi.h"

int main() {
  auto backend = snplab::api::make_sim_backend();
  if (!backend) return 1;
  auto kvm = snplab::api::Kvm::open(**backend);
  if (!kvm) return 2;
  auto types = kvm->check_extension(snplab::uapi::KVM_CAP_VM_TYPES);
  if (!types || (*types & (1 << snplab::uapi::KVM_X86_SNP_VM)) == 0) return 3;
  auto vm = kvm->create_vm(snplab::uapi::KVM_X86_SNP_VM);
  if (!vm) return 4;
  snplab::uapi::kvm_sev_init init;
  if (!vm->memory_encrypt_op(snplab::uapi::KVM_SEV_INIT2, &init, 0)) return 5;
  auto hw = snplab::hw::make_kvm_backend();
  std::printf("installed snplab: SNP VM initialised on the sim; hw backend %s\n", hw ? "opened" : "absent");
  return 0;
}
