#include "snp/scenarios/trace_out.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "snp/model/base/assert.h"
#include "snp/model/kern/sched.h"

namespace snplab::scenarios {

namespace {

using model::engine::RunResult;
using model::engine::TraceEvent;
using model::kern::KernelFinding;
using model::kern::PointKind;

// ---------------------------------------------------------------------------------------------
// Text: the trace's names and details are arbitrary bytes (RMP details carry "->", guest
// addresses, sometimes quotes). Every renderer goes through one UTF-8 walk, so a stray byte
// becomes U+FFFD instead of an unparsable document.

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

/// Calls emit(code_point, bytes) for each code point of `s`; a byte that does not start a
/// well-formed UTF-8 sequence (overlong, surrogate, truncated) is reported as U+FFFD.
template <class Emit>
void for_each_code_point(std::string_view s, Emit&& emit) {
  static constexpr char32_t kMinOfLength[] = {0, 0, 0x80, 0x800, 0x10000};
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    char32_t cp = 0;
    if (b0 < 0x80) {
      len = 1, cp = b0;
    } else if ((b0 >> 5) == 0x6) {
      len = 2, cp = b0 & 0x1Fu;
    } else if ((b0 >> 4) == 0xE) {
      len = 3, cp = b0 & 0x0Fu;
    } else if ((b0 >> 3) == 0x1E) {
      len = 4, cp = b0 & 0x07u;
    }
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xC0u) == 0x80u;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    ok = ok && cp >= kMinOfLength[len] && !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
    if (!ok) {
      emit(char32_t{0xFFFD}, kReplacement);
      ++i;
      continue;
    }
    emit(cp, s.substr(i, len));
    i += len;
  }
}


/// A JSON string literal, quotes included.
std::string json_quote(std::string_view s) {
  std::string out = "\"";
  out.reserve(s.size() + 2);
  for_each_code_point(s, [&out](char32_t cp, std::string_view bytes) {
    switch (cp) {
      case '"': out += "\\\""; return;
      case '\\': out += "\\\\"; return;
      case '\n': out += "\\n"; return;
      case '\r': out += "\\r"; return;
      case '\t': out += "\\t"; return;
      default: break;
    }
    if (cp < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(cp));
    } else {
      out += bytes;
    }
  });
  out += '"';
  return out;
}

/// `s` cut to at most `max_chars` code points, the cut marked with an ellipsis.
std::string truncate(std::string_view s, std::size_t max_chars) {
  std::size_t chars = 0;
  std::size_t cut = s.size();  // byte offset where code point `max_chars - 1` starts
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0u) == 0x80u) continue;  // continuation byte
    if (chars + 1 == max_chars) cut = i;
    ++chars;
  }
  if (chars <= max_chars) return std::string(s);
  if (max_chars == 0) return {};
  return std::string(s.substr(0, cut)) + "\xE2\x80\xA6";  // U+2026
}

// ---------------------------------------------------------------------------------------------
// The run, indexed.

std::string agent_name(const RunResult& run, std::size_t agent) {
  return agent < run.agent_names.size() ? run.agent_names[agent] : fmt::format("agent {}", agent);
}

/// Lanes: every named agent, and any agent a trace event names beyond them.
std::size_t lane_count(const RunResult& run) {
  std::size_t n = run.agent_names.size();
  for (const TraceEvent& e : run.trace) n = std::max<std::size_t>(n, std::size_t{e.agent} + 1);
  return n;
}

/// Trace index of each step (steps are usually the indices, but nothing requires it).
std::unordered_map<std::uint64_t, std::size_t> index_steps(const RunResult& run) {
  std::unordered_map<std::uint64_t, std::size_t> at;
  for (std::size_t i = 0; i < run.trace.size(); ++i) at.emplace(run.trace[i].step, i);
  return at;
}

/// Per finding, the trace indices of its steps (steps the trace does not hold are left out).
std::vector<std::vector<std::size_t>> finding_points(const RunResult& run,
                                                     const std::unordered_map<std::uint64_t, std::size_t>& step_at) {
  std::vector<std::vector<std::size_t>> out;
  for (const KernelFinding& f : run.findings) {
    std::vector<std::size_t>& at = out.emplace_back();
    for (std::uint64_t s : f.steps) {
      if (auto it = step_at.find(s); it != step_at.end()) at.push_back(it->second);
    }
  }
  return out;
}

/// Whether each trace index is a step of some finding.
std::vector<bool> finding_marks(const RunResult& run, const std::vector<std::vector<std::size_t>>& points) {
  std::vector<bool> marked(run.trace.size(), false);
  for (const auto& at : points) {
    for (std::size_t i : at) marked[i] = true;
  }
  return marked;
}

/// Where a finding is placed in time: the cycle of its last step (where it was raised). A
/// step the trace does not hold falls back to the last event before it, then to 0.
std::uint64_t finding_cycle(const RunResult& run, const KernelFinding& f) {
  if (f.steps.empty()) return run.cycles;
  const std::uint64_t last = f.steps.back();
  std::uint64_t cycle = 0;
  for (const TraceEvent& e : run.trace) {
    if (e.step == last) return e.cycle;
    if (e.step < last) cycle = std::max(cycle, e.cycle);
  }
  return cycle;
}

std::string steps_text(const std::vector<std::uint64_t>& steps) {
  return fmt::format("{}", fmt::join(steps, ", "));
}

/// The seven colours of the picture. Red is kept for findings.
enum class KindClass : std::uint8_t { Memory, Lock, Kref, Firmware, Rmp, Reload, Guest };
constexpr KindClass kAllClasses[] = {KindClass::Memory, KindClass::Lock,   KindClass::Kref, KindClass::Firmware,
                                     KindClass::Rmp,    KindClass::Reload, KindClass::Guest};

KindClass class_of(PointKind k) {
  switch (k) {
    case PointKind::PlainLoad:
    case PointKind::PlainStore:
    case PointKind::MarkedLoad:
    case PointKind::MarkedStore: return KindClass::Memory;
    case PointKind::Lock:
    case PointKind::Unlock:
    case PointKind::SrcuReadLock:
    case PointKind::SrcuReadUnlock:
    case PointKind::SynchronizeSrcu:
    case PointKind::Wait:
    case PointKind::Complete: return KindClass::Lock;
    case PointKind::KrefGet:
    case PointKind::KrefPut: return KindClass::Kref;
    case PointKind::FirmwareCall:
    case PointKind::FirmwareDone: return KindClass::Firmware;
    case PointKind::RmpInsn: return KindClass::Rmp;
    case PointKind::Reload: return KindClass::Reload;
    case PointKind::VmEntry:
    case PointKind::GuestInsn:
    case PointKind::VmExit: return KindClass::Guest;
  }
  SNPLAB_UNREACHABLE("corrupt PointKind");
}

/// Chrome trace "cat" and SVG class suffix.
std::string_view to_string(KindClass c) {
  switch (c) {
    case KindClass::Memory: return "memory";
    case KindClass::Lock: return "lock";
    case KindClass::Kref: return "kref";
    case KindClass::Firmware: return "firmware";
    case KindClass::Rmp: return "rmp";
    case KindClass::Reload: return "reload";
    case KindClass::Guest: return "guest";
  }
  SNPLAB_UNREACHABLE("corrupt KindClass");
}

struct ClassStyle {
  std::string_view legend;
  std::string_view fill;
  std::string_view ink;  ///< the step number printed on the box
};

ClassStyle style_of(KindClass c) {
  switch (c) {
    case KindClass::Memory: return {"memory access", "#4e79a7", "#ffffff"};
    case KindClass::Lock: return {"lock / SRCU / completion", "#f28e2b", "#ffffff"};
    case KindClass::Kref: return {"kref", "#59a14f", "#ffffff"};
    case KindClass::Firmware: return {"firmware (sev_do_cmd)", "#8e6bb0", "#ffffff"};
    case KindClass::Rmp: return {"RMP instruction", "#e8c547", "#3b3000"};
    case KindClass::Reload: return {"reload", "#5fb8b2", "#ffffff"};
    case KindClass::Guest: return {"in the guest (VMRUN .. #VMEXIT)", "#9c755f", "#ffffff"};
  }
  SNPLAB_UNREACHABLE("corrupt KindClass");
}

std::string event_name(const TraceEvent& e) {
  return e.object.empty() ? std::string(model::kern::to_string(e.kind))
                          : fmt::format("{} {}", model::kern::to_string(e.kind), e.object);
}

// ---------------------------------------------------------------------------------------------
// SVG geometry. Cycles cannot be the x axis: a PSP command costs 60000 cycles and a load 4, so
// a linear scale hides every load. Each step gets a column instead (time still runs
// rightwards, in step order); a costly step gets a wider column (log of its cost), and the
// axis prints the cycle of every column.

constexpr int kColMin = 24;           // column of a cheap point (<= 100 cycles)
constexpr int kBoxGap = 4;            // between neighbouring boxes
constexpr int kBoxH = 20;
constexpr int kLabelArea = 116;       // above each lane's boxes: the rotated labels
constexpr int kLanePadBottom = 16;    // below the boxes: room for a same-lane finding arc
constexpr int kLaneH = kLabelArea + kBoxH + kLanePadBottom;
constexpr int kAxisH = 62;            // rotated cycle numbers
constexpr int kBannerH = 24;
constexpr int kRightPad = 120;        // the last labels run up and to the right
constexpr int kMinWidth = 960;
constexpr int kLaneTagEvery = 1200;   // lane names repeated along long runs
constexpr double kMonoCharW = 6.1;    // 10px DejaVu Sans Mono advance, rounded up
constexpr double kSansCharW = 6.6;    // 12px sans-serif average, generous
constexpr double kLabelSlope = 0.7071;  // sin(45°): labels rise at 45 degrees

int column_width(PointKind k) {
  const std::uint64_t cost = model::engine::cost_of(k);
  if (cost <= 100) return kColMin;
  return kColMin + static_cast<int>(std::lround(10.0 * std::log10(static_cast<double>(cost) / 100.0)));
}

struct Layout {
  int left = 0;       // x of the first column
  int width = 0;
  int height = 0;
  int banners_y = 0;  // top of the first finding banner
  int axis_y = 0;     // the axis line
  int lanes_y = 0;    // top of lane 0
  std::vector<int> col_x;  // per trace index: left edge of its column
  std::vector<int> col_w;

  int lane_top(std::size_t lane) const { return lanes_y + static_cast<int>(lane) * kLaneH; }
  int box_y(std::size_t lane) const { return lane_top(lane) + kLabelArea; }
  int box_x(std::size_t i) const { return col_x[i] + kBoxGap / 2; }
  int box_w(std::size_t i) const { return col_w[i] - kBoxGap; }
  int box_cx(std::size_t i) const { return col_x[i] + col_w[i] / 2; }
};

Layout layout(const RunResult& run, std::size_t lanes) {
  Layout l;
  std::size_t longest_name = 5;
  for (std::size_t a = 0; a < lanes; ++a) longest_name = std::max(longest_name, agent_name(run, a).size());
  // Room for the name (bold 13px) and the "agent N · M points" line under it.
  const double name_w = static_cast<double>(std::min<std::size_t>(longest_name, 22)) * 8.2;
  l.left = 28 + std::max(120, static_cast<int>(std::lround(name_w)));
  int x = l.left;
  for (const TraceEvent& e : run.trace) {
    l.col_x.push_back(x);
    l.col_w.push_back(column_width(e.kind));
    x += l.col_w.back();
  }
  l.width = std::max(kMinWidth, x + kRightPad);
  l.banners_y = 96;
  l.axis_y = l.banners_y + static_cast<int>(run.findings.size()) * (kBannerH + 6) + 8 + kAxisH;
  l.lanes_y = l.axis_y + 8;
  l.height = l.lane_top(lanes) + 28;
  return l;
}

/// One red connector between two finding steps: an S-curve between lanes, or a shallow arc
/// under the boxes when both are on the same lane.
std::string connector(const Layout& l, std::size_t from, std::size_t from_lane, std::size_t to,
                      std::size_t to_lane) {
  const int x1 = l.box_cx(from), x2 = l.box_cx(to);
  if (from_lane == to_lane) {
    const int y = l.box_y(from_lane) + kBoxH + 1;
    return fmt::format(R"(<path class="snp-link" d="M{},{} Q{},{} {},{}"/>)", x1, y, (x1 + x2) / 2,
                       y + 2 * (kLanePadBottom - 3), x2, y);
  }
  const int y1 = l.box_y(from_lane) + kBoxH / 2, y2 = l.box_y(to_lane) + kBoxH / 2;
  const int ym = (y1 + y2) / 2;
  return fmt::format(R"(<path class="snp-link" d="M{},{} C{},{} {},{} {},{}"/>)", x1, y1, x1, ym, x2, ym,
                     x2, y2);
}

}  // namespace

// Text content or attribute value for XML/HTML (trace_out.h). XML 1.0 forbids most control
// characters even as references, so they become U+FFFD; tab and newline stay (tooltips use
// newlines).
std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for_each_code_point(s, [&out](char32_t cp, std::string_view bytes) {
    switch (cp) {
      case '<': out += "&lt;"; return;
      case '>': out += "&gt;"; return;
      case '&': out += "&amp;"; return;
      case '"': out += "&quot;"; return;
      case '\'': out += "&#39;"; return;
      case '\t':
      case '\n': out += bytes; return;
      default: break;
    }
    const bool forbidden = cp < 0x20 || cp == 0xFFFE || cp == 0xFFFF;
    out += forbidden ? kReplacement : bytes;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------

// Units: Chrome's "ts" and "dur" are microseconds by definition, and the simulator has cycles
// only. We write cycles unchanged, so a viewer labels one simulated cycle as 1 µs (a 60000-cycle
// PSP command reads as "60 ms"): the numbers are exact and match `snplab` text traces and the
// SVG axis. "displayTimeUnit":"ns" only picks the precision the legacy viewer shows; it does not
// rescale. Read every time in the viewer as cycles.
std::string chrome_trace_json(const model::engine::RunResult& run, const TraceInfo& info) {
  std::string out = "{\"traceEvents\":[\n";
  out += fmt::format(R"({{"name":"process_name","ph":"M","pid":1,"tid":0,"args":{{"name":{}}}}})",
                     json_quote(info.title.empty() ? std::string("snplab") : "snplab: " + info.title));
  const std::size_t lanes = lane_count(run);
  for (std::size_t a = 0; a < lanes; ++a) {
    const std::size_t tid = a + 1;  // tid 0 is the process; KernelFinding::agent is 1-based too
    out += fmt::format(",\n" R"({{"name":"thread_name","ph":"M","pid":1,"tid":{},"args":{{"name":{}}}}})", tid,
                       json_quote(agent_name(run, a)));
    out += fmt::format(",\n" R"({{"name":"thread_sort_index","ph":"M","pid":1,"tid":{},"args":{{"sort_index":{}}}}})",
                       tid, a);
  }
  for (const TraceEvent& e : run.trace) {
    // The trace records when the access happens, after its cost has been paid: the box ends
    // there. A start before cycle 0 (a cost the run did not charge) is clamped, end kept.
    const std::uint64_t start = e.cycle - std::min(e.cycle, model::engine::cost_of(e.kind));
    out += fmt::format(",\n" R"({{"name":{},"cat":"{}","ph":"X","pid":1,"tid":{},"ts":{},"dur":{},)"
                       R"("args":{{"step":{},"cycle":{},"detail":{}}}}})",
                       json_quote(event_name(e)), to_string(class_of(e.kind)), std::uint64_t{e.agent} + 1, start,
                       e.cycle - start, e.step, e.cycle, json_quote(e.detail));
  }
  for (const KernelFinding& f : run.findings) {
    out += fmt::format(",\n" R"({{"name":{},"cat":"finding","ph":"i","s":"g","pid":1,"tid":{},"ts":{},)"
                       R"("args":{{"message":{},"steps":[{}]}}}})",
                       json_quote(model::to_string(f.kind)), f.agent, finding_cycle(run, f), json_quote(f.message),
                       fmt::join(f.steps, ","));
  }
  out += fmt::format("\n],\n\"displayTimeUnit\":\"ns\",\n\"metadata\":{{\"title\":{},\"replay\":{},"
                     "\"time_unit\":\"simulated cycles (ts and dur hold cycles, shown as microseconds)\","
                     "\"steps\":{},\"cycles\":{},\"deadlock\":{},\"replay_diverged\":{}}}\n}}\n",
                     json_quote(info.title), json_quote(info.replay), run.steps, run.cycles, run.deadlock,
                     run.replay_diverged);
  return out;
}

std::string timeline_svg(const model::engine::RunResult& run, const TraceInfo& info) {
  const std::size_t lanes = lane_count(run);
  const Layout l = layout(run, lanes);
  const auto step_at = index_steps(run);
  const auto hits = finding_points(run, step_at);
  const std::vector<bool> in_finding = finding_marks(run, hits);

  std::string o;
  o.reserve(4096 + run.trace.size() * 700);
  o += fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
                   R"(font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">)"
                   "\n",
                   l.width, l.height);
  o += fmt::format("<title>{}</title>\n", xml_escape(info.title.empty() ? "snplab trace" : info.title));
  // Class names carry a prefix: the SVG is also inlined into an HTML page, where its <style>
  // applies to the whole document.
  o += "<style>\n"
       ".snp-mono{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace}\n"
       ".snp-lbl,.snp-lbl-hit{font-size:10px;paint-order:stroke;stroke:#ffffff;stroke-width:3px;"
       "stroke-linejoin:round}\n"
       ".snp-lbl{fill:#2b2f36}\n"
       ".snp-lbl-hit{fill:#c62828;font-weight:bold}\n"
       ".snp-tick{font-size:9px;fill:#6b7280}\n"
       ".snp-num{text-anchor:middle}\n"
       ".snp-lane-tag{font-size:10px;fill:#9ca3af;font-style:italic}\n"
       ".snp-lane-label{font-size:13px;font-weight:bold;fill:#1f2937}\n"
       ".snp-lane-sub{font-size:10px;fill:#6b7280}\n"
       ".snp-box{stroke:#ffffff;stroke-width:0.5}\n"
       ".snp-hit{fill:none;stroke:#d62728;stroke-width:3}\n"
       ".snp-link{fill:none;stroke:#d62728;stroke-width:2;stroke-opacity:0.85}\n"
       "</style>\n";
  o += fmt::format(R"(<rect width="{}" height="{}" fill="#ffffff"/>)" "\n", l.width, l.height);

  // Heading, summary line, legend.
  const int max_chars = static_cast<int>(static_cast<double>(l.width - 48) / kSansCharW);
  const auto fit = [max_chars](std::string_view s, int reserve) {
    return truncate(s, static_cast<std::size_t>(std::max(8, max_chars - reserve)));
  };
  o += fmt::format(R"(<text x="20" y="30" font-size="18" font-weight="bold" fill="#111827">{}</text>)" "\n",
                   xml_escape(fit(info.title.empty() ? "snplab trace" : info.title, 0)));
  std::string summary = fmt::format("{} points \u00B7 {} cycles \u00B7 {} agents", run.trace.size(), run.cycles, lanes);
  if (run.deadlock) summary += " \u00B7 DEADLOCK";
  if (run.replay_diverged) summary += " \u00B7 REPLAY DIVERGED";
  o += fmt::format(R"(<text x="20" y="50" fill="#4b5563">{}<tspan class="snp-mono" font-size="11"> replay )"
                   R"({}</tspan><title>replay {}</title></text>)" "\n",
                   xml_escape(summary), xml_escape(fit(info.replay, static_cast<int>(summary.size()) + 10)),
                   xml_escape(info.replay));
  int lx = 20;
  for (KindClass c : kAllClasses) {
    const ClassStyle st = style_of(c);
    o += fmt::format(R"(<rect x="{}" y="64" width="14" height="14" rx="2" fill="{}"/>)"
                     R"(<text x="{}" y="75" font-size="11" fill="#374151">{}</text>)" "\n",
                     lx, st.fill, lx + 19, st.legend);
    lx += 19 + static_cast<int>(static_cast<double>(st.legend.size()) * 6.2) + 18;
  }
  o += fmt::format(R"(<rect x="{}" y="64" width="14" height="14" rx="2" fill="#ffffff" stroke="#d62728" )"
                   R"(stroke-width="3"/><text x="{}" y="75" font-size="11" fill="#374151">finding step</text>)" "\n",
                   lx, lx + 19);

  // Finding banners.
  for (std::size_t n = 0; n < run.findings.size(); ++n) {
    const KernelFinding& f = run.findings[n];
    const int y = l.banners_y + static_cast<int>(n) * (kBannerH + 6);
    const std::string where =
        f.steps.empty() ? std::string() : fmt::format("  (steps {})", steps_text(f.steps));
    const std::string head = fmt::format("#{} {}: ", n + 1, f.kind);
    o += fmt::format(R"(<g class="snp-finding"><title>{}</title>)"
                     R"(<rect x="16" y="{}" width="{}" height="{}" rx="4" fill="#fdecea" stroke="#f5c2c0"/>)"
                     R"(<rect x="16" y="{}" width="5" height="{}" fill="#d62728"/>)"
                     R"(<text x="30" y="{}" fill="#7f1d1d"><tspan font-weight="bold" fill="#c62828">{}</tspan>{})"
                     R"(<tspan fill="#9b4a4a">{}</tspan></text></g>)" "\n",
                     xml_escape(fmt::format("{}{}{}", head, f.message, where)), y, l.width - 32, kBannerH, y,
                     kBannerH, y + 16, xml_escape(head),
                     xml_escape(fit(f.message, static_cast<int>(head.size() + where.size()) + 4)),
                     xml_escape(where));
  }

  // Time axis: every column's cycle, rotated so neighbours never collide.
  o += fmt::format(R"(<text x="{}" y="{}" font-size="10" fill="#6b7280" text-anchor="end">cycle</text>)"
                   R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#9ca3af"/>)" "\n",
                   l.left - 8, l.axis_y - 4, l.left, l.axis_y, l.width - kRightPad + 20, l.axis_y);
  for (std::size_t i = 0; i < run.trace.size(); ++i) {
    const int cx = l.box_cx(i);
    o += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#9ca3af"/>)"
                     R"~(<text class="snp-tick snp-mono" transform="translate({3},{4}) rotate(-45)">{5}</text>)~" "\n",
                     cx, l.axis_y, l.axis_y - 4, cx - 2, l.axis_y - 7, run.trace[i].cycle);
  }

  // Lanes: a stripe, the agent's name on the left.
  for (std::size_t a = 0; a < lanes; ++a) {
    const int top = l.lane_top(a);
    const std::string name = agent_name(run, a);
    const auto points = std::count_if(run.trace.begin(), run.trace.end(),
                                      [a](const TraceEvent& e) { return e.agent == a; });
    o += fmt::format(R"(<rect x="0" y="{}" width="{}" height="{}" fill="{}"/>)"
                     R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d1d5db" stroke-dasharray="2,3"/>)"
                     R"(<text class="snp-lane-label" x="12" y="{}">{}<title>{}</title></text>)"
                     R"(<text class="snp-lane-sub" x="12" y="{}">agent {} )" "\u00B7" R"( {} points</text>)" "\n",
                     top, l.width, kLaneH, a % 2 == 0 ? "#f7f8fa" : "#ffffff", l.left, l.box_y(a) + kBoxH / 2,
                     l.width - kRightPad + 20, l.box_y(a) + kBoxH / 2, l.box_y(a) + 6,
                     xml_escape(truncate(name, 22)), xml_escape(name), l.box_y(a) + 20, a, points);
    // A long run scrolls its lane names out of view: repeat them faintly under the lane.
    for (int x = l.left + kLaneTagEvery; x < l.width - kRightPad - 200; x += kLaneTagEvery) {
      o += fmt::format(R"(<text class="snp-lane-tag" x="{}" y="{}">{}</text>)" "\n", x, l.box_y(a) + kBoxH + 12,
                       xml_escape(truncate(name, 22)));
    }
  }

  // Connectors between consecutive steps of a finding, under the boxes and the (haloed) labels.
  for (const auto& at : hits) {
    for (std::size_t k = 1; k < at.size(); ++k) {
      o += connector(l, at[k - 1], run.trace[at[k - 1]].agent, at[k], run.trace[at[k]].agent);
      o += "\n";
    }
  }

  // Points: a box per step, its step number inside, "kind object" rising at 45 degrees (the
  // label area above the boxes bounds its length; the tooltip has everything).
  const std::size_t label_chars =
      static_cast<std::size_t>(static_cast<double>(kLabelArea - 10) / (kMonoCharW * kLabelSlope));
  for (std::size_t i = 0; i < run.trace.size(); ++i) {
    const TraceEvent& e = run.trace[i];
    const ClassStyle st = style_of(class_of(e.kind));
    const int x = l.box_x(i), y = l.box_y(e.agent), w = l.box_w(i);
    const std::string name = event_name(e);
    std::string tip = fmt::format("step {} \u00B7 cycle {} \u00B7 {}\n{}", e.step, e.cycle, agent_name(run, e.agent),
                                  name);
    if (!e.detail.empty()) tip += "\n" + e.detail;
    o += fmt::format(R"(<g class="snp-pt snp-{}"><title>{}</title>)"
                     R"(<rect class="snp-box" x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}"/>)",
                     to_string(class_of(e.kind)), xml_escape(tip), x, y, w, kBoxH, st.fill);
    // The step number, in the largest of two sizes that fits (mono advance = 0.6 em).
    const std::string num = std::to_string(e.step);
    for (const double px : {9.0, 7.5}) {
      if (static_cast<double>(num.size()) * px * 0.61 <= w - 2) {
        o += fmt::format(R"(<text class="snp-num snp-mono" x="{}" y="{}" font-size="{}" fill="{}">{}</text>)",
                         x + w / 2, y + 14, px, st.ink, num);
        break;
      }
    }
    o += fmt::format(R"~(<text class="{} snp-mono" transform="translate({},{}) rotate(-45)">{}</text></g>)~" "\n",
                     in_finding[i] ? "snp-lbl-hit" : "snp-lbl", x + 3, y - 4,
                     xml_escape(truncate(name, label_chars)));
  }

  // Over the boxes: red outlines on the finding's steps, a numbered badge at the step where
  // it was raised.
  for (std::size_t n = 0; n < run.findings.size(); ++n) {
    const KernelFinding& f = run.findings[n];
    const std::vector<std::size_t>& at = hits[n];
    for (std::size_t i : at) {
      const TraceEvent& e = run.trace[i];
      o += fmt::format(R"(<rect class="snp-hit" data-finding="{}" data-step="{}" x="{}" y="{}" width="{}" )"
                       R"(height="{}" rx="4"><title>#{} {}: step {}</title></rect>)" "\n",
                       n + 1, e.step, l.box_x(i) - 2, l.box_y(e.agent) - 2, l.box_w(i) + 4, kBoxH + 4, n + 1,
                       xml_escape(model::to_string(f.kind)), e.step);
    }
    if (!at.empty()) {
      const std::size_t i = at.back();
      const int bx = l.box_x(i) + l.box_w(i) + 2, by = l.box_y(run.trace[i].agent) + kBoxH + 6;
      o += fmt::format(R"(<g><title>#{} {}</title><circle cx="{}" cy="{}" r="8" fill="#d62728"/>)"
                       R"(<text x="{}" y="{}" font-size="10" font-weight="bold" fill="#ffffff" )"
                       R"(text-anchor="middle">{}</text></g>)" "\n",
                       n + 1, xml_escape(model::to_string(f.kind)), bx, by, bx, by + 4, n + 1);
    }
  }
  if (run.trace.empty()) {
    o += fmt::format(R"(<text x="{}" y="{}" fill="#6b7280">no scheduling points</text>)" "\n", l.left,
                     l.lanes_y + kLaneH / 2);
  }
  o += "</svg>\n";
  return o;
}

std::string timeline_html(const model::engine::RunResult& run, const TraceInfo& info) {
  const std::string title = info.title.empty() ? std::string("snplab trace") : info.title;
  const auto step_at = index_steps(run);
  const auto hits = finding_points(run, step_at);
  const std::vector<bool> in_finding = finding_marks(run, hits);

  std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  o += fmt::format("<title>{}</title>\n", xml_escape(title));
  o += "<style>\n"
       "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;color:#1f2937;margin:20px 28px;}\n"
       "h1{font-size:22px;margin:0 0 6px}\n"
       "h2{font-size:15px;margin:22px 0 8px;color:#374151}\n"
       ".meta{color:#4b5563;font-size:13px;margin:0 0 10px}\n"
       "pre.replay{background:#f3f4f6;border:1px solid #e5e7eb;border-radius:4px;padding:8px 10px;"
       "white-space:pre-wrap;word-break:break-all;font-size:12px;margin:0}\n"
       "ol.findings{margin:0;padding-left:26px}\n"
       "ol.findings li{margin:3px 0;font-size:13px}\n"
       "ol.findings .kind{color:#c62828;font-weight:bold}\n"
       ".timeline{overflow-x:auto;border:1px solid #e5e7eb;border-radius:4px}\n"
       ".timeline svg{display:block}\n"
       "table.trace{border-collapse:collapse;font-size:12px}\n"
       "table.trace th{text-align:left;background:#f3f4f6;position:sticky;top:0}\n"
       "table.trace th,table.trace td{padding:2px 10px;border-bottom:1px solid #eef0f3;vertical-align:top}\n"
       "table.trace td.n{text-align:right;font-family:'DejaVu Sans Mono',monospace}\n"
       "table.trace td.c{font-family:'DejaVu Sans Mono',monospace}\n"
       "table.trace tr.hit td{background:#fdecea}\n"
       ".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}\n"
       "</style>\n</head>\n<body>\n";
  o += fmt::format("<h1>{}</h1>\n", xml_escape(title));
  o += fmt::format("<p class=\"meta\">{} points, {} cycles, {} agents{}{}</p>\n", run.trace.size(), run.cycles,
                   lane_count(run), run.deadlock ? ", <strong>deadlock</strong>" : "",
                   run.replay_diverged ? ", <strong>replay diverged</strong>" : "");
  o += fmt::format("<h2>Replay</h2>\n<pre class=\"replay\"><code>{}</code></pre>\n", xml_escape(info.replay));

  o += "<h2>Findings</h2>\n";
  if (run.findings.empty()) {
    o += "<p class=\"meta\">none</p>\n";
  } else {
    o += "<ol class=\"findings\">\n";
    for (const KernelFinding& f : run.findings) {
      std::string steps;
      for (std::uint64_t s : f.steps) {
        if (!steps.empty()) steps += ", ";
        steps += step_at.contains(s) ? fmt::format("<a href=\"#step-{0}\">{0}</a>", s) : std::to_string(s);
      }
      const std::string who = f.agent == 0 ? std::string("-") : agent_name(run, f.agent - 1);
      o += fmt::format("<li><span class=\"kind\">{}</span> {} <span class=\"meta\">(raised by {}{}{})</span></li>\n",
                       xml_escape(model::to_string(f.kind)), xml_escape(f.message), xml_escape(who), steps.empty() ? "" : "; steps ",
                       steps);
    }
    o += "</ol>\n";
  }

  o += "<h2>Timeline</h2>\n<div class=\"timeline\">\n";
  o += timeline_svg(run, info);
  o += "</div>\n";

  o += "<h2>Trace</h2>\n<table class=\"trace\">\n"
       "<tr><th>step</th><th>cycle</th><th>agent</th><th>event</th><th>object</th><th>detail</th></tr>\n";
  for (std::size_t i = 0; i < run.trace.size(); ++i) {
    const TraceEvent& e = run.trace[i];
    o += fmt::format("<tr id=\"step-{}\"{}><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td>"
                     "<td><span class=\"sw\" style=\"background:{}\"></span>{}</td><td class=\"c\">{}</td>"
                     "<td class=\"c\">{}</td></tr>\n",
                     e.step, in_finding[i] ? " class=\"hit\"" : "", e.step, e.cycle,
                     xml_escape(agent_name(run, e.agent)), style_of(class_of(e.kind)).fill,
                     model::kern::to_string(e.kind), xml_escape(e.object), xml_escape(e.detail));
  }
  o += "</table>\n</body>\n</html>\n";
  return o;
}

}  // namespace snplab::scenarios
