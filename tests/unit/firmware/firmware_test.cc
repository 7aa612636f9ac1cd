// The firmware model: the state tables, every command's preconditions and status codes,
// and the RMP transitions it makes (facts §4).
#include <gtest/gtest.h>

#include <cstring>

#include "snp/model/crypto.h"
#include "snp/model/detectors.h"
#include "snp/model/firmware.h"
#include "snp/model/host_rmp.h"

namespace snplab::model {
namespace {

constexpr Pfn kGctx = 0x1000;          // context page
constexpr Pfn kGuestPage = 0x2001;     // a guest data page (not 2M aligned)
constexpr Asid kAsid = 5;
constexpr std::uint64_t kPolicy = policy::kReserved17MustBeOne | policy::kSmt;  // 0x30000
const OpContext kHost{"test", 1};

class FirmwareTest : public ::testing::Test {
 protected:
  FirmwareTest() : rmp_(*RmpLayout::covering(1ULL << 30)), fw_(rmp_, mem_) { rmp_.add_observer(&det_); }

  // KVM's launch prologue (facts §4.5): firmware page, GCTX_CREATE, LAUNCH_START, ACTIVATE.
  void start_guest() {
    ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
    ASSERT_EQ(rmp_make_private(rmp_, kGctx, 0, PageSize::Size4K, 0, true, kHost), RmpStatus::Success);
    ASSERT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::Success);
    SnpLaunchStartCmd ls;
    ls.gctx_paddr = pfn_to_spa(kGctx);
    ls.policy = kPolicy;
    ASSERT_EQ(fw_.snp_launch_start(ls), FwStatus::Success);
    ASSERT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), kAsid), FwStatus::Success);
  }

  // A Pre-Guest page at GPA `gpa` (rmp_make_private(..., immutable=true)).
  void pre_guest(Pfn pfn, Gpa gpa) {
    ASSERT_EQ(rmp_make_private(rmp_, pfn, gpa, PageSize::Size4K, kAsid, true, kHost), RmpStatus::Success);
  }

  SnpLaunchUpdateCmd update(Pfn pfn, std::uint8_t type) const {
    SnpLaunchUpdateCmd u;
    u.gctx_paddr = pfn_to_spa(kGctx);
    u.page_type = type;
    u.address = pfn_to_spa(pfn);
    return u;
  }

  Rmp rmp_;
  HostMemory mem_;
  Detectors det_;
  Firmware fw_;
};

TEST(FwStates, EveryPlatformCommandButInitNeedsInit) {
  for (const PlatformEdge& e : kPlatformEdges) {
    if (e.from == PlatformState::Uninit) {
      EXPECT_TRUE(e.cmd == FwCmd::SnpInit || e.cmd == FwCmd::SnpInitEx || e.cmd == FwCmd::SnpShutdown ||
                  e.cmd == FwCmd::SnpShutdownEx || e.cmd == FwCmd::SnpPlatformStatus)
          << to_string(e.cmd);
    }
  }
  EXPECT_FALSE(platform_next(FwCmd::SnpInit, PlatformState::Init).has_value());
}

TEST(FwStates, GuestTableMatchesFactsSection44) {
  EXPECT_EQ(guest_next(FwCmd::SnpLaunchStart, GuestState::Init), GuestState::Launch);
  EXPECT_EQ(guest_next(FwCmd::SnpLaunchFinish, GuestState::Launch), GuestState::Running);
  EXPECT_FALSE(guest_next(FwCmd::SnpLaunchUpdate, GuestState::Running).has_value());
  EXPECT_FALSE(guest_next(FwCmd::SnpGuestRequest, GuestState::Launch).has_value());
  for (GuestState s : {GuestState::Init, GuestState::Launch, GuestState::Running}) {
    EXPECT_TRUE(guest_next(FwCmd::SnpDecommission, s).has_value()) << to_string(s);
    EXPECT_TRUE(guest_next(FwCmd::SnpGuestStatus, s).has_value()) << to_string(s);
  }
}

TEST_F(FirmwareTest, CommandsBeforeInit_FailInvalidPlatformState) {
  EXPECT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::InvalidPlatformState);
  EXPECT_EQ(fw_.snp_df_flush(), FwStatus::InvalidPlatformState);
  EXPECT_EQ(fw_.snp_commit(), FwStatus::InvalidPlatformState);
  EXPECT_EQ(fw_.snp_config({}), FwStatus::InvalidPlatformState);
  SnpPlatformStatus st;
  EXPECT_EQ(fw_.snp_platform_status(&st), FwStatus::Success);
  EXPECT_EQ(st.state, 0);
}

TEST_F(FirmwareTest, InitTwice_FailsInvalidPlatformState) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  EXPECT_EQ(fw_.snp_init(), FwStatus::InvalidPlatformState);
  EXPECT_EQ(fw_.platform_state(), PlatformState::Init);
}

TEST_F(FirmwareTest, InitExWithoutInitRmpOnFreshRmp_FailsRmpInitRequired) {
  SnpInitExCmd cmd;
  cmd.init_rmp = false;
  EXPECT_EQ(fw_.snp_init_ex(cmd), FwStatus::RmpInitRequired);
  EXPECT_EQ(fw_.platform_state(), PlatformState::Uninit);
}

TEST_F(FirmwareTest, InitExRanges_BecomeHvFixed) {
  SnpInitExCmd cmd;
  cmd.list_paddr_en = true;
  cmd.ranges.push_back({pfn_to_spa(0x300), 2});
  ASSERT_EQ(fw_.snp_init_ex(cmd), FwStatus::Success);
  EXPECT_EQ(page_state(rmp_.inspect(0x300)), PageState::HvFixed);
  EXPECT_EQ(page_state(rmp_.inspect(0x301)), PageState::HvFixed);
  EXPECT_EQ(page_state(rmp_.inspect(0x302)), PageState::Hypervisor);
  // HV-Fixed pages are immutable: the hypervisor cannot assign them.
  EXPECT_EQ(rmp_make_private(rmp_, 0x300, 0, PageSize::Size4K, 1, false, kHost), RmpStatus::FailPermission);
}

TEST_F(FirmwareTest, InitExReservedBits_FailInvalidParam) {
  SnpInitExCmd cmd;
  cmd.rsvd = 4;
  EXPECT_EQ(fw_.snp_init_ex(cmd), FwStatus::InvalidParam);
}

TEST_F(FirmwareTest, PlatformStatus_BytesFollowTheUapiLayout) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  SnpPlatformStatus st;
  ASSERT_EQ(fw_.snp_platform_status(&st), FwStatus::Success);
  const auto b = st.to_bytes();
  EXPECT_EQ(b[0], fw_.config().api_major);
  EXPECT_EQ(b[1], fw_.config().api_minor);
  EXPECT_EQ(b[2], 1);  // INIT
  EXPECT_EQ(b[3], 1);  // RMP initialised
  EXPECT_EQ(b[4], fw_.config().build_id);
}

TEST_F(FirmwareTest, GctxCreate_TurnsFirmwarePageIntoContext) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  ASSERT_EQ(rmp_make_private(rmp_, kGctx, 0, PageSize::Size4K, 0, true, kHost), RmpStatus::Success);
  EXPECT_EQ(page_state(rmp_.inspect(kGctx)), PageState::Firmware);
  ASSERT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::Success);
  EXPECT_EQ(page_state(rmp_.inspect(kGctx)), PageState::Context);
  SnpGuestStatus gs;
  ASSERT_EQ(fw_.snp_guest_status(pfn_to_spa(kGctx), &gs), FwStatus::Success);
  EXPECT_EQ(gs.state, GuestState::Init);
}

TEST_F(FirmwareTest, GctxCreateOnHypervisorPage_FailsInvalidPageState) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  EXPECT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::InvalidPageState);
  EXPECT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx) + 8), FwStatus::InvalidAddress);
}

TEST_F(FirmwareTest, LaunchStartOnUnknownContext_FailsInvalidGuest) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  SnpLaunchStartCmd ls;
  ls.gctx_paddr = pfn_to_spa(kGctx);
  ls.policy = kPolicy;
  EXPECT_EQ(fw_.snp_launch_start(ls), FwStatus::InvalidGuest);
}

TEST_F(FirmwareTest, LaunchStartPolicyChecks_FailPolicyFailure) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  ASSERT_EQ(rmp_make_private(rmp_, kGctx, 0, PageSize::Size4K, 0, true, kHost), RmpStatus::Success);
  ASSERT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::Success);
  SnpLaunchStartCmd ls;
  ls.gctx_paddr = pfn_to_spa(kGctx);
  const std::uint64_t bads[] = {
      policy::kSmt,                                                // bit 17 clear
      kPolicy | (std::uint64_t{1} << 30),                          // a reserved bit
      kPolicy | (std::uint64_t{2} << policy::kAbiMajorShift),      // ABI newer than the firmware
      policy::kReserved17MustBeOne};                               // SMT=0 while SMT is on
  for (std::uint64_t bad : bads) {
    ls.policy = bad;
    EXPECT_EQ(fw_.snp_launch_start(ls), FwStatus::PolicyFailure) << std::hex << bad;
  }
  ls.policy = kPolicy;
  ls.ma_en = true;
  EXPECT_EQ(fw_.snp_launch_start(ls), FwStatus::PolicyFailure);
  ls.ma_en = false;
  ls.rsvd = 1;
  EXPECT_EQ(fw_.snp_launch_start(ls), FwStatus::InvalidParam);
  SnpGuestStatus gs;
  ASSERT_EQ(fw_.snp_guest_status(pfn_to_spa(kGctx), &gs), FwStatus::Success);
  EXPECT_EQ(gs.state, GuestState::Init);  // nothing changed
}

TEST_F(FirmwareTest, LaunchStartTwice_FailsInvalidGuestState) {
  start_guest();
  SnpLaunchStartCmd ls;
  ls.gctx_paddr = pfn_to_spa(kGctx);
  ls.policy = kPolicy;
  EXPECT_EQ(fw_.snp_launch_start(ls), FwStatus::InvalidGuestState);
}

TEST_F(FirmwareTest, Activate_AsidRules) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  ASSERT_EQ(rmp_make_private(rmp_, kGctx, 0, PageSize::Size4K, 0, true, kHost), RmpStatus::Success);
  ASSERT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::Success);
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), kAsid), FwStatus::InvalidGuestState);  // still INIT
  SnpLaunchStartCmd ls;
  ls.gctx_paddr = pfn_to_spa(kGctx);
  ls.policy = kPolicy;
  ASSERT_EQ(fw_.snp_launch_start(ls), FwStatus::Success);
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), 0), FwStatus::InvalidAsid);
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), fw_.config().max_snp_asid + 1), FwStatus::InvalidAsid);
  // A page already assigned to the ASID: INVALID_CONFIG (facts §4.5).
  ASSERT_EQ(rmp_make_private(rmp_, 0x5000, 0, PageSize::Size4K, kAsid, false, kHost), RmpStatus::Success);
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), kAsid), FwStatus::InvalidConfig);
  ASSERT_EQ(rmp_make_shared(rmp_, 0x5000, PageSize::Size4K, kHost), RmpStatus::Success);
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), kAsid), FwStatus::Success);
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), kAsid), FwStatus::Success);  // again: same ASID
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), kAsid + 1), FwStatus::InvalidAsid);
}

TEST_F(FirmwareTest, ActivateAsidOfAnotherGuest_FailsAsidOwned) {
  start_guest();
  const Pfn gctx2 = 0x1001;
  ASSERT_EQ(rmp_make_private(rmp_, gctx2, 0, PageSize::Size4K, 0, true, kHost), RmpStatus::Success);
  ASSERT_EQ(fw_.snp_gctx_create(pfn_to_spa(gctx2)), FwStatus::Success);
  SnpLaunchStartCmd ls;
  ls.gctx_paddr = pfn_to_spa(gctx2);
  ls.policy = kPolicy;
  ASSERT_EQ(fw_.snp_launch_start(ls), FwStatus::Success);
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(gctx2), kAsid), FwStatus::AsidOwned);
}

TEST_F(FirmwareTest, LaunchUpdateNormal_MeasuresPageInfoAndMakesGuestValid) {
  start_guest();
  pre_guest(kGuestPage, 0x7000);
  auto page = mem_.page_mut(kGuestPage);
  for (std::size_t i = 0; i < page.size(); ++i) page[i] = static_cast<std::uint8_t>(i * 7);
  std::array<std::uint8_t, kPageSize> copy;
  std::copy(page.begin(), page.end(), copy.begin());

  ASSERT_EQ(fw_.snp_launch_update(update(kGuestPage, 1)), FwStatus::Success);

  // PAGE_INFO computed here from facts §5.2, independently of the firmware code.
  std::array<std::uint8_t, 0x70> info{};
  const auto contents = sha384(copy);
  std::memcpy(&info[0x30], contents.data(), 48);
  info[0x60] = 0x70;
  info[0x62] = 1;
  const std::uint64_t gpa = 0x7000;
  std::memcpy(&info[0x68], &gpa, 8);
  const auto want = sha384(info);
  const GuestContext* g = fw_.guest(pfn_to_spa(kGctx));
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), g->measurement.begin()));
  EXPECT_EQ(page_state(rmp_.inspect(kGuestPage)), PageState::GuestValid);
  EXPECT_TRUE(det_.findings().empty());
}

TEST_F(FirmwareTest, LaunchUpdatePreconditions_ReturnTheFactsStatusCodes) {
  start_guest();
  pre_guest(kGuestPage, 0x7000);
  auto u = update(kGuestPage, 1);
  u.page_type = 0;
  EXPECT_EQ(fw_.snp_launch_update(u), FwStatus::InvalidParam);
  u.page_type = 7;
  EXPECT_EQ(fw_.snp_launch_update(u), FwStatus::InvalidParam);
  u = update(kGuestPage, 1);
  u.rsvd = 1;
  EXPECT_EQ(fw_.snp_launch_update(u), FwStatus::InvalidParam);
  u = update(kGuestPage, 1);
  u.gctx_paddr = pfn_to_spa(0x1002);
  EXPECT_EQ(fw_.snp_launch_update(u), FwStatus::InvalidGuest);
  // A hypervisor page is not Pre-Guest.
  EXPECT_EQ(fw_.snp_launch_update(update(0x2100, 1)), FwStatus::InvalidPageState);
  // A Pre-Guest page of another ASID.
  ASSERT_EQ(rmp_make_private(rmp_, 0x2101, 0, PageSize::Size4K, kAsid + 1, true, kHost), RmpStatus::Success);
  EXPECT_EQ(fw_.snp_launch_update(update(0x2101, 1)), FwStatus::InvalidPageOwner);
  // Size mismatch: a 2M request on a 4K page; VMSA as 2M.
  u = update(0x2201, 1);
  u.page_size = PageSize::Size2M;
  EXPECT_EQ(fw_.snp_launch_update(u), FwStatus::InvalidAddress);  // PFN 0x2201 is not 2M aligned
  u = update(0x2000, 2);
  u.page_size = PageSize::Size2M;
  EXPECT_EQ(fw_.snp_launch_update(u), FwStatus::InvalidParam);
  u = update(0x2000, 1);
  u.page_size = PageSize::Size2M;
  EXPECT_EQ(fw_.snp_launch_update(u), FwStatus::InvalidPageSize);
  // Uncovered memory is a Default page.
  EXPECT_EQ(fw_.snp_launch_update(update(0x40000, 1)), FwStatus::InvalidPageState);
  EXPECT_EQ(page_state(rmp_.inspect(kGuestPage)), PageState::PreGuest);  // untouched by all of these
}

TEST_F(FirmwareTest, LaunchUpdateBeforeActivate_FailsInactive) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  ASSERT_EQ(rmp_make_private(rmp_, kGctx, 0, PageSize::Size4K, 0, true, kHost), RmpStatus::Success);
  ASSERT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::Success);
  SnpLaunchStartCmd ls;
  ls.gctx_paddr = pfn_to_spa(kGctx);
  ls.policy = kPolicy;
  ASSERT_EQ(fw_.snp_launch_start(ls), FwStatus::Success);
  pre_guest(kGuestPage, 0x7000);
  EXPECT_EQ(fw_.snp_launch_update(update(kGuestPage, 1)), FwStatus::Inactive);
}

TEST_F(FirmwareTest, LaunchUpdateSecrets_WritesVmpcksIntoThePage) {
  start_guest();
  pre_guest(kGuestPage, 0x7000);
  ASSERT_EQ(fw_.snp_launch_update(update(kGuestPage, 5)), FwStatus::Success);
  const auto page = mem_.page(kGuestPage);
  const GuestContext* g = fw_.guest(pfn_to_spa(kGctx));
  EXPECT_EQ(page[0], 2);  // secrets page version
  EXPECT_TRUE(std::equal(g->vmpck[0].begin(), g->vmpck[0].end(), page.begin() + 0x20));
  EXPECT_TRUE(std::equal(g->vmpck[3].begin(), g->vmpck[3].end(), page.begin() + 0x80));
  EXPECT_NE(g->vmpck[0], g->vmpck[1]);
}

TEST_F(FirmwareTest, LaunchUpdateCpuidTooManyEntries_FailsInvalidParamAndWritesBack) {
  start_guest();
  pre_guest(kGuestPage, 0x7000);
  const std::uint32_t count = 65;
  mem_.write(pfn_to_spa(kGuestPage), {reinterpret_cast<const std::uint8_t*>(&count), 4});
  EXPECT_EQ(fw_.snp_launch_update(update(kGuestPage, 6)), FwStatus::InvalidParam);
  std::uint32_t fixed = 0;
  mem_.read(pfn_to_spa(kGuestPage), {reinterpret_cast<std::uint8_t*>(&fixed), 4});
  EXPECT_EQ(fixed, 64U);
  EXPECT_EQ(page_state(rmp_.inspect(kGuestPage)), PageState::PreGuest);
}

TEST_F(FirmwareTest, LaunchFinish_RunsAndRefusesFurtherUpdates) {
  start_guest();
  SnpLaunchFinishCmd lf;
  lf.gctx_paddr = pfn_to_spa(kGctx);
  lf.host_data[0] = 0xAB;
  ASSERT_EQ(fw_.snp_launch_finish(lf), FwStatus::Success);
  EXPECT_EQ(fw_.guest(pfn_to_spa(kGctx))->state, GuestState::Running);
  EXPECT_EQ(fw_.guest(pfn_to_spa(kGctx))->host_data[0], 0xAB);
  pre_guest(kGuestPage, 0x7000);
  EXPECT_EQ(fw_.snp_launch_update(update(kGuestPage, 1)), FwStatus::InvalidGuestState);
  EXPECT_EQ(fw_.snp_launch_finish(lf), FwStatus::InvalidGuestState);
}

TEST_F(FirmwareTest, Decommission_DirtiesAsidUntilWbinvdAndDfFlush) {
  start_guest();
  ASSERT_EQ(fw_.snp_decommission(pfn_to_spa(kGctx)), FwStatus::Success);
  EXPECT_EQ(page_state(rmp_.inspect(kGctx)), PageState::Firmware);
  EXPECT_TRUE(fw_.asid_dirty(kAsid));
  EXPECT_EQ(fw_.snp_shutdown_ex(), FwStatus::DfflushRequired);
  // Reuse of the ASID before the flush.
  ASSERT_EQ(fw_.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::Success);
  SnpLaunchStartCmd ls;
  ls.gctx_paddr = pfn_to_spa(kGctx);
  ls.policy = kPolicy;
  ASSERT_EQ(fw_.snp_launch_start(ls), FwStatus::Success);
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), kAsid), FwStatus::DfflushRequired);
  EXPECT_EQ(fw_.snp_df_flush(), FwStatus::WbinvdRequired);
  fw_.note_wbinvd_all_cpus();
  ASSERT_EQ(fw_.snp_df_flush(), FwStatus::Success);
  EXPECT_EQ(fw_.snp_activate(pfn_to_spa(kGctx), kAsid), FwStatus::Success);
}

TEST_F(FirmwareTest, ShutdownWithCleanAsids_ReturnsToUninit) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  ASSERT_EQ(fw_.snp_shutdown_ex(), FwStatus::Success);
  EXPECT_EQ(fw_.platform_state(), PlatformState::Uninit);
  EXPECT_EQ(fw_.snp_shutdown_ex(), FwStatus::Success);  // no-op when already UNINIT
}

TEST_F(FirmwareTest, ConfigAndCommit_ChangeReportedTcb) {
  FirmwareConfig cfg;
  cfg.current_tcb = 0xDB18000000000304ULL;
  Firmware fw(rmp_, mem_, cfg);
  ASSERT_EQ(fw.snp_init(), FwStatus::Success);
  SnpConfigCmd c;
  c.reported_tcb = 0xDB18000000000302ULL;  // hide the TEE update
  ASSERT_EQ(fw.snp_config(c), FwStatus::Success);
  EXPECT_EQ(fw.reported_tcb(), 0xDB18000000000302ULL);
  c.reported_tcb = 0xDB18000000000305ULL;  // claims more than is running
  EXPECT_EQ(fw.snp_config(c), FwStatus::InvalidParam);
  c.reported_tcb = 0;
  c.rsvd = 1;
  EXPECT_EQ(fw.snp_config(c), FwStatus::InvalidParam);
  ASSERT_EQ(fw.snp_commit(), FwStatus::Success);
  EXPECT_EQ(fw.committed_tcb(), cfg.current_tcb);
  EXPECT_EQ(fw.reported_tcb(), cfg.current_tcb);
}

TEST_F(FirmwareTest, PageUnsmash_Forms2MFromConsistentPreGuestPages) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  const Pfn base = 0x2200 - 0x2200 % kPagesPerHuge;
  ASSERT_EQ(rmp_make_private(rmp_, base, 0x200000, PageSize::Size2M, kAsid, true, kHost), RmpStatus::Success);
  ASSERT_EQ(psmash(rmp_, pfn_to_spa(base), kHost), RmpStatus::FailPermission);  // immutable 2M
  // Build the 512 Pre-Guest 4K pages UNSMASH wants.
  ASSERT_EQ(fw_.snp_page_reclaim(pfn_to_spa(base), PageSize::Size2M), FwStatus::Success);
  ASSERT_EQ(psmash(rmp_, pfn_to_spa(base), kHost), RmpStatus::Success);
  for (unsigned i = 0; i < kPagesPerHuge; ++i) {
    ASSERT_EQ(rmp_make_shared(rmp_, base + i, PageSize::Size4K, kHost), RmpStatus::Success);
    ASSERT_EQ(rmp_make_private(rmp_, base + i, 0x200000 + pfn_to_spa(i), PageSize::Size4K, kAsid, true, kHost),
              RmpStatus::Success);
  }
  ASSERT_EQ(fw_.snp_page_unsmash(pfn_to_spa(base)), FwStatus::Success);
  EXPECT_EQ(rmp_.inspect(base).page_size(), PageSize::Size2M);
  EXPECT_EQ(rmp_.inspect(base).subpage_count(), 0U);
  EXPECT_EQ(page_state(rmp_.inspect(base)), PageState::PreGuest);
}

TEST_F(FirmwareTest, PageUnsmashInconsistentPages_FailsInvalidPageState) {
  ASSERT_EQ(fw_.snp_init(), FwStatus::Success);
  const Pfn base = 0x2400;
  EXPECT_EQ(fw_.snp_page_unsmash(pfn_to_spa(base)), FwStatus::InvalidPageState);  // hypervisor pages
  EXPECT_EQ(fw_.snp_page_unsmash(pfn_to_spa(base) + kPageSize), FwStatus::InvalidAddress);
}

}  // namespace
}  // namespace snplab::model
