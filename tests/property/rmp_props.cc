// Properties of the RMP model over random instruction sequences, each checked against the
// independent reference model (tests/support/ref_rmp.h) by RmpDiff after every command:
//  - return codes, faults, RMPREAD views and entry attributes agree with the reference;
//  - the sub-page count equals the assigned 4K pages of its 2 MiB region;
//  - RMPUPDATE never leaves Validated set; PSMASH preserves every field;
//  - PVALIDATE repeated reports "no change";
//  - the detectors fire on exactly the double assignments and foreign reverts.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "support/rmp_codec.h"
#include "support/rmp_diff.h"

namespace snplab::test {
namespace {

constexpr std::uint64_t k4K = 4096;
constexpr std::uint64_t k2M = 2ULL << 20;

// SPAs: mostly interesting pages of the three 2 MiB regions of RmpDiff's host (offsets 0,
// 1, 2, 511 and random), sometimes misaligned, uncovered or beyond 2^52.
rc::Gen<std::uint64_t> gen_spa() {
  return rc::gen::weightedOneOf<std::uint64_t>({
      {12, rc::gen::map(rc::gen::pair(rc::gen::inRange<std::uint64_t>(0, 3),
                                      rc::gen::element<std::uint64_t>(0, 1, 2, 3, 511)),
                        [](std::pair<std::uint64_t, std::uint64_t> p) { return p.first * k2M + p.second * k4K; })},
      {4, rc::gen::map(rc::gen::inRange<std::uint64_t>(0, 3 * 512),
                       [](std::uint64_t pfn) { return pfn * k4K; })},
      {1, rc::gen::map(rc::gen::inRange<std::uint64_t>(0, 3 * k2M), [](std::uint64_t a) { return a | 1; })},
      {1, rc::gen::element<std::uint64_t>(1ULL << 52, ~0ULL & ~(k4K - 1), 0x7FFF0000000ULL)},
  });
}

rc::Gen<std::uint32_t> gen_asid() {
  return rc::gen::weightedOneOf<std::uint32_t>({{10, rc::gen::inRange<std::uint32_t>(1, 4)},
                                                {2, rc::gen::just<std::uint32_t>(0)},
                                                {1, rc::gen::element<std::uint32_t>(0x3FE, 0x3FF, 0x400, 70000)}});
}

rc::Gen<std::uint32_t> gen_vm() { return rc::gen::inRange<std::uint32_t>(0, 4); }

// Mostly identity-mapped GPAs (so Reverse-Map can pass), sometimes another page.
rc::Gen<std::uint64_t> gen_gpa_for(std::uint64_t spa) {
  return rc::gen::weightedOneOf<std::uint64_t>({{8, rc::gen::just(spa)},
                                                {1, rc::gen::just<std::uint64_t>(0)},
                                                {1, rc::gen::just(spa + k4K)},
                                                {1, rc::gen::just<std::uint64_t>(1ULL << 51)}});
}

rc::Gen<RmpOp> gen_rmpupdate() {
  return rc::gen::mapcat(gen_spa(), [](std::uint64_t spa) {
    return rc::gen::map(
        rc::gen::tuple(rc::gen::weightedOneOf<std::uint8_t>({{6, rc::gen::just<std::uint8_t>(1)},
                                                             {4, rc::gen::just<std::uint8_t>(0)},
                                                             {1, rc::gen::just<std::uint8_t>(2)}}),
                       rc::gen::weightedElement<std::uint8_t>({{6, 0}, {3, 1}, {1, 2}}),
                       rc::gen::weightedElement<std::uint8_t>({{6, 0}, {2, 1}, {1, 3}}),
                       rc::gen::weightedElement<std::uint8_t>({{20, 0}, {1, 1}}), gen_asid(), gen_vm(),
                       gen_gpa_for(spa - spa % k4K)),
        [spa](std::tuple<std::uint8_t, std::uint8_t, std::uint8_t, std::uint8_t, std::uint32_t, std::uint32_t,
                         std::uint64_t>
                  t) {
          RmpOp op;
          op.tag = OpTag::Rmpupdate;
          op.spa = spa;
          auto [assigned, size, immutable, rsvd, asid, vm, gpa] = t;
          op.st.assigned = assigned;
          op.st.pagesize = size;
          op.st.immutable = assigned == 0 && immutable == 1 ? 0 : immutable;  // mostly valid
          op.st.rsvd = rsvd;
          op.st.asid = assigned == 1 ? asid : (asid > 4 ? asid : 0);
          op.st.gpa = assigned == 1 ? (size == 1 ? gpa - gpa % k2M : gpa) : 0;
          if (assigned == 1 && asid == 0) op.st.immutable = 1;  // a firmware page, usually
          op.vm = vm;
          return op;
        });
  });
}

rc::Gen<RmpOp> gen_guest_insn(OpTag tag) {
  return rc::gen::mapcat(gen_spa(), [tag](std::uint64_t spa) {
    return rc::gen::map(
        rc::gen::tuple(gen_asid(), rc::gen::weightedElement<std::uint8_t>({{8, 0}, {2, 1}, {1, 2}, {1, 4}}),
                       rc::gen::weightedElement<std::uint64_t>({{6, 0}, {3, 1}, {1, 2}}),
                       tag == OpTag::Pvalidate
                           ? rc::gen::weightedElement<std::uint64_t>({{6, 1}, {3, 0}, {1, 2}})
                           : rc::gen::weightedOneOf<std::uint64_t>(
                                 {{8, rc::gen::map(rc::gen::tuple(rc::gen::inRange<std::uint64_t>(0, 5),
                                                                  rc::gen::element<std::uint64_t>(0, 1, 3, 0x1F, 0x0F, 0x20),
                                                                  rc::gen::element<std::uint64_t>(0, 1)),
                                                   [](std::tuple<std::uint64_t, std::uint64_t, std::uint64_t> a) {
                                                     auto [vmpl, mask, vmsa] = a;
                                                     return vmpl | (mask << 8) | (vmsa << 16);
                                                   })},
                                  {1, rc::gen::just<std::uint64_t>(1ULL << 20)}}),
                       gen_gpa_for(spa)),
        [tag, spa](std::tuple<std::uint32_t, std::uint8_t, std::uint64_t, std::uint64_t, std::uint64_t> t) {
          RmpOp op;
          op.tag = tag;
          op.spa = spa;
          std::tie(op.asid, op.vmpl, op.rcx, op.rdx, op.gpa) = t;
          return op;
        });
  });
}

rc::Gen<RmpOp> gen_access() {
  return rc::gen::mapcat(gen_spa(), [](std::uint64_t spa) {
    return rc::gen::map(
        rc::gen::tuple(rc::gen::arbitrary<bool>(), gen_asid(), rc::gen::weightedElement<std::uint8_t>({{8, 0}, {1, 1}, {1, 3}}),
                       rc::gen::inRange<std::uint8_t>(0, 5), rc::gen::inRange<std::uint8_t>(0, 3),
                       rc::gen::arbitrary<bool>(), rc::gen::weightedElement<std::uint8_t>({{6, 1}, {1, 0}}),
                       rc::gen::arbitrary<bool>(), gen_gpa_for(spa)),
        [spa](std::tuple<bool, std::uint32_t, std::uint8_t, std::uint8_t, std::uint8_t, bool, std::uint8_t, bool,
                         std::uint64_t>
                  t) {
          RmpOp op;
          auto [host, asid, vmpl, kind, level, c_bit, snp, user, gpa] = t;
          op.tag = host ? OpTag::HostAccess : OpTag::GuestAccess;
          op.spa = spa;
          op.kind = static_cast<model::AccessKind>(kind);
          op.level = static_cast<model::MapLevel>(level);
          if (host) return op;  // a host access has no guest operands
          op.asid = asid;
          op.vmpl = vmpl;
          op.kind = static_cast<model::AccessKind>(kind);
          op.level = static_cast<model::MapLevel>(level);
          op.c_bit = c_bit;
          op.snp = snp == 1;
          op.user = user;
          op.gpa = gpa;
          return op;
        });
  });
}

rc::Gen<RmpOp> gen_op() {
  // Commands with few operands; only the fields the codec carries for the tag are set, so
  // a generated command equals its decoded encoding.
  const auto simple = [](OpTag tag) {
    return rc::gen::map(rc::gen::tuple(gen_spa(), gen_vm(), gen_asid(), rc::gen::arbitrary<bool>(),
                                       rc::gen::inRange<std::uint64_t>(0, 2)),
                        [tag](std::tuple<std::uint64_t, std::uint32_t, std::uint32_t, bool, std::uint64_t> t) {
                          RmpOp op;
                          op.tag = tag;
                          auto [spa, vm, asid, flag, size] = t;
                          switch (tag) {
                            case OpTag::Psmash: op.spa = spa - spa % k2M, op.vm = vm; break;
                            case OpTag::Rmpread: op.spa = spa; break;
                            case OpTag::SetInUse: op.spa = spa, op.flag = flag; break;
                            case OpTag::PageReclaim:
                              op.spa = size == 1 ? spa - spa % k2M : spa, op.rcx = size, op.vm = vm;
                              break;
                            case OpTag::Teardown: op.vm = vm, op.asid = asid; break;
                            default: break;
                          }
                          return op;
                        });
  };
  return rc::gen::weightedOneOf<RmpOp>({{10, gen_rmpupdate()},
                                        {6, gen_guest_insn(OpTag::Pvalidate)},
                                        {3, gen_guest_insn(OpTag::Rmpadjust)},
                                        {4, gen_access()},
                                        {3, simple(OpTag::Psmash)},
                                        {2, simple(OpTag::Rmpread)},
                                        {1, simple(OpTag::SetInUse)},
                                        {2, simple(OpTag::PageReclaim)},
                                        {1, simple(OpTag::Teardown)}});
}

// A coherent page life: the host assigns a page to a guest (4K or 2M), the guest validates
// it and touches it at some VMPL, maybe grants another VMPL access first. Random commands
// alone rarely line all of that up.
rc::Gen<std::vector<RmpOp>> gen_lifecycle() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::inRange<std::uint64_t>(0, 3 * 512), rc::gen::inRange<std::uint32_t>(1, 4),
                     rc::gen::arbitrary<bool>(), rc::gen::inRange<std::uint8_t>(0, 4), rc::gen::inRange<std::uint8_t>(0, 5),
                     rc::gen::element<std::uint64_t>(0, 1, 3, 0x0F), rc::gen::inRange<unsigned>(0, 4)),
      [](std::tuple<std::uint64_t, std::uint32_t, bool, std::uint8_t, std::uint8_t, std::uint64_t, unsigned> t) {
        auto [pfn, asid, huge, vmpl, kind, grant, variant] = t;
        const std::uint64_t spa = huge ? (pfn * k4K) - (pfn * k4K) % k2M : pfn * k4K;
        std::vector<RmpOp> ops;
        if (huge && variant == 0) {
          // An immutable (Pre-Guest) 2M page: PSMASH must refuse it, reclaim then allows it.
          RmpOp up;
          up.tag = OpTag::Rmpupdate, up.spa = spa, up.vm = asid;
          up.st.assigned = 1, up.st.pagesize = 1, up.st.immutable = 1, up.st.asid = asid, up.st.gpa = spa;
          RmpOp ps;
          ps.tag = OpTag::Psmash, ps.spa = spa, ps.vm = asid;
          RmpOp rc;
          rc.tag = OpTag::PageReclaim, rc.spa = spa, rc.rcx = 1, rc.vm = asid;
          return std::vector<RmpOp>{up, ps, rc, ps};
        }
        RmpOp up;
        up.tag = OpTag::Rmpupdate, up.spa = spa, up.vm = asid;
        up.st.assigned = 1, up.st.pagesize = huge ? 1 : 0, up.st.asid = asid, up.st.gpa = spa;
        ops.push_back(up);
        RmpOp pv;
        pv.tag = OpTag::Pvalidate, pv.spa = spa, pv.gpa = spa, pv.asid = asid, pv.rcx = huge ? 1 : 0, pv.rdx = 1;
        ops.push_back(pv);
        if (grant != 0 && vmpl != 0) {
          RmpOp adj = pv;
          adj.tag = OpTag::Rmpadjust, adj.rdx = vmpl | (grant << 8);
          ops.push_back(adj);
        }
        RmpOp acc;
        acc.tag = OpTag::GuestAccess, acc.spa = spa, acc.gpa = spa, acc.asid = asid, acc.vmpl = vmpl;
        acc.kind = static_cast<model::AccessKind>(kind);
        acc.level = huge ? model::MapLevel::Size2M : model::MapLevel::Size4K;
        ops.push_back(acc);
        return ops;
      });
}

/// Programs: random commands interleaved with coherent page lives.
rc::Gen<std::vector<RmpOp>> gen_program(int size_hint) {
  return rc::gen::map(
      rc::gen::resize(size_hint, rc::gen::container<std::vector<std::vector<RmpOp>>>(rc::gen::weightedOneOf<std::vector<RmpOp>>(
          {{8, rc::gen::map(gen_op(), [](RmpOp op) { return std::vector<RmpOp>{op}; })}, {1, gen_lifecycle()}}))),
      [](std::vector<std::vector<RmpOp>> groups) {
        std::vector<RmpOp> ops;
        for (auto& g : groups) ops.insert(ops.end(), g.begin(), g.end());
        return ops;
      });
}

}  // namespace

void showValue(const RmpOp& op, std::ostream& os) { os << show(op); }

}  // namespace snplab::test

namespace rc {
template <>
struct Arbitrary<snplab::test::RmpOp> {
  static Gen<snplab::test::RmpOp> arbitrary() { return snplab::test::gen_op(); }
};
}  // namespace rc

namespace snplab::test {
namespace {

RC_GTEST_PROP(RmpModel, RandomSequences_AgreeWithReferenceModel, ()) {
  const auto ops = *gen_program(100);
  RmpDiff diff;
  const std::string err = diff.run(ops);
  RC_ASSERT(err.empty());
}

// The same sequences survive the codec: what a fuzz input decodes to is what a property
// counterexample shows, so either replays as the other.
RC_GTEST_PROP(RmpCodec, EncodeDecode_RoundTrips, ()) {
  const auto ops = *gen_program(100);
  RC_ASSERT(decode(encode(ops)) == ops);
}

// Long runs reach deep states (2M pages split and re-formed, many owners); the short runs
// above shrink better. Also reports which outcomes were exercised.
TEST(RmpModel, LongSequences_AgreeWithReferenceModelAndCoverEveryOutcome) {
  std::map<std::string, std::uint64_t> outcomes;
  const auto result = rc::check("long sequences", [&] {
    const auto ops = *gen_program(1500);
    RmpDiff diff;
    const std::string err = diff.run(ops);
    for (const auto& [k, v] : diff.outcomes()) outcomes[k] += v;
    RC_ASSERT(err.empty());
  });
  EXPECT_TRUE(result);
  // The generators must reach every return code and every check, or the comparison above
  // proves little. Each key below is an outcome class RmpDiff counts.
  for (const char* must : {"RMPUPDATE SUCCESS", "RMPUPDATE FAIL_INPUT", "RMPUPDATE FAIL_PERMISSION",
                           "RMPUPDATE FAIL_INUSE", "RMPUPDATE FAIL_OVERLAP", "PSMASH SUCCESS", "PSMASH FAIL_INPUT",
                           "PSMASH FAIL_PERMISSION", "PVALIDATE SUCCESS", "PVALIDATE FAIL_INPUT",
                           "PVALIDATE FAIL_PERMISSION", "PVALIDATE FAIL_SIZEMISMATCH", "PVALIDATE Guest-Owned",
                           "PVALIDATE Reverse-Map", "PVALIDATE Page-Size", "RMPADJUST SUCCESS",
                           "RMPADJUST FAIL_PERMISSION", "GUEST Validated", "GUEST VMPL", "GUEST Page-Size",
                           "GUEST Hypervisor-Owned", "HOST #PF", "SNP_PAGE_RECLAIM SUCCESS", "TEARDOWN leak"}) {
    EXPECT_GT(outcomes[must], 0U) << "never exercised: " << must;
  }
}

}  // namespace
}  // namespace snplab::test
