#include "snp/model/kern/sync.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "snp/model/base/assert.h"

namespace snplab::model::kern {

std::string_view to_string(PointKind k) {
  switch (k) {
    case PointKind::PlainLoad: return "load";
    case PointKind::PlainStore: return "store";
    case PointKind::MarkedLoad: return "READ_ONCE";
    case PointKind::MarkedStore: return "WRITE_ONCE";
    case PointKind::Lock: return "lock";
    case PointKind::Unlock: return "unlock";
    case PointKind::KrefGet: return "kref_get";
    case PointKind::KrefPut: return "kref_put";
    case PointKind::SrcuReadLock: return "srcu_read_lock";
    case PointKind::SrcuReadUnlock: return "srcu_read_unlock";
    case PointKind::SynchronizeSrcu: return "synchronize_srcu";
    case PointKind::Wait: return "wait_for_completion";
    case PointKind::Complete: return "complete";
    case PointKind::FirmwareCall: return "sev_do_cmd";
    case PointKind::FirmwareDone: return "sev_wait_cmd_ioc";
    case PointKind::RmpInsn: return "rmp_insn";
    case PointKind::Reload: return "reload";
    case PointKind::VmEntry: return "VMRUN";
    case PointKind::GuestInsn: return "guest";
    case PointKind::VmExit: return "#VMEXIT";
  }
  SNPLAB_UNREACHABLE("corrupt PointKind");
}

bool Sched::block_until(PointKind k, const void* obj, std::string_view name, bool (*ready)(const void*),
                        const void* arg) {
  if (ready(arg)) return true;
  if (hook_ != nullptr && hook_->block_until(Point{k, obj, name, current_}, ready, arg)) return true;
  report(FindingKind::WouldBlock,
         fmt::format("agent {} waits on {} '{}'{} that nothing can release", current_, to_string(k), name, at()));
  return false;
}

void Mutex::lock() {
  sched_->point(PointKind::Lock, this, name_);
  if (owner_ == sched_->current()) {
    sched_->report(FindingKind::RecursiveLock,
                   fmt::format("WARNING: possible recursive locking detected: agent {} is trying to acquire '{}'{} "
                               "but already holds it; *** DEADLOCK ***",
                               owner_, name_, sched_->at()));
    return;
  }
  const bool ok = sched_->block_until(PointKind::Lock, this, name_,
                                      [](const void* m) { return !static_cast<const Mutex*>(m)->held(); }, this);
  if (ok) {
    owner_ = sched_->current();
    sched_->lock_acquired(name_);
  }
}

bool Mutex::try_lock() {
  sched_->point(PointKind::Lock, this, name_);
  if (held()) return false;
  owner_ = sched_->current();
  sched_->lock_acquired(name_);
  return true;
}

void Mutex::unlock() {
  sched_->point(PointKind::Unlock, this, name_);
  if (owner_ != sched_->current()) {
    sched_->report(FindingKind::UnlockNotOwner,
                   fmt::format("WARNING: bad unlock balance detected! agent {} is trying to release '{}'{} but {}",
                               sched_->current(), name_, sched_->at(),
                               owner_ == 0 ? std::string("no one holds it") : fmt::format("agent {} holds it", owner_)));
  }
  sched_->lock_released(owner_, name_);
  owner_ = 0;
}

void lockdep_assert_held(const Mutex& m, std::string_view where) {
  if (m.owner() == m.sched().current()) return;
  m.sched().report(FindingKind::LockdepAssertHeld,
                   fmt::format("WARNING: {}(): lockdep_assert_held(&{}) fails: agent {} does not hold it{}", where,
                               m.name(), m.sched().current(),
                               m.held() ? fmt::format(" (agent {} does)", m.owner()) : std::string()));
}

void Sched::lock_acquired(std::string_view name) {
  for (const HeldLock& h : held_) {
    if (h.agent != current_ || h.name == name) continue;  // same class: nesting, not an order
    const Order edge{h.name, name, current_};
    if (std::find(lock_order_.begin(), lock_order_.end(), edge) != lock_order_.end()) continue;
    const Order reverse{name, h.name, 0};
    const auto seen = std::find(lock_order_.begin(), lock_order_.end(), reverse);
    if (seen != lock_order_.end()) {
      report(FindingKind::LockdepCircularDependency,
             fmt::format("WARNING: possible circular locking dependency detected: agent {} is trying to acquire "
                         "'{}'{} while holding '{}'; the existing dependency chain is '{}' -> '{}' (agent {}). "
                         "Possible unsafe locking scenario: CPU0 lock({}); CPU1 lock({}); CPU0 lock({}); "
                         "CPU1 lock({}); *** DEADLOCK ***",
                         current_, name, at(), h.name, name, h.name, seen->agent, h.name, name, name, h.name));
    }
    lock_order_.push_back(edge);
  }
  held_.push_back(HeldLock{current_, name});
}

void Sched::lock_released(AgentId owner, std::string_view name) {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
    if (it->agent == owner && it->name == name) {
      held_.erase(std::next(it).base());
      return;
    }
  }
}

std::string Sched::at() const {
  const std::string bt = backtrace(current_);
  return bt.empty() ? std::string() : fmt::format(" in {}", bt);
}

std::string Sched::backtrace(AgentId a) const {
  std::string out;
  if (a >= fns_.size()) return out;
  for (auto it = fns_[a].rbegin(); it != fns_[a].rend(); ++it) out += fmt::format("{}{}", out.empty() ? "" : " <- ", *it);
  return out;
}

bool Sched::holds(std::string_view name) const {
  return std::any_of(held_.begin(), held_.end(),
                     [&](const HeldLock& h) { return h.agent == current_ && h.name == name; });
}

int Srcu::read_lock() {
  sched_->point(PointKind::SrcuReadLock, this, name_);
  ++readers_[idx_];
  return idx_;
}

void Srcu::read_unlock(int idx) {
  sched_->point(PointKind::SrcuReadUnlock, this, name_);
  if (idx < 0 || idx > 1 || readers_[idx] == 0) {
    sched_->report(FindingKind::SrcuUnbalanced, fmt::format("srcu_read_unlock('{}', {}) without a reader", name_, idx));
    return;
  }
  --readers_[idx];
}

void Srcu::synchronize() {
  sched_->point(PointKind::SynchronizeSrcu, this, name_);
  // Readers that began before this call hold the current index; flip it and wait for them.
  const int old = idx_;
  idx_ = 1 - idx_;
  struct Arg {
    const Srcu* s;
    int idx;
  } arg{this, old};
  (void)sched_->block_until(PointKind::SynchronizeSrcu, this, name_,
                            [](const void* a) {
                              const auto* p = static_cast<const Arg*>(a);
                              return p->s->readers_[p->idx] == 0;
                            },
                            &arg);
}

void Kref::get() {
  sched_->point(PointKind::KrefGet, this, name_);
  if (count_ <= 0) {
    sched_->report(FindingKind::KrefUseAfterFree, fmt::format("kref_get('{}') on a released object", name_));
    return;
  }
  ++count_;
}

bool Kref::get_unless_zero() {
  sched_->point(PointKind::KrefGet, this, name_);
  if (count_ <= 0) return false;
  ++count_;
  return true;
}

bool Kref::put(const std::function<void()>& release) {
  sched_->point(PointKind::KrefPut, this, name_);
  if (count_ <= 0) {
    sched_->report(FindingKind::KrefUnderflow, fmt::format("kref_put('{}') below zero", name_));
    return false;
  }
  if (--count_ == 0) {
    if (release) release();
    return true;
  }
  return false;
}

void Completion::complete() {
  sched_->point(PointKind::Complete, this, name_);
  ++done_;
}

void Completion::wait() {
  sched_->point(PointKind::Wait, this, name_);
  if (sched_->block_until(PointKind::Wait, this, name_,
                          [](const void* c) { return static_cast<const Completion*>(c)->done(); }, this)) {
    --done_;
  }
}

}  // namespace snplab::model::kern
