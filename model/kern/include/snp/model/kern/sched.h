// Kernel-style concurrency for the simulated KVM host: every access to shared modelled state
// (a Shared<T> variable, a lock, a kref, SRCU, a completion) calls ONE hook, Sched::point().
// With no hook installed the code runs to completion, agent after agent; the simulation
// engine installs a hook that makes each point a scheduling decision, and runs the same code
// as interleaved fibers without rewriting it (DESIGN.md, simulation engine).
//
// Problems the primitives can see by themselves (an unlock by a non-owner, a kref underflow
// or a get on a freed object, a sleep while holding a spinlock) are reported to the Sched as
// findings, not aborts: they are bugs of the modelled kernel, which is what snplab hunts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snp/model/base/finding.h"

namespace snplab::model::kern {

/// Who is running: a host thread, a vCPU, the PSP. 0 = nobody.
using AgentId = std::uint32_t;

enum class PointKind : std::uint8_t {
  PlainLoad,    ///< a plain C load: the compiler may re-execute it later (reload)
  PlainStore,
  MarkedLoad,   ///< READ_ONCE / atomic load
  MarkedStore,  ///< WRITE_ONCE / atomic store
  Lock,
  Unlock,
  KrefGet,
  KrefPut,
  SrcuReadLock,
  SrcuReadUnlock,
  SynchronizeSrcu,
  Wait,         ///< wait_for_completion
  Complete,
  FirmwareCall, ///< a PSP command starts (the firmware's own accesses follow)
  FirmwareDone, ///< a PSP command has finished; its caller (sev_wait_cmd_ioc) has not gone on yet
  RmpInsn,      ///< a CPU RMP instruction (RMPUPDATE, PSMASH, PVALIDATE, RMPADJUST) starts
  Reload,       ///< a plain load's value is used again: the compiler may have reloaded it
  VmEntry,      ///< VMRUN: the vCPU enters the guest (its VMSA is in use until #VMEXIT)
  GuestInsn,    ///< the guest executes one operation of its program
  VmExit,       ///< #VMEXIT: the vCPU is back in KVM, the VMSA no longer in use
};
std::string_view to_string(PointKind k);

struct Point {
  PointKind kind;
  const void* object;     ///< identity of the variable/lock/kref
  std::string_view name;  ///< its kernel name ("kvm->slots_lock", "snp_certs", ...)
  AgentId agent;
};

/// What the primitives report about the modelled kernel (lockdep/KASAN-like findings).
struct KernelFinding {
  FindingKind kind = FindingKind::Deadlock;
  std::string message;
  AgentId agent = 0;
  /// The engine steps involved (the racing accesses, the reload, ...); the step at which
  /// it was raised comes last. Empty outside the engine.
  std::vector<std::uint64_t> steps;
};

/// A blocking primitive asks the hook to wait; in run-to-completion mode (no hook) a wait
/// that could never be satisfied is itself a finding ("would-block").
class SchedHook {
 public:
  virtual ~SchedHook() = default;
  /// Called at every point before the access happens.
  virtual void on_point(const Point& p) = 0;
  /// The current agent cannot go on until `ready()` holds; the engine runs others. Returns
  /// false if no schedule can make it ready (deadlock): the caller then reports it.
  virtual bool block_until(const Point& p, bool (*ready)(const void*), const void* arg) = 0;
  /// A plain load's value is used again: did the compiler keep it in a register (false) or
  /// load it again (true)? The engine makes this a choice it explores and records.
  virtual bool choose_reload(const Point& /*p*/) { return false; }
};

class Sched final : public FindingSink {
 public:
  void set_hook(SchedHook* h) { hook_ = h; }
  SchedHook* hook() const { return hook_; }
  AgentId current() const { return current_; }
  void set_current(AgentId a) { current_ = a; }

  void point(PointKind k, const void* obj, std::string_view name) {
    if (hook_ != nullptr) hook_->on_point(Point{k, obj, name, current_});
  }
  /// See SchedHook::choose_reload; without a hook the register value is used.
  bool reload(const void* obj, std::string_view name) {
    return hook_ != nullptr && hook_->choose_reload(Point{PointKind::Reload, obj, name, current_});
  }
  /// Waits for `ready(arg)`; returns false (and reports "would-block") when it never can.
  bool block_until(PointKind k, const void* obj, std::string_view name, bool (*ready)(const void*), const void* arg);

  /// FindingSink: what the RMP detectors report lands here too.
  void report_finding(FindingKind kind, std::string message) override { report(kind, std::move(message)); }
  void report(FindingKind kind, std::string message, std::vector<std::uint64_t> steps = {}) {
    if (hook_ != nullptr && (steps.empty() || steps.back() != step_)) steps.push_back(step_);
    findings_.push_back(KernelFinding{kind, std::move(message), current_, std::move(steps)});
  }
  /// The engine's step counter (the index of the last scheduling point), for reports.
  std::uint64_t step() const { return step_; }
  void set_step(std::uint64_t s) { step_ = s; }
  const std::vector<KernelFinding>& findings() const { return findings_; }
  /// Puts back the state of `snap` (a copy of this scheduler, Host::snapshot); the hook stays.
  void restore(const Sched& snap) {
    current_ = snap.current_;
    step_ = snap.step_;
    findings_ = snap.findings_;
    held_ = snap.held_;
    lock_order_ = snap.lock_order_;
    fns_ = snap.fns_;
  }

  /// The kernel functions each agent is in (FunctionScope), outermost first: the trace
  /// events and the findings name them. The names must outlive the scheduler (literals).
  void enter(std::string_view fn) {
    if (fns_.size() <= current_) fns_.resize(current_ + 1);
    fns_[current_].push_back(fn);
  }
  void leave() {
    if (current_ < fns_.size() && !fns_[current_].empty()) fns_[current_].pop_back();
  }
  /// The innermost function agent `a` (the current agent by default) is in; "" outside any.
  std::string_view function(AgentId a) const {
    return a < fns_.size() && !fns_[a].empty() ? fns_[a].back() : std::string_view{};
  }
  std::string_view function() const { return function(current_); }
  /// Forgets the function stacks of agents `from` and up (a run's agents start outside any).
  void clear_functions(AgentId from) {
    if (fns_.size() > from) fns_.resize(from);
  }
  /// Agent `a`'s functions, innermost first, as a backtrace lists them ("f <- g <- h").
  std::string backtrace(AgentId a) const;
  /// " in f <- g" for the current agent (what a report appends); "" outside any function.
  std::string at() const;

  /// Lock dependency tracking, as lockdep keys it: by lock class (the lock's name). The
  /// current agent acquired `name`: every class it already holds now precedes `name`; if
  /// `name` was seen to precede one of them before, that is an inversion, reported as
  /// "lockdep-circular-dependency" (whether or not this schedule deadlocks).
  void lock_acquired(std::string_view name);
  /// `owner` released its lock of class `name`.
  void lock_released(AgentId owner, std::string_view name);
  /// Whether the current agent holds a lock of class `name`.
  bool holds(std::string_view name) const;

 private:
  struct HeldLock {
    AgentId agent;
    std::string_view name;
  };
  struct Order {
    std::string_view before, after;
    AgentId agent;  ///< who first took them in this order
    friend bool operator==(const Order& a, const Order& b) { return a.before == b.before && a.after == b.after; }
  };
  SchedHook* hook_ = nullptr;
  AgentId current_ = 1;
  std::uint64_t step_ = 0;
  std::vector<KernelFinding> findings_;
  std::vector<HeldLock> held_;     ///< every agent's held locks, in acquisition order
  std::vector<Order> lock_order_;  ///< the dependencies seen so far (lockdep's graph edges)
  std::vector<std::vector<std::string_view>> fns_;  ///< by agent: the FunctionScope stack
};

/// Marks the code from here to the end of the scope as the kernel function `fn` (a literal):
/// `const kern::FunctionScope fs(sched, "sev_es_sync_vmsa");`.
class FunctionScope {
 public:
  FunctionScope(Sched& s, std::string_view fn) : s_(s), agent_(s.current()) { s_.enter(fn); }
  ~FunctionScope() {
    // Destructors of an unwound fiber run as their agent (the engine sees to it).
    if (s_.current() == agent_) s_.leave();
  }
  FunctionScope(const FunctionScope&) = delete;
  FunctionScope& operator=(const FunctionScope&) = delete;

 private:
  Sched& s_;
  AgentId agent_;
};

}  // namespace snplab::model::kern
