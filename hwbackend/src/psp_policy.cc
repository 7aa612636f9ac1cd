#include "snp/hw/psp_policy.h"

#include <cerrno>

#include <fmt/format.h>

namespace snplab::hw {

namespace {

// Numbers and names: uapi <linux/psp-sev.h> (facts §8.7). Effects: the firmware commands the
// kernel issues for each (drivers/crypto/ccp/sev-dev.c, sev_ioctl()). Numbers 10 and 11
// were SNP_SET_EXT_CONFIG / SNP_GET_EXT_CONFIG in the unmerged v10 series; both readings
// of 10 change the platform, and 11 is refused as SNP_SET_CONFIG (a v10-era kernel's
// GET_EXT_CONFIG needs the opt-in too).
constexpr PspCommandInfo kCommands[] = {
    {0, "SEV_FACTORY_RESET", PspEffect::Destructive,
     "erases the platform's persistent SEV state (owner, PEK, PDH, OCA certificates)"},
    {1, "SEV_PLATFORM_STATUS", PspEffect::ReadOnly, "reads the SEV platform status"},
    {2, "SEV_PEK_GEN", PspEffect::Destructive,
     "generates a new Platform Endorsement Key, invalidating the certificates of the old one"},
    {3, "SEV_PEK_CSR", PspEffect::Export, "exports a signing request for the current PEK"},
    {4, "SEV_PDH_GEN", PspEffect::Destructive, "generates a new Platform Diffie-Hellman key"},
    {5, "SEV_PDH_CERT_EXPORT", PspEffect::Export, "exports the PDH and platform certificates"},
    {6, "SEV_PEK_CERT_IMPORT", PspEffect::Destructive,
     "imports a signed PEK and an owner certificate: takes ownership of the platform"},
    {7, "SEV_GET_ID", PspEffect::ReadOnly, "reads the chip ID (deprecated form)"},
    {8, "SEV_GET_ID2", PspEffect::ReadOnly, "reads the chip ID"},
    {9, "SNP_PLATFORM_STATUS", PspEffect::ReadOnly, "reads the SNP platform status and TCB versions"},
    {10, "SNP_COMMIT", PspEffect::Destructive,
     "commits the current firmware and TCB as the minimum: rollback is impossible afterwards"},
    {11, "SNP_SET_CONFIG", PspEffect::Destructive,
     "sets the REPORTED_TCB and the chip ID/key masks for every guest's reports"},
    {12, "SNP_VLEK_LOAD", PspEffect::Destructive,
     "loads a VLEK: every later report is signed with it instead of the VCEK"},
};

}  // namespace

std::string_view to_string(PspEffect e) {
  switch (e) {
    case PspEffect::ReadOnly: return "read-only";
    case PspEffect::Export: return "export";
    case PspEffect::Destructive: return "destructive";
  }
  return "invalid";
}

std::span<const PspCommandInfo> psp_commands() { return kCommands; }

const PspCommandInfo* find_psp_command(std::uint32_t id) {
  for (const PspCommandInfo& c : kCommands) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

std::optional<api::Error> check_psp_command(std::uint32_t id, bool allow_destructive) {
  const PspCommandInfo* c = find_psp_command(id);
  if (c != nullptr && c->effect != PspEffect::Destructive) return std::nullopt;
  if (allow_destructive) return std::nullopt;
  const std::string why =
      c == nullptr ? fmt::format("command {} is not one this backend knows, so it may change anything", id)
                   : fmt::format("{} ({}) {}", c->name, id, c->what);
  return api::Error{api::Op::SevIssueCmd, EPERM, api::FwStatus::NoFwCall,
                    fmt::format("refused before the ioctl: {}; create the hw backend with "
                                "KvmBackendOptions::allow_destructive to issue it",
                                why)};
}

}  // namespace snplab::hw
