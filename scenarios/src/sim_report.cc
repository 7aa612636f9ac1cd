#include "snp/scenarios/sim_report.h"

#include <algorithm>

#include <fmt/format.h>

#include "snp/model/psp/firmware.h"
#include "snp/model/psp/guest_msg.h"
#include "snp/model/host/x86/sev.h"

namespace snplab::scenarios {

using namespace snplab::model;  // NOLINT: scenario code reads like the host kernel

SimReport simulate_report(const SimReportOptions& opts) {
  SimReport out;
  Rmp rmp(*RmpLayout::covering(1ULL << 30));
  HostMemory mem;
  FirmwareConfig cfg;
  cfg.seed = opts.seed;
  cfg.product = opts.product;
  if (opts.product == Product::Turin) cfg.current_tcb = 0x2400000008040003ULL;  // Turin layout: FMC 3, BL 0, TEE 4, SNP 8, ucode 0x24
  Firmware fw(rmp, mem, cfg);
  const OpContext host{"snplab report simulate", 1};
  constexpr Pfn kGctx = 0x1000, kSecrets = 0x2000, kReq = 0x3000, kRsp = 0x3001;
  constexpr Asid kAsid = 1;
  auto step = [&out](const char* what, FwStatus st) {
    if (st != FwStatus::Success && out.error.empty()) out.error = fmt::format("{}: {}", what, to_string(st));
    return st == FwStatus::Success;
  };
  // The KVM launch sequence in miniature (facts §4.5): firmware page, GCTX_CREATE,
  // LAUNCH_START, ACTIVATE, a secrets page, LAUNCH_FINISH.
  step("SNP_INIT", fw.snp_init());
  (void)rmp_make_private(rmp, kGctx, 0, PageSize::Size4K, 0, true, host);
  step("SNP_GCTX_CREATE", fw.snp_gctx_create(pfn_to_spa(kGctx)));
  SnpLaunchStartCmd ls;
  ls.gctx_paddr = pfn_to_spa(kGctx);
  ls.policy = policy::kReserved17MustBeOne | policy::kSmt;
  step("SNP_LAUNCH_START", fw.snp_launch_start(ls));
  step("SNP_ACTIVATE", fw.snp_activate(pfn_to_spa(kGctx), kAsid));
  (void)rmp_make_private(rmp, kSecrets, 0x5000, PageSize::Size4K, kAsid, true, host);
  SnpLaunchUpdateCmd u;
  u.gctx_paddr = pfn_to_spa(kGctx);
  u.page_type = 5;
  u.address = pfn_to_spa(kSecrets);
  step("SNP_LAUNCH_UPDATE", fw.snp_launch_update(u));
  SnpLaunchFinishCmd lf;
  lf.gctx_paddr = pfn_to_spa(kGctx);
  step("SNP_LAUNCH_FINISH", fw.snp_launch_finish(lf));
  if (opts.reported_tcb_override != 0) {
    SnpConfigCmd c;
    c.reported_tcb = opts.reported_tcb_override;
    step("SNP_CONFIG", fw.snp_config(c));
  }
  if (opts.vlek) step("SNP_VLEK_LOAD", fw.snp_vlek_load(16, 0, fw.chip().wrap_vlek(fw.reported_tcb(), opts.seed)));
  (void)rmp_make_private(rmp, kRsp, 0, PageSize::Size4K, 0, true, host);
  if (!out.error.empty()) return out;
  // The guest: VMPCK0 from its secrets page, a REPORT_REQ with sequence number 1.
  Aes256Key vmpck0{};
  std::copy_n(mem.page(kSecrets).begin() + 0x20, 32, vmpck0.begin());
  ReportReq req;
  req.report_data = opts.report_data;
  mem.write(pfn_to_spa(kReq), seal_guest_msg(vmpck0, 0, 1, MsgType::ReportReq, 1, req.encode()));
  if (!step("SNP_GUEST_REQUEST", fw.snp_guest_request(pfn_to_spa(kGctx), pfn_to_spa(kReq), pfn_to_spa(kRsp)))) return out;
  std::vector<std::uint8_t> page(kPageSize);
  mem.read(pfn_to_spa(kRsp), page);
  const auto opened = open_guest_msg(vmpck0, page);
  if (std::holds_alternative<MsgError>(opened)) {
    out.error = fmt::format("response: {}", to_string(std::get<MsgError>(opened)));
    return out;
  }
  const auto& p = std::get<OpenedMsg>(opened).payload;
  out.report.assign(p.begin() + 0x20, p.begin() + 0x20 + static_cast<std::ptrdiff_t>(kReportSize));
  out.leaf_der = opts.vlek ? fw.chip().vlek_cert(fw.reported_tcb(), opts.seed) : fw.chip().vcek_cert(fw.reported_tcb());
  out.chain_pem = opts.vlek ? fw.chip().vlek_chain_pem() : fw.chip().vcek_chain_pem();
  return out;
}

}  // namespace snplab::scenarios
