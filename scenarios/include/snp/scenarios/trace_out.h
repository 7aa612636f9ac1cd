// A run of the engine as a picture or a trace another tool reads: Chrome/Perfetto trace
// JSON, and a self-contained SVG timeline (also wrapped in an HTML page): one lane per agent,
// time (simulated cycles) rightwards, every scheduling point a box, the racing accesses and
// the finding marked.
#pragma once

#include <string>
#include <string_view>

#include "snp/model/engine/engine.h"

namespace snplab::scenarios {

/// What the picture says about the run besides the trace itself.
struct TraceInfo {
  std::string title;     ///< "certs-toctou under v10-global-certs-reload"
  std::string replay;    ///< the replay string that reproduces the run
};

/// Chrome trace event format (loads in ui.perfetto.dev and chrome://tracing): one thread
/// per agent, one complete event per point (ts = simulated cycle, in "ns" display units),
/// instant events for findings, the replay string and title in metadata.
std::string chrome_trace_json(const model::engine::RunResult& run, const TraceInfo& info);

/// A self-contained SVG (no scripts, no external references).
std::string timeline_svg(const model::engine::RunResult& run, const TraceInfo& info);

/// An HTML page with the SVG inline, the findings and the replay string as text.
std::string timeline_html(const model::engine::RunResult& run, const TraceInfo& info);

/// `s` as XML/HTML text or attribute value: markup characters as references, invalid UTF-8
/// and the control characters XML 1.0 forbids as U+FFFD; tab and newline kept.
std::string xml_escape(std::string_view s);

}  // namespace snplab::scenarios
