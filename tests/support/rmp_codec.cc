#include "support/rmp_codec.h"

#include <fmt/format.h>

namespace snplab::test {

namespace {

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}
  void u8(std::uint64_t v) { out_.push_back(static_cast<std::uint8_t>(v)); }
  void u32(std::uint64_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }

 private:
  void put(std::uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  bool done() const { return pos_ >= in_.size(); }
  std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
  std::uint64_t u64() { return get(8); }

 private:
  std::uint64_t get(unsigned n) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i, ++pos_) {
      if (pos_ < in_.size()) v |= std::uint64_t{in_[pos_]} << (8 * i);
    }
    return v;
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

void put_fields(Writer& w, const RmpOp& op) {
  switch (op.tag) {
    case OpTag::Rmpupdate:
      w.u64(op.spa), w.u64(op.st.gpa), w.u8(op.st.assigned), w.u8(op.st.pagesize), w.u8(op.st.immutable),
          w.u8(op.st.rsvd), w.u32(op.st.asid), w.u32(op.vm);
      return;
    case OpTag::Psmash:
      w.u64(op.spa), w.u32(op.vm);
      return;
    case OpTag::Rmpread:
      w.u64(op.spa);
      return;
    case OpTag::Pvalidate:
    case OpTag::Rmpadjust:
      w.u64(op.spa), w.u64(op.gpa), w.u32(op.asid), w.u8(op.vmpl), w.u64(op.rcx), w.u64(op.rdx);
      return;
    case OpTag::HostAccess:
      w.u64(op.spa), w.u8(static_cast<std::uint8_t>(op.kind)), w.u8(static_cast<std::uint8_t>(op.level));
      return;
    case OpTag::GuestAccess:
      w.u64(op.spa), w.u64(op.gpa), w.u32(op.asid), w.u8(op.vmpl), w.u8(static_cast<std::uint8_t>(op.kind)),
          w.u8(static_cast<std::uint8_t>(op.level)),
          w.u8((op.c_bit ? 1U : 0U) | (op.snp ? 2U : 0U) | (op.user ? 4U : 0U));
      return;
    case OpTag::SetInUse:
      w.u64(op.spa), w.u8(op.flag ? 1 : 0);
      return;
    case OpTag::PageReclaim:
      w.u64(op.spa), w.u8(op.rcx), w.u32(op.vm);
      return;
    case OpTag::Teardown:
      w.u32(op.vm), w.u32(op.asid);
      return;
  }
}

RmpOp get_op(Reader& r) {
  RmpOp op;
  op.tag = static_cast<OpTag>(r.u8() % kNumOpTags);
  switch (op.tag) {
    case OpTag::Rmpupdate:
      op.spa = r.u64(), op.st.gpa = r.u64(), op.st.assigned = r.u8(), op.st.pagesize = r.u8(),
      op.st.immutable = r.u8(), op.st.rsvd = r.u8(), op.st.asid = r.u32(), op.vm = r.u32();
      break;
    case OpTag::Psmash:
      op.spa = r.u64(), op.vm = r.u32();
      break;
    case OpTag::Rmpread:
      op.spa = r.u64();
      break;
    case OpTag::Pvalidate:
    case OpTag::Rmpadjust:
      op.spa = r.u64(), op.gpa = r.u64(), op.asid = r.u32(), op.vmpl = r.u8(), op.rcx = r.u64(), op.rdx = r.u64();
      break;
    case OpTag::HostAccess:
      op.spa = r.u64(), op.kind = static_cast<model::AccessKind>(r.u8() % 5),
      op.level = static_cast<model::MapLevel>(r.u8() % 3);
      break;
    case OpTag::GuestAccess: {
      op.spa = r.u64(), op.gpa = r.u64(), op.asid = r.u32(), op.vmpl = r.u8();
      op.kind = static_cast<model::AccessKind>(r.u8() % 5);
      op.level = static_cast<model::MapLevel>(r.u8() % 3);
      const std::uint8_t b = r.u8();
      op.c_bit = (b & 1U) != 0, op.snp = (b & 2U) != 0, op.user = (b & 4U) != 0;
      break;
    }
    case OpTag::SetInUse:
      op.spa = r.u64(), op.flag = (r.u8() & 1U) != 0;
      break;
    case OpTag::PageReclaim:
      op.spa = r.u64(), op.rcx = r.u8() & 1U, op.vm = r.u32();
      break;
    case OpTag::Teardown:
      op.vm = r.u32(), op.asid = r.u32();
      break;
  }
  return op;
}

}  // namespace

std::vector<std::uint8_t> encode(const std::vector<RmpOp>& ops) {
  std::vector<std::uint8_t> out;
  Writer w(out);
  for (const RmpOp& op : ops) {
    w.u8(static_cast<std::uint8_t>(op.tag));
    put_fields(w, op);
  }
  return out;
}

std::vector<RmpOp> decode(std::span<const std::uint8_t> bytes) {
  std::vector<RmpOp> ops;
  Reader r(bytes);
  while (!r.done()) ops.push_back(get_op(r));
  return ops;
}

std::string show(const RmpOp& op) {
  switch (op.tag) {
    case OpTag::Rmpupdate:
      return fmt::format("RMPUPDATE spa=0x{:x} {{gpa=0x{:x} assigned={} pagesize={} immutable={} rsvd={} asid={}}} vm={}",
                         op.spa, op.st.gpa, op.st.assigned, op.st.pagesize, op.st.immutable, op.st.rsvd, op.st.asid,
                         op.vm);
    case OpTag::Psmash:
      return fmt::format("PSMASH spa=0x{:x} vm={}", op.spa, op.vm);
    case OpTag::Rmpread:
      return fmt::format("RMPREAD spa=0x{:x}", op.spa);
    case OpTag::Pvalidate:
    case OpTag::Rmpadjust:
      return fmt::format("{} spa=0x{:x} gpa=0x{:x} asid={} vmpl={} rcx=0x{:x} rdx=0x{:x}",
                         op.tag == OpTag::Pvalidate ? "PVALIDATE" : "RMPADJUST", op.spa, op.gpa, op.asid, op.vmpl,
                         op.rcx, op.rdx);
    case OpTag::HostAccess:
      return fmt::format("HOST {} spa=0x{:x} map={}", model::to_string(op.kind), op.spa, model::to_string(op.level));
    case OpTag::GuestAccess:
      return fmt::format("GUEST {} spa=0x{:x} gpa=0x{:x} asid={} vmpl={} npt={} c={} snp={} user={}",
                         model::to_string(op.kind), op.spa, op.gpa, op.asid, op.vmpl, model::to_string(op.level),
                         op.c_bit ? 1 : 0, op.snp ? 1 : 0, op.user ? 1 : 0);
    case OpTag::SetInUse:
      return fmt::format("IN_USE spa=0x{:x} {}", op.spa, op.flag ? 1 : 0);
    case OpTag::PageReclaim:
      return fmt::format("SNP_PAGE_RECLAIM spa=0x{:x} size={} vm={}", op.spa, op.rcx, op.vm);
    case OpTag::Teardown:
      return fmt::format("TEARDOWN vm={} asid={}", op.vm, op.asid);
  }
  return "?";
}

std::string show(const std::vector<RmpOp>& ops) {
  std::string s;
  for (const RmpOp& op : ops) s += show(op) + "\n";
  return s;
}

}  // namespace snplab::test
