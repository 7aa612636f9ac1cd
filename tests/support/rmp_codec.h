// One command vocabulary for RMP instruction sequences, shared by the property tests and
// the fuzz targets (STYLE.md 3.5): a fuzz input decodes to the same RmpOp list a property
// counterexample shows, so either replays as the other.
//
// Wire format: a sequence of records, each a tag byte followed by that tag's fields in
// little-endian order (see rmp_codec.cc). Decoding never fails: unknown tags are taken
// modulo the number of tags and a truncated record is zero-filled, so every byte string is
// a program (what a fuzzer needs).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "snp/model/hw/access.h"
#include "snp/model/hw/rmp_entry.h"

namespace snplab::test {

enum class OpTag : std::uint8_t {
  Rmpupdate,    ///< spa, st, vm
  Psmash,       ///< spa, vm
  Rmpread,      ///< spa
  Pvalidate,    ///< spa, gpa, asid, vmpl, rcx, rdx
  Rmpadjust,    ///< spa, gpa, asid, vmpl, rcx, rdx
  HostAccess,   ///< spa, kind, level
  GuestAccess,  ///< spa, gpa, asid, vmpl, kind, level, c_bit, snp, user
  SetInUse,     ///< spa, flag
  PageReclaim,  ///< spa, rcx (0 4K / 1 2M), vm
  Teardown,     ///< vm, asid
};
inline constexpr unsigned kNumOpTags = 10;

struct RmpOp {
  OpTag tag = OpTag::Rmpread;
  std::uint64_t spa = 0;
  std::uint64_t gpa = 0;
  model::RmpState st;
  std::uint64_t rcx = 0;
  std::uint64_t rdx = 0;
  std::uint32_t asid = 0;
  std::uint8_t vmpl = 0;
  std::uint32_t vm = 0;
  model::AccessKind kind = model::AccessKind::Read;
  model::MapLevel level = model::MapLevel::Size4K;
  bool c_bit = true;
  bool snp = true;
  bool user = false;
  bool flag = false;

  friend bool operator==(const RmpOp&, const RmpOp&) = default;
};

std::vector<std::uint8_t> encode(const std::vector<RmpOp>& ops);
std::vector<RmpOp> decode(std::span<const std::uint8_t> bytes);
/// "RMPUPDATE spa=0x200000 {gpa=0x200000 assigned=1 size=2M immutable=0 asid=1} vm=1"
std::string show(const RmpOp& op);
std::string show(const std::vector<RmpOp>& ops);

}  // namespace snplab::test
