// The scenario API (scenario.h) and one schedule of a scenario (explore.h): a fresh simulated
// host under the profile's kernel, the scenario's set-up on it, a snapshot, and each schedule
// from that snapshot with the finding decided by the run's findings.
#include "snp/scenarios/scenario.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "snp/api/sim_backend.h"
#include "snp/model/base/assert.h"
#include "snp/model/host/kvm_host.h"
#include "snp/scenarios/catalogue.h"
#include "snp/scenarios/explore.h"

namespace snplab::scenarios {

namespace {

bool valid_name(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

model::kvm::Host& host_of(api::Backend& b) {
  model::kvm::Host* h = api::sim_host(b);
  SNPLAB_ASSERT(h != nullptr, "a scenario runs on the sim backend");
  return *h;
}

const model::kvm::SevVmState* sev_of(api::Backend& b, const api::Vm& vm) {
  const model::kvm::Vm* v = api::sim_vm(b, vm.handle());
  return v == nullptr ? nullptr : &v->sev();
}

}  // namespace

bool Profile::has(std::string_view vmm_switch) const {
  return std::find(vmm.begin(), vmm.end(), vmm_switch) != vmm.end();
}

std::optional<Profile> parse_profile(const ScenarioInfo& info, std::string_view text, std::string* why) {
  Profile p;
  p.text = std::string(text);
  const auto plus = text.find('+');
  const std::string_view kernel = text.substr(0, plus);
  p.kernel = model::kvm::find_profile(kernel);
  if (p.kernel == nullptr) {
    *why = fmt::format("no kernel profile '{}' (see `snplab profiles`)", kernel);
    return std::nullopt;
  }
  std::string_view rest = plus == std::string_view::npos ? std::string_view{} : text.substr(plus + 1);
  while (plus != std::string_view::npos) {
    const auto next = rest.find('+');
    const std::string_view sw = rest.substr(0, next);
    const bool known = std::any_of(info.vmm_switches.begin(), info.vmm_switches.end(),
                                   [&](const VmmSwitch& v) { return v.name == sw; });
    if (!known) {
      std::string names;
      for (const VmmSwitch& v : info.vmm_switches) names += fmt::format("{}+{}", names.empty() ? "" : ", ", v.name);
      *why = fmt::format("scenario {} has no VMM switch '+{}' ({})", info.name, sw,
                         names.empty() ? "it has none" : "it has " + names);
      return std::nullopt;
    }
    if (p.has(sw)) {
      *why = fmt::format("VMM switch '+{}' given twice", sw);
      return std::nullopt;
    }
    p.vmm.emplace_back(sw);
    if (next == std::string_view::npos) break;
    rest = rest.substr(next + 1);
  }
  return p;
}

// ---- SimView ----------------------------------------------------------------------------

std::uint64_t SimView::reported_tcb() const { return host_of(b_).sev()->fw().reported_tcb(); }

std::vector<std::uint8_t> SimView::vcek_cert(std::uint64_t tcb) const {
  return host_of(b_).sev()->fw().chip().vcek_cert(tcb);
}
std::vector<std::uint8_t> SimView::ask_cert() const { return host_of(b_).sev()->fw().chip().ask_cert(); }
std::vector<std::uint8_t> SimView::ark_cert() const { return host_of(b_).sev()->fw().chip().ark_cert(); }

std::optional<std::array<std::uint8_t, 48>> SimView::launch_digest(const api::Vm& vm) const {
  const model::kvm::SevVmState* s = sev_of(b_, vm);
  if (s == nullptr || s->gctx == 0) return std::nullopt;
  const model::GuestContext* g = host_of(b_).sev()->fw().guest(model::pfn_to_spa(s->gctx));
  if (g == nullptr) return std::nullopt;
  return g->measurement;
}

std::optional<std::uint64_t> SimView::vmsa_features(const api::Vm& vm) const {
  const model::kvm::SevVmState* s = sev_of(b_, vm);
  if (s == nullptr) return std::nullopt;
  return s->vmsa_features;
}

std::uint32_t SimView::vcpu_signature() const { return model::kvm::SevPlatform::kVcpuSignature; }

const std::vector<std::string>* SimView::guest_log(const api::Vcpu& vcpu) const {
  return api::sim_guest_log(b_, vcpu.handle());
}

std::optional<SimView::RmpEntryView> SimView::rmp_entry(std::uint64_t pfn) const {
  const model::Rmp& rmp = host_of(b_).sev()->rmp();
  if (!rmp.covers(pfn)) return std::nullopt;
  const model::RmpEntryRaw e = rmp.inspect(pfn);
  RmpEntryView v;
  v.assigned = e.assigned();
  v.validated = e.validated();
  v.huge = e.page_size() == model::PageSize::Size2M;
  v.immutable = e.immutable();
  v.asid = e.asid();
  v.gpa = e.gpa();
  return v;
}

// ---- Lab and ScheduleContext ------------------------------------------------------------

api::Status Lab::load_guest(api::Vcpu& vcpu, std::vector<model::kvm::GuestOp> ops) {
  return api::sim_load_guest(b_, vcpu.handle(), std::move(ops));
}

ScheduleContext::ScheduleContext(api::Backend& b, const Profile& p, const model::engine::Options& opts,
                                 model::engine::RunResult& run, std::vector<std::string>& notes, std::string& error)
    : b_(b), profile_(p), view_(b), opts_(opts), run_(run), notes_(notes), error_(error) {}

void ScheduleContext::run(std::vector<model::engine::Agent> agents) {
  // An exception must not leave an agent's fiber (that is std::terminate): it ends the agent
  // and makes the schedule an error naming it.
  for (model::engine::Agent& a : agents) {
    a.body = [this, name = a.name, body = std::move(a.body)] {
      try {
        body();
      } catch (const std::exception& e) {
        fail(fmt::format("agent {} threw: {}", name, e.what()));
      }
    };
  }
  model::kvm::Host& host = host_of(b_);
  model::engine::Engine engine(host.sched(), opts_);
  engine.watch(host.sev()->rmp());
  run_ = engine.run(std::move(agents));
  ran_ = true;
}

model::kern::Sched& ScheduleContext::sched() { return host_of(b_).sched(); }

void ScheduleContext::note(std::string line) { notes_.push_back(std::move(line)); }

void ScheduleContext::report(model::FindingKind kind, std::string message) {
  model::kern::Sched& s = sched();
  const std::size_t before = s.findings().size();
  s.report(kind, std::move(message));
  // Inside the engine the run collects the finding as it is raised; after the run, here.
  if (ran_ && s.findings().size() > before) run_.findings.push_back(s.findings().back());
}

void ScheduleContext::audit() {
  model::kvm::Host& host = host_of(b_);
  const std::size_t before = host.sched().findings().size();
  (void)host.sev()->audit_certs(host.sched());
  const auto& all = host.sched().findings();
  run_.findings.insert(run_.findings.end(), all.begin() + static_cast<std::ptrdiff_t>(before), all.end());
}

void ScheduleContext::cite(model::FindingKind kind,
                           std::initializer_list<std::pair<std::string_view, model::kern::PointKind>> events) {
  std::vector<std::uint64_t> steps;
  for (const auto& [object, k] : events) {
    for (const auto& e : run_.trace) {
      if (e.object == object && e.kind == k) {
        steps.push_back(e.step);
        break;
      }
    }
  }
  for (auto& f : run_.findings) {
    if (f.kind != kind) continue;
    std::vector<std::uint64_t> all = steps;
    all.insert(all.end(), f.steps.begin(), f.steps.end());
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    f.steps = std::move(all);
  }
}

void ScheduleContext::place(model::FindingKind kind, std::string_view object, model::kern::PointKind point, bool last) {
  std::optional<std::uint64_t> step;
  for (const auto& e : run_.trace) {
    if (e.object != object || e.kind != point) continue;
    step = e.step;
    if (!last) break;
  }
  if (!step) return;
  for (auto& f : run_.findings) {
    if (f.kind == kind) f.steps = {*step};
  }
}

void ScheduleContext::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
}

// ---- make_scenario ----------------------------------------------------------------------

namespace {
class FunctionScenario final : public Scenario {
 public:
  FunctionScenario(ScenarioInfo info, std::function<ScheduleBody(Lab&, std::string*)> f)
      : info_(std::move(info)), f_(std::move(f)) {}
  const ScenarioInfo& info() const override { return info_; }
  ScheduleBody set_up(Lab& lab, std::string* error) const override { return f_(lab, error); }

 private:
  ScenarioInfo info_;
  std::function<ScheduleBody(Lab&, std::string*)> f_;
};
}  // namespace

std::unique_ptr<Scenario> make_scenario(ScenarioInfo info, std::function<ScheduleBody(Lab&, std::string*)> set_up) {
  return std::make_unique<FunctionScenario>(std::move(info), std::move(set_up));
}

// ---- Catalogue --------------------------------------------------------------------------

void Catalogue::add(const Scenario& s) {
  const ScenarioInfo& i = s.info();
  if (!valid_name(i.name)) {
    throw std::invalid_argument(fmt::format("scenario name '{}': use letters, digits, '-', '_' and '.'", i.name));
  }
  if (find(i.name) != nullptr) throw std::invalid_argument(fmt::format("scenario '{}' is listed already", i.name));
  for (const VmmSwitch& v : i.vmm_switches) {
    if (!valid_name(v.name)) throw std::invalid_argument(fmt::format("{}: VMM switch name '{}'", i.name, v.name));
  }
  std::string why;
  for (const std::string& p : {i.buggy_profile, i.fixed_profile}) {
    if (!parse_profile(i, p, &why)) throw std::invalid_argument(fmt::format("{}: {}", i.name, why));
  }
  list_.push_back(&s);
}

void Catalogue::add(std::unique_ptr<Scenario> s) {
  std::shared_ptr<const Scenario> owned(std::move(s));
  add(*owned);
  owned_.push_back(std::move(owned));
}

const Scenario* Catalogue::find(std::string_view name) const {
  for (const Scenario* s : list_) {
    if (s->info().name == name) return s;
  }
  return nullptr;
}

// ---- PreparedRace -----------------------------------------------------------------------

struct PreparedRace::Impl {
  const Scenario* scenario = nullptr;
  Profile profile;
  std::unique_ptr<api::Backend> backend;
  ScheduleBody body;  // declared after `backend`: its api objects close before the backend goes
  std::shared_ptr<const api::SimSnapshot> snap;
  bool ran = false;
};

std::unique_ptr<PreparedRace> PreparedRace::prepare(const Scenario& s, std::string_view profile, std::string* error) {
  auto impl = std::make_unique<Impl>();
  error->clear();
  impl->scenario = &s;
  auto p = parse_profile(s.info(), profile, error);
  if (!p) return nullptr;
  impl->profile = std::move(*p);
  model::kvm::HostConfig cfg;
  cfg.profile = *impl->profile.kernel;
  auto backend = api::make_sim_backend(cfg);
  if (!backend) {
    *error = backend.error().to_string();
    return nullptr;
  }
  impl->backend = std::move(*backend);
  Lab lab(*impl->backend, impl->profile);
  try {
    impl->body = s.set_up(lab, error);
  } catch (const std::exception& e) {
    *error = fmt::format("{}: the set-up threw: {}", s.info().name, e.what());
    return nullptr;
  }
  if (!impl->body) {
    if (error->empty()) *error = fmt::format("{}: the set-up returned no schedule", s.info().name);
    return nullptr;
  }
  impl->snap = api::sim_snapshot(*impl->backend);
  auto prepared = std::unique_ptr<PreparedRace>(new PreparedRace());
  prepared->impl_ = std::move(impl);
  return prepared;
}

PreparedRace::PreparedRace() = default;
PreparedRace::~PreparedRace() = default;

RaceRun PreparedRace::run(const model::engine::Options& opts) {
  RaceRun out;
  if (impl_->ran) {
    if (auto st = api::sim_restore(*impl_->backend, *impl_->snap); !st) {
      out.error = st.error().to_string();
      return out;
    }
  }
  impl_->ran = true;
  ScheduleContext ctx(*impl_->backend, impl_->profile, opts, out.run, out.notes, out.error);
  try {
    impl_->body(ctx);
  } catch (const std::exception& e) {
    ctx.fail(fmt::format("{}: the schedule body threw: {}", impl_->scenario->info().name, e.what()));
  }
  const model::FindingKind kind = impl_->scenario->info().finding;
  out.found = out.error.empty() && std::any_of(out.run.findings.begin(), out.run.findings.end(),
                                               [&](const model::kern::KernelFinding& f) { return f.kind == kind; });
  return out;
}

RaceRun run_race(const Scenario& s, std::string_view profile, const model::engine::Options& opts) {
  std::string error;
  auto p = PreparedRace::prepare(s, profile, &error);
  if (!p) {
    RaceRun r;
    r.error = error;
    return r;
  }
  return p->run(opts);
}

std::string replay_string(const Scenario& s, std::string_view profile, const std::string& choices) {
  return fmt::format("{}/{}/{}", s.info().name, profile, choices);
}

std::optional<ParsedReplay> parse_replay(const Catalogue& cat, std::string_view text, std::string* why) {
  const auto a = text.find('/');
  const auto b = a == std::string_view::npos ? a : text.find('/', a + 1);
  if (b == std::string_view::npos) {
    *why = "a replay string is NAME/PROFILE/CHOICES, as `snplab scenario run` prints it";
    return std::nullopt;
  }
  ParsedReplay p;
  p.scenario = cat.find(text.substr(0, a));
  if (p.scenario == nullptr) {
    *why = fmt::format("no scenario '{}' (see `scenario list`)", text.substr(0, a));
    return std::nullopt;
  }
  p.profile = std::string(text.substr(a + 1, b - a - 1));
  if (!parse_profile(p.scenario->info(), p.profile, why)) return std::nullopt;
  p.choices = std::string(text.substr(b + 1));
  if (!model::engine::decode_choices(p.choices)) {
    *why = p.choices.size() > model::engine::kMaxReplayText
               ? fmt::format("the choices are {} characters; a replay string holds at most {}", p.choices.size(),
                             model::engine::kMaxReplayText)
               : fmt::format("'{}' is not a list of choices: letters a-z, each with an optional run length, "
                             "{} choices at most",
                             p.choices.size() > 40 ? p.choices.substr(0, 40) + "..." : p.choices,
                             model::engine::kMaxReplayChoices);
    return std::nullopt;
  }
  return p;
}

}  // namespace snplab::scenarios
