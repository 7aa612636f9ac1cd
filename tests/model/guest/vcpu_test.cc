// The guest's CPU on its own (snp/model/guest/vcpu.h): what each operation asks of the machine
// beneath it and what the guest makes of the answer. The machine here is a script of answers;
// the host's machine (Vm::VcpuMachine) is exercised by the KVM and scenario tests.
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "snp/model/attest/attestation.h"
#include "snp/model/guest/vcpu.h"
#include "snp/model/psp/guest_msg.h"

namespace snplab::model::kvm {
namespace {

/// Answers from a queue; records what the guest asked for.
class ScriptedMachine final : public GuestMachine {
 public:
  std::deque<InsnResult> insn;            ///< answers to pvalidate / rmpadjust / access / hypercalls / PSC
  std::deque<std::uint64_t> req_answers;  ///< SW_EXITINFO2 of each guest request, answered at once
  std::vector<std::string> calls;
  std::vector<std::uint64_t> term_msrs;
  std::vector<std::uint8_t> shared_page = std::vector<std::uint8_t>(kPageSize, 0);
  std::uint64_t seqno = 0;
  std::size_t shared_reads = 0;

  InsnResult next(std::string what) {
    calls.push_back(std::move(what));
    if (insn.empty()) return InsnResult{};
    InsnResult r = insn.front();
    insn.pop_front();
    return r;
  }
  InsnResult pvalidate(Gpa, bool, bool) override { return next("pvalidate"); }
  InsnResult rmpadjust(Gpa, bool) override { return next("rmpadjust"); }
  InsnResult access(Gpa, bool, bool write, std::uint8_t) override { return next(write ? "write" : "read"); }
  void hlt() override { calls.emplace_back("hlt"); }
  InsnResult map_gpa_range(Gpa, std::uint64_t, bool) override { return next("map_gpa_range"); }
  InsnResult page_state_change(const std::vector<PscEntry>&) override { return next("psc"); }
  std::string ap_creation(const GuestOp&, Ghcb&) override {
    calls.emplace_back("ap_creation");
    return {};
  }
  Outcome guest_request(bool, const GuestRequestPages&, Ghcb& ghcb) override {
    calls.emplace_back("guest_request");
    ghcb.sw_exitinfo1 = 0;
    ghcb.sw_exitinfo2 = req_answers.empty() ? 0 : req_answers.front();
    if (!req_answers.empty()) req_answers.pop_front();
    return Outcome::Retired;
  }
  void terminate_request(std::uint64_t msr) override {
    calls.emplace_back("terminate");
    term_msrs.push_back(msr);
  }
  std::optional<std::string> read_private(Gpa, std::span<std::uint8_t>) override { return std::nullopt; }
  bool read_shared(Gpa, std::span<std::uint8_t> out) override {
    ++shared_reads;
    std::copy_n(shared_page.begin(), std::min(out.size(), shared_page.size()), out.begin());
    return true;
  }
  bool write_shared(Gpa, std::span<const std::uint8_t>) override { return true; }
  bool snp_active() const override { return false; }
  const SimChip* chip() const override { return nullptr; }
  std::uint64_t& driver_seqno() override { return seqno; }
  void report(FindingKind, std::string) override {}
};

InsnResult answer(Outcome o) { return InsnResult::with(o); }

TEST(GuestVcpu, TerminateOpSendsTheGhcbMsrWithItsReasonSetAndCode) {
  GuestVcpu g({GuestOp::terminate(1, 0x23)});
  ScriptedMachine m;
  g.step(m);
  ASSERT_EQ(m.term_msrs.size(), 1U);
  EXPECT_EQ(m.term_msrs[0], 0x100ULL | (1ULL << 12) | (0x23ULL << 16));
  EXPECT_TRUE(g.terminated());
  EXPECT_EQ(g.log().back(), "GHCB termination request: reason set 1, code 35");
}

TEST(GuestVcpu, AFatalAnswerMakesTheGuestGiveUpWithTheGeneralReason) {
  GuestVcpu g({GuestOp::read(0x1000, true), GuestOp::halt()});
  ScriptedMachine m;
  m.insn.push_back(InsnResult::fatal("#VC 0x404 at 0x1000 (validated): terminating"));
  g.step(m);
  EXPECT_TRUE(g.terminated());
  ASSERT_EQ(m.term_msrs.size(), 1U);
  EXPECT_EQ(m.term_msrs[0], kGhcbTermGeneral);
  EXPECT_EQ(g.log().back(), "#VC 0x404 at 0x1000 (validated): terminating");
  EXPECT_EQ(g.pc(), 0U);
}

TEST(GuestVcpu, AgainAndExitedLeaveTheGuestOnTheSameOperation) {
  GuestVcpu g({GuestOp::pvalidate(0x2000), GuestOp::halt()});
  ScriptedMachine m;
  m.insn = {answer(Outcome::Again), answer(Outcome::Exited), InsnResult{}};
  g.step(m);
  EXPECT_EQ(g.pc(), 0U);
  g.step(m);
  EXPECT_EQ(g.pc(), 0U);
  EXPECT_TRUE(g.log().empty());
  g.step(m);  // retired
  EXPECT_EQ(g.pc(), 1U);
  EXPECT_EQ(g.log().back(), "PVALIDATE 0x2000: SUCCESS");
  EXPECT_EQ(m.calls, (std::vector<std::string>{"pvalidate", "pvalidate", "pvalidate"}));
}

TEST(GuestVcpu, AHypercallCompletesOnlyWhenKvmHandsBackItsReturnValue) {
  GuestVcpu g({GuestOp::map_gpa_range(0x3000, 2, true), GuestOp::halt()});
  ScriptedMachine m;
  m.insn.push_back(answer(Outcome::Exited));
  g.step(m);
  EXPECT_EQ(g.pc(), 0U);
  g.complete_hypercall(m, 0);
  EXPECT_EQ(g.pc(), 1U);
  EXPECT_EQ(g.log().back(), "page-state change 0x3000+2 to private: done");

  GuestVcpu failed({GuestOp::map_gpa_range(0x3000, 1, false)});
  m.insn.push_back(answer(Outcome::Exited));
  failed.step(m);
  failed.complete_hypercall(m, static_cast<std::uint64_t>(-22));
  EXPECT_TRUE(failed.terminated());
  EXPECT_EQ(failed.log().back(), "page-state change 0x3000+1: failed (ret -22)");
}

TEST(GuestVcpu, ABusyRequestIsRetriedAsOftenAsTheProgramSaysThenReportedAsFailed) {
  GuestRequestPages pages;
  pages.req = 0x10000, pages.resp = 0x11000, pages.busy_retries = 2;
  GuestVcpu g({GuestOp::guest_request(pages, 0xAB), GuestOp::halt()});
  ScriptedMachine m;
  const std::uint64_t busy = std::uint64_t{kVmmErrBusy} << 32;
  m.req_answers = {busy, busy, busy};
  g.step(m);
  g.step(m);
  EXPECT_EQ(g.pc(), 0U) << "still retrying";
  g.step(m);
  EXPECT_EQ(g.pc(), 1U);
  EXPECT_EQ(std::count(m.calls.begin(), m.calls.end(), "guest_request"), 3);
  EXPECT_EQ(g.log(), (GuestLog{"guest request: busy, retrying", "guest request: busy, retrying",
                               "guest request: failed (vmm 0x2, fw 0x0)"}));
  EXPECT_EQ(m.shared_reads, 0U) << "a failed request's response page is not read";
}

/// The response page the firmware would write for request `seqno`: MSG_REPORT_RSP, status 0.
std::vector<std::uint8_t> report_rsp_page(const Aes256Key& key, std::uint64_t seqno) {
  std::vector<std::uint8_t> payload(0x20 + kReportSize, 0);
  payload[4] = static_cast<std::uint8_t>(kReportSize & 0xFF);
  payload[5] = static_cast<std::uint8_t>(kReportSize >> 8);
  std::vector<std::uint8_t> page(kPageSize, 0);
  const auto msg = seal_guest_msg(key, 0, seqno + 1, MsgType::ReportRsp, 1, payload);
  std::copy(msg.begin(), msg.end(), page.begin());
  return page;
}

TEST(GuestVcpu, AnOversizedCertificateBufferIsNotAllocated) {
  GuestRequestPages pages;
  pages.req = 0x10000, pages.resp = 0x11000, pages.certs = 0x20000;
  pages.cert_pages = std::uint64_t{1} << 40;  // a hostile program: 4 PiB
  GuestVcpu g({GuestOp::ext_guest_request(pages, 1)});
  ScriptedMachine m;
  m.req_answers = {0};
  m.shared_page = report_rsp_page(Aes256Key{}, 1);  // no SNP here: the driver's key is zero
  g.step(m);
  EXPECT_EQ(g.pc(), 1U);
  EXPECT_EQ(g.report().size(), kReportSize);
  EXPECT_EQ(g.log().back(),
            "extended guest request: report received; certificate buffer of 1099511627776 pages not checked (limit 256)");
  EXPECT_EQ(m.shared_reads, 1U) << "only the response page was read";
  EXPECT_EQ(m.seqno, 2U) << "the driver's counter moves past the response";
}

TEST(GuestVcpu, TheIdleGuestHaltsWithoutMoving) {
  GuestVcpu g;
  ScriptedMachine m;
  EXPECT_EQ(g.next_name(), "idle");
  g.step(m);
  EXPECT_EQ(m.calls, (std::vector<std::string>{"hlt"}));
  EXPECT_EQ(g.pc(), 0U);
}

}  // namespace
}  // namespace snplab::model::kvm
