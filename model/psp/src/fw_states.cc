#include "snp/model/psp/fw_states.h"

#include "snp/model/base/assert.h"

namespace snplab::model {

std::string_view to_string(FwCmd c) {
  switch (c) {
    case FwCmd::SnpInit: return "SNP_INIT";
    case FwCmd::SnpShutdown: return "SNP_SHUTDOWN";
    case FwCmd::SnpPlatformStatus: return "SNP_PLATFORM_STATUS";
    case FwCmd::SnpDfFlush: return "SNP_DF_FLUSH";
    case FwCmd::SnpInitEx: return "SNP_INIT_EX";
    case FwCmd::SnpShutdownEx: return "SNP_SHUTDOWN_EX";
    case FwCmd::SnpDecommission: return "SNP_DECOMMISSION";
    case FwCmd::SnpActivate: return "SNP_ACTIVATE";
    case FwCmd::SnpGuestStatus: return "SNP_GUEST_STATUS";
    case FwCmd::SnpGctxCreate: return "SNP_GCTX_CREATE";
    case FwCmd::SnpGuestRequest: return "SNP_GUEST_REQUEST";
    case FwCmd::SnpLaunchStart: return "SNP_LAUNCH_START";
    case FwCmd::SnpLaunchUpdate: return "SNP_LAUNCH_UPDATE";
    case FwCmd::SnpLaunchFinish: return "SNP_LAUNCH_FINISH";
    case FwCmd::SnpPageReclaim: return "SNP_PAGE_RECLAIM";
    case FwCmd::SnpPageUnsmash: return "SNP_PAGE_UNSMASH";
    case FwCmd::SnpConfig: return "SNP_CONFIG";
    case FwCmd::SnpCommit: return "SNP_COMMIT";
    case FwCmd::SnpVlekLoad: return "SNP_VLEK_LOAD";
  }
  SNPLAB_UNREACHABLE("corrupt FwCmd");
}

std::string_view to_string(PlatformState s) {
  switch (s) {
    case PlatformState::Uninit: return "UNINIT";
    case PlatformState::Init: return "INIT";
  }
  SNPLAB_UNREACHABLE("corrupt PlatformState");
}

std::string_view to_string(GuestState s) {
  switch (s) {
    case GuestState::Init: return "INIT";
    case GuestState::Launch: return "LAUNCH";
    case GuestState::Running: return "RUNNING";
  }
  SNPLAB_UNREACHABLE("corrupt GuestState");
}

std::string state_tables_markdown() {
  std::string s = "| command | platform from | platform to |\n|---|---|---|\n";
  for (const PlatformEdge& e : kPlatformEdges) {
    s += "| " + std::string(to_string(e.cmd)) + " | " + std::string(to_string(e.from)) + " | " +
         std::string(to_string(e.to)) + " |\n";
  }
  s += "\n| command | guest from | guest to |\n|---|---|---|\n";
  for (const GuestEdge& e : kGuestEdges) {
    s += "| " + std::string(to_string(e.cmd)) + " | " + std::string(to_string(e.from)) + " | " +
         std::string(to_string(e.to)) + " |\n";
  }
  return s;
}

}  // namespace snplab::model
