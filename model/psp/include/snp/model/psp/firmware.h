// The PSP/ASP SNP firmware (facts §4): platform and guest-context state machines
// (fw_states.h), the SNP commands with their IDs, preconditions and status codes, and the
// firmware page states kept in step with the RMP model: every RMP entry the firmware
// changes goes through Rmp::load/store in an RmpInsn::Firmware frame, so the detectors and
// the engine see the firmware as they see the CPU.
//
// Each command handler checks first (may fail, changes nothing) and then commits (cannot
// fail); the line `// --- point of no return ---` separates the two in every handler.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "snp/model/attest/attestation.h"
#include "snp/model/psp/fw_states.h"
#include "snp/model/psp/fw_status.h"
#include "snp/model/hw/memory.h"
#include "snp/model/hw/rmp.h"
#include "snp/model/psp/sim_chip.h"
#include "snp/uapi/uapi.h"

namespace snplab::model {

/// TCB_VERSION (facts §6.4) as the raw u64; fields by product in attestation.h.
using TcbVersion = std::uint64_t;

/// SNP guest policy bits (facts §4.7).
namespace policy {
inline constexpr std::uint64_t kAbiMinorMask = 0xFF;
inline constexpr std::uint64_t kAbiMajorShift = 8;
inline constexpr std::uint64_t kSmt = 1ULL << 16;
inline constexpr std::uint64_t kReserved17MustBeOne = 1ULL << 17;
inline constexpr std::uint64_t kMigrateMa = 1ULL << 18;
inline constexpr std::uint64_t kDebug = 1ULL << 19;
inline constexpr std::uint64_t kSingleSocket = 1ULL << 20;
inline constexpr std::uint64_t kCxlAllow = 1ULL << 21;
inline constexpr std::uint64_t kMemAes256Xts = 1ULL << 22;
inline constexpr std::uint64_t kRaplDis = 1ULL << 23;
inline constexpr std::uint64_t kCiphertextHiding = 1ULL << 24;
inline constexpr std::uint64_t kPageSwapDisable = 1ULL << 25;
/// Bits 63:26 are reserved and must be zero.
inline constexpr std::uint64_t kReservedMask = ~((1ULL << 26) - 1);
}  // namespace policy

/// What the simulated chip and platform look like. Chip secrets derive from `seed`.
struct FirmwareConfig {
  std::uint64_t seed = 1;
  Product product = Product::Milan;
  std::uint8_t api_major = 1;
  std::uint8_t api_minor = 55;
  std::uint8_t build_id = 21;
  /// The TCB of the running firmware and microcode. Default: Milan layout, BOOT_LOADER 3,
  /// TEE 0, SNP 8, MICROCODE 115.
  TcbVersion current_tcb = 0x7308000000000003ULL;
  bool smt_enabled = true;
  unsigned sockets = 1;
  /// ASIDs 1..max_snp_asid may hold SNP guests (the kernel's min_sev_asid - 1).
  std::uint32_t max_snp_asid = 509;
};

// ---- Command buffers (decoded; fields and reserved bits as facts §4.1 gives them) --------

struct SnpInitExCmd {
  bool init_rmp = true;
  bool list_paddr_en = false;
  std::uint32_t rsvd = 0;       ///< bits 31:2 of the first word and the rest: must be zero
  /// The range list (sev_data_range_list) when list_paddr_en: pages made HV-Fixed.
  struct Range {
    Spa base;
    std::uint32_t page_count;
  };
  std::vector<Range> ranges;
};

struct SnpLaunchStartCmd {
  Spa gctx_paddr = 0;
  std::uint64_t policy = 0;
  Spa ma_gctx_paddr = 0;
  bool ma_en = false;
  bool imi_en = false;
  std::uint32_t rsvd = 0;
  std::uint32_t desired_tsc_khz = 0;
  std::array<std::uint8_t, 16> gosvw{};
};

struct SnpLaunchUpdateCmd {
  Spa gctx_paddr = 0;
  PageSize page_size = PageSize::Size4K;
  std::uint8_t page_type = 0;  ///< 3 bits: 1 NORMAL, 2 VMSA, 3 ZERO, 4 UNMEASURED, 5 SECRETS, 6 CPUID
  bool imi_page = false;
  std::uint32_t rsvd = 0;      ///< reserved bits and words: must be zero
  Spa address = 0;             ///< SPA of the page
  std::uint8_t vmpl1_perms = 0;
  std::uint8_t vmpl2_perms = 0;
  std::uint8_t vmpl3_perms = 0;
  /// Not part of the command: a simulator speed-up. The SHA-384 of the page computed ahead
  /// (in parallel) when HostMemory::generation() of the page was `hint_generation`; the
  /// firmware uses it only if the page has not been written since, so the digest is the
  /// same as hashing the page itself.
  const Sha384Digest* contents_hint = nullptr;
  std::uint64_t hint_generation = 0;
};

struct SnpLaunchFinishCmd {
  Spa gctx_paddr = 0;
  Spa id_block_paddr = 0;
  Spa id_auth_paddr = 0;
  bool id_block_en = false;
  bool auth_key_en = false;
  bool vcek_disabled = false;
  std::uint64_t rsvd = 0;
  std::array<std::uint8_t, 32> host_data{};
};

struct SnpConfigCmd {  // sev_user_data_snp_config
  TcbVersion reported_tcb = 0;
  bool mask_chip_id = false;
  bool mask_chip_key = false;
  std::uint32_t rsvd = 0;      ///< bits 31:2 and the 52 reserved bytes, folded: must be zero
};

/// SNP_PLATFORM_STATUS output: the firmware writes the layout the kernel copies out verbatim,
/// `struct sev_user_data_snp_status` (facts §4.2), 32 bytes - the uAPI struct itself.
using SnpPlatformStatus = uapi::sev_user_data_snp_status;
/// Its 32 bytes, little-endian field by field.
std::array<std::uint8_t, 32> to_bytes(const SnpPlatformStatus& s);

/// SNP_GUEST_STATUS output page (facts §4.1).
struct SnpGuestStatus {
  std::uint64_t policy = 0;
  std::uint32_t asid = 0;
  GuestState state = GuestState::Init;
};

/// One guest context, as the firmware keeps it in the context page.
struct GuestContext {
  GuestState state = GuestState::Init;
  std::uint64_t policy = 0;
  std::uint32_t asid = 0;        ///< 0 until ACTIVATE
  bool activated = false;
  bool imi_en = false;
  std::array<std::uint8_t, 48> measurement{};  ///< the launch digest so far
  std::array<std::uint8_t, 32> host_data{};
  std::array<std::uint8_t, 16> gosvw{};
  std::array<std::array<std::uint8_t, 32>, 4> vmpck{};
  std::array<std::uint64_t, 4> msg_count{};    ///< per-VMPCK message counters
  std::array<std::uint8_t, 32> report_id{};
  std::array<std::uint8_t, 48> id_key_digest{};
  std::array<std::uint8_t, 48> author_key_digest{};
  bool id_block_en = false;
  bool author_key_en = false;
  bool vcek_disabled = false;
  std::array<std::uint8_t, 16> family_id{};
  std::array<std::uint8_t, 16> image_id{};
  std::uint32_t guest_svn = 0;
  TcbVersion launch_tcb = 0;
  std::uint32_t desired_tsc_khz = 0;
};

class Firmware {
 public:
  Firmware(Rmp& rmp, HostMemory& mem, FirmwareConfig cfg = {});
  /// A copy of the firmware's state (a snapshot, Host::snapshot): still wired to the same RMP
  /// and memory, only ever restore()d from.
  Firmware(const Firmware&) = default;
  /// Puts back the state of `snap` (a copy of this firmware); the RMP, memory and command
  /// hook this firmware is wired to stay.
  void restore(const Firmware& snap);

  // Platform commands.
  FwStatus snp_init(const OpContext& ctx = {"SNP_INIT", 0});
  FwStatus snp_init_ex(const SnpInitExCmd& cmd, const OpContext& ctx = {"SNP_INIT_EX", 0});
  FwStatus snp_shutdown_ex(bool iommu_snp_shutdown = false);
  FwStatus snp_platform_status(SnpPlatformStatus* out) const;
  /// SNP_DF_FLUSH. The firmware needs a WBINVD on every core first (facts §4.5): the host
  /// reports it with note_wbinvd_all_cpus().
  FwStatus snp_df_flush();
  void note_wbinvd_all_cpus() { wbinvd_done_ = true; }
  FwStatus snp_config(const SnpConfigCmd& cmd);
  FwStatus snp_commit();
  /// SNP_VLEK_LOAD (`sev_user_data_snp_vlek_load`: len must be 16, version 0) with the
  /// wrapped VLEK KDS issued for this chip.
  FwStatus snp_vlek_load(std::uint32_t len, std::uint8_t vlek_wrapped_version, const WrappedVlek& blob);

  // Guest commands.
  FwStatus snp_gctx_create(Spa gctx_paddr, const OpContext& ctx = {"SNP_GCTX_CREATE", 0});
  FwStatus snp_launch_start(const SnpLaunchStartCmd& cmd);
  FwStatus snp_activate(Spa gctx_paddr, std::uint32_t asid);
  FwStatus snp_launch_update(const SnpLaunchUpdateCmd& cmd, const OpContext& ctx = {"SNP_LAUNCH_UPDATE", 0});
  FwStatus snp_launch_finish(const SnpLaunchFinishCmd& cmd);
  FwStatus snp_decommission(Spa gctx_paddr, const OpContext& ctx = {"SNP_DECOMMISSION", 0});
  FwStatus snp_guest_status(Spa gctx_paddr, SnpGuestStatus* out) const;
  /// SNP_GUEST_REQUEST (facts §4.5, §6): reads the request message at `request_paddr`,
  /// writes the response message at `response_paddr` (a page in the Firmware state). The
  /// command succeeds when a response was written, even if the request inside failed: that
  /// status is the response payload's STATUS.
  FwStatus snp_guest_request(Spa gctx_paddr, Spa request_paddr, Spa response_paddr);
  FwStatus snp_page_unsmash(Spa paddr, const OpContext& ctx = {"SNP_PAGE_UNSMASH", 0});
  FwStatus snp_page_reclaim(Spa paddr, PageSize size, const OpContext& ctx = {"SNP_PAGE_RECLAIM", 0});

  // Inspection (tests, scenarios): not firmware commands.
  PlatformState platform_state() const { return state_; }
  const GuestContext* guest(Spa gctx_paddr) const;
  TcbVersion reported_tcb() const { return reported_tcb_; }
  TcbVersion committed_tcb() const { return committed_tcb_; }
  const FirmwareConfig& config() const { return cfg_; }
  bool asid_dirty(std::uint32_t asid) const { return dirty_asids_.contains(asid); }
  const SimChip& chip() const { return chip_; }
  bool vlek_loaded() const { return vlek_.has_value(); }
  /// The report version this firmware emits (documented in docs/firmware.md).
  static constexpr std::uint32_t kReportVersion = 3;

  /// Called as each command starts, before it reads anything (`done` false), and as it
  /// returns, on every path (`done` true): the simulated kernel makes both scheduling points
  /// ("sev_do_cmd", then "sev_wait_cmd_ioc"), so the engine can run another agent between a
  /// caller's preparation and the PSP's work, and between the PSP's completion and the
  /// caller going on. Commands themselves run atomically, as the PSP handles one at a time.
  void set_command_hook(std::function<void(FwCmd, bool done)> hook) { command_hook_ = std::move(hook); }

 private:
  /// A command in progress: announces its start, and its end when it goes out of scope.
  class Running {
   public:
    Running(const Firmware& fw, FwCmd c) : fw_(fw), cmd_(c) {
      if (fw_.command_hook_) fw_.command_hook_(cmd_, false);
    }
    ~Running() {
      if (fw_.command_hook_) fw_.command_hook_(cmd_, true);
    }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;

   private:
    const Firmware& fw_;
    FwCmd cmd_;
  };
  [[nodiscard]] Running announce(FwCmd c) const { return Running(*this, c); }
  std::function<void(FwCmd, bool)> command_hook_;
  Firmware& operator=(const Firmware&) = default;  // restore() only
  FwStatus check_platform(FwCmd cmd) const;
  /// The context at `gctx_paddr`: page in the Context state and known (else INVALID_GUEST).
  GuestContext* context(Spa gctx_paddr);
  const GuestContext* context(Spa gctx_paddr) const;
  void measure(GuestContext& g, std::uint8_t page_type, Gpa gpa, std::span<const std::uint8_t, kPageSize> page,
               const SnpLaunchUpdateCmd& cmd);
  std::array<std::uint8_t, 32> derive(std::string_view label, std::span<const std::uint8_t> context) const;
  /// MSG_REPORT_REQ: fills `rsp` (status, size, report) for a request at `msg_vmpck`.
  void handle_report_req(const GuestContext& g, std::span<const std::uint8_t> payload, std::uint8_t msg_vmpck,
                         std::vector<std::uint8_t>* rsp) const;
  void handle_key_req(const GuestContext& g, std::span<const std::uint8_t> payload, std::uint8_t msg_vmpck,
                      std::vector<std::uint8_t>* rsp) const;

  // The RMP and memory this firmware works on: wiring, kept by restore().
  Rmp* rmp_;
  HostMemory* mem_;
  FirmwareConfig cfg_;
  PlatformState state_ = PlatformState::Uninit;
  bool rmp_initialized_ = false;
  bool wbinvd_done_ = false;
  bool mask_chip_id_ = false;
  bool mask_chip_key_ = false;
  SimChip chip_;
  std::optional<P384PrivateKey> vlek_;
  std::uint64_t vlek_tcb_ = 0;
  std::uint8_t committed_build_ = 0, committed_minor_ = 0, committed_major_ = 0;
  TcbVersion reported_tcb_ = 0;
  TcbVersion committed_tcb_ = 0;
  std::uint64_t launches_ = 0;                     ///< LAUNCH_STARTs so far (key derivation)
  std::map<Spa, GuestContext> guests_;             ///< by context page SPA
  std::map<std::uint32_t, Spa> asid_owner_;        ///< activated ASID -> context
  std::set<std::uint32_t> dirty_asids_;            ///< decommissioned, not yet DF_FLUSHed
};

}  // namespace snplab::model
