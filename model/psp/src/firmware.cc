#include "snp/model/psp/firmware.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "snp/model/base/assert.h"
#include "snp/model/base/bytes.h"
#include "snp/model/crypto/crypto.h"
#include "snp/model/crypto/ecdsa.h"
#include "snp/model/psp/fw_rmp.h"
#include "snp/model/psp/guest_msg.h"
#include "snp/model/measure/measure.h"

namespace snplab::model {

namespace {

constexpr std::uint64_t kPageMask = kPageSize - 1;

// LAUNCH_UPDATE page types (facts §5.1) as the command buffer's 3-bit field holds them.
constexpr std::uint8_t kPageVmsa = static_cast<std::uint8_t>(PageType::Vmsa);
constexpr std::uint8_t kPageZero = static_cast<std::uint8_t>(PageType::Zero);
constexpr std::uint8_t kPageSecrets = static_cast<std::uint8_t>(PageType::Secrets);
constexpr std::uint8_t kPageCpuid = static_cast<std::uint8_t>(PageType::Cpuid);

// SNP CPUID table: u32 count, u32 rsvd, u64 rsvd, then <= 64 entries of 48 bytes (facts §10).
constexpr std::uint32_t kCpuidMaxEntries = 64;

/// Writes one RMP entry as the firmware (a Firmware frame, so observers see it).
void fw_store(Rmp& rmp, Pfn pfn, const RmpEntryRaw& e, const OpContext& ctx) {
  Rmp::Frame f(rmp, RmpInsn::Firmware, pfn_to_spa(pfn), PageSize::Size4K, ctx);
  rmp.store(pfn, e);
  f.done(RmpStatus::Success);
}

/// The firmware's view of the page at `spa` (facts §4.3): Default when not covered. A
/// modelled read (Rmp::load), like every RMP read of the firmware.
PageState state_of(Rmp& rmp, Spa spa) {
  const Pfn pfn = spa_to_pfn(spa);
  if (spa >= kMaxPhysAddr || !rmp.covers(pfn)) return PageState::Default;
  return page_state(rmp.load(pfn));
}

// Per-SPL comparison of two TCB versions: true when every byte of `a` is <= `b`'s.
bool tcb_le(TcbVersion a, TcbVersion b) {
  for (unsigned i = 0; i < 8; ++i) {
    if (((a >> (8 * i)) & 0xFF) > ((b >> (8 * i)) & 0xFF)) return false;
  }
  return true;
}

}  // namespace

std::array<std::uint8_t, 32> to_bytes(const SnpPlatformStatus& s) {
  std::array<std::uint8_t, 32> b{};
  b[0] = s.api_major;
  b[1] = s.api_minor;
  b[2] = s.state;
  b[3] = s.is_rmp_initialized;
  put_le(&b[4], s.build_id);
  put_le(&b[8], s.flags);
  put_le(&b[12], s.guest_count);
  put_le(&b[16], s.current_tcb_version);
  put_le(&b[24], s.reported_tcb_version);
  return b;
}

Firmware::Firmware(Rmp& rmp, HostMemory& mem, FirmwareConfig cfg)
    : rmp_(&rmp),
      mem_(&mem),
      cfg_(cfg),
      chip_(cfg.seed, cfg.product),
      committed_build_(cfg.build_id),
      committed_minor_(cfg.api_minor),
      committed_major_(cfg.api_major),
      reported_tcb_(cfg.current_tcb),
      committed_tcb_(cfg.current_tcb) {}

void Firmware::restore(const Firmware& snap) {
  Rmp* const rmp = rmp_;
  HostMemory* const mem = mem_;
  std::function<void(FwCmd, bool)> hook = std::move(command_hook_);
  *this = snap;
  rmp_ = rmp;
  mem_ = mem;
  command_hook_ = std::move(hook);
}

std::array<std::uint8_t, 32> Firmware::derive(std::string_view label, std::span<const std::uint8_t> context) const {
  // Chip secrets are a model: SHA-256(seed || label || context). Deterministic, distinct
  // per chip seed, label and context; not AMD's KDF (docs/firmware.md).
  Sha256 h;
  std::uint8_t seed[8];
  put_le(seed, cfg_.seed);
  h.update(seed);
  h.update({reinterpret_cast<const std::uint8_t*>(label.data()), label.size()});
  h.update(context);
  return h.finish();
}

FwStatus Firmware::check_platform(FwCmd cmd) const {
  return platform_next(cmd, state_) ? FwStatus::Success : FwStatus::InvalidPlatformState;
}

GuestContext* Firmware::context(Spa gctx_paddr) {
  return const_cast<GuestContext*>(std::as_const(*this).context(gctx_paddr));
}

const GuestContext* Firmware::context(Spa gctx_paddr) const {
  // facts §4.5: a gctx address must be a page in the Context state.
  if ((gctx_paddr & kPageMask) != 0 || state_of(*rmp_, gctx_paddr) != PageState::Context) return nullptr;
  auto it = guests_.find(gctx_paddr);
  return it == guests_.end() ? nullptr : &it->second;
}

const GuestContext* Firmware::guest(Spa gctx_paddr) const {
  auto it = guests_.find(gctx_paddr);
  return it == guests_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------
// Platform

FwStatus Firmware::snp_init(const OpContext& ctx) {
  const Running running = announce(FwCmd::SnpInit);
  SnpInitExCmd cmd;
  cmd.init_rmp = true;
  return snp_init_ex(cmd, ctx);
}

FwStatus Firmware::snp_init_ex(const SnpInitExCmd& cmd, const OpContext& ctx) {
  const Running running = announce(FwCmd::SnpInitEx);
  if (FwStatus s = check_platform(FwCmd::SnpInitEx); s != FwStatus::Success) return s;
  if (cmd.rsvd != 0 || (!cmd.list_paddr_en && !cmd.ranges.empty())) return FwStatus::InvalidParam;
  if (!rmp_initialized_ && !cmd.init_rmp) return FwStatus::RmpInitRequired;
  for (const auto& r : cmd.ranges) {
    if ((r.base & kPageMask) != 0) return FwStatus::InvalidParam;
    for (std::uint32_t i = 0; i < r.page_count; ++i) {
      const PageState st = state_of(*rmp_, r.base + pfn_to_spa(i));
      // Ranges become HV-Fixed: they must be hypervisor-owned (or outside the RMP).
      if (st != PageState::Hypervisor && st != PageState::Default && st != PageState::HvFixed) {
        return FwStatus::InvalidConfig;
      }
    }
  }
  // --- point of no return ---
  for (const auto& r : cmd.ranges) {
    for (std::uint32_t i = 0; i < r.page_count; ++i) {
      const Pfn pfn = spa_to_pfn(r.base) + i;
      if (!rmp_->covers(pfn)) continue;
      RmpEntryRaw e;
      e.set_immutable(true);  // HV-Fixed: unassigned, immutable (facts §4.3)
      fw_store(*rmp_, pfn, e, ctx);
    }
  }
  rmp_initialized_ = true;
  wbinvd_done_ = false;
  state_ = *platform_next(FwCmd::SnpInitEx, state_);
  return FwStatus::Success;
}

FwStatus Firmware::snp_shutdown_ex(bool /*iommu_snp_shutdown*/) {
  const Running running = announce(FwCmd::SnpShutdownEx);
  if (FwStatus s = check_platform(FwCmd::SnpShutdownEx); s != FwStatus::Success) return s;
  if (state_ == PlatformState::Uninit) return FwStatus::Success;  // no-op (facts §4.5)
  // Every ASID must be clean: none active, none waiting for DF_FLUSH.
  if (!asid_owner_.empty() || !dirty_asids_.empty()) return FwStatus::DfflushRequired;
  // --- point of no return ---
  guests_.clear();
  state_ = PlatformState::Uninit;
  return FwStatus::Success;
}

FwStatus Firmware::snp_platform_status(SnpPlatformStatus* out) const {
  const Running running = announce(FwCmd::SnpPlatformStatus);
  if (FwStatus s = check_platform(FwCmd::SnpPlatformStatus); s != FwStatus::Success) return s;
  out->api_major = cfg_.api_major;
  out->api_minor = cfg_.api_minor;
  out->state = static_cast<std::uint8_t>(state_);
  out->is_rmp_initialized = rmp_initialized_ ? 1 : 0;
  out->build_id = cfg_.build_id;
  out->flags = (mask_chip_id_ ? 1U : 0U) | (mask_chip_key_ ? 2U : 0U) | (vlek_ ? 4U : 0U);
  out->guest_count = static_cast<std::uint32_t>(guests_.size());
  out->current_tcb_version = cfg_.current_tcb;
  out->reported_tcb_version = reported_tcb_;
  return FwStatus::Success;
}

FwStatus Firmware::snp_df_flush() {
  const Running running = announce(FwCmd::SnpDfFlush);
  if (FwStatus s = check_platform(FwCmd::SnpDfFlush); s != FwStatus::Success) return s;
  if (!wbinvd_done_) return FwStatus::WbinvdRequired;
  // --- point of no return ---
  dirty_asids_.clear();
  wbinvd_done_ = false;
  return FwStatus::Success;
}

FwStatus Firmware::snp_config(const SnpConfigCmd& cmd) {
  const Running running = announce(FwCmd::SnpConfig);
  if (FwStatus s = check_platform(FwCmd::SnpConfig); s != FwStatus::Success) return s;
  if (cmd.rsvd != 0) return FwStatus::InvalidParam;
  // The reported TCB may hide an update (be lower), never claim more than is running.
  if (!tcb_le(cmd.reported_tcb, cfg_.current_tcb)) return FwStatus::InvalidParam;
  // --- point of no return ---
  reported_tcb_ = cmd.reported_tcb;
  mask_chip_id_ = cmd.mask_chip_id;
  mask_chip_key_ = cmd.mask_chip_key;
  return FwStatus::Success;
}

FwStatus Firmware::snp_commit() {
  const Running running = announce(FwCmd::SnpCommit);
  if (FwStatus s = check_platform(FwCmd::SnpCommit); s != FwStatus::Success) return s;
  // --- point of no return ---
  committed_tcb_ = cfg_.current_tcb;
  reported_tcb_ = cfg_.current_tcb;
  committed_build_ = cfg_.build_id;
  committed_minor_ = cfg_.api_minor;
  committed_major_ = cfg_.api_major;
  return FwStatus::Success;
}

FwStatus Firmware::snp_vlek_load(std::uint32_t len, std::uint8_t vlek_wrapped_version, const WrappedVlek& blob) {
  const Running running = announce(FwCmd::SnpVlekLoad);
  if (FwStatus s = check_platform(FwCmd::SnpVlekLoad); s != FwStatus::Success) return s;
  if (len != 16) return FwStatus::InvalidLen;  // sizeof(struct sev_user_data_snp_vlek_load)
  if (vlek_wrapped_version != 0) return FwStatus::InvalidParam;
  std::uint64_t tcb = 0;
  auto key = chip_.unwrap_vlek(blob, &tcb);
  // Not wrapped for this chip, or altered: the AES-GCM tag fails, which the firmware's
  // decrypt helper reports as BAD_MEASUREMENT (ASPFW aes256gcm_authenticated_decrypt).
  if (!key) return FwStatus::BadMeasurement;
  // --- point of no return ---
  vlek_ = *key;
  vlek_tcb_ = tcb;
  return FwStatus::Success;
}

// ---------------------------------------------------------------------------------------
// Guest contexts

FwStatus Firmware::snp_gctx_create(Spa gctx_paddr, const OpContext& ctx) {
  const Running running = announce(FwCmd::SnpGctxCreate);
  if (FwStatus s = check_platform(FwCmd::SnpGctxCreate); s != FwStatus::Success) return s;
  if ((gctx_paddr & kPageMask) != 0) return FwStatus::InvalidAddress;
  if (state_of(*rmp_, gctx_paddr) != PageState::Firmware) return FwStatus::InvalidPageState;
  const RmpEntryRaw e = rmp_->load(spa_to_pfn(gctx_paddr));
  if (e.page_size() != PageSize::Size4K) return FwStatus::InvalidPageSize;
  // --- point of no return ---
  RmpEntryRaw ctxpage = e;
  ctxpage.set_vmsa(true);  // Firmware -> Context (facts §4.3)
  fw_store(*rmp_, spa_to_pfn(gctx_paddr), ctxpage, ctx);
  guests_[gctx_paddr] = GuestContext{};
  return FwStatus::Success;
}

FwStatus Firmware::snp_launch_start(const SnpLaunchStartCmd& cmd) {
  const Running running = announce(FwCmd::SnpLaunchStart);
  if (FwStatus s = check_platform(FwCmd::SnpLaunchStart); s != FwStatus::Success) return s;
  if (cmd.rsvd != 0) return FwStatus::InvalidParam;
  GuestContext* g = context(cmd.gctx_paddr);
  if (g == nullptr) return FwStatus::InvalidGuest;
  const auto next = guest_next(FwCmd::SnpLaunchStart, g->state);
  if (!next) return FwStatus::InvalidGuestState;
  // Policy (facts §4.5, §4.7).
  const std::uint64_t p = cmd.policy;
  const unsigned abi_major = static_cast<unsigned>((p >> policy::kAbiMajorShift) & 0xFF);
  const unsigned abi_minor = static_cast<unsigned>(p & policy::kAbiMinorMask);
  if ((p & policy::kReserved17MustBeOne) == 0 || (p & policy::kReservedMask) != 0) return FwStatus::PolicyFailure;
  if (abi_major > cfg_.api_major || (abi_major == cfg_.api_major && abi_minor > cfg_.api_minor)) {
    return FwStatus::PolicyFailure;
  }
  if ((p & policy::kSmt) == 0 && cfg_.smt_enabled) return FwStatus::PolicyFailure;
  if (cmd.ma_en && (p & policy::kMigrateMa) == 0) return FwStatus::PolicyFailure;
  if (cmd.ma_en) {
    const GuestContext* ma = context(cmd.ma_gctx_paddr);
    if (ma == nullptr) return FwStatus::InvalidGuest;
  }
  // --- point of no return ---
  ++launches_;
  std::uint8_t ctxbytes[16];
  put_le(&ctxbytes[0], cmd.gctx_paddr);
  put_le(&ctxbytes[8], launches_);
  g->policy = p;
  g->gosvw = cmd.gosvw;
  g->imi_en = cmd.imi_en;
  g->desired_tsc_khz = cmd.desired_tsc_khz;
  g->measurement = {};
  g->launch_tcb = cfg_.current_tcb;
  for (unsigned i = 0; i < 4; ++i) {
    const char label[] = {'v', 'm', 'p', 'c', 'k', static_cast<char>('0' + i), '\0'};
    g->vmpck[i] = derive(label, ctxbytes);
  }
  g->report_id = derive("report_id", ctxbytes);
  g->msg_count = {};
  g->state = *next;
  return FwStatus::Success;
}

FwStatus Firmware::snp_activate(Spa gctx_paddr, std::uint32_t asid) {
  const Running running = announce(FwCmd::SnpActivate);
  if (FwStatus s = check_platform(FwCmd::SnpActivate); s != FwStatus::Success) return s;
  GuestContext* g = context(gctx_paddr);
  if (g == nullptr) return FwStatus::InvalidGuest;
  const auto next = guest_next(FwCmd::SnpActivate, g->state);
  if (!next) return FwStatus::InvalidGuestState;
  if (asid == 0 || asid > cfg_.max_snp_asid) return FwStatus::InvalidAsid;
  if (g->activated) return g->asid == asid ? FwStatus::Success : FwStatus::InvalidAsid;
  if (dirty_asids_.contains(asid)) return FwStatus::DfflushRequired;
  if (asid_owner_.contains(asid)) return FwStatus::AsidOwned;
  if ((g->policy & policy::kSingleSocket) != 0 && cfg_.sockets > 1) return FwStatus::PolicyFailure;
  // facts §4.5: no RMP page may already be assigned to the ASID. The firmware reads its
  // per-ASID counters in the RMP bookkeeping area (facts §1.2); the model scans instead,
  // outside the modelled accesses.
  bool assigned = false;
  rmp_->entries().for_each_nonzero([&](Pfn, const RmpEntryRaw& e) {
    assigned = assigned || (e.assigned() && e.asid() == asid);
  });
  if (assigned) return FwStatus::InvalidConfig;
  // --- point of no return ---
  g->activated = true;
  g->asid = asid;
  asid_owner_[asid] = gctx_paddr;
  g->state = *next;
  return FwStatus::Success;
}

void Firmware::measure(GuestContext& g, std::uint8_t page_type, Gpa gpa, std::span<const std::uint8_t, kPageSize> page,
                       const SnpLaunchUpdateCmd& cmd) {
  // One PAGE_INFO step (facts §5.2/§5.3) with the same LaunchDigest `snplab measure` uses.
  const auto type = page_type_from_raw(page_type);
  SNPLAB_ASSERT(type.has_value(), "page type checked before measuring");
  LaunchDigest ld(g.measurement);
  const PageInfoFlags flags{cmd.imi_page, cmd.vmpl1_perms, cmd.vmpl2_perms, cmd.vmpl3_perms};
  const Pfn pfn = spa_to_pfn(cmd.address);
  if (cmd.contents_hint != nullptr && cmd.page_size == PageSize::Size4K && hashes_contents(*type) &&
      mem_->generation(pfn) == cmd.hint_generation &&
      cmd.hint_generation != 0) {
    ld.update_contents(*type, gpa, *cmd.contents_hint, flags);  // the page is unchanged since it was hashed
  } else {
    ld.update_page(*type, gpa, page, flags);
  }
  g.measurement = ld.digest();
}

FwStatus Firmware::snp_launch_update(const SnpLaunchUpdateCmd& cmd, const OpContext& ctx) {
  const Running running = announce(FwCmd::SnpLaunchUpdate);
  if (FwStatus s = check_platform(FwCmd::SnpLaunchUpdate); s != FwStatus::Success) return s;
  if (cmd.rsvd != 0 || cmd.page_type == 0 || cmd.page_type > kPageCpuid) return FwStatus::InvalidParam;
  GuestContext* g = context(cmd.gctx_paddr);
  if (g == nullptr) return FwStatus::InvalidGuest;
  const auto next = guest_next(FwCmd::SnpLaunchUpdate, g->state);
  if (!next) return FwStatus::InvalidGuestState;
  if (!g->activated) return FwStatus::Inactive;
  const bool huge = cmd.page_size == PageSize::Size2M;
  if ((cmd.address & ((huge ? kHugePageSize : kPageSize) - 1)) != 0) return FwStatus::InvalidAddress;
  const bool small_only = cmd.page_type == kPageVmsa || cmd.page_type == kPageSecrets || cmd.page_type == kPageCpuid;
  if (huge && small_only) return FwStatus::InvalidParam;
  if (cmd.imi_page && !g->imi_en) return FwStatus::InvalidParam;
  const Pfn pfn = spa_to_pfn(cmd.address);
  const PageState st = state_of(*rmp_, cmd.address);
  if (st == PageState::Default) return FwStatus::InvalidPageState;
  const RmpEntryRaw e = rmp_->load(pfn);
  if (e.page_size() != cmd.page_size) return FwStatus::InvalidPageSize;
  if (st != PageState::PreGuest) return FwStatus::InvalidPageState;
  if (e.asid() != g->asid) return FwStatus::InvalidPageOwner;
  if (cmd.page_type == kPageCpuid) {
    // The model checks the table's shape, not each leaf's values (docs/firmware.md).
    const std::uint32_t count = get_le<std::uint32_t>(mem_->page(pfn).data());
    if (count > kCpuidMaxEntries) {
      const std::uint32_t fixed = kCpuidMaxEntries;
      mem_->write(cmd.address, {reinterpret_cast<const std::uint8_t*>(&fixed), sizeof(fixed)});
      return FwStatus::InvalidParam;  // KVM copies the corrected table back to userspace
    }
  }
  // --- point of no return ---
  const unsigned n = huge ? kPagesPerHuge : 1;
  for (unsigned i = 0; i < n; ++i) {
    const Pfn p = pfn + i;
    const Gpa gpa = e.gpa() + pfn_to_spa(i);
    switch (cmd.page_type) {
      case kPageZero:
        mem_->zero_page(p);
        break;
      case kPageSecrets: {
        // The secrets page (facts §6.5): version 2, IMI bit, VMPCK0..3; the rest zero.
        auto page = mem_->page_mut(p);
        std::fill(page.begin(), page.end(), std::uint8_t{0});
        put_le(&page[0x00], std::uint32_t{2});
        put_le(&page[0x04], std::uint32_t{g->imi_en ? 1U : 0U});
        std::memcpy(&page[0x10], g->gosvw.data(), 16);
        for (unsigned k = 0; k < 4; ++k) std::memcpy(&page[0x20 + 0x20 * k], g->vmpck[k].data(), 32);
        break;
      }
      default:
        break;
    }
    measure(*g, cmd.page_type, gpa, mem_->page(p), cmd);
  }
  RmpEntryRaw next_e = e;
  next_e.set_vmpl_perms(1, cmd.vmpl1_perms).set_vmpl_perms(2, cmd.vmpl2_perms).set_vmpl_perms(3, cmd.vmpl3_perms);
  next_e.set_vmsa(cmd.page_type == kPageVmsa).set_validated(true).set_immutable(false);  // -> Guest-Valid
  fw_store(*rmp_, pfn, next_e, ctx);
  g->state = *next;
  return FwStatus::Success;
}

namespace {

// ID block (96 bytes) and ID authentication page (4096 bytes) of facts §5.4.
constexpr std::size_t kIdBlockSize = 96;
constexpr std::size_t kIdAuthSize = 4096;
constexpr std::size_t kIdBlockSigOffset = 0x40;
constexpr std::size_t kIdKeyOffset = 0x240;
constexpr std::size_t kIdKeySigOffset = 0x680;
constexpr std::size_t kAuthorKeyOffset = 0x880;
constexpr std::size_t kPubKeySize = 1028;  // u32 curve, QX[72], QY[72], reserved
constexpr std::uint32_t kAlgoEcdsaP384Sha384 = 1;
constexpr std::uint32_t kCurveP384 = 2;     // AMD's ECC curve name for secp384r1

/// Verifies an AMD-format signature (R, S little-endian 72 bytes) over `msg` with an
/// AMD-format public key (curve, QX, QY little-endian 72 bytes).
bool amd_ecdsa_verify(std::span<const std::uint8_t> pubkey, std::span<const std::uint8_t> sig,
                      std::span<const std::uint8_t> msg) {
  if (load_le<std::uint32_t>(pubkey, 0) != kCurveP384) return false;
  const P384PublicKey key{get_le72(pubkey.subspan<4, 72>()), get_le72(pubkey.subspan<76, 72>())};
  const EcdsaSignature s{get_le72(sig.subspan<0, 72>()), get_le72(sig.subspan<72, 72>())};
  return ecdsa_p384_verify(key, sha384(msg), s);
}

}  // namespace

FwStatus Firmware::snp_launch_finish(const SnpLaunchFinishCmd& cmd) {
  const Running running = announce(FwCmd::SnpLaunchFinish);
  if (cmd.rsvd != 0) return FwStatus::InvalidParam;
  if (FwStatus s = check_platform(FwCmd::SnpLaunchFinish); s != FwStatus::Success) return s;
  GuestContext* g = context(cmd.gctx_paddr);
  if (g == nullptr) return FwStatus::InvalidGuest;
  const auto next = guest_next(FwCmd::SnpLaunchFinish, g->state);
  if (!next || g->imi_en) return FwStatus::InvalidGuestState;
  if (!g->activated) return FwStatus::Inactive;
  std::array<std::uint8_t, kIdBlockSize> id_block{};
  std::vector<std::uint8_t> id_auth(kIdAuthSize);
  Sha384Digest id_key_digest{}, author_key_digest{};
  if (cmd.id_block_en) {
    // ASPFW snp_mcmd_launch_finish, in its order.
    mem_->read(cmd.id_block_paddr, id_block);
    mem_->read(cmd.id_auth_paddr, id_auth);
    if (!std::equal(g->measurement.begin(), g->measurement.end(), id_block.begin())) return FwStatus::BadMeasurement;
    if (load_le<std::uint64_t>(id_block, 88) != g->policy) return FwStatus::PolicyFailure;
    if (load_le<std::uint32_t>(id_auth, 0) != kAlgoEcdsaP384Sha384 ||
        (cmd.auth_key_en && load_le<std::uint32_t>(id_auth, 4) != kAlgoEcdsaP384Sha384)) {
      return FwStatus::InvalidParam;
    }
    const std::span<const std::uint8_t> auth(id_auth);
    const auto id_key = auth.subspan(kIdKeyOffset, kPubKeySize);
    if (!amd_ecdsa_verify(id_key, auth.subspan(kIdBlockSigOffset, 144), id_block)) return FwStatus::BadSignature;
    id_key_digest = sha384(id_key);
    if (cmd.auth_key_en) {
      const auto author_key = auth.subspan(kAuthorKeyOffset, kPubKeySize);
      if (!amd_ecdsa_verify(author_key, auth.subspan(kIdKeySigOffset, 144), id_key)) return FwStatus::BadSignature;
      author_key_digest = sha384(author_key);
    }
  } else if (cmd.auth_key_en) {
    return FwStatus::InvalidParam;  // an author key signs the ID key: there must be one
  }
  // --- point of no return ---
  if (cmd.id_block_en) {
    g->id_block_en = true;
    g->author_key_en = cmd.auth_key_en;
    std::memcpy(g->family_id.data(), &id_block[48], 16);
    std::memcpy(g->image_id.data(), &id_block[64], 16);
    g->guest_svn = load_le<std::uint32_t>(id_block, 84);
    g->id_key_digest = id_key_digest;
    g->author_key_digest = author_key_digest;
  }
  g->host_data = cmd.host_data;
  g->vcek_disabled = cmd.vcek_disabled;
  g->state = *next;
  return FwStatus::Success;
}

FwStatus Firmware::snp_decommission(Spa gctx_paddr, const OpContext& ctx) {
  const Running running = announce(FwCmd::SnpDecommission);
  if (FwStatus s = check_platform(FwCmd::SnpDecommission); s != FwStatus::Success) return s;
  GuestContext* g = context(gctx_paddr);
  if (g == nullptr) return FwStatus::InvalidGuest;
  const auto next = guest_next(FwCmd::SnpDecommission, g->state);
  SNPLAB_ASSERT(next.has_value(), "DECOMMISSION is allowed in every guest state");
  // --- point of no return ---
  if (g->activated) {
    asid_owner_.erase(g->asid);
    dirty_asids_.insert(g->asid);  // needs WBINVD + DF_FLUSH before reuse
    wbinvd_done_ = false;
  }
  RmpEntryRaw e = rmp_->load(spa_to_pfn(gctx_paddr));
  e.set_vmsa(false);  // Context -> Firmware (facts §4.5)
  fw_store(*rmp_, spa_to_pfn(gctx_paddr), e, ctx);
  guests_.erase(gctx_paddr);
  return FwStatus::Success;
}

FwStatus Firmware::snp_guest_status(Spa gctx_paddr, SnpGuestStatus* out) const {
  const Running running = announce(FwCmd::SnpGuestStatus);
  if (FwStatus s = check_platform(FwCmd::SnpGuestStatus); s != FwStatus::Success) return s;
  const GuestContext* g = context(gctx_paddr);
  if (g == nullptr) return FwStatus::InvalidGuest;
  out->policy = g->policy;
  out->asid = g->asid;
  out->state = g->state;
  return FwStatus::Success;
}

FwStatus Firmware::snp_page_reclaim(Spa paddr, PageSize size, const OpContext& ctx) {
  const Running running = announce(FwCmd::SnpPageReclaim);
  if (FwStatus s = check_platform(FwCmd::SnpPageReclaim); s != FwStatus::Success) return s;
  return model::snp_page_reclaim(*rmp_, paddr, size, ctx);
}

FwStatus Firmware::snp_page_unsmash(Spa paddr, const OpContext& ctx) {
  const Running running = announce(FwCmd::SnpPageUnsmash);
  if (FwStatus s = check_platform(FwCmd::SnpPageUnsmash); s != FwStatus::Success) return s;
  // facts §4.5: 2M aligned; all 512 entries 4K, Immutable, not VMSA, the same non-zero ASID
  // and page state, identical VMPL permissions, GPAs consecutive from a 2M-aligned GPA.
  if ((paddr & (kHugePageSize - 1)) != 0 || paddr >= kMaxPhysAddr) return FwStatus::InvalidAddress;
  const Pfn base = spa_to_pfn(paddr);
  if (!rmp_->covers(base) || !rmp_->covers(base + kPagesPerHuge - 1)) return FwStatus::InvalidAddress;
  const RmpEntryRaw e0 = rmp_->load(base);
  if ((e0.gpa() & (kHugePageSize - 1)) != 0) return FwStatus::InvalidPageState;
  for (unsigned i = 0; i < kPagesPerHuge; ++i) {
    const RmpEntryRaw e = rmp_->load(base + i);
    if (e.page_size() != PageSize::Size4K) return FwStatus::InvalidPageSize;
    if (!e.assigned() || !e.immutable() || e.vmsa() || e.asid() == 0 || e.asid() != e0.asid() ||
        page_state(e) != page_state(e0) || e.hi != e0.hi || e.gpa() != e0.gpa() + pfn_to_spa(i) ||
        e.validated() != e0.validated()) {
      return FwStatus::InvalidPageState;
    }
  }
  // --- point of no return ---
  Rmp::Frame f(*rmp_, RmpInsn::Firmware, paddr, PageSize::Size2M, ctx);
  RmpEntryRaw head = e0;
  head.set_page_size(PageSize::Size2M).set_subpage_count(0);
  rmp_->store(base, head);
  RmpEntryRaw sub;
  sub.set_assigned(true);  // the 2M sub-entry form (docs/rmp-model.md)
  for (unsigned i = 1; i < kPagesPerHuge; ++i) rmp_->store(base + i, sub);
  f.done(RmpStatus::Success);
  return FwStatus::Success;
}

// ---------------------------------------------------------------------------------------
// SNP_GUEST_REQUEST (facts §4.5, §6; ASPFW snp_mcmd_guest_request)

namespace {

constexpr std::uint8_t kKeySelVlekOrVcek = 0;
constexpr std::uint8_t kKeySelVcekOnly = 1;
constexpr std::uint8_t kKeySelVlekOnly = 2;

std::vector<std::uint8_t> status_only(std::size_t size, FwStatus st) {
  std::vector<std::uint8_t> rsp(size, 0);
  put_le(rsp.data(), static_cast<std::uint32_t>(st));
  return rsp;
}

}  // namespace

void Firmware::handle_report_req(const GuestContext& g, std::span<const std::uint8_t> payload, std::uint8_t msg_vmpck,
                                 std::vector<std::uint8_t>* rsp) const {
  constexpr std::size_t kRspSize = 0x20 + kReportSize;  // snp_msg_report_rsp
  const ReportReq req = ReportReq::decode(payload);
  if (req.reserved_nonzero || req.reserved_bits != 0) {
    *rsp = status_only(kRspSize, FwStatus::InvalidParam);
    return;
  }
  const bool sel_vlek_missing = req.key_sel == kKeySelVlekOnly && !vlek_;
  if (req.key_sel == 3 || sel_vlek_missing || (req.key_sel == kKeySelVcekOnly && g.vcek_disabled) ||
      (req.key_sel == kKeySelVlekOrVcek && g.vcek_disabled && !vlek_)) {
    *rsp = status_only(kRspSize, FwStatus::InvalidKey);
    return;
  }
  if (req.vmpl < msg_vmpck) {  // a less privileged VMPCK cannot ask for a more privileged VMPL
    *rsp = status_only(kRspSize, FwStatus::InvalidParam);
    return;
  }
  AttestationReport r;
  r.version = kReportVersion;
  r.guest_svn = g.guest_svn;
  r.policy = g.policy;
  r.family_id = g.family_id;
  r.image_id = g.image_id;
  r.vmpl = req.vmpl;
  r.signature_algo = kSignatureAlgoEcdsaP384Sha384;
  r.current_tcb = cfg_.current_tcb;
  r.platform_info = cfg_.smt_enabled ? 1U : 0U;
  r.report_data = req.report_data;
  r.measurement = g.measurement;
  r.host_data = g.host_data;
  r.id_key_digest = g.id_key_digest;
  r.author_key_digest = g.author_key_digest;
  r.report_id = g.report_id;
  r.reported_tcb = reported_tcb_;
  switch (cfg_.product) {
    case Product::Milan: r.cpuid_fam_id = 0x19, r.cpuid_mod_id = 0x01, r.cpuid_step = 0x01; break;
    case Product::Genoa: r.cpuid_fam_id = 0x19, r.cpuid_mod_id = 0x11, r.cpuid_step = 0x01; break;
    case Product::Turin: r.cpuid_fam_id = 0x1A, r.cpuid_mod_id = 0x02, r.cpuid_step = 0x00; break;
    case Product::Unknown: break;
  }
  if (!mask_chip_id_) r.chip_id = chip_.chip_id();
  r.committed_tcb = committed_tcb_;
  r.current_build = cfg_.build_id;
  r.current_minor = cfg_.api_minor;
  r.current_major = cfg_.api_major;
  r.committed_build = committed_build_;
  r.committed_minor = committed_minor_;
  r.committed_major = committed_major_;
  r.launch_tcb = g.launch_tcb;
  // The signing key (ASPFW): VLEK when loaded and allowed, else the VCEK for the reported
  // TCB unless the chip key is masked; no key leaves the report unsigned (SIGNING_KEY 7).
  std::optional<P384PrivateKey> key;
  std::uint32_t signing = 7;
  if ((req.key_sel == kKeySelVlekOrVcek || req.key_sel == kKeySelVlekOnly) && vlek_) {
    key = vlek_;
    signing = 1;
  } else if ((req.key_sel == kKeySelVlekOrVcek || req.key_sel == kKeySelVcekOnly) && !mask_chip_key_) {
    key = chip_.vcek_key(reported_tcb_);
    signing = 0;
  }
  r.key_info = (g.author_key_en ? 1U : 0U) | (mask_chip_key_ ? 2U : 0U) | (signing << 2);
  if (key) {
    const auto body = r.signed_bytes();
    const EcdsaSignature sig = ecdsa_p384_sign(*key, sha384(body));
    put_le72(sig.r, r.signature.r);
    put_le72(sig.s, r.signature.s);
  }
  *rsp = status_only(kRspSize, FwStatus::Success);
  put_le(rsp->data() + 4, static_cast<std::uint32_t>(kReportSize));
  const auto bytes = r.to_bytes();
  std::memcpy(rsp->data() + 0x20, bytes.data(), bytes.size());
}

void Firmware::handle_key_req(const GuestContext& g, std::span<const std::uint8_t> payload, std::uint8_t msg_vmpck,
                              std::vector<std::uint8_t>* rsp) const {
  constexpr std::size_t kRspSize = 0x40;  // status, reserved to 0x20, derived_key[32]
  const KeyReq req = KeyReq::decode(payload);
  auto fail = [&](FwStatus st) { *rsp = status_only(kRspSize, st); };
  if (req.reserved != 0) return fail(FwStatus::InvalidParam);
  if (!req.root_key_select && mask_chip_key_) return fail(FwStatus::InvalidKey);
  if (!req.root_key_select &&
      (req.key_sel == 3 || (req.key_sel == kKeySelVlekOnly && !vlek_) ||
       (req.key_sel == kKeySelVcekOnly && g.vcek_disabled) ||
       (req.key_sel == kKeySelVlekOrVcek && g.vcek_disabled && !vlek_))) {
    return fail(FwStatus::InvalidKey);
  }
  if (req.vmpl < msg_vmpck) return fail(FwStatus::InvalidParam);
  if ((req.guest_field_select & ~guest_field::kAll) != 0) return fail(FwStatus::InvalidParam);
  // Mix data (ASPFW snp_mix_data_t, field by field as the request selects).
  std::vector<std::uint8_t> mix;
  auto add = [&mix](const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    mix.insert(mix.end(), b, b + n);
  };
  const std::uint32_t head = (req.root_key_select ? 1U : 0U) | ((g.author_key_en ? 2U : g.id_block_en ? 1U : 0U) << 1);
  add(&head, 4);
  add(&req.guest_field_select, 8);
  add(&req.vmpl, 4);
  add(g.host_data.data(), g.host_data.size());
  std::uint64_t tcb = committed_tcb_;
  if ((req.guest_field_select & guest_field::kTcbVersion) != 0) {
    if (!tcb_le(req.tcb_version, committed_tcb_)) return fail(FwStatus::InvalidParam);
    tcb = req.tcb_version;
    add(&tcb, 8);
  }
  if ((req.guest_field_select & guest_field::kGuestSvn) != 0) {
    if (req.guest_svn > g.guest_svn) return fail(FwStatus::InvalidParam);
    add(&req.guest_svn, 4);
  }
  if ((req.guest_field_select & guest_field::kMeasurement) != 0) add(g.measurement.data(), 48);
  if ((req.guest_field_select & guest_field::kFamilyId) != 0) add(g.family_id.data(), 16);
  if ((req.guest_field_select & guest_field::kImageId) != 0) add(g.image_id.data(), 16);
  if ((req.guest_field_select & guest_field::kPolicy) != 0) add(&g.policy, 8);
  // Root key: the VMRK of the context, the VLEK, or the chip's VCEK secret for `tcb`.
  std::uint8_t tcb_le_bytes[8];
  put_le(tcb_le_bytes, tcb);
  std::array<std::uint8_t, 32> root{};
  if (req.root_key_select) {
    root = derive("vmrk", g.report_id);
  } else if (vlek_ && req.key_sel != kKeySelVcekOnly) {
    std::memcpy(root.data(), vlek_->d.data(), 32);
  } else {
    root = derive("vcek-root", tcb_le_bytes);
  }
  const std::string label = "gmsg-keyreq";
  std::vector<std::uint8_t> msg(label.begin(), label.end());
  msg.insert(msg.end(), mix.begin(), mix.end());
  const Sha384Digest k = hmac_sha384(root, msg);
  *rsp = status_only(kRspSize, FwStatus::Success);
  std::memcpy(rsp->data() + 0x20, k.data(), 32);
}

FwStatus Firmware::snp_guest_request(Spa gctx_paddr, Spa request_paddr, Spa response_paddr) {
  const Running running = announce(FwCmd::SnpGuestRequest);
  if (FwStatus s = check_platform(FwCmd::SnpGuestRequest); s != FwStatus::Success) return s;
  if ((gctx_paddr & kPageMask) != 0) return FwStatus::InvalidParam;
  if (state_of(*rmp_, gctx_paddr) != PageState::Context) return FwStatus::InvalidGuest;
  if (state_of(*rmp_, response_paddr) != PageState::Firmware) return FwStatus::InvalidPageState;
  auto rmp_size = [this](Spa spa) {
    const Pfn pfn = spa_to_pfn(spa);
    return spa < kMaxPhysAddr && rmp_->covers(pfn) ? rmp_->load(pfn).page_size() : PageSize::Size4K;
  };
  if (rmp_size(request_paddr) != PageSize::Size4K || rmp_size(response_paddr) != PageSize::Size4K) {
    return FwStatus::InvalidPageSize;
  }
  GuestContext* g = context(gctx_paddr);
  if (g == nullptr) return FwStatus::InvalidGuest;
  const auto next = guest_next(FwCmd::SnpGuestRequest, g->state);
  if (!next) return FwStatus::InvalidGuestState;
  // The request: header and payload inside one page (ASPFW checks before copying).
  const std::size_t off = static_cast<std::size_t>(request_paddr & kPageMask);
  if (off > kPageSize - kMsgHeaderSize) return FwStatus::InvalidParam;
  std::vector<std::uint8_t> req(kPageSize - off);
  mem_->read(request_paddr, req);
  const MsgHeader hdr = MsgHeader::decode(std::span<const std::uint8_t>(req).first<kMsgHeaderSize>());
  if (hdr.hdr_version != kMsgHdrVersion || hdr.hdr_size != kMsgHeaderSize || hdr.algo != kMsgAlgoAes256Gcm ||
      hdr.msg_size == 0 || hdr.msg_size % 16 != 0 || off + kMsgHeaderSize + hdr.msg_size > kPageSize) {
    return FwStatus::InvalidParam;
  }
  if (hdr.msg_vmpck > 3) return FwStatus::InvalidParam;
  const auto opened = open_guest_msg(g->vmpck[hdr.msg_vmpck], std::span<const std::uint8_t>(req).first(kMsgHeaderSize + hdr.msg_size));
  if (std::holds_alternative<MsgError>(opened)) return FwStatus::BadMeasurement;  // tag mismatch
  std::uint64_t& counter = g->msg_count[hdr.msg_vmpck];
  if (counter == UINT64_MAX - 1 || hdr.seqno != counter + 1) return FwStatus::AeadOflow;
  if (hdr.msg_version == 0 || hdr.msg_version > 1) return FwStatus::InvalidParam;
  if (hdr.msg_type > static_cast<std::uint8_t>(MsgType::TscInfoRsp)) return FwStatus::InvalidParam;
  const auto& payload = std::get<OpenedMsg>(opened).payload;
  std::vector<std::uint8_t> rsp;
  MsgType rsp_type = MsgType::Invalid;
  switch (static_cast<MsgType>(hdr.msg_type)) {
    case MsgType::ReportReq:
      handle_report_req(*g, payload, hdr.msg_vmpck, &rsp);
      rsp_type = MsgType::ReportRsp;
      break;
    case MsgType::KeyReq:
      handle_key_req(*g, payload, hdr.msg_vmpck, &rsp);
      rsp_type = MsgType::KeyRsp;
      break;
    case MsgType::Invalid:
    case MsgType::CpuidReq:
    case MsgType::CpuidRsp:
    case MsgType::KeyRsp:
    case MsgType::ReportRsp:
    case MsgType::ExportReq:
    case MsgType::ExportRsp:
    case MsgType::ImportReq:
    case MsgType::ImportRsp:
    case MsgType::AbsorbReq:
    case MsgType::AbsorbRsp:
    case MsgType::VmrkReq:
    case MsgType::VmrkRsp:
    case MsgType::AbsorbNomaReq:
    case MsgType::AbsorbNomaRsp:
    case MsgType::TscInfoReq:
    case MsgType::TscInfoRsp:
      // Not modelled (CPUID, migration, TSC): refused like an unknown type (docs/firmware.md).
      return FwStatus::InvalidParam;
  }
  const std::size_t rsp_off = static_cast<std::size_t>(response_paddr & kPageMask);
  if (rsp_off + kMsgHeaderSize + rsp.size() > kPageSize) return FwStatus::InvalidParam;
  // --- point of no return ---
  const auto out = seal_guest_msg(g->vmpck[hdr.msg_vmpck], hdr.msg_vmpck, hdr.seqno + 1, rsp_type, 1, rsp);
  counter += 2;  // the request and this response
  mem_->write(response_paddr, out);
  g->state = *next;
  return FwStatus::Success;
}

}  // namespace snplab::model
