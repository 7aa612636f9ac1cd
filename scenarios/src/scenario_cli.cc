// `snplab scenario` over a catalogue: list, explain, run (one scenario or --all), replay. The
// snplab tool runs it over the built-in catalogue; scenario_main() gives a program of one's own
// the same command line over its catalogue. See docs/engine.md and docs/write-a-race.md.
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
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

int usage(const Cli& c, const std::string& msg) {
  const std::string pad(c.prog.size(), ' ');
  fmt::print(c.err,
             "{0}: {1}\n\n"
             "usage: {0} list [--json]\n"
             "       {0} explain NAME\n"
             "       {0} run NAME [--profile P] [--strategy random|pct|dfs] [--seed N] [--budget N]\n"
             "       {2}          [--depth D] [--bound B] [--jobs N] [--keep-going] [--progress]\n"
             "       {2}          [--expect finding|clean] [--json]\n"
             "       {2}          [--checkpoint FILE [--resume]] [--trace] [--trace-out FILE]...\n"
             "       {0} run --all [--jobs N] [--json]\n"
             "       {0} replay NAME/PROFILE/CHOICES [--expect finding|clean] [--json] [--trace] [--trace-out FILE]...\n"
             "\nWithout --strategy, run explores with PCT (depth 2, the scenario's budget) and, when that\n"
             "finds nothing, every schedule up to the preemption bound (--bound, 2).\n"
             "A profile is a kernel profile (`snplab profiles`) with the scenario's VMM switches after '+'\n"
             "(`{0} list`). --trace-out writes the run as text (`-`: standard output), or by the file's\n"
             "extension as .json (Chrome/Perfetto trace), .svg (timeline) or .html (timeline page).\n"
             "--progress prints schedules and rate about once a second (on a terminal, after 2 s anyway).\n"
             "--json prints one JSON document instead of the text (schema snplab.scenario.<command>/1).\n"
             "Exit status: 0 when the expectation held - by default the finding under the scenario's\n"
             "buggy profile and a clean run under any other (--expect finding|clean says otherwise) -\n"
             "1 when it did not, the run diverged or stopped early, or on an error, 2 for a usage or\n"
             "input error, 3 when a finding did not reproduce from its replay string.\n",
             c.prog, msg, pad);
  return 2;
}

/// A decimal or 0x number below 2^64; false for anything else (strtoull would saturate).
bool parse_u64(const char* s, std::uint64_t* v) {
  if (s == nullptr || *s == '\0' || *s == '-' || *s == '+' || std::isspace(static_cast<unsigned char>(*s)) != 0) {
    return false;
  }
  char* end = nullptr;
  errno = 0;
  *v = std::strtoull(s, &end, 0);
  return errno == 0 && end != nullptr && *end == '\0';
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

int cmd_list(const Catalogue& cat, std::FILE* out, bool json) {
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const Scenario* sc : cat.all()) {
      const ScenarioInfo& i = sc->info();
      nlohmann::json sw = nlohmann::json::array();
      for (const VmmSwitch& v : i.vmm_switches) sw.push_back({{"name", v.name}, {"summary", v.summary}});
      list.push_back({{"name", i.name},
                      {"summary", i.summary},
                      {"source", i.source},
                      {"agents", i.agents},
                      {"buggy_profile", i.buggy_profile},
                      {"fixed_profile", i.fixed_profile},
                      {"finding", std::string(model::to_string(i.finding))},
                      {"buggy_budget", i.buggy_budget},
                      {"fixed_bound", i.fixed_bound},
                      {"vmm_switches", sw}});
    }
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

int cmd_explain(const Scenario& sc, const Cli& c) {
  const ScenarioInfo& s = sc.info();
  std::FILE* out = c.out;
  fmt::print(out, "{}\n\n{}\n\nFrom: {}\nAgents: {}\nBuggy profile: {} - the engine must raise '{}' within {} PCT "
             "schedules (depth 2).\nFixed profile: {} - explored clean over {} PCT schedules.\n\n",
             s.name, s.summary, s.source, s.agents, s.buggy_profile, s.finding, s.buggy_budget, s.fixed_profile,
             s.fixed_bound);
  for (const VmmSwitch& v : s.vmm_switches) fmt::print(out, "VMM switch +{}: {}\n", v.name, v.summary);
  if (!s.vmm_switches.empty()) fmt::print(out, "\n");
  const ExploreResult r = explore(sc, s.buggy_profile, default_explore(sc, true));
  if (!r.error.empty()) {
    c.error("{}", r.error);
    return 1;
  }
  if (!r.first) {
    fmt::print(out, "Not found within {} schedules.\n", r.schedules);
    return 1;
  }
  fmt::print(out, "Found after {} schedules. The interleaving (steps a finding names are marked '>>'):\n\n",
             r.first_index);
  std::vector<std::uint64_t> marked;
  for (const auto& f : r.first->run.findings) marked.insert(marked.end(), f.steps.begin(), f.steps.end());
  const auto& run = r.first->run;
  for (const auto& e : run.trace) {
    const bool m = std::find(marked.begin(), marked.end(), e.step) != marked.end();
    fmt::print(out, "{} {:>4} {:>12}  [{:>9}]  {:<16} {}{}\n", m ? ">>" : "  ", e.step, run.agent_names[e.agent],
               e.cycle, model::kern::to_string(e.kind), e.object, e.detail.empty() ? "" : "  " + e.detail);
  }
  fmt::print(out, "\n");
  print_findings(out, *r.first);
  fmt::print(out, "replay: {}\n", replay_string(sc, s.buggy_profile, run.replay));
  if (!r.reproduced) {
    fmt::print(out, "NONDETERMINISM: the replay string did not reproduce the same trace (a bug in the model)\n");
    return 3;
  }
  return 0;
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

}  // namespace

int scenario_cli(const Catalogue& cat, std::string_view prog, int argc, char** argv, std::FILE* out, std::FILE* err) {
  const Cli c{prog, out, err};
  // `--opt=value` is `--opt value`.
  std::vector<std::string> words;
  for (int i = 0; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto eq = a.find('=');
    if (a.starts_with("--") && eq != std::string_view::npos) {
      words.emplace_back(a.substr(0, eq));
      words.emplace_back(a.substr(eq + 1));
    } else {
      words.emplace_back(a);
    }
  }
  std::vector<char*> split;
  for (std::string& w : words) split.push_back(w.data());
  argc = static_cast<int>(split.size());
  argv = split.data();
  if (argc < 1) return usage(c, "no subcommand");
  const std::string_view sub = argv[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    const Cli to_out{prog, out, out};
    (void)usage(to_out, "race scenarios on the simulation engine");
    return 0;
  }
  if (sub == "list") {
    const bool json = argc == 2 && std::string_view(argv[1]) == "--json";
    if (argc != 1 && !json) return usage(c, "list takes only --json");
    return cmd_list(cat, out, json);
  }
  if (sub == "explain") {
    if (argc != 2) return usage(c, "explain takes one scenario name");
    const Scenario* s = cat.find(argv[1]);
    if (s == nullptr) return usage(c, fmt::format("no scenario '{}' (see `{} list`)", argv[1], prog));
    return cmd_explain(*s, c);
  }
  if (sub != "run" && sub != "replay") return usage(c, fmt::format("unknown subcommand '{}'", sub));
  if (argc < 2) return usage(c, sub == "run" ? "run needs a scenario name or --all" : "replay needs NAME/PROFILE/CHOICES");

  // Options shared by run and replay.
  ExploreOptions o;
  std::string profile;
  bool trace = false, budget_set = false, progress = false, strategy_set = false;
  std::vector<std::string> trace_out;
  std::optional<bool> expect_finding;  // --expect; by default a finding under the buggy profile only
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    std::uint64_t n = 0;
    auto need = [&](bool ok, const char* what) {
      if (!ok) throw std::invalid_argument(fmt::format("{} {}", a, what));
      ++i;
    };
    try {
      if (a == "--trace") {
        trace = true;
      } else if (a == "--trace-out") {
        need(v != nullptr, "takes a file name");
        trace_out.emplace_back(v);
      } else if (a == "--json") {
        json = true;
      } else if (a == "--expect") {
        need(v != nullptr && (std::string_view(v) == "finding" || std::string_view(v) == "clean"),
             "takes finding or clean");
        expect_finding = std::string_view(v) == "finding";
      } else if (sub == "replay") {
        return usage(c, fmt::format("unknown argument '{}' for replay", a));
      } else if (a == "--profile") {
        need(v != nullptr, "takes a profile name");
        profile = v;
      } else if (a == "--strategy") {
        need(v != nullptr, "takes random, pct or dfs");
        const std::string_view st = v;
        strategy_set = true;
        if (st == "random") {
          o.strategy = Strategy::Random;
        } else if (st == "pct") {
          o.strategy = Strategy::Pct;
        } else if (st == "dfs") {
          o.strategy = Strategy::Dfs;
        } else {
          return usage(c, fmt::format("--strategy '{}': use random, pct or dfs", st));
        }
      } else if (a == "--seed") {
        need(parse_u64(v, &o.seed), "takes a number from 0 to 2^64-1");
      } else if (a == "--budget") {
        need(parse_u64(v, &o.budget) && o.budget > 0, "takes a number of schedules from 1 to 2^64-1");
        budget_set = true;
      } else if (a == "--depth") {
        need(parse_u64(v, &n) && n >= 1 && n <= 16, "takes a PCT depth from 1 to 16");
        o.pct_depth = static_cast<unsigned>(n);
      } else if (a == "--bound") {
        need(parse_u64(v, &n) && n <= 64, "takes a preemption bound from 0 to 64");
        o.preemption_bound = static_cast<unsigned>(n);
      } else if (a == "--jobs") {
        need(parse_u64(v, &n) && n <= 1024, "takes a number of jobs (0 = every core)");
        o.jobs = static_cast<unsigned>(n);
      } else if (a == "--keep-going") {
        o.keep_going = true;
      } else if (a == "--checkpoint") {
        need(v != nullptr, "takes a file name");
        o.checkpoint = v;
      } else if (a == "--resume") {
        o.resume = true;
      } else if (a == "--progress") {
        progress = true;
      } else {
        return usage(c, fmt::format("unknown argument '{}'", a));
      }
    } catch (const std::invalid_argument& e) {
      return usage(c, e.what());
    }
  }

  if (sub == "replay") {
    std::string why;
    const auto p = parse_replay(cat, argv[1], &why);
    if (!p) return usage(c, why);
    model::engine::Options e;
    e.strategy = Strategy::Replay;
    e.replay = p->choices;
    const RaceRun r = run_race(*p->scenario, p->profile, e);
    if (!r.error.empty()) {
      c.error("{}", r.error);
      return 1;
    }
    if (r.run.replay_diverged) c.error("the choices do not fit this run (diverged)");
    const bool want = expect_finding.value_or(p->profile == p->scenario->info().buggy_profile);
    const int code = r.run.replay_diverged || r.found != want ? 1 : 0;
    if (json) {
      nlohmann::json j = run_json(*p->scenario, p->profile, r);
      j.update({{"schema", "snplab.scenario.replay/1"},
                {"scenario", p->scenario->info().name},
                {"profile", p->profile},
                {"diverged", r.run.replay_diverged},
                {"expect", want ? "finding" : "clean"},
                {"exit_code", code}});
      print_json(out, j);
    } else {
      print_run(out, *p->scenario, p->profile, r, trace);
    }
    const TraceInfo info{fmt::format("{} under {}", p->scenario->info().name, p->profile), argv[1]};
    for (const std::string& path : trace_out) {
      if (!write_trace(path, r.run, info, c)) return 1;
    }
    if (!r.run.replay_diverged && r.found != want) {
      c.error("expected {}, the replay {}", want ? "the finding" : "a clean run",
              r.found ? fmt::format("raised {}", p->scenario->info().finding) : "ran clean");
    }
    return code;
  }

  if (std::string_view(argv[1]) == "--all") {
    for (int i = 2; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (a == "--jobs") {
        ++i;
      } else if (a != "--json") {
        return usage(c, "run --all takes only --jobs N and --json");
      }
    }
    return cmd_all(cat, o.jobs, json, c);
  }
  const Scenario* sc = cat.find(argv[1]);
  if (sc == nullptr) return usage(c, fmt::format("no scenario '{}' (see `{} list`)", argv[1], prog));
  const ScenarioInfo* s = &sc->info();
  if (profile.empty()) profile = s->buggy_profile;
  if (std::string why; !parse_profile(*s, profile, &why)) return usage(c, why);
  if (o.resume && o.checkpoint.empty()) return usage(c, "--resume needs --checkpoint FILE");
  if (!budget_set) o.budget = profile == s->fixed_profile ? s->fixed_bound : s->buggy_budget;
  const bool want_finding = expect_finding.value_or(profile == s->buggy_profile);
  // The default needs no tuning: PCT, and when it finds nothing, every schedule up to the
  // preemption bound (a checkpointed run is one strategy).
  o.then_dfs = !strategy_set && o.checkpoint.empty();
  // --progress always; on a terminal, by itself once a run has taken two seconds.
  if (progress || isatty(fileno(err)) != 0) {
    o.progress = [err, progress](const ExploreProgress& p) {
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
    return r.input_error ? 2 : 1;
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
  const int code = r.first ? (!r.reproduced ? 3 : want_finding ? 0 : 1) : (want_finding || r.stopped ? 1 : 0);
  if (json) {
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
      const TraceInfo info{fmt::format("{} under {}", s->name, profile),
                           replay_string(*sc, profile, r.first->run.replay)};
      for (const std::string& path : trace_out) {
        if (!write_trace(path, r.first->run, info, c)) return 1;
      }
    }
    print_json(out, j);
    return code;
  }
  if (r.stopped) {
    fmt::print(out, "stopped after {} schedules{}\n", r.schedules,
               o.checkpoint.empty() ? "" : fmt::format("; resume with --checkpoint {} --resume", o.checkpoint));
  }
  if (r.first) {
    fmt::print(out, "{} under {}: {} found after {} schedules ({:.3f} s; {})\n", s->name, profile, s->finding,
               r.first_index, r.seconds_to_first, how);
    if (o.keep_going) fmt::print(out, "{} of {} schedules raised it ({:.3f} s)\n", r.findings, r.schedules, r.seconds);
    print_run(out, *sc, profile, *r.first, trace);
    if (!r.reproduced) {
      fmt::print(out, "NONDETERMINISM: the replay string did not reproduce the same trace (a bug in the model)\n");
      return code;
    }
    fmt::print(out, "re-run from the replay string: same trace\n");
    const TraceInfo info{fmt::format("{} under {}", s->name, profile), replay_string(*sc, profile, r.first->run.replay)};
    for (const std::string& path : trace_out) {
      if (!write_trace(path, r.first->run, info, c)) return 1;
    }
    return code;
  }
  fmt::print(out, "{} under {}: clean over {} schedules ({:.3f} s; {}){}\n", s->name, profile, r.schedules, r.seconds,
             how, r.exhausted ? ", the bounded space exhausted" : "");
  if (!trace_out.empty()) c.error("no finding, so no trace written");
  return code;
}

int scenario_main(const Catalogue& cat, int argc, char** argv) {
  std::string_view prog = argc > 0 && argv[0] != nullptr ? argv[0] : "scenario";
  if (const auto slash = prog.rfind('/'); slash != std::string_view::npos) prog = prog.substr(slash + 1);
  return scenario_cli(cat, prog, argc > 0 ? argc - 1 : 0, argc > 0 ? argv + 1 : argv, stdout, stderr);
}

}  // namespace snplab::scenarios
