// Which /dev/sev commands the hw backend issues (facts §8.7). One table: every SEV_ISSUE_CMD
// command number the kernel defines, what the command does to the platform, and whether the
// backend lets it through by default. A command that changes persistent or platform-wide
// state - and any number not in the table - is refused with EPERM before any ioctl unless the
// backend was made with KvmBackendOptions::allow_destructive.
// docs/hw-backend.md "Destructive commands" lists the table; a test keeps the two equal.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "snp/api/error.h"

namespace snplab::hw {

enum class PspEffect : std::uint8_t {
  ReadOnly,     ///< reads state; issued always
  Export,       ///< exports a certificate or CSR; issued always (the kernel may move the
                ///< platform to INIT for it and shuts it down again afterwards)
  Destructive,  ///< changes persistent or platform-wide state; needs allow_destructive
};

std::string_view to_string(PspEffect e);

struct PspCommandInfo {
  std::uint32_t id;        ///< the SEV_ISSUE_CMD `cmd` value (uapi psp-sev.h)
  std::string_view name;   ///< the uapi enum name, e.g. "SNP_COMMIT"
  PspEffect effect;
  std::string_view what;   ///< what it does to the platform, for the refusal and the docs
};

/// Every command the uapi defines, in command-number order.
std::span<const PspCommandInfo> psp_commands();

/// The table entry of `id`, or nullptr for a number the uapi does not define.
const PspCommandInfo* find_psp_command(std::uint32_t id);

/// The refusal of `id` - Error{"SEV_ISSUE_CMD", EPERM, NO_FW_CALL} naming the command, its
/// effect and the opt-in - or nullopt when it may be issued: read-only and export commands
/// always, destructive and unknown ones only when `allow_destructive`.
std::optional<api::Error> check_psp_command(std::uint32_t id, bool allow_destructive);

}  // namespace snplab::hw
