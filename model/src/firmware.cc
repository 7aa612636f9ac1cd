#include "snp/model/firmware.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "snp/model/assert.h"
#include "snp/model/crypto.h"
#include "snp/model/fw_rmp.h"

namespace snplab::model {

namespace {

constexpr std::uint64_t kPageMask = kPageSize - 1;

// LAUNCH_UPDATE page types (facts §5.1).
constexpr std::uint8_t kPageNormal = 1;
constexpr std::uint8_t kPageVmsa = 2;
constexpr std::uint8_t kPageZero = 3;
constexpr std::uint8_t kPageUnmeasured = 4;
constexpr std::uint8_t kPageSecrets = 5;
constexpr std::uint8_t kPageCpuid = 6;

// SNP CPUID table: u32 count, u32 rsvd, u64 rsvd, then <= 64 entries of 48 bytes (facts §10).
constexpr std::uint32_t kCpuidMaxEntries = 64;

/// Writes one RMP entry as the firmware (a Firmware frame, so observers see it).
void fw_store(Rmp& rmp, Pfn pfn, const RmpEntryRaw& e, const OpContext& ctx) {
  Rmp::Frame f(rmp, RmpInsn::Firmware, pfn_to_spa(pfn), PageSize::Size4K, ctx);
  rmp.store(pfn, e);
  f.done(RmpStatus::Success);
}

/// The firmware's view of the page at `spa` (facts §4.3): Default when not covered.
PageState state_of(const Rmp& rmp, Spa spa) {
  const Pfn pfn = spa_to_pfn(spa);
  if (spa >= kMaxPhysAddr || !rmp.covers(pfn)) return PageState::Default;
  return page_state(rmp.inspect(pfn));
}

// Per-SPL comparison of two TCB versions: true when every byte of `a` is <= `b`'s.
bool tcb_le(TcbVersion a, TcbVersion b) {
  for (unsigned i = 0; i < 8; ++i) {
    if (((a >> (8 * i)) & 0xFF) > ((b >> (8 * i)) & 0xFF)) return false;
  }
  return true;
}

template <class T>
void put_le(std::uint8_t* p, T v) {
  for (unsigned i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i));
}

}  // namespace

std::array<std::uint8_t, 32> SnpPlatformStatus::to_bytes() const {
  std::array<std::uint8_t, 32> b{};
  b[0] = api_major;
  b[1] = api_minor;
  b[2] = state;
  b[3] = is_rmp_initialized;
  put_le(&b[4], build_id);
  put_le(&b[8], flags);
  put_le(&b[12], guest_count);
  put_le(&b[16], current_tcb_version);
  put_le(&b[24], reported_tcb_version);
  return b;
}

Firmware::Firmware(Rmp& rmp, HostMemory& mem, FirmwareConfig cfg)
    : rmp_(rmp), mem_(mem), cfg_(cfg), reported_tcb_(cfg.current_tcb), committed_tcb_(cfg.current_tcb) {}

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
  if ((gctx_paddr & kPageMask) != 0 || state_of(rmp_, gctx_paddr) != PageState::Context) return nullptr;
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
  SnpInitExCmd cmd;
  cmd.init_rmp = true;
  return snp_init_ex(cmd, ctx);
}

FwStatus Firmware::snp_init_ex(const SnpInitExCmd& cmd, const OpContext& ctx) {
  if (FwStatus s = check_platform(FwCmd::SnpInitEx); s != FwStatus::Success) return s;
  if (cmd.rsvd != 0 || (!cmd.list_paddr_en && !cmd.ranges.empty())) return FwStatus::InvalidParam;
  if (!rmp_initialized_ && !cmd.init_rmp) return FwStatus::RmpInitRequired;
  for (const auto& r : cmd.ranges) {
    if ((r.base & kPageMask) != 0) return FwStatus::InvalidParam;
    for (std::uint32_t i = 0; i < r.page_count; ++i) {
      const PageState st = state_of(rmp_, r.base + pfn_to_spa(i));
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
      if (!rmp_.covers(pfn)) continue;
      RmpEntryRaw e;
      e.set_immutable(true);  // HV-Fixed: unassigned, immutable (facts §4.3)
      fw_store(rmp_, pfn, e, ctx);
    }
  }
  rmp_initialized_ = true;
  wbinvd_done_ = false;
  state_ = *platform_next(FwCmd::SnpInitEx, state_);
  return FwStatus::Success;
}

FwStatus Firmware::snp_shutdown_ex(bool /*iommu_snp_shutdown*/) {
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
  if (FwStatus s = check_platform(FwCmd::SnpPlatformStatus); s != FwStatus::Success) return s;
  out->api_major = cfg_.api_major;
  out->api_minor = cfg_.api_minor;
  out->state = static_cast<std::uint8_t>(state_);
  out->is_rmp_initialized = rmp_initialized_ ? 1 : 0;
  out->build_id = cfg_.build_id;
  out->flags = (mask_chip_id_ ? 1U : 0U) | (mask_chip_key_ ? 2U : 0U) | (vlek_loaded_ ? 4U : 0U);
  out->guest_count = static_cast<std::uint32_t>(guests_.size());
  out->current_tcb_version = cfg_.current_tcb;
  out->reported_tcb_version = reported_tcb_;
  return FwStatus::Success;
}

FwStatus Firmware::snp_df_flush() {
  if (FwStatus s = check_platform(FwCmd::SnpDfFlush); s != FwStatus::Success) return s;
  if (!wbinvd_done_) return FwStatus::WbinvdRequired;
  // --- point of no return ---
  dirty_asids_.clear();
  wbinvd_done_ = false;
  return FwStatus::Success;
}

FwStatus Firmware::snp_config(const SnpConfigCmd& cmd) {
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
  if (FwStatus s = check_platform(FwCmd::SnpCommit); s != FwStatus::Success) return s;
  // --- point of no return ---
  committed_tcb_ = cfg_.current_tcb;
  reported_tcb_ = cfg_.current_tcb;
  return FwStatus::Success;
}

// ---------------------------------------------------------------------------------------
// Guest contexts

FwStatus Firmware::snp_gctx_create(Spa gctx_paddr, const OpContext& ctx) {
  if (FwStatus s = check_platform(FwCmd::SnpGctxCreate); s != FwStatus::Success) return s;
  if ((gctx_paddr & kPageMask) != 0) return FwStatus::InvalidAddress;
  if (state_of(rmp_, gctx_paddr) != PageState::Firmware) return FwStatus::InvalidPageState;
  const RmpEntryRaw e = rmp_.inspect(spa_to_pfn(gctx_paddr));
  if (e.page_size() != PageSize::Size4K) return FwStatus::InvalidPageSize;
  // --- point of no return ---
  RmpEntryRaw ctxpage = e;
  ctxpage.set_vmsa(true);  // Firmware -> Context (facts §4.3)
  fw_store(rmp_, spa_to_pfn(gctx_paddr), ctxpage, ctx);
  guests_[gctx_paddr] = GuestContext{};
  return FwStatus::Success;
}

FwStatus Firmware::snp_launch_start(const SnpLaunchStartCmd& cmd) {
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
  // facts §4.5: no RMP page may already be assigned to the ASID.
  bool assigned = false;
  rmp_.entries().for_each_nonzero([&](Pfn, const RmpEntryRaw& e) {
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
  // PAGE_INFO (facts §5.2): DIGEST_CUR, CONTENTS, LENGTH 0x70, PAGE_TYPE, IMI, rsvd,
  // VMPL1..3 perms, GPA. NORMAL and VMSA hash the page; the others use zero contents.
  std::array<std::uint8_t, 0x70> info{};
  std::memcpy(info.data(), g.measurement.data(), 48);
  if (page_type == kPageNormal || page_type == kPageVmsa) {
    const Sha384Digest c = sha384(page);
    std::memcpy(info.data() + 0x30, c.data(), 48);
  }
  put_le(&info[0x60], std::uint16_t{0x70});
  info[0x62] = page_type;
  info[0x63] = cmd.imi_page ? 1 : 0;
  info[0x65] = cmd.vmpl1_perms;
  info[0x66] = cmd.vmpl2_perms;
  info[0x67] = cmd.vmpl3_perms;
  put_le(&info[0x68], gpa);
  const Sha384Digest d = sha384(info);
  std::memcpy(g.measurement.data(), d.data(), 48);
}

FwStatus Firmware::snp_launch_update(const SnpLaunchUpdateCmd& cmd, const OpContext& ctx) {
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
  const PageState st = state_of(rmp_, cmd.address);
  if (st == PageState::Default) return FwStatus::InvalidPageState;
  const RmpEntryRaw e = rmp_.inspect(pfn);
  if (e.page_size() != cmd.page_size) return FwStatus::InvalidPageSize;
  if (st != PageState::PreGuest) return FwStatus::InvalidPageState;
  if (e.asid() != g->asid) return FwStatus::InvalidPageOwner;
  if (cmd.page_type == kPageCpuid) {
    // The model checks the table's shape, not each leaf's values (docs/firmware.md).
    std::uint32_t count = 0;
    std::memcpy(&count, mem_.page(pfn).data(), sizeof(count));
    if (count > kCpuidMaxEntries) {
      const std::uint32_t fixed = kCpuidMaxEntries;
      mem_.write(cmd.address, {reinterpret_cast<const std::uint8_t*>(&fixed), sizeof(fixed)});
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
        mem_.zero_page(p);
        break;
      case kPageSecrets: {
        // The secrets page (facts §6.5): version 2, IMI bit, VMPCK0..3; the rest zero.
        auto page = mem_.page_mut(p);
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
    measure(*g, cmd.page_type, gpa, mem_.page(p), cmd);
  }
  RmpEntryRaw next_e = e;
  next_e.set_vmpl_perms(1, cmd.vmpl1_perms).set_vmpl_perms(2, cmd.vmpl2_perms).set_vmpl_perms(3, cmd.vmpl3_perms);
  next_e.set_vmsa(cmd.page_type == kPageVmsa).set_validated(true).set_immutable(false);  // -> Guest-Valid
  fw_store(rmp_, pfn, next_e, ctx);
  g->state = *next;
  return FwStatus::Success;
}

FwStatus Firmware::snp_launch_finish(const SnpLaunchFinishCmd& cmd) {
  if (FwStatus s = check_platform(FwCmd::SnpLaunchFinish); s != FwStatus::Success) return s;
  if (cmd.rsvd != 0) return FwStatus::InvalidParam;
  GuestContext* g = context(cmd.gctx_paddr);
  if (g == nullptr) return FwStatus::InvalidGuest;
  const auto next = guest_next(FwCmd::SnpLaunchFinish, g->state);
  if (!next) return FwStatus::InvalidGuestState;
  if (!g->activated) return FwStatus::Inactive;
  if (g->imi_en) return FwStatus::InvalidParam;
  if (cmd.id_block_en || cmd.auth_key_en) return FwStatus::Unsupported;
  // --- point of no return ---
  g->host_data = cmd.host_data;
  g->vcek_disabled = cmd.vcek_disabled;
  g->state = *next;
  return FwStatus::Success;
}

FwStatus Firmware::snp_decommission(Spa gctx_paddr, const OpContext& ctx) {
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
  RmpEntryRaw e = rmp_.inspect(spa_to_pfn(gctx_paddr));
  e.set_vmsa(false);  // Context -> Firmware (facts §4.5)
  fw_store(rmp_, spa_to_pfn(gctx_paddr), e, ctx);
  guests_.erase(gctx_paddr);
  return FwStatus::Success;
}

FwStatus Firmware::snp_guest_status(Spa gctx_paddr, SnpGuestStatus* out) const {
  if (FwStatus s = check_platform(FwCmd::SnpGuestStatus); s != FwStatus::Success) return s;
  const GuestContext* g = context(gctx_paddr);
  if (g == nullptr) return FwStatus::InvalidGuest;
  out->policy = g->policy;
  out->asid = g->asid;
  out->state = g->state;
  return FwStatus::Success;
}

FwStatus Firmware::snp_page_reclaim(Spa paddr, PageSize size, const OpContext& ctx) {
  if (FwStatus s = check_platform(FwCmd::SnpPageReclaim); s != FwStatus::Success) return s;
  return model::snp_page_reclaim(rmp_, paddr, size, ctx);
}

FwStatus Firmware::snp_page_unsmash(Spa paddr, const OpContext& ctx) {
  if (FwStatus s = check_platform(FwCmd::SnpPageUnsmash); s != FwStatus::Success) return s;
  // facts §4.5: 2M aligned; all 512 entries 4K, Immutable, not VMSA, the same non-zero ASID
  // and page state, identical VMPL permissions, GPAs consecutive from a 2M-aligned GPA.
  if ((paddr & (kHugePageSize - 1)) != 0 || paddr >= kMaxPhysAddr) return FwStatus::InvalidAddress;
  const Pfn base = spa_to_pfn(paddr);
  if (!rmp_.covers(base) || !rmp_.covers(base + kPagesPerHuge - 1)) return FwStatus::InvalidAddress;
  const RmpEntryRaw e0 = rmp_.inspect(base);
  if ((e0.gpa() & (kHugePageSize - 1)) != 0) return FwStatus::InvalidPageState;
  for (unsigned i = 0; i < kPagesPerHuge; ++i) {
    const RmpEntryRaw e = rmp_.inspect(base + i);
    if (e.page_size() != PageSize::Size4K) return FwStatus::InvalidPageSize;
    if (!e.assigned() || !e.immutable() || e.vmsa() || e.asid() == 0 || e.asid() != e0.asid() ||
        page_state(e) != page_state(e0) || e.hi != e0.hi || e.gpa() != e0.gpa() + pfn_to_spa(i) ||
        e.validated() != e0.validated()) {
      return FwStatus::InvalidPageState;
    }
  }
  // --- point of no return ---
  Rmp::Frame f(rmp_, RmpInsn::Firmware, paddr, PageSize::Size2M, ctx);
  RmpEntryRaw head = e0;
  head.set_page_size(PageSize::Size2M).set_subpage_count(0);
  rmp_.store(base, head);
  RmpEntryRaw sub;
  sub.set_assigned(true);  // the 2M sub-entry form (docs/rmp-model.md)
  for (unsigned i = 1; i < kPagesPerHuge; ++i) rmp_.store(base + i, sub);
  f.done(RmpStatus::Success);
  return FwStatus::Success;
}

}  // namespace snplab::model
