// `snplab scenario` over a catalogue: list, explain, run (one scenario or --all), replay. The
// snplab tool runs it over the built-in catalogue; scenario_main() gives a program of one's own
// the same command line over its catalogue. See docs/engine.md and docs/write-a-race.md.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "snp/model/host/profile.h"
#include "snp/scenarios/catalogue.h"
#include "snp/scenarios/explore.h"
#include "snp/scenarios/trace_out.h"

#include "cli.h"

namespace snplab::scenarios {

namespace {

using model::engine::Strategy;

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int /*sig*/) { g_stop.store(true); }

/// Where the command line's output goes and what it is called ("snplab scenario", or a
/// program of one's own).
struct Cli {
  std::string_view prog;
  std::FILE* out;
  std::FILE* err;
  template <class... A>
  void error(fmt::format_string<A...> f, A&&... a) const {
    fmt::print(err, "{}: {}\n", prog, fmt::format(f, std::forward<A>(a)...));
  }
};

/// A usage or input error found after parsing: the message, and where the options are.
int usage(const Cli& c, const std::string& msg, std::string_view sub) {
  fmt::print(c.err, "{0}: {1}\nRun '{0} {2} --help' for the options.\n", c.prog, msg, sub);
  return cli::kExitUsage;
}

bool ends_with(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

/// Writes the run to `path` in the format its extension names; false (with a message) on error.
bool write_trace(const std::string& path, const model::engine::RunResult& run, const TraceInfo& info, const Cli& c) {
  if (path == "-") {  // the text trace on standard output
    fmt::print(c.out, "{}", run.text());
    return true;
  }
  std::string body;
  if (ends_with(path, ".json")) {
    body = chrome_trace_json(run, info);
  } else if (ends_with(path, ".svg")) {
    body = timeline_svg(run, info);
  } else if (ends_with(path, ".html") || ends_with(path, ".htm")) {
    body = timeline_html(run, info);
  } else {
    body = run.text();
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !out.write(body.data(), static_cast<std::streamsize>(body.size()))) {
    c.error("cannot write '{}'", path);
    return false;
  }
  return true;
}

/// The cycles between the first and the last step a finding names: the race window.
std::uint64_t window_cycles(const model::engine::RunResult& run, const model::kern::KernelFinding& f) {
  if (f.steps.empty()) return 0;
  std::uint64_t lo = ~0ULL, hi = 0;
  for (const std::uint64_t st : f.steps) {
    for (const auto& e : run.trace) {
      if (e.step == st) {
        lo = std::min(lo, e.cycle);
        hi = std::max(hi, e.cycle);
      }
    }
  }
  return lo > hi ? 0 : hi - lo;
}

void print_findings(std::FILE* out, const RaceRun& r) {
  for (const auto& f : r.run.findings) {
    std::string steps;
    for (const std::uint64_t st : f.steps) steps += fmt::format("{}{}", steps.empty() ? "" : ",", st);
    fmt::print(out, "finding {}: {}", f.kind, f.message);
    if (!steps.empty()) fmt::print(out, " [steps {}; window {} cycles]", steps, window_cycles(r.run, f));
    fmt::print(out, "\n");
  }
}

void print_run(std::FILE* out, const Scenario& s, std::string_view profile, const RaceRun& r, bool trace) {
  if (trace) fmt::print(out, "{}", r.run.text());
  for (const auto& n : r.notes) fmt::print(out, "{}\n", n);
  print_findings(out, r);
  fmt::print(out, "replay: {}\n", replay_string(s, profile, r.run.replay));
  fmt::print(out, "steps {}, simulated cycles {}, trace hash {:016x}\n", r.run.steps, r.run.cycles, r.run.hash());
}

// ---- --json (docs/engine.md, "Machine-readable results") ---------------------------------

nlohmann::json findings_json(const RaceRun& r) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : r.run.findings) {
    out.push_back({{"kind", std::string(model::to_string(f.kind))},
                   {"message", f.message},
                   {"steps", f.steps},
                   {"window_cycles", window_cycles(r.run, f)}});
  }
  return out;
}

/// One schedule: what print_run prints.
nlohmann::json run_json(const Scenario& s, std::string_view profile, const RaceRun& r) {
  return {{"replay", replay_string(s, profile, r.run.replay)},
          {"found", r.found},
          {"steps", r.run.steps},
          {"cycles", r.run.cycles},
          {"trace_hash", fmt::format("{:016x}", r.run.hash())},
          {"findings", findings_json(r)},
          {"notes", r.notes}};
}

void print_json(std::FILE* out, const nlohmann::json& j) { fmt::print(out, "{}\n", j.dump(2)); }

ExploreOptions default_explore(const Scenario& s, bool buggy) {
  ExploreOptions o;
  o.budget = buggy ? s.info().buggy_budget : s.info().fixed_bound;
  o.then_dfs = true;
  return o;
}

/// What `list` says of one scenario.
nlohmann::json info_json(const ScenarioInfo& i) {
  nlohmann::json sw = nlohmann::json::array();
  for (const VmmSwitch& v : i.vmm_switches) sw.push_back({{"name", v.name}, {"summary", v.summary}});
  return {{"name", i.name},
          {"summary", i.summary},
          {"source", i.source},
          {"agents", i.agents},
          {"buggy_profile", i.buggy_profile},
          {"fixed_profile", i.fixed_profile},
          {"finding", std::string(model::to_string(i.finding))},
          {"buggy_budget", i.buggy_budget},
          {"fixed_bound", i.fixed_bound},
          {"vmm_switches", sw}};
}

int cmd_list(const Catalogue& cat, std::FILE* out, bool json) {
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const Scenario* sc : cat.all()) list.push_back(info_json(sc->info()));
    print_json(out, {{"schema", "snplab.scenario.list/1"}, {"scenarios", list}});
    return 0;
  }
  for (const Scenario* sc : cat.all()) {
    const ScenarioInfo& s = sc->info();
    fmt::print(out, "{}\n  {}\n  agents: {}\n  from: {}\n  buggy: {} (must raise {} within {} PCT schedules)\n"
               "  fixed: {} (clean over {} PCT schedules)\n",
               s.name, s.summary, s.agents, s.source, s.buggy_profile, s.finding, s.buggy_budget, s.fixed_profile,
               s.fixed_bound);
    for (const VmmSwitch& v : s.vmm_switches) fmt::print(out, "  +{}: {}\n", v.name, v.summary);
  }
  return 0;
}

/// The scenario, and its race as the default exploration first finds it under the buggy
/// profile: every step of that schedule, the steps the finding names marked.
int cmd_explain(const Scenario& sc, bool json, const Cli& c) {
  const ScenarioInfo& s = sc.info();
  std::FILE* out = c.out;
  if (!json) {
    fmt::print(out, "{}\n\n{}\n\nFrom: {}\nAgents: {}\nBuggy profile: {} - the engine must raise '{}' within {} PCT "
               "schedules (depth 2).\nFixed profile: {} - explored clean over {} PCT schedules.\n\n",
               s.name, s.summary, s.source, s.agents, s.buggy_profile, s.finding, s.buggy_budget, s.fixed_profile,
               s.fixed_bound);
    for (const VmmSwitch& v : s.vmm_switches) fmt::print(out, "VMM switch +{}: {}\n", v.name, v.summary);
    if (!s.vmm_switches.empty()) fmt::print(out, "\n");
  }
  const ExploreResult r = explore(sc, s.buggy_profile, default_explore(sc, true));
  if (!r.error.empty()) {
    c.error("{}", r.error);
    return cli::kExitNo;
  }
  std::vector<std::uint64_t> marked;
  if (r.first) {
    for (const auto& f : r.first->run.findings) marked.insert(marked.end(), f.steps.begin(), f.steps.end());
  }
  auto is_marked = [&](std::uint64_t step) { return std::find(marked.begin(), marked.end(), step) != marked.end(); };
  const int code = !r.first ? cli::kExitNo : !r.reproduced ? 3 : cli::kExitOk;
  if (json) {
    nlohmann::json j = {{"schema", "snplab.scenario.explain/1"},
                        {"scenario", info_json(s)},
                        {"profile", s.buggy_profile},
                        {"schedules", r.schedules},
                        {"found", r.first.has_value()},
                        {"first", nullptr},
                        {"exit_code", code}};
    if (r.first) {
      const auto& run = r.first->run;
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& e : run.trace) {
        steps.push_back({{"step", e.step},
                         {"agent", run.agent_names[e.agent]},
                         {"cycle", e.cycle},
                         {"kind", std::string(model::kern::to_string(e.kind))},
                         {"object", e.object},
                         {"detail", e.detail},
                         {"marked", is_marked(e.step)}});
      }
      nlohmann::json f = run_json(sc, s.buggy_profile, *r.first);
      f.update({{"index", r.first_index}, {"reproduced", r.reproduced}, {"trace", steps}});
      j["first"] = f;
    }
    print_json(out, j);
    return code;
  }
  if (!r.first) {
    fmt::print(out, "Not found within {} schedules.\n", r.schedules);
    return code;
  }
  fmt::print(out, "Found after {} schedules. The interleaving (steps a finding names are marked '>>'):\n\n",
             r.first_index);
  const auto& run = r.first->run;
  for (const auto& e : run.trace) {
    fmt::print(out, "{} {:>4} {:>12}  [{:>9}]  {:<16} {}{}\n", is_marked(e.step) ? ">>" : "  ", e.step,
               run.agent_names[e.agent], e.cycle, model::kern::to_string(e.kind), e.object,
               e.detail.empty() ? "" : "  " + e.detail);
  }
  fmt::print(out, "\n");
  print_findings(out, *r.first);
  fmt::print(out, "replay: {}\n", replay_string(sc, s.buggy_profile, run.replay));
  if (!r.reproduced) {
    fmt::print(out, "NONDETERMINISM: the replay string did not reproduce the same trace (a bug in the model)\n");
  }
  return code;
}

int cmd_all(const Catalogue& cat, unsigned jobs, bool json, const Cli& c) {
  std::FILE* out = c.out;
  if (!json) {
    fmt::print(out, "{:<29} {:<24} {:>8} {:>8} {:>6}  {:<32} {:>6} {:>8} {:>8}  {}\n", "scenario", "buggy profile",
               "found at", "seconds", "replay", "fixed profile", "pct", "dfs<=2", "seconds", "result");
  }
  nlohmann::json rows = nlohmann::json::array();
  bool all_ok = true, deterministic = true;
  for (const Scenario* sc : cat.all()) {
    const ScenarioInfo& s = sc->info();
    ExploreOptions b = default_explore(*sc, true);
    b.jobs = jobs;
    const ExploreResult rb = explore(*sc, s.buggy_profile, b);
    // The fixed profile: PCT over its stated bound, and every schedule up to two preemptions.
    ExploreOptions f = default_explore(*sc, false);
    f.then_dfs = false;  // the dfs<=2 column is its own pass
    f.jobs = jobs;
    f.keep_going = true;
    const ExploreResult rf = explore(*sc, s.fixed_profile, f);
    ExploreOptions d;
    d.strategy = Strategy::Dfs;
    d.preemption_bound = 2;
    d.budget = 1'000'000;
    d.keep_going = true;
    const ExploreResult rd = explore(*sc, s.fixed_profile, d);
    for (const ExploreResult* r : {&rb, &rf, &rd}) {
      if (!r->error.empty()) {
        c.error("{}: {}", s.name, r->error);
        return 1;
      }
    }
    const bool fixed_clean = rf.findings == 0 && rd.findings == 0 && rd.exhausted;
    const bool ok = rb.first && rb.reproduced && fixed_clean;
    deterministic = deterministic && (!rb.first || rb.reproduced);
    all_ok = all_ok && ok;
    const std::size_t len = rb.first ? replay_string(*sc, s.buggy_profile, rb.first->run.replay).size() : 0;
    const char* verdict =
        ok ? "ok" : (!rb.first ? "BUGGY NOT FOUND" : !rb.reproduced ? "NONDETERMINISTIC" : "FIXED NOT CLEAN");
    if (json) {
      rows.push_back({{"scenario", s.name},
                      {"buggy_profile", s.buggy_profile},
                      {"found_at", rb.first ? nlohmann::json(rb.first_index) : nlohmann::json(nullptr)},
                      {"seconds_to_first", rb.seconds_to_first},
                      {"replay", rb.first ? nlohmann::json(replay_string(*sc, s.buggy_profile, rb.first->run.replay))
                                          : nlohmann::json(nullptr)},
                      {"reproduced", rb.reproduced},
                      {"fixed_profile", s.fixed_profile},
                      {"fixed_pct_schedules", rf.schedules},
                      {"fixed_pct_findings", rf.findings},
                      {"fixed_dfs_schedules", rd.schedules},
                      {"fixed_dfs_findings", rd.findings},
                      {"fixed_dfs_exhausted", rd.exhausted},
                      {"ok", ok},
                      {"result", verdict}});
      continue;
    }
    fmt::print(out, "{:<29} {:<24} {:>8} {:>8.3f} {:>6}  {:<32} {:>6} {:>8} {:>8.3f}  {}\n", s.name, s.buggy_profile,
               rb.first ? fmt::format("{}", rb.first_index) : "-", rb.seconds_to_first, len, s.fixed_profile,
               rf.findings == 0 ? fmt::format("{}", rf.schedules) : "HIT",
               rd.findings == 0 && rd.exhausted ? fmt::format("{}", rd.schedules) : rd.findings != 0 ? "HIT" : "open",
               rf.seconds + rd.seconds, verdict);
    if (rb.first) fmt::print(out, "    replay: {}\n", replay_string(*sc, s.buggy_profile, rb.first->run.replay));
  }
  const int code = !deterministic ? 3 : all_ok ? 0 : 1;
  if (json) {
    print_json(out, {{"schema", "snplab.scenario.run-all/1"}, {"scenarios", rows}, {"ok", all_ok}, {"exit_code", code}});
    return code;
  }
  fmt::print(out, "\nfound at: the first PCT (depth 2) schedule that raised the scenario's finding, re-run from its "
                  "replay string to the same trace; pct: fixed-profile PCT schedules, all clean; dfs<=2: every "
                  "schedule with at most two preemptions (and reloads), all clean.\n");
  return code;
}

/// The options of run and replay, as parsed.
struct RunArgs {
  std::string target;  ///< run: the scenario's name; replay: NAME/PROFILE/CHOICES
  bool all = false;    ///< run --all
  ExploreOptions o;
  std::string profile;
  std::string strategy;
  std::optional<std::string> expect;  ///< --expect; by default a finding under the buggy profile only
  std::optional<std::uint64_t> budget;
  bool trace = false, json = false, progress = false;
  std::vector<std::string> trace_out;
};

int cmd_replay(const Catalogue& cat, const RunArgs& a, const Cli& c) {
  std::string why;
  const auto p = parse_replay(cat, a.target, &why);
  if (!p) return usage(c, why, "replay");
  model::engine::Options e;
  e.strategy = Strategy::Replay;
  e.replay = p->choices;
  const RaceRun r = run_race(*p->scenario, p->profile, e);
  if (!r.error.empty()) {
    c.error("{}", r.error);
    return cli::kExitNo;
  }
  if (r.run.replay_diverged) c.error("the choices do not fit this run (diverged)");
  const bool want = a.expect ? *a.expect == "finding" : p->profile == p->scenario->info().buggy_profile;
  const int code = r.run.replay_diverged || r.found != want ? cli::kExitNo : cli::kExitOk;
  if (a.json) {
    nlohmann::json j = run_json(*p->scenario, p->profile, r);
    j.update({{"schema", "snplab.scenario.replay/1"},
              {"scenario", p->scenario->info().name},
              {"profile", p->profile},
              {"diverged", r.run.replay_diverged},
              {"expect", want ? "finding" : "clean"},
              {"exit_code", code}});
    print_json(c.out, j);
  } else {
    print_run(c.out, *p->scenario, p->profile, r, a.trace);
  }
  const TraceInfo info{fmt::format("{} under {}", p->scenario->info().name, p->profile), a.target};
  for (const std::string& path : a.trace_out) {
    if (!write_trace(path, r.run, info, c)) return cli::kExitNo;
  }
  if (!r.run.replay_diverged && r.found != want) {
    c.error("expected {}, the replay {}", want ? "the finding" : "a clean run",
            r.found ? fmt::format("raised {}", p->scenario->info().finding) : "ran clean");
  }
  return code;
}

int cmd_run(const Catalogue& cat, RunArgs a, const Cli& c) {
  ExploreOptions& o = a.o;
  const Scenario* sc = cat.find(a.target);
  if (sc == nullptr) return usage(c, fmt::format("no scenario '{}' (see `{} list`)", a.target, c.prog), "run");
  const ScenarioInfo* s = &sc->info();
  std::string profile = a.profile.empty() ? s->buggy_profile : a.profile;
  if (std::string why; !parse_profile(*s, profile, &why)) return usage(c, why, "run");
  o.budget = a.budget.value_or(profile == s->fixed_profile ? s->fixed_bound : s->buggy_budget);
  const bool want_finding = a.expect ? *a.expect == "finding" : profile == s->buggy_profile;
  // The default needs no tuning: PCT, and when it finds nothing, every schedule up to the
  // preemption bound (a checkpointed run is one strategy).
  o.then_dfs = a.strategy.empty() && o.checkpoint.empty();
  if (a.strategy == "random") o.strategy = Strategy::Random;
  if (a.strategy == "dfs") o.strategy = Strategy::Dfs;
  // --progress always; on a terminal, by itself once a run has taken two seconds.
  std::FILE* err = c.err;
  if (a.progress || isatty(fileno(err)) != 0) {
    o.progress = [err, progress = a.progress](const ExploreProgress& p) {
      if (!progress && p.seconds < 2) return;
      fmt::print(err, "  {} schedules, {} findings, {:.1f} s, {:.0f} schedules/s\n", p.schedules, p.findings,
                 p.seconds, p.seconds > 0 ? static_cast<double>(p.schedules) / p.seconds : 0.0);
    };
  }
  g_stop.store(false);
  o.stop = &g_stop;
  const auto previous = std::signal(SIGINT, on_sigint);
  const ExploreResult r = explore(*sc, profile, o);
  std::signal(SIGINT, previous);
  if (!r.error.empty()) {
    c.error("{}", r.error);
    return r.input_error ? cli::kExitUsage : cli::kExitNo;
  }
  const std::string how = o.strategy == Strategy::Dfs
                              ? fmt::format("dfs, preemption bound {}", o.preemption_bound)
                              : fmt::format("{}{}, seed {}, {} job{}", model::engine::to_string(o.strategy),
                                            o.strategy == Strategy::Pct ? fmt::format(" depth {}", o.pct_depth) : "",
                                            o.seed, o.jobs == 0 ? "all" : fmt::format("{}", o.jobs),
                                            o.jobs == 1 ? "" : "s") +
                                    (r.dfs_schedules == 0
                                         ? std::string()
                                         : fmt::format("; then dfs, preemption bound {}: {} schedules",
                                                       o.preemption_bound, r.dfs_schedules));
  // The exit code, for the text and the JSON alike: 3 for a finding that did not reproduce,
  // else whether the expectation held; stopped early, a clean answer is not one.
  const int code = r.first ? (!r.reproduced ? 3 : want_finding ? cli::kExitOk : cli::kExitNo)
                           : (want_finding || r.stopped ? cli::kExitNo : cli::kExitOk);
  const TraceInfo info{fmt::format("{} under {}", s->name, profile),
                       r.first ? replay_string(*sc, profile, r.first->run.replay) : std::string()};
  if (a.json) {
    nlohmann::json j = {{"schema", "snplab.scenario.run/1"},
                        {"scenario", s->name},
                        {"profile", profile},
                        {"strategy", std::string(model::engine::to_string(o.strategy))},
                        {"seed", o.seed},
                        {"jobs", o.jobs},
                        {"expect", want_finding ? "finding" : "clean"},
                        {"result", r.first ? "found" : r.stopped ? "stopped" : "clean"},
                        {"schedules", r.schedules},
                        {"dfs_schedules", r.dfs_schedules},
                        {"exhausted", r.exhausted},
                        {"seconds", r.seconds},
                        {"findings", r.findings},
                        {"first", nullptr},
                        {"exit_code", code}};
    if (r.first) {
      nlohmann::json f = run_json(*sc, profile, *r.first);
      f.update({{"index", r.first_index}, {"seconds", r.seconds_to_first}, {"reproduced", r.reproduced}});
      j["first"] = f;
      for (const std::string& path : a.trace_out) {
        if (!write_trace(path, r.first->run, info, c)) return cli::kExitNo;
      }
    }
    print_json(c.out, j);
    return code;
  }
  std::FILE* out = c.out;
  if (r.stopped) {
    fmt::print(out, "stopped after {} schedules{}\n", r.schedules,
               o.checkpoint.empty() ? "" : fmt::format("; resume with --checkpoint {} --resume", o.checkpoint));
  }
  if (r.first) {
    fmt::print(out, "{} under {}: {} found after {} schedules ({:.3f} s; {})\n", s->name, profile, s->finding,
               r.first_index, r.seconds_to_first, how);
    if (o.keep_going) fmt::print(out, "{} of {} schedules raised it ({:.3f} s)\n", r.findings, r.schedules, r.seconds);
    print_run(out, *sc, profile, *r.first, a.trace);
    if (!r.reproduced) {
      fmt::print(out, "NONDETERMINISM: the replay string did not reproduce the same trace (a bug in the model)\n");
      return code;
    }
    fmt::print(out, "re-run from the replay string: same trace\n");
    for (const std::string& path : a.trace_out) {
      if (!write_trace(path, r.first->run, info, c)) return cli::kExitNo;
    }
    return code;
  }
  fmt::print(out, "{} under {}: clean over {} schedules ({:.3f} s; {}){}\n", s->name, profile, r.schedules, r.seconds,
             how, r.exhausted ? ", the bounded space exhausted" : "");
  if (!a.trace_out.empty()) c.error("no finding, so no trace written");
  return code;
}

constexpr const char* kRunFooter =
    "Without --strategy, run explores with PCT (depth 2, the scenario's budget) and, when that finds nothing, "
    "every schedule up to the preemption bound (--bound). A profile is a kernel profile (`snplab profiles`) with "
    "the scenario's VMM switches after '+' (`list`). --trace-out writes the run as text (`-`: standard output), "
    "or by the file's extension as .json (Chrome/Perfetto trace), .svg (timeline) or .html (timeline page). "
    "On a terminal, progress is shown once a run has taken 2 s.\n"
    "Exit codes: 0 the expectation held (by default the finding under the scenario's buggy profile and a clean run "
    "under any other; --expect says otherwise), 1 it did not, the run diverged or stopped early, or the set-up "
    "failed, 2 bad usage or input, 3 a finding that did not reproduce from its replay string (nondeterminism).";

/// --trace, --trace-out and --json, which run and replay share.
void add_output_options(CLI::App& app, RunArgs& a) {
  app.add_flag("--trace", a.trace, "print every step of the schedule shown");
  app.add_option("--trace-out", a.trace_out,
                 "write that schedule to FILE: text, or .json (Chrome/Perfetto), .svg or .html by the extension; "
                 "`-` is standard output (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  app.add_option("--expect", a.expect, "what counts as success (default: finding under the buggy profile, else clean)")
      ->check(CLI::IsMember({"finding", "clean"}))
      ->type_name("EXPECT");
}

}  // namespace

int scenario_cli(const Catalogue& cat, std::string_view prog, int argc, char** argv, std::FILE* out, std::FILE* err) {
  const Cli c{prog, out, err};
  CLI::App app{"Race scenarios on the simulation engine: the catalogue (or one's own, docs/write-a-race.md), explored "
               "for the schedule that raises a scenario's finding, and replayed from the string that names it.",
               std::string(prog)};
  app.require_subcommand(1);
  app.footer("Exit codes (docs/cli.md): 0 the expectation held, 1 it did not, 2 bad usage or input, 3 nondeterminism. "
             "`" + std::string(prog) + " COMMAND --help` for a command's options.");

  bool list_json = false;
  auto* list = app.add_subcommand("list", "the scenarios: what each races, where it comes from, its profiles and VMM "
                                          "switches");
  list->add_flag("--json", list_json, "one JSON document (schema snplab.scenario.list/1)");

  std::string explain_name;
  bool explain_json = false;
  auto* explain = app.add_subcommand("explain", "a scenario, and the interleaving that raises its finding under the "
                                                "buggy profile, step by step");
  explain->add_option("NAME", explain_name, "the scenario (`list`)")->required();
  explain->add_flag("--json", explain_json, "one JSON document (schema snplab.scenario.explain/1)");
  explain->footer("Exit codes: 0 found and reproduced, 1 not found, 3 a finding that did not reproduce.");

  RunArgs ra;
  auto* run = app.add_subcommand("run", "explore a scenario's schedules under a profile for its finding; --all: every "
                                        "scenario, buggy profile found and fixed profile clean");
  auto* name = run->add_option("NAME", ra.target, "the scenario (`list`)");
  run->add_flag("--all", ra.all, "every scenario of the catalogue (with --jobs and --json only): the table the README "
                                 "shows")
      ->excludes(name);
  std::vector<CLI::Option*> single;  // options of one scenario's run, which --all does not take
  single.push_back(run->add_option("--profile", ra.profile, "the kernel profile, with VMM switches after '+' "
                                                           "(default: the scenario's buggy one)")
                       ->type_name("P"));
  single.push_back(run->add_option("--strategy", ra.strategy, "how schedules are chosen (default: pct, then dfs)")
                       ->check(CLI::IsMember({"random", "pct", "dfs"}))
                       ->type_name("STRATEGY"));
  single.push_back(cli::add_u64(*run, "--seed", ra.o.seed, 0, UINT64_MAX, "the seed of the random and PCT schedules"));
  single.push_back(cli::add_u64(*run, "--budget", ra.budget, 1, UINT64_MAX,
                                "schedules to run at most (default: the scenario's budget for the profile)"));
  std::uint64_t depth = ra.o.pct_depth, bound = ra.o.preemption_bound, jobs = ra.o.jobs;
  single.push_back(cli::add_u64(*run, "--depth", depth, 1, 16, "PCT's depth (priority change points + 1)"));
  single.push_back(cli::add_u64(*run, "--bound", bound, 0, 64, "dfs: the preemption bound"));
  cli::add_u64(*run, "--jobs", jobs, 0, 1024, "parallel jobs (0: every core)");
  single.push_back(run->add_flag("--keep-going", ra.o.keep_going, "go on after the first finding and count them all"));
  single.push_back(run->add_flag("--progress", ra.progress, "print schedules and rate about once a second"));
  auto* checkpoint = run->add_option("--checkpoint", ra.o.checkpoint, "save where the run is to FILE as it goes")
                         ->type_name("FILE");
  single.push_back(checkpoint);
  single.push_back(run->add_flag("--resume", ra.o.resume, "go on from --checkpoint's FILE")->needs(checkpoint));
  run->add_flag("--json", ra.json, "one JSON document (schema snplab.scenario.run/1; --all: snplab.scenario.run-all/1)");
  add_output_options(*run, ra);
  for (CLI::Option* opt : run->get_options()) {
    const std::string n = opt->get_name();
    if (n == "--trace" || n == "--trace-out" || n == "--expect") single.push_back(opt);
  }
  run->footer(kRunFooter);

  RunArgs pa;
  auto* replay = app.add_subcommand("replay", "run one schedule again from its replay string");
  replay->add_option("REPLAY", pa.target, "NAME/PROFILE/CHOICES, as run and explain print it")->required();
  replay->add_flag("--json", pa.json, "one JSON document (schema snplab.scenario.replay/1)");
  add_output_options(*replay, pa);
  replay->footer("Exit codes: 0 the expectation held (by default: the finding under the scenario's buggy profile, "
                 "a clean run under any other), 1 it did not, or the choices diverged from the run, 2 bad usage or a "
                 "string that is not a replay string.");

  if (const auto rc = cli::parse(app, prog, argc, argv, out, err)) return *rc;
  if (list->parsed()) return cmd_list(cat, out, list_json);
  if (explain->parsed()) {
    const Scenario* s = cat.find(explain_name);
    if (s == nullptr) return usage(c, fmt::format("no scenario '{}' (see `{} list`)", explain_name, prog), "explain");
    return cmd_explain(*s, explain_json, c);
  }
  if (replay->parsed()) return cmd_replay(cat, pa, c);
  ra.o.pct_depth = static_cast<unsigned>(depth);
  ra.o.preemption_bound = static_cast<unsigned>(bound);
  ra.o.jobs = static_cast<unsigned>(jobs);
  if (ra.all) {
    for (const CLI::Option* opt : single) {
      if (opt->count() != 0) {
        return usage(c, fmt::format("run --all takes only --jobs and --json, not {}", opt->get_name()), "run");
      }
    }
    return cmd_all(cat, ra.o.jobs, ra.json, c);
  }
  if (ra.target.empty()) return usage(c, "run needs a scenario name or --all", "run");
  return cmd_run(cat, std::move(ra), c);
}

int scenario_main(const Catalogue& cat, int argc, char** argv) {
  std::string_view prog = argc > 0 && argv[0] != nullptr ? argv[0] : "scenario";
  if (const auto slash = prog.rfind('/'); slash != std::string_view::npos) prog = prog.substr(slash + 1);
  return scenario_cli(cat, prog, argc > 0 ? argc - 1 : 0, argc > 0 ? argv + 1 : argv, stdout, stderr);
}

}  // namespace snplab::scenarios
