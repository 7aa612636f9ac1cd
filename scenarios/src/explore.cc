// Exploration: many schedules of one scenario under one profile (docs/engine.md). Random and
// PCT schedules are independent (schedule i runs with seed + i), so they are spread over the
// cores with TBB in rounds, and the lowest-numbered finding of a round is the one reported:
// the answer does not depend on the number of jobs. Exhaustive search (Explorer) is one
// sequence of re-executions and runs on one core. A checkpoint file records where to go on.
// Each core sets the scenario up once (PreparedRace) and starts every schedule from its
// snapshot; a finding is re-run from a fresh set-up, so a snapshot that did not restore
// everything shows up as nondeterminism.
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "snp/scenarios/explore.h"
#include "snp/scenarios/input_file.h"

namespace snplab::scenarios {

namespace {

using model::engine::Strategy;
using Clock = std::chrono::steady_clock;

struct Checkpoint {
  std::string scenario, profile, strategy;
  std::uint64_t seed = 0, depth = 0, bound = 0;
  std::uint64_t next = 0;       ///< random/pct: the next schedule number (0-based)
  std::uint64_t findings = 0;
  std::string dfs_last;         ///< dfs: the choices of the last schedule run
  bool dfs_done = false;
};

std::string to_text(const Checkpoint& c) {
  return fmt::format(
      "snplab-explore 1\nscenario {}\nprofile {}\nstrategy {}\nseed {}\ndepth {}\nbound {}\nnext {}\nfindings {}\n"
      "dfs-last {}\ndfs-done {}\n",
      c.scenario, c.profile, c.strategy, c.seed, c.depth, c.bound, c.next, c.findings,
      c.dfs_last.empty() ? "-" : c.dfs_last, c.dfs_done ? 1 : 0);
}

bool read_checkpoint(const std::string& path, Checkpoint* c, std::string* why) {
  const auto bytes = read_input_file(path, kMaxCheckpointFile, "the checkpoint", why);
  if (!bytes) return false;
  std::istringstream in(std::string(bytes->begin(), bytes->end()));
  std::string line;
  if (!std::getline(in, line) || line != "snplab-explore 1") {
    *why = fmt::format("'{}' is not an snplab exploration checkpoint", path);
    return false;
  }
  std::map<std::string, std::string> kv;
  while (std::getline(in, line)) {
    const auto sp = line.find(' ');
    if (sp != std::string::npos) kv[line.substr(0, sp)] = line.substr(sp + 1);
  }
  auto num = [&](const char* k, std::uint64_t* v) {
    const auto it = kv.find(k);
    if (it == kv.end()) return false;
    char* end = nullptr;
    *v = std::strtoull(it->second.c_str(), &end, 10);
    return end != nullptr && *end == '\0';
  };
  std::uint64_t done = 0;
  if (!kv.contains("scenario") || !kv.contains("profile") || !kv.contains("strategy") || !num("seed", &c->seed) ||
      !num("depth", &c->depth) || !num("bound", &c->bound) || !num("next", &c->next) ||
      !num("findings", &c->findings) || !num("dfs-done", &done) || !kv.contains("dfs-last")) {
    *why = fmt::format("checkpoint '{}' is incomplete", path);
    return false;
  }
  c->scenario = kv["scenario"];
  c->profile = kv["profile"];
  c->strategy = kv["strategy"];
  c->dfs_last = kv["dfs-last"] == "-" ? "" : kv["dfs-last"];
  c->dfs_done = done != 0;
  return true;
}

/// False when the file could not be written (a directory, no permission, a full disk).
bool write_checkpoint(const std::string& path, const Checkpoint& c) {
  if (path.empty()) return true;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out || !(out << to_text(c)) || !out.flush()) return false;
  }
  // A stop mid-write leaves the previous checkpoint.
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

model::engine::Options schedule_options(const ExploreOptions& o, std::uint64_t index, std::uint64_t k) {
  model::engine::Options e;
  e.strategy = o.strategy;
  e.seed = o.seed + index;
  e.pct_depth = o.pct_depth;
  e.pct_steps = k;
  return e;
}

/// The finding once more from its replay string: the same trace, or nondeterminism.
bool reproduces(const Scenario& s, std::string_view profile, const RaceRun& r) {
  model::engine::Options rep;
  rep.strategy = Strategy::Replay;
  rep.replay = r.run.replay;
  const RaceRun again = run_race(s, profile, rep);
  return again.error.empty() && !again.run.replay_diverged && again.found && again.run.text() == r.run.text();
}

/// One strategy's exploration (explore() adds the exhaustive pass after it).
ExploreResult explore_one(const Scenario& s, std::string_view profile, const ExploreOptions& o) {
  ExploreResult res;
  const auto t0 = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  Checkpoint cp;
  cp.scenario = s.info().name;
  cp.profile = std::string(profile);
  cp.strategy = std::string(model::engine::to_string(o.strategy));
  cp.seed = o.seed;
  cp.depth = o.pct_depth;
  cp.bound = o.preemption_bound;
  if (o.resume) {
    Checkpoint old;
    if (!read_checkpoint(o.checkpoint, &old, &res.error)) {
      res.input_error = true;
      return res;
    }
    if (old.scenario != cp.scenario || old.profile != cp.profile || old.strategy != cp.strategy ||
        old.seed != cp.seed || old.depth != cp.depth || old.bound != cp.bound) {
      res.error = fmt::format("checkpoint '{}' is for {} under {} ({}, seed {}, depth {}, bound {}), not this run",
                              o.checkpoint, old.scenario, old.profile, old.strategy, old.seed, old.depth, old.bound);
      res.input_error = true;
      return res;
    }
    cp = old;
  }
  // The checkpoint file must be writable before any work depends on it.
  if (!write_checkpoint(o.checkpoint, cp)) {
    res.error = fmt::format("cannot write checkpoint '{}'", o.checkpoint);
    res.input_error = true;
    return res;
  }
  res.schedules = cp.next;
  res.findings = cp.findings;
  auto last_tick = Clock::now();
  bool checkpoint_failed = false;
  auto tick = [&](bool force) {
    if (!force && Clock::now() - last_tick < std::chrono::seconds(1)) return;
    last_tick = Clock::now();
    cp.next = res.schedules;
    cp.findings = res.findings;
    if (!write_checkpoint(o.checkpoint, cp)) checkpoint_failed = true;
    if (o.progress) o.progress(ExploreProgress{res.schedules, res.findings, elapsed()});
  };
  auto stop_requested = [&] { return o.stop != nullptr && o.stop->load(std::memory_order_relaxed); };

  // One set-up per thread, made on first use (a resumed, finished search needs none) and
  // restored before each of its schedules: the probe's is reused by the calling thread's
  // share of the TBB rounds.
  tbb::enumerable_thread_specific<std::unique_ptr<PreparedRace>> prepared;
  auto run_here = [&](const model::engine::Options& e) {
    std::unique_ptr<PreparedRace>& mine = prepared.local();
    if (!mine) {
      std::string why;
      mine = PreparedRace::prepare(s, profile, &why);
      if (!mine) {
        RaceRun r;
        r.error = why;
        return r;
      }
    }
    return mine->run(e);
  };

  if (o.strategy == Strategy::Dfs) {
    model::engine::Explorer ex(o.preemption_bound);
    std::optional<std::string> prefix = ex.next(nullptr);
    if (cp.dfs_done) {
      res.exhausted = true;
      return res;
    }
    if (!cp.dfs_last.empty()) {
      // Resume: run the last schedule again to know its choice points, and go on after it.
      model::engine::Options e;
      e.strategy = Strategy::Dfs;
      e.replay = cp.dfs_last;
      const RaceRun last = run_here(e);
      if (!last.error.empty()) {
        res.error = last.error;
        return res;
      }
      prefix = ex.next(&last.run);
    }
    for (std::uint64_t n = 0; prefix && n < o.budget && !stop_requested(); ++n) {
      model::engine::Options e;
      e.strategy = Strategy::Dfs;
      e.replay = *prefix;
      RaceRun r = run_here(e);
      if (!r.error.empty()) {
        res.error = r.error;
        return res;
      }
      ++res.schedules;
      cp.dfs_last = r.run.replay;
      prefix = ex.next(&r.run);
      if (r.found) {
        ++res.findings;
        if (!res.first) {
          res.first_index = res.schedules;
          res.seconds_to_first = elapsed();
          res.first = std::move(r);
        }
        if (!o.keep_going) break;
      }
      tick(false);
    }
    res.exhausted = !prefix;
    cp.dfs_done = res.exhausted;
  } else {
    // PCT needs the run length: one schedule that runs the agents one after the other.
    std::uint64_t k = 0;
    if (o.strategy == Strategy::Pct) {
      model::engine::Options probe;
      probe.strategy = Strategy::Pct;
      probe.pct_depth = 1;
      const RaceRun first = run_here(probe);
      if (!first.error.empty()) {
        res.error = first.error;
        return res;
      }
      // Every step bounds the choices of any schedule from above (a probe's own choice count
      // depends on which agent its priorities ran first).
      k = first.run.steps;
    }
    const unsigned jobs = o.jobs == 0 ? std::max(1U, std::thread::hardware_concurrency()) : o.jobs;
    tbb::task_arena arena(static_cast<int>(jobs));
    const std::uint64_t round = jobs == 1 ? 1 : jobs * 8ULL;
    // Saturating: a resumed run with a huge budget must not wrap around to no work.
    const std::uint64_t end =
        o.budget > std::numeric_limits<std::uint64_t>::max() - res.schedules ? std::numeric_limits<std::uint64_t>::max()
                                                                               : res.schedules + o.budget;
    while (res.schedules < end && !stop_requested()) {
      const std::uint64_t base = res.schedules;
      const std::uint64_t n = std::min(round, end - base);
      std::vector<std::optional<RaceRun>> hits(n);
      std::vector<std::string> errors(n);
      arena.execute([&] {
        tbb::parallel_for(std::uint64_t{0}, n, [&](std::uint64_t i) {
          RaceRun r = run_here(schedule_options(o, base + i, k));
          if (!r.error.empty()) {
            errors[i] = r.error;
          } else if (r.found) {
            hits[i] = std::move(r);
          }
        });
      });
      for (std::uint64_t i = 0; i < n; ++i) {
        if (!errors[i].empty()) {
          res.error = errors[i];
          return res;
        }
      }
      res.schedules += n;
      for (std::uint64_t i = 0; i < n; ++i) {
        if (!hits[i]) continue;
        ++res.findings;
        if (!res.first) {
          res.first_index = base + i + 1;
          res.seconds_to_first = elapsed();
          res.first = std::move(hits[i]);
        }
      }
      tick(false);
      if (res.first && !o.keep_going) break;
    }
  }
  res.stopped = stop_requested();
  res.seconds = elapsed();
  if (res.first) res.reproduced = reproduces(s, profile, *res.first);
  tick(true);
  if (checkpoint_failed && res.error.empty()) {
    res.error = fmt::format("cannot write checkpoint '{}' (the run went on without it)", o.checkpoint);
  }
  return res;
}

}  // namespace

ExploreResult explore(const Scenario& s, std::string_view profile, const ExploreOptions& o) {
  ExploreResult res = explore_one(s, profile, o);
  const bool more = o.then_dfs && o.strategy != Strategy::Dfs && o.checkpoint.empty();
  if (!more || !res.error.empty() || res.stopped || (res.first && !o.keep_going)) return res;
  ExploreOptions d = o;
  d.strategy = Strategy::Dfs;
  d.budget = o.dfs_budget;
  d.then_dfs = false;
  ExploreResult r = explore_one(s, profile, d);
  if (!r.error.empty()) {
    res.error = r.error;
    return res;
  }
  if (r.first && !res.first) {
    res.first = std::move(r.first);
    res.first_index = res.schedules + r.first_index;
    res.seconds_to_first = res.seconds + r.seconds_to_first;
    res.reproduced = r.reproduced;
  }
  res.findings += r.findings;
  res.dfs_schedules = r.schedules;
  res.schedules += r.schedules;
  res.seconds += r.seconds;
  res.exhausted = r.exhausted;
  res.stopped = r.stopped;
  return res;
}

}  // namespace snplab::scenarios
