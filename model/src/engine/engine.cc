#include "snp/model/engine/engine.h"

#include <boost/context/fiber.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include <fmt/format.h>

#include "snp/model/assert.h"

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
  }
  return 1;
}

std::string RunResult::text() const {
  std::string out;
  for (const TraceEvent& e : trace) {
    const std::string& who = e.agent < agent_names.size() ? agent_names[e.agent] : "?";
    out += fmt::format("{:>12}  [{:>9}]  {:<16} {}\n", who, e.cycle, kern::to_string(e.kind), e.object);
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
std::string encode(const std::vector<std::uint8_t>& choices) {
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

std::optional<std::vector<std::uint8_t>> decode(std::string_view s) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i++];
    if (c < 'a' || c > 'z') return std::nullopt;
    std::size_t n = 1;
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) {
      const auto* first = s.data() + i;
      const auto r = std::from_chars(first, s.data() + s.size(), n);
      if (r.ec != std::errc{} || n == 0 || n > 10'000'000) return std::nullopt;
      i += static_cast<std::size_t>(r.ptr - first);
    }
    out.insert(out.end(), n, static_cast<std::uint8_t>(c - 'a'));
  }
  return out;
}

}  // namespace

struct Engine::Impl {
  struct Fiber {
    std::string name;
    std::function<void()> body;
    ctx::fiber self;   ///< the agent, suspended
    ctx::fiber back;   ///< the scheduler, while the agent runs
    bool started = false;
    bool done = false;
    bool (*ready)(const void*) = nullptr;  ///< set while blocked
    const void* arg = nullptr;
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

  Impl(kern::Sched& s, Options o) : sched(s), opts(std::move(o)), rng{opts.seed} {}

  bool runnable(const Fiber& f) const { return !f.done && (f.ready == nullptr || f.ready(f.arg)); }

  /// From inside the running agent: back to the scheduler until it is picked again.
  void yield() {
    Fiber& f = agents[*current];
    f.back = std::move(f.back).resume();
  }

  std::size_t pick(const std::vector<std::size_t>& live) {
    if (live.size() == 1) return live[0];
    std::size_t idx = 0;
    if (opts.strategy == Strategy::Pct) {
      // At a change point the running agent drops below every initial priority (d - i).
      const std::uint64_t step = result.steps;
      for (std::size_t c = 0; c < change_steps.size(); ++c) {
        if (change_steps[c] == step && last_run) priority[*last_run] = change_steps.size() - c;
      }
      std::size_t best = 0;
      for (std::size_t k = 1; k < live.size(); ++k) {
        if (priority[live[k]] > priority[live[best]]) best = k;
      }
      idx = best;
    } else if (opts.strategy == Strategy::Replay) {
      if (script_pos < script.size() && script[script_pos] < live.size()) {
        idx = script[script_pos++];
      } else {
        result.replay_diverged = true;  // keep going deterministically: the first runnable
        idx = 0;
      }
    } else {
      // Stay with the running agent unless the coin says switch; then any runnable one.
      const auto cur = last_run ? std::find(live.begin(), live.end(), *last_run) : live.end();
      const bool stay = cur != live.end() && rng.next() % opts.switch_one_in != 0;
      idx = stay ? static_cast<std::size_t>(cur - live.begin()) : static_cast<std::size_t>(rng.next() % live.size());
    }
    choices.push_back(static_cast<std::uint8_t>(idx));
    return live[idx];
  }

  void resume(std::size_t i) {
    Fiber& f = agents[i];
    current = i;
    sched.set_current(static_cast<kern::AgentId>(i + 1));
    if (!f.started) {
      f.started = true;
      f.self = ctx::fiber([this, i](ctx::fiber&& back) {
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

void Engine::on_point(const kern::Point& p) {
  Impl& m = *impl_;
  if (!m.current || m.aborting) return;  // set-up code, or unwinding after a deadlock
  m.result.cycles += cost_of(p.kind);
  m.result.trace.push_back(TraceEvent{m.result.steps++, m.result.cycles, static_cast<std::uint32_t>(*m.current),
                                      p.kind, std::string(p.name)});
  m.yield();
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
  m.choices.clear();
  m.agents.clear();
  m.last_run.reset();
  m.aborting = false;
  if (m.opts.strategy == Strategy::Replay) {
    const auto s = decode(m.opts.replay);
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
  while (m.result.steps < m.opts.max_steps) {
    std::vector<std::size_t> live;
    bool unfinished = false;
    for (std::size_t i = 0; i < m.agents.size(); ++i) {
      unfinished = unfinished || !m.agents[i].done;
      if (m.runnable(m.agents[i])) live.push_back(i);
    }
    if (!unfinished) break;
    if (live.empty()) {
      m.result.deadlock = true;
      m.sched.report("deadlock", "every unfinished agent waits on something no agent can provide");
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
  m.sched.set_hook(previous);
  m.sched.set_current(previous_agent);
  const auto& all = m.sched.findings();
  m.result.findings.assign(all.begin() + static_cast<std::ptrdiff_t>(findings_before), all.end());
  if (m.opts.strategy == Strategy::Replay && m.script_pos != m.script.size()) m.result.replay_diverged = true;
  m.result.replay = encode(m.choices);
  return m.result;
}

}  // namespace snplab::model::engine
