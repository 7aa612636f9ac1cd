// The VMM-side helpers of vmm.h.
#include "snp/scenarios/vmm.h"

#include <fmt/format.h>

namespace snplab::scenarios {

SnpVmConfig launch_started() {
  SnpVmConfig vc;
  vc.launched = 0;
  vc.secrets_gpa = 0;
  vc.vcpus = 0;
  vc.finish = false;
  return vc;
}

api::Status launch_update(api::Vm& vm, std::uint64_t gfn, std::uint64_t uaddr, std::uint64_t pages,
                          std::uint8_t type, std::uint32_t* fw_error) {
  uapi::kvm_sev_snp_launch_update up;
  up.gfn_start = gfn;
  up.uaddr = uaddr;
  up.len = pages * model::kPageSize;
  up.type = type;
  return vm.snp_launch_update(up, fw_error);
}

std::vector<std::uint8_t> cert_table(const SimView& view, std::uint64_t tcb,
                                     const std::vector<model::CertTableBlob>& extra) {
  std::vector<model::CertTableBlob> blobs = {
      {model::kGuidVcek, view.vcek_cert(tcb)}, {model::kGuidAsk, view.ask_cert()}, {model::kGuidArk, view.ark_cert()}};
  blobs.insert(blobs.end(), extra.begin(), extra.end());
  auto t = model::encode_cert_table(blobs);
  return t ? *t : std::vector<std::uint8_t>{};
}

api::Status set_ext_config(api::Backend& b, api::SevDevice& sev, const std::vector<std::uint8_t>& table) {
  auto mem = api::UserMemory::alloc(b, table.size());
  if (!mem) return mem.error();
  if (auto s = mem->write(0, table); !s) return s;
  uapi::sev_user_data_ext_snp_config c;
  c.certs_address = mem->addr();
  c.certs_len = static_cast<std::uint32_t>(table.size());
  return sev.snp_set_ext_config_v10(c);
}

model::kvm::GuestRequestPages requester_pages() {
  constexpr std::uint64_t kReq = 0x80000;
  model::kvm::GuestRequestPages pages;
  pages.secrets = SnpVmConfig{}.secrets_gpa;
  pages.req = kReq;
  pages.resp = kReq + model::kPageSize;
  pages.certs = kReq + 2 * model::kPageSize;
  pages.cert_pages = 4;
  return pages;
}

api::Result<std::unique_ptr<SnpVm>> launch_requester(Lab& lab, std::uint8_t report_data) {
  auto vm = SnpVm::launch(lab.backend(), SnpVmConfig{});
  if (!vm) return vm.error();
  const model::kvm::GuestRequestPages pages = requester_pages();
  if (auto s = (*vm)->convert(pages.req, (2 + pages.cert_pages) * model::kPageSize, false); !s) return s.error();
  if (auto s = lab.load_guest((*vm)->vcpu(), {model::kvm::GuestOp::ext_guest_request(pages, report_data),
                                              model::kvm::GuestOp::halt()});
      !s) {
    return s.error();
  }
  return vm;
}

api::Result<Requester> launch_requester_with_sev(Lab& lab, std::uint8_t report_data) {
  auto vm = launch_requester(lab, report_data);
  if (!vm) return vm.error();
  auto sev = api::SevDevice::open(lab.backend());
  if (!sev) return sev.error();
  return Requester{std::shared_ptr<SnpVm>(std::move(*vm)), std::make_shared<api::SevDevice>(std::move(*sev))};
}

api::Result<api::RunExit> run_converting(SnpVm& vm, ScheduleContext& ctx, unsigned vcpu, unsigned max_exits) {
  api::Result<api::RunExit> e = api::RunExit{};
  for (unsigned i = 0; i < max_exits; ++i) {
    e = vm.vcpu(vcpu).run();
    if (!e) {
      ctx.note(fmt::format("vcpu{}: KVM_RUN failed: {}", vcpu, e.error().to_string()));
      return e;
    }
    if (e->exit_reason == uapi::KVM_EXIT_MEMORY_FAULT) {
      const bool to_private = (e->memory_fault.flags & uapi::KVM_MEMORY_EXIT_FLAG_PRIVATE) != 0;
      ctx.note(fmt::format("vcpu{}: KVM_EXIT_MEMORY_FAULT gpa 0x{:x} size 0x{:x} {}: the VMM converts it", vcpu,
                           e->memory_fault.gpa, e->memory_fault.size, to_private ? "private" : "shared"));
      if (auto s = vm.convert(e->memory_fault.gpa, e->memory_fault.size, to_private); !s) {
        ctx.note(fmt::format("vcpu{}: the conversion failed: {}", vcpu, s.error().to_string()));
      }
      continue;
    }
    if (e->exit_reason == uapi::KVM_EXIT_SYSTEM_EVENT) {
      ctx.note(fmt::format("vcpu{}: KVM_EXIT_SYSTEM_EVENT type {} data 0x{:x}", vcpu, e->system_event.type,
                           e->system_event.data0));
    }
    return e;
  }
  return e;
}

api::Status serve_req_certs(SnpVm& vm, api::Vcpu& vcpu, const api::RunExit& exit, const std::vector<std::uint8_t>& table,
                            bool notify_done) {
  if (auto s = vm.shared().write(exit.vmgexit.data_gpa, table); !s) return s;
  return vcpu.complete(
      api::RunCompletion{0, {}, notify_done ? uapi::KVM_USER_VMGEXIT_REQ_CERTS_FLAGS_NOTIFY_DONE : std::uint8_t{0}});
}

void note_guest_log(ScheduleContext& ctx, const api::Vcpu& vcpu) {
  if (const auto* log = ctx.view().guest_log(vcpu)) {
    for (const auto& line : *log) ctx.note("guest: " + line);
  }
}

}  // namespace snplab::scenarios
