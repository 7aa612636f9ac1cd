// The PSP firmware's two state machines, each as ONE table of allowed transitions that the
// firmware code, the docs (docs/firmware.md) and the tests all read (STYLE.md 3.4).
//
// Platform (SNP part of the platform state, ASPFW SNP_STATE_*; facts §4.2, §4.5):
//   UNINIT --SNP_INIT / SNP_INIT_EX--> INIT --SNP_SHUTDOWN(_EX)--> UNINIT
//   Every other SNP command needs INIT (else INVALID_PLATFORM_STATE); PLATFORM_STATUS and
//   SHUTDOWN work in both (SHUTDOWN of an UNINIT platform is a no-op).
//
// Guest context (ASPFW sev_guest.c state_tbl_snp; facts §4.4):
//   INIT --LAUNCH_START--> LAUNCH --LAUNCH_FINISH--> RUNNING; DECOMMISSION from any state
//   ends the context. A command whose (command, state) pair is not in the table fails with
//   INVALID_GUEST_STATE and changes nothing.
//
// Invariants while no command runs: a guest context page is in the RMP's Context state; an
// activated context owns exactly one ASID and no other context owns it; an ASID whose
// context was decommissioned is "dirty" until SNP_DF_FLUSH and cannot be activated.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace snplab::model {

/// SNP firmware command IDs (facts §4.1; Linux include/linux/psp-sev.h).
enum class FwCmd : std::uint16_t {
  SnpInit = 0x081,
  SnpShutdown = 0x082,
  SnpPlatformStatus = 0x083,
  SnpDfFlush = 0x084,
  SnpInitEx = 0x085,
  SnpShutdownEx = 0x086,
  SnpDecommission = 0x090,
  SnpActivate = 0x091,
  SnpGuestStatus = 0x092,
  SnpGctxCreate = 0x093,
  SnpGuestRequest = 0x094,
  SnpLaunchStart = 0x0A0,
  SnpLaunchUpdate = 0x0A1,
  SnpLaunchFinish = 0x0A2,
  SnpPageReclaim = 0x0C7,
  SnpPageUnsmash = 0x0C8,
  SnpConfig = 0x0C9,
  SnpCommit = 0x0CB,
  SnpVlekLoad = 0x0CD,
};
std::string_view to_string(FwCmd c);  // "SNP_LAUNCH_UPDATE"

enum class PlatformState : std::uint8_t { Uninit = 0, Init = 1 };
std::string_view to_string(PlatformState s);

enum class GuestState : std::uint8_t { Init = 0, Launch = 1, Running = 2 };
std::string_view to_string(GuestState s);

struct PlatformEdge {
  FwCmd cmd;
  PlatformState from;
  PlatformState to;
};

struct GuestEdge {
  FwCmd cmd;
  GuestState from;
  GuestState to;
};

/// Commands that need no guest context and leave the platform state alone are allowed in
/// INIT only; the table lists them with from = to = INIT.
inline constexpr std::array kPlatformEdges{
    PlatformEdge{FwCmd::SnpInit, PlatformState::Uninit, PlatformState::Init},
    PlatformEdge{FwCmd::SnpInitEx, PlatformState::Uninit, PlatformState::Init},
    PlatformEdge{FwCmd::SnpShutdown, PlatformState::Init, PlatformState::Uninit},
    PlatformEdge{FwCmd::SnpShutdown, PlatformState::Uninit, PlatformState::Uninit},
    PlatformEdge{FwCmd::SnpShutdownEx, PlatformState::Init, PlatformState::Uninit},
    PlatformEdge{FwCmd::SnpShutdownEx, PlatformState::Uninit, PlatformState::Uninit},
    PlatformEdge{FwCmd::SnpPlatformStatus, PlatformState::Uninit, PlatformState::Uninit},
    PlatformEdge{FwCmd::SnpPlatformStatus, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpDfFlush, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpDecommission, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpActivate, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpGuestStatus, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpGctxCreate, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpGuestRequest, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpLaunchStart, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpLaunchUpdate, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpLaunchFinish, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpPageReclaim, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpPageUnsmash, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpConfig, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpCommit, PlatformState::Init, PlatformState::Init},
    PlatformEdge{FwCmd::SnpVlekLoad, PlatformState::Init, PlatformState::Init},
};

/// The guest-context machine (facts §4.4). GUEST_STATUS is a query and allowed in every
/// state; DECOMMISSION ends the context from every state (its `to` is INIT, the state a
/// context page returns to once recreated).
inline constexpr std::array kGuestEdges{
    GuestEdge{FwCmd::SnpLaunchStart, GuestState::Init, GuestState::Launch},
    GuestEdge{FwCmd::SnpActivate, GuestState::Launch, GuestState::Launch},
    GuestEdge{FwCmd::SnpActivate, GuestState::Running, GuestState::Running},
    GuestEdge{FwCmd::SnpLaunchUpdate, GuestState::Launch, GuestState::Launch},
    GuestEdge{FwCmd::SnpLaunchFinish, GuestState::Launch, GuestState::Running},
    GuestEdge{FwCmd::SnpGuestRequest, GuestState::Running, GuestState::Running},
    GuestEdge{FwCmd::SnpGuestStatus, GuestState::Init, GuestState::Init},
    GuestEdge{FwCmd::SnpGuestStatus, GuestState::Launch, GuestState::Launch},
    GuestEdge{FwCmd::SnpGuestStatus, GuestState::Running, GuestState::Running},
    GuestEdge{FwCmd::SnpDecommission, GuestState::Init, GuestState::Init},
    GuestEdge{FwCmd::SnpDecommission, GuestState::Launch, GuestState::Init},
    GuestEdge{FwCmd::SnpDecommission, GuestState::Running, GuestState::Init},
};

constexpr std::optional<PlatformState> platform_next(FwCmd cmd, PlatformState from) {
  for (const PlatformEdge& e : kPlatformEdges) {
    if (e.cmd == cmd && e.from == from) return e.to;
  }
  return std::nullopt;
}

constexpr std::optional<GuestState> guest_next(FwCmd cmd, GuestState from) {
  for (const GuestEdge& e : kGuestEdges) {
    if (e.cmd == cmd && e.from == from) return e.to;
  }
  return std::nullopt;
}

/// Both tables as Markdown (docs/firmware.md embeds this text; a test keeps them equal).
std::string state_tables_markdown();

static_assert(platform_next(FwCmd::SnpLaunchStart, PlatformState::Uninit) == std::nullopt);
static_assert(guest_next(FwCmd::SnpLaunchFinish, GuestState::Init) == std::nullopt);
static_assert(guest_next(FwCmd::SnpLaunchFinish, GuestState::Launch) == GuestState::Running);

}  // namespace snplab::model
