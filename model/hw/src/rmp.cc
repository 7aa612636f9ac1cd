#include "snp/model/hw/rmp.h"

#include <algorithm>

#include <fmt/format.h>

#include "snp/model/base/assert.h"

namespace snplab::model {

std::string_view to_string(RmpInsn i) {
  switch (i) {
    case RmpInsn::Rmpupdate: return "RMPUPDATE";
    case RmpInsn::Psmash: return "PSMASH";
    case RmpInsn::Pvalidate: return "PVALIDATE";
    case RmpInsn::Rmpadjust: return "RMPADJUST";
    case RmpInsn::Rmpread: return "RMPREAD";
    case RmpInsn::Firmware: return "FIRMWARE";
  }
  SNPLAB_UNREACHABLE("corrupt RmpInsn");
}

Rmp::Rmp(RmpLayout layout) : layout_(std::move(layout)) { changes_.reserve(kPagesPerHuge + 1); }

Rmp::Rmp(const Rmp& o) : layout_(o.layout_), store_(o.store_), in_use_(o.in_use_), seq_(o.seq_) {
  SNPLAB_ASSERT(!o.in_frame_, "RMP copied inside an instruction frame");
}

void Rmp::restore(const Rmp& snap) {
  SNPLAB_ASSERT(!in_frame_ && !snap.in_frame_, "RMP restored inside an instruction frame");
  store_ = snap.store_;
  in_use_ = snap.in_use_;
  seq_ = snap.seq_;
}

Rmp::Frame::Frame(Rmp& rmp, RmpInsn insn, Spa spa, PageSize size, const OpContext& ctx,
                  const RmpState& requested)
    : rmp_(rmp) {
  if (rmp.hook_ != nullptr) rmp.hook_->on_insn(insn, spa, size, ctx);
  SNPLAB_ASSERT(!rmp.in_frame_, "RMP instruction frames do not nest");
  rmp.in_frame_ = true;
  rmp.changes_.clear();
  rmp.cur_ = RmpEvent{};
  rmp.cur_.seq = ++rmp.seq_;
  rmp.cur_.insn = insn;
  rmp.cur_.spa = spa;
  rmp.cur_.size = size;
  rmp.cur_.ctx = ctx;
  rmp.cur_.requested = requested;
}

Rmp::Frame::~Frame() {
  // Every instruction path ends with done(); reaching here without it is a model bug.
  SNPLAB_ASSERT(finished_, "RMP instruction frame left without a status");
}

RmpStatus Rmp::Frame::done(RmpStatus status) {
  SNPLAB_ASSERT(!finished_, "RMP instruction frame finished twice");
  SNPLAB_ASSERT(status == RmpStatus::Success || rmp_.changes_.empty(),
                "a failing RMP instruction changed entries");
  finished_ = true;
  rmp_.cur_.status = status;
  rmp_.cur_.changes = rmp_.changes_;
  rmp_.in_frame_ = false;
  for (RmpObserver* o : rmp_.observers_) o->on_event(rmp_, rmp_.cur_);
  return status;
}

Fault Rmp::Frame::raise(const Fault& fault) {
  SNPLAB_ASSERT(rmp_.changes_.empty(), "a faulting RMP instruction changed entries");
  rmp_.cur_.fault = fault;
  done(RmpStatus::Success);
  return fault;
}

void Rmp::set_in_use(Pfn pfn, bool in_use) {
  SNPLAB_ASSERT(layout_.covers(pfn), "in-use mark on an uncovered PFN");
  if (in_use) {
    in_use_.insert(pfn);
  } else {
    in_use_.erase(pfn);
  }
}

void Rmp::add_observer(RmpObserver* o) {
  SNPLAB_ASSERT(o != nullptr, "null observer");
  if (std::find(observers_.begin(), observers_.end(), o) == observers_.end()) observers_.push_back(o);
}

void Rmp::remove_observer(RmpObserver* o) {
  observers_.erase(std::remove(observers_.begin(), observers_.end(), o), observers_.end());
}

std::string describe(const RmpEntryRaw& e) {
  return fmt::format("[0x{:016x} - 0x{:016x}] assigned={} size={} immutable={} asid={} gpa=0x{:x} "
                     "validated={} vmsa={} subpages={} perms={:02x}/{:02x}/{:02x}/{:02x} {}",
                     e.lo, e.hi, e.assigned() ? 1 : 0, to_string(e.page_size()), e.immutable() ? 1 : 0,
                     e.asid(), e.gpa(), e.validated() ? 1 : 0, e.vmsa() ? 1 : 0, e.subpage_count(),
                     e.vmpl_perms(0), e.vmpl_perms(1), e.vmpl_perms(2), e.vmpl_perms(3),
                     to_string(page_state(e)));
}

}  // namespace snplab::model
