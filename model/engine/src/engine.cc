#include "snp/model/engine/engine.h"

#include <boost/context/fiber.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "snp/model/base/assert.h"
#include "snp/model/hw/rmp.h"

namespace snplab::model::engine {

namespace ctx = boost::context;

std::uint64_t cost_of(kern::PointKind k) {
  // A documented cost model, not a measurement: cache-hit loads and stores, an uncontended
  // lock, a kref atomic, an SRCU section, and a PSP command (tens of microseconds at 3 GHz).
  switch (k) {
    case kern::PointKind::PlainLoad:
    case kern::PointKind::MarkedLoad: return 4;
    case kern::PointKind::PlainStore:
    case kern::PointKind::MarkedStore: return 4;
    case kern::PointKind::Lock: return 40;
    case kern::PointKind::Unlock: return 20;
    case kern::PointKind::KrefGet:
    case kern::PointKind::KrefPut: return 20;
    case kern::PointKind::SrcuReadLock:
    case kern::PointKind::SrcuReadUnlock: return 10;
    case kern::PointKind::SynchronizeSrcu: return 2000;
    case kern::PointKind::Wait:
    case kern::PointKind::Complete: return 100;
    case kern::PointKind::FirmwareCall: return 60000;
    case kern::PointKind::FirmwareDone: return 100;
    case kern::PointKind::RmpInsn: return 200;
    case kern::PointKind::Reload: return 4;
    case kern::PointKind::VmEntry:
    case kern::PointKind::VmExit: return 1500;  // a world switch with the VMSA save/restore
    case kern::PointKind::GuestInsn: return 50;
  }
  return 1;
}

std::string_view to_string(Strategy s) {
  switch (s) {
    case Strategy::Random: return "random";
    case Strategy::Replay: return "replay";
    case Strategy::Pct: return "pct";
    case Strategy::Dfs: return "dfs";
  }
  return "?";
}

std::string RunResult::text() const {
  std::string out;
  for (const TraceEvent& e : trace) {
    const std::string& who = e.agent < agent_names.size() ? agent_names[e.agent] : "?";
    out += fmt::format("{:>4} {:>12}  [{:>9}]  {:<28} {:<16} {}", e.step, who, e.cycle,
                       e.function.empty() ? std::string_view("-") : e.function, kern::to_string(e.kind), e.object);
    if (!e.detail.empty()) out += fmt::format("  {}", e.detail);
    out += '\n';
  }
  return out;
}

std::uint64_t RunResult::hash() const {
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : text()) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

namespace {

/// splitmix64: the engine's only source of randomness (model/ takes no <random>).
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

/// Replay strings: the choices at every point with more than one runnable agent, as the
/// chosen agent's index among the runnable ones, run-length encoded: "a12b1a3" is twelve
/// times the first runnable, once the second, three times the first.
}  // namespace

std::string encode_choices(const std::vector<std::uint8_t>& choices) {
  std::string out;
  for (std::size_t i = 0; i < choices.size();) {
    std::size_t j = i;
    while (j < choices.size() && choices[j] == choices[i]) ++j;
    out += static_cast<char>('a' + choices[i]);
    if (j - i > 1) out += std::to_string(j - i);
    i = j;
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> decode_choices(std::string_view s) {
  if (s.size() > kMaxReplayText) return std::nullopt;
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i++];
    if (c < 'a' || c > 'z') return std::nullopt;
    std::size_t n = 1;
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) {
      const auto* first = s.data() + i;
      const auto r = std::from_chars(first, s.data() + s.size(), n);
      if (r.ec != std::errc{} || n == 0) return std::nullopt;
      i += static_cast<std::size_t>(r.ptr - first);
    }
    if (n > kMaxReplayChoices - out.size()) return std::nullopt;  // checked before it is allocated
    out.insert(out.end(), n, static_cast<std::uint8_t>(c - 'a'));
  }
  return out;
}

std::optional<std::string> Explorer::next(const RunResult* last) {
  if (!started_ || last == nullptr) {
    started_ = true;
    ++schedules_;
    return std::string{};
  }
  // Preemptions spent before each point along the last run.
  const std::vector<ChoicePoint>& pts = last->points;
  std::vector<unsigned> spent(pts.size() + 1, 0);
  for (std::size_t i = 0; i < pts.size(); ++i) {
    spent[i + 1] = spent[i] + (pts[i].preemptive && pts[i].chosen != pts[i].fallback ? 1U : 0U);
  }
  // Options are tried in the order: fallback first, then the others ascending. Backtrack to
  // the deepest point with an option after the chosen one that the bound allows.
  for (std::size_t i = pts.size(); i-- > 0;) {
    const ChoicePoint& c = pts[i];
    std::vector<std::uint8_t> order{c.fallback};
    for (std::uint8_t k = 0; k < c.n; ++k) {
      if (k != c.fallback) order.push_back(k);
    }
    const auto at = std::find(order.begin(), order.end(), c.chosen);
    for (auto it = at == order.end() ? order.end() : at + 1; it != order.end(); ++it) {
      if (c.preemptive && spent[i] + 1 > bound_) break;  // every option after the fallback preempts
      std::vector<std::uint8_t> prefix;
      prefix.reserve(i + 1);
      for (std::size_t k = 0; k < i; ++k) prefix.push_back(pts[k].chosen);
      prefix.push_back(*it);
      ++schedules_;
      return encode_choices(prefix);
    }
  }
  return std::nullopt;
}

/// An RMP entry in a trace line: who owns it and the bits that matter to a race.
static std::string compact(const model::RmpEntryRaw& e) {
  if (!e.assigned()) return "hypervisor";
  std::string out = e.asid() == 0 ? "firmware" : fmt::format("asid {} gpa 0x{:x}", e.asid(), e.gpa());
  if (e.page_size() == model::PageSize::Size2M) out += " 2M";
  if (e.validated()) out += " validated";
  if (e.immutable()) out += " immutable";
  if (e.vmsa()) out += " vmsa";
  return out;
}

/// Agent stacks, kept for the next run on this thread: an exploration runs the same agents
/// thousands of times, and a fresh 128 KiB stack each time is an mmap, a munmap and its page
/// faults. Stacks are not shared between threads.
class StackPool {
 public:
  ~StackPool() {
    for (Kept& k : free_) alloc_.deallocate(k.sc);
  }
  ctx::stack_context take() {
    if (free_.empty()) return alloc_.allocate();
    const ctx::stack_context sc = free_.back().sc;
    free_.pop_back();
    return sc;
  }
  void give(ctx::stack_context& sc) {
    if (free_.size() < kKeep) {
      free_.push_back(Kept{sc, static_cast<char*>(sc.sp) - sc.size});
    } else {
      alloc_.deallocate(sc);
    }
  }

 private:
  /// A kept stack. `sc.sp` is one past its end (stacks grow down), which a leak checker does
  /// not count as a reference; `base` is its start, so a pool a worker thread never destroys
  /// (TBB's threads outlive main) still holds its stacks visibly.
  struct Kept {
    ctx::stack_context sc;
    void* base;
  };
  static constexpr std::size_t kKeep = 16;
  ctx::fixedsize_stack alloc_;
  std::vector<Kept> free_;
};

StackPool& stack_pool() {
  thread_local StackPool pool;
  return pool;
}

/// Boost.Context's StackAllocator over this thread's pool.
struct PooledStack {
  ctx::stack_context allocate() { return stack_pool().take(); }
  void deallocate(ctx::stack_context& sc) noexcept { stack_pool().give(sc); }
};

struct Engine::Impl final : model::RmpAccessHook, model::RmpObserver {
  struct Fiber {
    std::string name;
    std::function<void()> body;
    ctx::fiber self;   ///< the agent, suspended
    ctx::fiber back;   ///< the scheduler, while the agent runs
    bool started = false;
    bool done = false;
    bool (*ready)(const void*) = nullptr;  ///< set while blocked
    const void* arg = nullptr;
    /// The access this agent stopped before and has not done yet (KCSAN: in flight).
    const void* pending_obj = nullptr;
    kern::PointKind pending_kind{};
    std::uint64_t pending_step = 0;
  };

  kern::Sched& sched;
  Options opts;
  Rng rng{0};
  std::vector<Fiber> agents;
  std::optional<std::size_t> current;   ///< the agent running now (inside resume())
  std::optional<std::size_t> last_run;  ///< the agent that ran last: the strategies' "running agent"
  bool aborting = false;
  RunResult result;
  std::vector<std::uint8_t> choices;
  std::vector<std::uint8_t> script;
  std::size_t script_pos = 0;
  std::vector<std::uint64_t> priority;      ///< Pct: per agent, higher runs first
  std::vector<std::uint64_t> change_steps;  ///< Pct: the steps where the runner's priority drops
  model::Rmp* rmp = nullptr;                ///< watched (Engine::watch)
  std::string next_detail;                  ///< for the next point (a reload's load)
  std::uint64_t sched_choices = 0;          ///< scheduling choices so far (Pct's clock)
  std::vector<std::pair<const void*, const void*>> raced;  ///< reported data-race pairs

  Impl(kern::Sched& s, Options o) : sched(s), opts(std::move(o)), rng{opts.seed} {}

  // --- RMP: CPU instructions are points, every change goes into the trace. ---------------
  void on_insn(model::RmpInsn insn, model::Spa spa, model::PageSize size, const model::OpContext& ctx) override {
    if (insn == model::RmpInsn::Firmware || insn == model::RmpInsn::Rmpread) return;  // inside a PSP command / read-only
    const std::string name = fmt::format("{} 0x{:x}{}", model::to_string(insn), spa >> model::kPageShift,
                                         size == model::PageSize::Size2M ? " 2M" : "");
    point(kern::PointKind::RmpInsn, rmp, name, std::string(ctx.op));
  }
  void on_load(model::Pfn /*pfn*/) override {}
  void on_store(model::Pfn /*pfn*/, const model::RmpEntryRaw& /*before*/, const model::RmpEntryRaw& /*after*/) override {}
  void on_event(const model::Rmp& /*rmp*/, const model::RmpEvent& ev) override {
    if (!current || aborting) return;
    // The instruction runs in the current agent right after its own last point (other
    // agents may have taken steps since): that point is where it happened.
    result.rmp_steps.emplace_back(ev.seq, agents[*current].pending_step);
    if (ev.changes.empty()) return;
    // The agent's latest event is this instruction (or the PSP command that runs it).
    for (auto it = result.trace.rbegin(); it != result.trace.rend(); ++it) {
      if (it->agent != *current) continue;
      for (const model::EntryChange& c : ev.changes) {
        it->detail += fmt::format("{}pfn 0x{:x}: {} -> {}", it->detail.empty() ? "" : "; ", c.pfn,
                                  compact(c.before), compact(c.after));
      }
      break;
    }
  }

  /// Every point: a trace event, the data-race check, then the strategy decides.
  void point(kern::PointKind kind, const void* obj, std::string_view name, std::string detail) {
    if (!current || aborting) return;  // set-up code, or unwinding after a deadlock
    result.cycles += cost_of(kind);
    const std::uint64_t step = result.steps++;
    sched.set_step(step);
    if (detail.empty()) detail = std::exchange(next_detail, std::string{});
    result.trace.push_back(TraceEvent{step, result.cycles, static_cast<std::uint32_t>(*current), kind,
                                      std::string(name), std::move(detail), sched.function()});
    if (opts.data_races) check_race(kind, obj, name);
    Fiber& f = agents[*current];
    f.pending_obj = obj;
    f.pending_kind = kind;
    f.pending_step = step;
    yield();
    f.pending_obj = nullptr;
  }

  static bool is_access(kern::PointKind k) {
    return k == kern::PointKind::PlainLoad || k == kern::PointKind::PlainStore || k == kern::PointKind::MarkedLoad ||
           k == kern::PointKind::MarkedStore;
  }
  static bool is_write(kern::PointKind k) {
    return k == kern::PointKind::PlainStore || k == kern::PointKind::MarkedStore;
  }
  static bool is_plain(kern::PointKind k) {
    return k == kern::PointKind::PlainLoad || k == kern::PointKind::PlainStore;
  }

  /// KCSAN's idea with the scheduler as the delay: another agent stopped right before an
  /// access to the same object and has not done it yet, so both accesses are in flight at
  /// once; if one writes and one is plain, that is a data race.
  void check_race(kern::PointKind kind, const void* obj, std::string_view name) {
    if (!is_access(kind)) return;
    for (std::size_t i = 0; i < agents.size(); ++i) {
      const Fiber& o = agents[i];
      if (i == *current || o.done || o.pending_obj != obj || !is_access(o.pending_kind)) continue;
      if (!(is_write(kind) || is_write(o.pending_kind)) || !(is_plain(kind) || is_plain(o.pending_kind))) continue;
      const std::pair<const void*, const void*> key{obj, reinterpret_cast<const void*>(i)};
      if (std::find(raced.begin(), raced.end(), key) != raced.end()) continue;
      raced.push_back(key);
      sched.report(FindingKind::DataRace, kcsan_report(name, i, o.pending_kind, o.pending_step, kind), {o.pending_step});
    }
  }

  /// The report as KCSAN words it: the title names both functions (in lexical order, so it
  /// does not depend on who came first), then each access with its agent, step and
  /// functions, the other one's first (it was in flight).
  std::string kcsan_report(std::string_view name, std::size_t other, kern::PointKind other_kind,
                           std::uint64_t other_step, kern::PointKind kind) const {
    const auto agent_of = [](std::size_t i) { return static_cast<kern::AgentId>(i + 1); };
    auto fn = [&](std::size_t i) {
      const std::string_view f = sched.function(agent_of(i));
      return f.empty() ? std::string_view("<vmm>") : f;
    };
    auto access = [&](kern::PointKind k) {
      return fmt::format("{}{}", is_write(k) ? "write" : "read", is_plain(k) ? "" : " (marked)");
    };
    auto stack = [&](std::size_t i) {
      const std::string bt = sched.backtrace(agent_of(i));
      return bt.empty() ? std::string("<vmm>") : bt;
    };
    std::string_view a = fn(other), b = fn(*current);
    if (b < a) std::swap(a, b);
    return fmt::format(
        "BUG: KCSAN: data-race in {} / {}: {} to '{}' by {} at step {}: {}; {} to '{}' by {} at step {}: {}", a, b,
        access(other_kind), name, agents[other].name, other_step, stack(other), access(kind), name,
        agents[*current].name, result.steps - 1, stack(*current));
  }

  bool runnable(const Fiber& f) const { return !f.done && (f.ready == nullptr || f.ready(f.arg)); }

  /// From inside the running agent: back to the scheduler until it is picked again.
  void yield() {
    Fiber& f = agents[*current];
    f.back = std::move(f.back).resume();
  }

  std::size_t pick(const std::vector<std::size_t>& live) {
    if (live.size() == 1) return live[0];
    // The non-preempting choice: the agent that ran last, if it can go on; else the first.
    const auto cont = last_run ? std::find(live.begin(), live.end(), *last_run) : live.end();
    const std::size_t fallback = cont == live.end() ? 0 : static_cast<std::size_t>(cont - live.begin());
    std::size_t idx = 0;
    if (opts.strategy == Strategy::Pct) {
      // At a change point the running agent drops below every initial priority (d - i).
      // Change points count the scheduling choices (points where more than one agent could
      // run), not every step: a step with one runnable agent cannot change anything.
      const std::uint64_t step = sched_choices;
      for (std::size_t c = 0; c < change_steps.size(); ++c) {
        if (change_steps[c] == step && last_run) priority[*last_run] = change_steps.size() - c;
      }
      std::size_t best = 0;
      for (std::size_t k = 1; k < live.size(); ++k) {
        if (priority[live[k]] > priority[live[best]]) best = k;
      }
      idx = best;
    } else if (opts.strategy == Strategy::Replay || opts.strategy == Strategy::Dfs) {
      if (script_pos < script.size() && script[script_pos] < live.size()) {
        idx = script[script_pos++];
      } else if (opts.strategy == Strategy::Dfs && script_pos >= script.size()) {
        idx = fallback;  // past the forced prefix: no preemption
      } else {
        result.replay_diverged = true;  // keep going deterministically: the first runnable
        idx = 0;
        ++script_pos;
      }
    } else {
      // Stay with the running agent unless the coin says switch; then any runnable one.
      const auto cur = last_run ? std::find(live.begin(), live.end(), *last_run) : live.end();
      const bool stay = cur != live.end() && rng.next() % opts.switch_one_in != 0;
      idx = stay ? static_cast<std::size_t>(cur - live.begin()) : static_cast<std::size_t>(rng.next() % live.size());
    }
    ++sched_choices;
    choices.push_back(static_cast<std::uint8_t>(idx));
    result.points.push_back(ChoicePoint{static_cast<std::uint8_t>(std::min<std::size_t>(live.size(), 255)),
                                        static_cast<std::uint8_t>(idx), static_cast<std::uint8_t>(fallback), false,
                                        cont != live.end()});
    return live[idx];
  }

  /// A reload choice: 0 keeps the register value, 1 loads again.
  bool pick_reload() {
    std::uint8_t v = 0;
    if (opts.strategy == Strategy::Replay || opts.strategy == Strategy::Dfs) {
      if (script_pos < script.size() && script[script_pos] < 2) {
        v = script[script_pos++];
      } else if (!(opts.strategy == Strategy::Dfs && script_pos >= script.size())) {
        result.replay_diverged = true;
        ++script_pos;
      }
    } else {
      v = static_cast<std::uint8_t>(rng.next() & 1U);
    }
    choices.push_back(v);
    result.points.push_back(ChoicePoint{2, v, 0, true, true});
    return v != 0;
  }

  void resume(std::size_t i) {
    Fiber& f = agents[i];
    current = i;
    sched.set_current(static_cast<kern::AgentId>(i + 1));
    sched.set_step(f.pending_step);  // what it reports from here on happens at its own last point
    if (!f.started) {
      f.started = true;
      f.self = ctx::fiber(std::allocator_arg, PooledStack{}, [this, i](ctx::fiber&& back) {
        agents[i].back = std::move(back);
        agents[i].body();
        agents[i].done = true;
        return std::move(agents[i].back);
      });
    }
    f.self = std::move(f.self).resume();
    current.reset();
    last_run = i;
  }
};

Engine::Engine(kern::Sched& sched, Options opts) : impl_(new Impl(sched, std::move(opts))) {}
Engine::~Engine() { delete impl_; }

void Engine::watch(model::Rmp& rmp) { impl_->rmp = &rmp; }

void Engine::on_point(const kern::Point& p) { impl_->point(p.kind, p.object, p.name, {}); }

bool Engine::choose_reload(const kern::Point& p) {
  Impl& m = *impl_;
  if (!m.current || m.aborting || !m.opts.reloads) return false;
  const bool reload = m.pick_reload();
  if (reload) m.next_detail = fmt::format("compiler reload of '{}' (a plain load used again)", p.name);
  return reload;
}

bool Engine::block_until(const kern::Point& /*p*/, bool (*ready)(const void*), const void* arg) {
  Impl& m = *impl_;
  if (!m.current || m.aborting) return ready(arg);
  if (ready(arg)) return true;
  Impl::Fiber& f = m.agents[*m.current];
  f.ready = ready;
  f.arg = arg;
  m.yield();
  f.ready = nullptr;
  f.arg = nullptr;
  return !m.aborting;
}

RunResult Engine::run(std::vector<Agent> agents) {
  Impl& m = *impl_;
  m.result = RunResult{};
  m.result.trace.reserve(64);
  m.result.points.reserve(64);
  m.choices.clear();
  m.agents.clear();
  m.last_run.reset();
  m.aborting = false;
  m.raced.clear();
  m.sched_choices = 0;
  m.sched.clear_functions(1);  // agents start outside any kernel function (ids from 1)
  m.script.clear();
  m.script_pos = 0;
  if (m.opts.strategy == Strategy::Replay || m.opts.strategy == Strategy::Dfs) {
    const auto s = decode_choices(m.opts.replay);
    m.result.replay_diverged = !s.has_value();
    m.script = s.value_or(std::vector<std::uint8_t>{});
    m.script_pos = 0;
  }
  if (m.opts.strategy == Strategy::Pct) {
    // Distinct initial priorities d + 1 .. d + n in random order; d - 1 change points in [0, k).
    const std::size_t n = agents.size();
    m.priority.assign(n, 0);
    std::vector<std::uint64_t> pr(n);
    for (std::size_t i = 0; i < n; ++i) pr[i] = m.opts.pct_depth + 1 + i;
    for (std::size_t i = n; i > 1; --i) std::swap(pr[i - 1], pr[m.rng.next() % i]);
    m.priority = pr;
    m.change_steps.clear();
    for (unsigned c = 1; c < m.opts.pct_depth; ++c) m.change_steps.push_back(m.rng.next() % std::max<std::uint64_t>(1, m.opts.pct_steps));
  }
  for (Agent& a : agents) {
    m.result.agent_names.push_back(a.name);
    m.agents.push_back(Impl::Fiber{std::move(a.name), std::move(a.body), {}, {}, false, false, nullptr, nullptr});
  }
  const std::size_t findings_before = m.sched.findings().size();
  kern::SchedHook* previous = m.sched.hook();
  const kern::AgentId previous_agent = m.sched.current();
  m.sched.set_hook(this);
  if (m.rmp != nullptr) {
    m.rmp->set_access_hook(&m);
    m.rmp->add_observer(&m);
  }
  std::vector<std::size_t> live;
  live.reserve(m.agents.size());
  while (m.result.steps < m.opts.max_steps) {
    live.clear();
    bool unfinished = false;
    for (std::size_t i = 0; i < m.agents.size(); ++i) {
      unfinished = unfinished || !m.agents[i].done;
      if (m.runnable(m.agents[i])) live.push_back(i);
    }
    if (!unfinished) break;
    if (live.empty()) {
      m.result.deadlock = true;
      m.sched.report(FindingKind::Deadlock, "every unfinished agent waits on something no agent can provide");
      break;
    }
    m.resume(m.pick(live));
  }
  // Agents still suspended (deadlock, step limit) are unwound without scheduling.
  m.aborting = true;
  for (std::size_t i = 0; i < m.agents.size(); ++i) {
    m.sched.set_current(static_cast<kern::AgentId>(i + 1));  // its destructors run as that agent
    m.agents[i].self = ctx::fiber{};
  }
  if (m.rmp != nullptr) {
    m.rmp->set_access_hook(nullptr);
    m.rmp->remove_observer(&m);
  }
  m.sched.set_hook(previous);
  m.sched.set_current(previous_agent);
  const auto& all = m.sched.findings();
  m.result.findings.assign(all.begin() + static_cast<std::ptrdiff_t>(findings_before), all.end());
  if (m.opts.strategy == Strategy::Replay && m.script_pos != m.script.size()) m.result.replay_diverged = true;
  m.result.replay = encode_choices(m.choices);
  return std::move(m.result);
}

}  // namespace snplab::model::engine
