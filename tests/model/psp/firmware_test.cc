// The firmware model: the state tables, every command's preconditions and status codes,
// and the RMP transitions it makes (facts §4).
#include <gtest/gtest.h>

#include <cstring>

#include "snp/model/crypto/crypto.h"
#include "snp/model/hw/detectors.h"
#include "snp/model/crypto/ecdsa.h"
#include "snp/model/psp/firmware.h"
#include "snp/model/psp/guest_msg.h"
#include "snp/model/host/x86/sev.h"

namespace snplab::model {
namespace {

constexpr Pfn kGctx = 0x1000;          // context page
constexpr Pfn kGuestPage = 0x2001;     // a guest data page (not 2M aligned)
constexpr Asid kAsid = 5;
constexpr std::uint64_t kPolicy = policy::kReserved17MustBeOne | policy::kSmt;  // 0x30000
const OpContext kHost{"test", 1};

class FirmwareTest : public ::testing::Test {
 public:
  void TestBody() override {}
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
  const auto b = to_bytes(st);
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

namespace snplab::model {
namespace {

// Guest requests end to end: the guest's VMPCK comes from the secrets page the firmware
// wrote at launch; the response is opened and the report checked against the chip.
class GuestRequestTest : public FirmwareTest {
 public:  // SameSeedSameBytes drives a second instance
  static constexpr Pfn kSecrets = 0x2002;
  static constexpr Pfn kReqPage = 0x3000;  // a hypervisor page KVM copies the request into
  static constexpr Pfn kRspPage = 0x3001;  // a firmware page (snp_alloc_firmware_page)

  void SetUp() override {
    start_guest();
    pre_guest(kSecrets, 0x9000);
    ASSERT_EQ(fw_.snp_launch_update(update(kSecrets, 5)), FwStatus::Success);
    SnpLaunchFinishCmd lf;
    lf.gctx_paddr = pfn_to_spa(kGctx);
    lf.host_data[3] = 0x33;
    ASSERT_EQ(fw_.snp_launch_finish(lf), FwStatus::Success);
    ASSERT_EQ(rmp_make_private(rmp_, kRspPage, 0, PageSize::Size4K, 0, true, kHost), RmpStatus::Success);
    const auto page = mem_.page(kSecrets);
    for (unsigned k = 0; k < 4; ++k) std::copy_n(page.begin() + 0x20 + 0x20 * k, 32, vmpck_[k].begin());
  }

  FwStatus send(MsgType type, std::span<const std::uint8_t> payload, std::uint8_t vmpck_id = 0) {
    const auto msg = seal_guest_msg(vmpck_[vmpck_id], vmpck_id, seqno_[vmpck_id], type, 1, payload);
    mem_.write(pfn_to_spa(kReqPage), msg);
    const FwStatus st = fw_.snp_guest_request(pfn_to_spa(kGctx), pfn_to_spa(kReqPage), pfn_to_spa(kRspPage));
    if (st == FwStatus::Success) seqno_[vmpck_id] += 2;
    return st;
  }

  OpenedMsg response(std::uint8_t vmpck_id = 0) {
    std::vector<std::uint8_t> page(kPageSize);
    mem_.read(pfn_to_spa(kRspPage), page);
    auto opened = open_guest_msg(vmpck_[vmpck_id], page);
    EXPECT_TRUE(std::holds_alternative<OpenedMsg>(opened));
    return std::get<OpenedMsg>(opened);
  }

  std::array<Aes256Key, 4> vmpck_{};
  std::array<std::uint64_t, 4> seqno_{1, 1, 1, 1};
};

TEST_F(GuestRequestTest, ReportRequest_ReturnsAReportSignedByTheVcekForTheReportedTcb) {
  ReportReq req;
  req.report_data[0] = 0x5A;
  ASSERT_EQ(send(MsgType::ReportReq, req.encode()), FwStatus::Success);
  const OpenedMsg rsp = response();
  EXPECT_EQ(rsp.hdr.msg_type, static_cast<std::uint8_t>(MsgType::ReportRsp));
  EXPECT_EQ(rsp.hdr.seqno, 2U);
  std::uint32_t status = 0, size = 0;
  std::memcpy(&status, rsp.payload.data(), 4);
  std::memcpy(&size, rsp.payload.data() + 4, 4);
  EXPECT_EQ(status, 0U);
  ASSERT_EQ(size, kReportSize);
  auto report = parse_attestation_report(std::span<const std::uint8_t>(rsp.payload).subspan(0x20, kReportSize));
  ASSERT_TRUE(report.has_value());
  const GuestContext* g = fw_.guest(pfn_to_spa(kGctx));
  EXPECT_EQ(report->version, Firmware::kReportVersion);
  EXPECT_EQ(report->report_data[0], 0x5A);
  EXPECT_EQ(report->measurement, g->measurement);
  EXPECT_EQ(report->host_data[3], 0x33);
  EXPECT_EQ(report->policy, kPolicy);
  EXPECT_EQ(report->reported_tcb, fw_.reported_tcb());
  EXPECT_EQ(report->chip_id, fw_.chip().chip_id());
  EXPECT_EQ(report->signing_key(), SigningKey::Vcek);
  EXPECT_EQ(report->product(), Product::Milan);
  const auto raw = std::span<const std::uint8_t>(rsp.payload).subspan(0x20, kReportSize);
  const EcdsaSignature sig{get_le72(raw.subspan<0x2A0, 72>()), get_le72(raw.subspan<0x2E8, 72>())};
  const auto pub = p384_public_key(fw_.chip().vcek_key(fw_.reported_tcb()));
  EXPECT_TRUE(ecdsa_p384_verify(pub, sha384(raw.first(0x2A0)), sig));
}

TEST_F(GuestRequestTest, SameSeedSameBytes) {
  ReportReq req;
  ASSERT_EQ(send(MsgType::ReportReq, req.encode()), FwStatus::Success);
  std::vector<std::uint8_t> first(kPageSize);
  mem_.read(pfn_to_spa(kRspPage), first);
  // A second platform built from the same seed, driven the same way.
  GuestRequestTest other;
  other.SetUp();
  ASSERT_EQ(other.send(MsgType::ReportReq, req.encode()), FwStatus::Success);
  std::vector<std::uint8_t> second(kPageSize);
  other.mem_.read(pfn_to_spa(kRspPage), second);
  EXPECT_EQ(first, second);
}

TEST_F(GuestRequestTest, ReplayedSequenceNumber_FailsAeadOflow) {
  ReportReq req;
  ASSERT_EQ(send(MsgType::ReportReq, req.encode()), FwStatus::Success);
  seqno_[0] -= 2;  // the guest reuses the sequence number
  EXPECT_EQ(send(MsgType::ReportReq, req.encode()), FwStatus::AeadOflow);
  seqno_[0] += 4;  // skips one
  EXPECT_EQ(send(MsgType::ReportReq, req.encode()), FwStatus::AeadOflow);
}

TEST_F(GuestRequestTest, WrongKey_FailsBadMeasurement) {
  ReportReq req;
  vmpck_[0][0] ^= 1;
  EXPECT_EQ(send(MsgType::ReportReq, req.encode()), FwStatus::BadMeasurement);
}

TEST_F(GuestRequestTest, MalformedHeaderAndPages_FailWithTheFirmwareCodes) {
  ReportReq req;
  auto msg = seal_guest_msg(vmpck_[0], 0, 1, MsgType::ReportReq, 1, req.encode());
  msg[0x31] = 2;  // HDR_VERSION
  mem_.write(pfn_to_spa(kReqPage), msg);
  EXPECT_EQ(fw_.snp_guest_request(pfn_to_spa(kGctx), pfn_to_spa(kReqPage), pfn_to_spa(kRspPage)),
            FwStatus::InvalidParam);
  // The response page must be a firmware page.
  EXPECT_EQ(fw_.snp_guest_request(pfn_to_spa(kGctx), pfn_to_spa(kReqPage), pfn_to_spa(0x3005)),
            FwStatus::InvalidPageState);
  EXPECT_EQ(fw_.snp_guest_request(pfn_to_spa(0x1002), pfn_to_spa(kReqPage), pfn_to_spa(kRspPage)),
            FwStatus::InvalidGuest);
  // VMPCK index 4 does not exist.
  msg = seal_guest_msg(vmpck_[0], 4, 1, MsgType::ReportReq, 1, req.encode());
  mem_.write(pfn_to_spa(kReqPage), msg);
  EXPECT_EQ(fw_.snp_guest_request(pfn_to_spa(kGctx), pfn_to_spa(kReqPage), pfn_to_spa(kRspPage)),
            FwStatus::InvalidParam);
}

TEST_F(GuestRequestTest, ReportForMorePrivilegedVmplThanTheKey_ReturnsInvalidParamInside) {
  ReportReq req;
  req.vmpl = 0;
  ASSERT_EQ(send(MsgType::ReportReq, req.encode(), 1), FwStatus::Success);  // VMPCK1 asks for VMPL0
  const OpenedMsg rsp = response(1);
  std::uint32_t status = 0;
  std::memcpy(&status, rsp.payload.data(), 4);
  EXPECT_EQ(status, static_cast<std::uint32_t>(FwStatus::InvalidParam));
}

TEST_F(GuestRequestTest, KeyRequest_DependsOnTheSelectedFields) {
  KeyReq k;
  ASSERT_EQ(send(MsgType::KeyReq, k.encode()), FwStatus::Success);
  const auto plain = response().payload;
  k.guest_field_select = guest_field::kMeasurement;
  ASSERT_EQ(send(MsgType::KeyReq, k.encode()), FwStatus::Success);
  const auto with_measurement = response().payload;
  ASSERT_EQ(send(MsgType::KeyReq, k.encode()), FwStatus::Success);
  const auto again = response().payload;
  EXPECT_EQ(plain[0], 0);  // status SUCCESS
  EXPECT_NE(std::vector(plain.begin() + 0x20, plain.begin() + 0x40),
            std::vector(with_measurement.begin() + 0x20, with_measurement.begin() + 0x40));
  EXPECT_EQ(with_measurement, again);
  k.guest_field_select = 1U << 6;  // undefined field
  ASSERT_EQ(send(MsgType::KeyReq, k.encode()), FwStatus::Success);
  EXPECT_EQ(response().payload[0], static_cast<std::uint8_t>(FwStatus::InvalidParam));
}

TEST_F(GuestRequestTest, ConfigChangesReportedTcbAndTheSigningKey) {
  SnpConfigCmd c;
  c.reported_tcb = fw_.config().current_tcb & ~0xFFULL;  // hide the boot loader SVN
  ASSERT_EQ(fw_.snp_config(c), FwStatus::Success);
  ReportReq req;
  ASSERT_EQ(send(MsgType::ReportReq, req.encode()), FwStatus::Success);
  const OpenedMsg rsp = response();
  const auto raw = std::span<const std::uint8_t>(rsp.payload).subspan(0x20, kReportSize);
  auto report = parse_attestation_report(raw);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->reported_tcb, c.reported_tcb);
  const EcdsaSignature sig{get_le72(raw.subspan<0x2A0, 72>()), get_le72(raw.subspan<0x2E8, 72>())};
  const auto digest = sha384(raw.first(0x2A0));
  EXPECT_TRUE(ecdsa_p384_verify(p384_public_key(fw_.chip().vcek_key(c.reported_tcb)), digest, sig));
  EXPECT_FALSE(ecdsa_p384_verify(p384_public_key(fw_.chip().vcek_key(fw_.config().current_tcb)), digest, sig));
}

TEST_F(GuestRequestTest, VlekLoad_SwitchesSigningToTheVlek) {
  const WrappedVlek blob = fw_.chip().wrap_vlek(fw_.reported_tcb(), 77);
  EXPECT_EQ(fw_.snp_vlek_load(15, 0, blob), FwStatus::InvalidLen);
  EXPECT_EQ(fw_.snp_vlek_load(16, 1, blob), FwStatus::InvalidParam);
  WrappedVlek bad = blob;
  bad[20] ^= 1;
  EXPECT_EQ(fw_.snp_vlek_load(16, 0, bad), FwStatus::BadMeasurement);
  SimChip other(99, Product::Milan);
  EXPECT_EQ(fw_.snp_vlek_load(16, 0, other.wrap_vlek(fw_.reported_tcb(), 77)), FwStatus::BadMeasurement);
  ASSERT_EQ(fw_.snp_vlek_load(16, 0, blob), FwStatus::Success);
  ReportReq req;
  ASSERT_EQ(send(MsgType::ReportReq, req.encode()), FwStatus::Success);
  auto report = parse_attestation_report(std::span<const std::uint8_t>(response().payload).subspan(0x20, kReportSize));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->signing_key(), SigningKey::Vlek);
  SnpPlatformStatus st;
  ASSERT_EQ(fw_.snp_platform_status(&st), FwStatus::Success);
  EXPECT_EQ(st.flags & 4U, 4U);  // vlek_en
}

TEST_F(GuestRequestTest, MaskChipKey_LeavesTheReportUnsigned) {
  SnpConfigCmd c;
  c.reported_tcb = fw_.reported_tcb();
  c.mask_chip_key = true;
  c.mask_chip_id = true;
  ASSERT_EQ(fw_.snp_config(c), FwStatus::Success);
  ReportReq req;
  ASSERT_EQ(send(MsgType::ReportReq, req.encode()), FwStatus::Success);
  auto report = parse_attestation_report(std::span<const std::uint8_t>(response().payload).subspan(0x20, kReportSize));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->signing_key(), SigningKey::None);
  EXPECT_TRUE(report->signature.is_zero());
  EXPECT_TRUE(report->chip_id_is_zero());
}

}  // namespace
}  // namespace snplab::model

#include <fstream>
#include <sstream>

namespace snplab::model {
namespace {

TEST(FwStates, DocsEmbedTheGeneratedTables) {
  std::ifstream in(SNPLAB_SOURCE_DIR "/docs/firmware.md");
  ASSERT_TRUE(in) << "cannot read docs/firmware.md";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- BEGIN GENERATED STATE TABLES -->\n", end = "<!-- END GENERATED STATE TABLES -->";
  const auto b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), state_tables_markdown())
      << "docs/firmware.md is out of date: paste the output of state_tables_markdown()";
}

}  // namespace
}  // namespace snplab::model

namespace snplab::model {
namespace {

// SNP_LAUNCH_FINISH with an ID block and an author key (facts §5.4).
class IdBlockTest : public FirmwareTest {
 protected:
  static constexpr Pfn kIdBlock = 0x4000, kIdAuth = 0x4001;

  void SetUp() override {
    start_guest();
    id_key_ = p384_derive_key(std::span<const std::uint8_t>(seed_), "id-key");
    author_key_ = p384_derive_key(std::span<const std::uint8_t>(seed_), "author-key");
  }

  static std::array<std::uint8_t, 1028> amd_pubkey(const P384PrivateKey& k) {
    std::array<std::uint8_t, 1028> out{};
    out[0] = 2;  // P-384
    const P384PublicKey pub = p384_public_key(k);
    put_le72(pub.x, std::span<std::uint8_t, 72>(out.data() + 4, 72));
    put_le72(pub.y, std::span<std::uint8_t, 72>(out.data() + 76, 72));
    return out;
  }

  static void amd_sign(const P384PrivateKey& k, std::span<const std::uint8_t> msg, std::uint8_t* out) {
    const EcdsaSignature sig = ecdsa_p384_sign(k, sha384(msg));
    put_le72(sig.r, std::span<std::uint8_t, 72>(out, 72));
    put_le72(sig.s, std::span<std::uint8_t, 72>(out + 72, 72));
  }

  // Writes a valid ID block + auth page for the guest as launched; `mutate` may spoil one.
  SnpLaunchFinishCmd prepare(bool author) {
    std::array<std::uint8_t, 96> block{};
    const GuestContext* g = fw_.guest(pfn_to_spa(kGctx));
    std::copy(g->measurement.begin(), g->measurement.end(), block.begin());
    block[48] = 0xF1;  // FAMILY_ID
    block[64] = 0x11;  // IMAGE_ID
    block[80] = 1;     // VERSION
    block[84] = 7;     // GUEST_SVN
    std::memcpy(&block[88], &kPolicy, 8);
    block_ = block;
    auth_.fill(0);
    auth_[0] = 1;  // ID_KEY_ALGO
    auth_[4] = author ? 1 : 0;
    const auto id_pub = amd_pubkey(id_key_);
    std::copy(id_pub.begin(), id_pub.end(), auth_.begin() + 0x240);
    amd_sign(id_key_, block_, auth_.data() + 0x40);
    if (author) {
      const auto au_pub = amd_pubkey(author_key_);
      std::copy(au_pub.begin(), au_pub.end(), auth_.begin() + 0x880);
      amd_sign(author_key_, std::span<const std::uint8_t>(auth_.data() + 0x240, 1028), auth_.data() + 0x680);
    }
    return finish_cmd(author);
  }

  SnpLaunchFinishCmd finish_cmd(bool author) {
    mem_.write(pfn_to_spa(kIdBlock), block_);
    mem_.write(pfn_to_spa(kIdAuth), auth_);
    SnpLaunchFinishCmd lf;
    lf.gctx_paddr = pfn_to_spa(kGctx);
    lf.id_block_paddr = pfn_to_spa(kIdBlock);
    lf.id_auth_paddr = pfn_to_spa(kIdAuth);
    lf.id_block_en = true;
    lf.auth_key_en = author;
    return lf;
  }

  std::array<std::uint8_t, 8> seed_{1, 2, 3, 4, 5, 6, 7, 8};
  P384PrivateKey id_key_, author_key_;
  std::array<std::uint8_t, 96> block_{};
  std::array<std::uint8_t, 4096> auth_{};
};

TEST_F(IdBlockTest, ValidIdBlockAndAuthorKey_StoreTheirDigests) {
  ASSERT_EQ(fw_.snp_launch_finish(prepare(true)), FwStatus::Success);
  const GuestContext* g = fw_.guest(pfn_to_spa(kGctx));
  EXPECT_EQ(g->state, GuestState::Running);
  EXPECT_EQ(g->id_key_digest, sha384(std::span<const std::uint8_t>(auth_.data() + 0x240, 1028)));
  EXPECT_EQ(g->author_key_digest, sha384(std::span<const std::uint8_t>(auth_.data() + 0x880, 1028)));
  EXPECT_EQ(g->family_id[0], 0xF1);
  EXPECT_EQ(g->image_id[0], 0x11);
  EXPECT_EQ(g->guest_svn, 7U);
  EXPECT_TRUE(g->author_key_en);
}

TEST_F(IdBlockTest, WrongLaunchDigest_FailsBadMeasurement) {
  prepare(false);
  block_[0] ^= 1;
  EXPECT_EQ(fw_.snp_launch_finish(finish_cmd(false)), FwStatus::BadMeasurement);
  EXPECT_EQ(fw_.guest(pfn_to_spa(kGctx))->state, GuestState::Launch);
}

TEST_F(IdBlockTest, WrongPolicy_FailsPolicyFailure) {
  prepare(false);
  block_[88] ^= 1;
  EXPECT_EQ(fw_.snp_launch_finish(finish_cmd(false)), FwStatus::PolicyFailure);
}

TEST_F(IdBlockTest, BadSignatures_FailBadSignature) {
  prepare(true);
  auth_[0x40] ^= 1;  // ID block signature
  EXPECT_EQ(fw_.snp_launch_finish(finish_cmd(true)), FwStatus::BadSignature);
  prepare(true);
  auth_[0x680] ^= 1;  // ID key signature by the author key
  EXPECT_EQ(fw_.snp_launch_finish(finish_cmd(true)), FwStatus::BadSignature);
  prepare(false);
  auth_[0x240] = 1;  // curve P-256: not accepted
  EXPECT_EQ(fw_.snp_launch_finish(finish_cmd(false)), FwStatus::BadSignature);
}

TEST_F(IdBlockTest, UnknownAlgorithm_FailsInvalidParam) {
  prepare(false);
  auth_[0] = 2;
  EXPECT_EQ(fw_.snp_launch_finish(finish_cmd(false)), FwStatus::InvalidParam);
  SnpLaunchFinishCmd lf;
  lf.gctx_paddr = pfn_to_spa(kGctx);
  lf.auth_key_en = true;  // author key without an ID block
  EXPECT_EQ(fw_.snp_launch_finish(lf), FwStatus::InvalidParam);
}

}  // namespace
}  // namespace snplab::model

namespace snplab::model {
namespace {

// The guest-context table drives the firmware: for each state a guest can be in, every
// guest command is allowed exactly when kGuestEdges has (command, state), and otherwise
// fails with INVALID_GUEST_STATE. Each (state, command) pair gets a fresh platform.
struct Platform {
  Rmp rmp{*RmpLayout::covering(1ULL << 30)};
  HostMemory mem;
  Firmware fw{rmp, mem};

  void drive_to(GuestState s) {
    ASSERT_EQ(fw.snp_init(), FwStatus::Success);
    ASSERT_EQ(rmp_make_private(rmp, kGctx, 0, PageSize::Size4K, 0, true, kHost), RmpStatus::Success);
    ASSERT_EQ(fw.snp_gctx_create(pfn_to_spa(kGctx)), FwStatus::Success);
    if (s == GuestState::Init) return;
    ASSERT_EQ(issue(FwCmd::SnpLaunchStart), FwStatus::Success);
    ASSERT_EQ(issue(FwCmd::SnpActivate), FwStatus::Success);
    if (s == GuestState::Launch) return;
    ASSERT_EQ(issue(FwCmd::SnpLaunchFinish), FwStatus::Success);
  }

  FwStatus issue(FwCmd cmd) {
    switch (cmd) {
      case FwCmd::SnpLaunchStart: {
        SnpLaunchStartCmd ls;
        ls.gctx_paddr = pfn_to_spa(kGctx);
        ls.policy = kPolicy;
        return fw.snp_launch_start(ls);
      }
      case FwCmd::SnpActivate:
        return fw.snp_activate(pfn_to_spa(kGctx), kAsid);
      case FwCmd::SnpLaunchUpdate: {
        EXPECT_EQ(rmp_make_private(rmp, kGuestPage, 0x7000, PageSize::Size4K, kAsid, true, kHost), RmpStatus::Success);
        SnpLaunchUpdateCmd u;
        u.gctx_paddr = pfn_to_spa(kGctx);
        u.page_type = 1;
        u.address = pfn_to_spa(kGuestPage);
        return fw.snp_launch_update(u);
      }
      case FwCmd::SnpLaunchFinish: {
        SnpLaunchFinishCmd lf;
        lf.gctx_paddr = pfn_to_spa(kGctx);
        return fw.snp_launch_finish(lf);
      }
      case FwCmd::SnpGuestStatus: {
        SnpGuestStatus gs;
        return fw.snp_guest_status(pfn_to_spa(kGctx), &gs);
      }
      case FwCmd::SnpDecommission:
        return fw.snp_decommission(pfn_to_spa(kGctx));
      default:
        ADD_FAILURE() << "not a guest command here: " << to_string(cmd);
        return FwStatus::InvalidCommand;
    }
  }
};

class GuestTableTest : public ::testing::TestWithParam<GuestState> {};

TEST_P(GuestTableTest, EveryGuestCommand_AllowedExactlyWhenTheTableSaysSo) {
  const GuestState state = GetParam();
  for (FwCmd cmd : {FwCmd::SnpLaunchStart, FwCmd::SnpActivate, FwCmd::SnpLaunchUpdate, FwCmd::SnpLaunchFinish,
                    FwCmd::SnpGuestStatus, FwCmd::SnpDecommission}) {
    Platform p;
    p.drive_to(state);
    const FwStatus st = p.issue(cmd);
    if (guest_next(cmd, state)) {
      EXPECT_EQ(st, FwStatus::Success) << to_string(cmd) << " in " << to_string(state);
    } else {
      EXPECT_EQ(st, FwStatus::InvalidGuestState) << to_string(cmd) << " in " << to_string(state);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(States, GuestTableTest,
                         ::testing::Values(GuestState::Init, GuestState::Launch, GuestState::Running),
                         [](const auto& p) { return std::string(to_string(p.param)); });

// The firmware writes RMP entries through the RMP's door: observers see its transitions.
TEST_F(FirmwareTest, FirmwareRmpWrites_AreSeenByObservers) {
  struct Count final : RmpObserver {
    int firmware = 0;
    void on_event(const Rmp&, const RmpEvent& ev) override { firmware += ev.insn == RmpInsn::Firmware ? 1 : 0; }
  } count;
  rmp_.add_observer(&count);
  start_guest();            // GCTX_CREATE: Firmware -> Context
  pre_guest(kGuestPage, 0x7000);
  ASSERT_EQ(fw_.snp_launch_update(update(kGuestPage, 1)), FwStatus::Success);  // Pre-Guest -> Guest-Valid
  ASSERT_EQ(fw_.snp_decommission(pfn_to_spa(kGctx)), FwStatus::Success);      // Context -> Firmware
  EXPECT_EQ(count.firmware, 3);
  rmp_.remove_observer(&count);
}

}  // namespace
}  // namespace snplab::model

namespace snplab::model {
namespace {

// The simulator's contents hint (SnpLaunchUpdateCmd::contents_hint): used only while the page
// is unchanged since it was hashed, so the measurement never differs from hashing the page.
class ContentsHintTest : public FirmwareTest {
 protected:
  static constexpr Pfn kPage = 0x3000;
  static constexpr std::uint64_t kCurrent = ~0ULL, kBefore = ~1ULL;
  std::array<std::uint8_t, 48> measure_with(const Sha384Digest* hint, std::uint64_t gen) {
    FirmwareTest t;
    t.start_guest();
    std::vector<std::uint8_t> bytes(kPageSize, 0x6B);
    t.mem_.write(pfn_to_spa(kPage), bytes);
    t.pre_guest(kPage, 0x5000);
    SnpLaunchUpdateCmd u = t.update(kPage, 1);
    u.contents_hint = hint;
    const std::uint64_t now = t.mem_.generation(kPage);
    u.hint_generation = gen == kCurrent ? now : gen == kBefore ? now - 1 : gen;
    EXPECT_EQ(t.fw_.snp_launch_update(u), FwStatus::Success);
    return t.fw_.guest(pfn_to_spa(kGctx))->measurement;
  }
};

TEST_F(ContentsHintTest, MatchingHint_SameMeasurementAsHashingThePage) {
  const std::vector<std::uint8_t> bytes(kPageSize, 0x6B);
  const Sha384Digest right = sha384(bytes);
  EXPECT_EQ(measure_with(&right, kCurrent), measure_with(nullptr, 0));
}

TEST_F(ContentsHintTest, StaleGeneration_HintIgnored) {
  Sha384Digest wrong{};
  wrong.fill(0xEE);
  // A hint taken before the page was last written is not used: the page itself is hashed.
  EXPECT_EQ(measure_with(&wrong, kBefore), measure_with(nullptr, 0));
  EXPECT_EQ(measure_with(&wrong, 0), measure_with(nullptr, 0));
  // (With the current generation the firmware would trust it: the hint's contract.)
  EXPECT_NE(measure_with(&wrong, kCurrent), measure_with(nullptr, 0));
}

}  // namespace
}  // namespace snplab::model
