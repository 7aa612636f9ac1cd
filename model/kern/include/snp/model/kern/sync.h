// The kernel primitives the simulated KVM host is written on (DESIGN.md "KVM host logic"):
// Shared<T> variables with plain and marked accesses, mutex, spinlock, SRCU, kref and
// completion. Each access goes through Sched::point() (sched.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "snp/model/kern/sched.h"

namespace snplab::model::kern {

/// A kernel variable shared between agents. load()/store() are plain C accesses (a data race
/// on them is a bug, and a plain load may be re-executed by the compiler); read_once()/
/// write_once() are marked (READ_ONCE/WRITE_ONCE, atomics).
template <class T>
class Shared;

/// The value of one plain load that the code uses more than once: `p = sev->snp_certs;
/// if (!p) ...; kref_get(&p->kref); return p;`. C lets the compiler load `sev->snp_certs`
/// again at a later use instead of keeping it in a register (no READ_ONCE), so each use()
/// after the first is a choice the engine explores: the register value, or a fresh plain
/// load (a scheduling point) that may see another agent's store.
template <class T>
class Plain {
 public:
  Plain(const Shared<T>& src, T first) : src_(&src), v_(std::move(first)), step_(src.sched().step()) {}
  /// The value at this use.
  T use();
  /// The engine step of the load that produced the value the last use() returned.
  std::uint64_t value_step() const { return step_; }
  /// The engine steps at which a use reloaded (for findings).
  const std::vector<std::uint64_t>& reload_steps() const { return reloads_; }
  bool reloaded() const { return !reloads_.empty(); }

 private:
  const Shared<T>* src_;
  T v_;
  std::uint64_t step_;
  bool used_ = false;
  std::vector<std::uint64_t> reloads_;
};

template <class T>
class Shared {
 public:
  Shared(Sched& s, std::string_view name, T init = T{}) : sched_(&s), name_(name), v_(std::move(init)) {}
  T load() const {
    sched_->point(PointKind::PlainLoad, this, name_);
    return v_;
  }
  void store(T v) {
    sched_->point(PointKind::PlainStore, this, name_);
    v_ = std::move(v);
  }
  T read_once() const {
    sched_->point(PointKind::MarkedLoad, this, name_);
    return v_;
  }
  void write_once(T v) {
    sched_->point(PointKind::MarkedStore, this, name_);
    v_ = std::move(v);
  }
  /// A plain load whose value is used more than once (see Plain).
  Plain<T> load_plain() const { return Plain<T>(*this, load()); }
  /// The value without a modelled access (detectors, assertions, tests).
  const T& peek() const { return v_; }
  std::string_view name() const { return name_; }
  Sched& sched() const { return *sched_; }

 private:
  Sched* sched_;
  std::string_view name_;
  T v_;
};

template <class T>
T Plain<T>::use() {
  if (!used_) {
    used_ = true;
    return v_;
  }
  if (src_->sched().reload(src_, src_->name())) {
    v_ = src_->load();
    step_ = src_->sched().step();
    reloads_.push_back(step_);
  }
  return v_;
}

/// mutex / spinlock. The owner is the agent that locked; unlocking by another agent, or
/// unlocking an unlocked lock, is a finding.
class Mutex {
 public:
  Mutex(Sched& s, std::string_view name, bool spinning = false) : sched_(&s), name_(name), spin_(spinning) {}
  void lock();
  void unlock();
  bool try_lock();
  bool held() const { return owner_ != 0; }
  /// A spinlock (Spinlock): holders must not sleep.
  bool spinning() const { return spin_; }
  AgentId owner() const { return owner_; }
  std::string_view name() const { return name_; }
  Sched& sched() const { return *sched_; }

 private:
  Sched* sched_;
  std::string_view name_;
  bool spin_;
  AgentId owner_ = 0;
};

/// lockdep_assert_held(): the current agent must hold `m`; otherwise a "lockdep-assert-held"
/// finding naming `where` (the kernel function that asserts it).
void lockdep_assert_held(const Mutex& m, std::string_view where);

class Spinlock : public Mutex {
 public:
  Spinlock(Sched& s, std::string_view name) : Mutex(s, name, true) {}
};

/// RAII guard (guard(mutex) in newer kernels).
class Guard {
 public:
  explicit Guard(Mutex& m) : m_(m) { m_.lock(); }
  ~Guard() { m_.unlock(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  Mutex& m_;
};

/// Sleepable RCU: readers hold an index; synchronize_srcu() waits for readers that started
/// before it. The modelled grace period ends when every such reader has unlocked.
class Srcu {
 public:
  Srcu(Sched& s, std::string_view name) : sched_(&s), name_(name) {}
  int read_lock();
  void read_unlock(int idx);
  void synchronize();
  int readers() const { return readers_[0] + readers_[1]; }

 private:
  Sched* sched_;
  std::string_view name_;
  int idx_ = 0;
  int readers_[2] = {0, 0};
};

/// kref: a reference count whose release runs when it drops to zero. get() on a freed object
/// is a use after free, put() below zero an underflow: both are findings.
class Kref {
 public:
  Kref(Sched& s, std::string_view name) : sched_(&s), name_(name) {}
  void init() { count_ = 1; }
  void get();
  bool get_unless_zero();
  /// Returns true when this put released the object (and ran `release`).
  bool put(const std::function<void()>& release);
  int count() const { return count_; }

 private:
  Sched* sched_;
  std::string_view name_;
  int count_ = 1;
};

class Completion {
 public:
  Completion(Sched& s, std::string_view name) : sched_(&s), name_(name) {}
  void complete();
  void wait();
  void reinit() { done_ = 0; }
  bool done() const { return done_ > 0; }

 private:
  Sched* sched_;
  std::string_view name_;
  int done_ = 0;
};

}  // namespace snplab::model::kern
