// The trace renderers on hand-built runs: the Chrome trace
// parses and holds one complete event per point, a thread per agent and an instant per
// finding; the SVG has a lane per agent and marks every finding step; text from the model
// (details with <, &, quotes, stray bytes) is escaped everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "snp/scenarios/trace_out.h"

namespace snplab::scenarios {
namespace {

using model::engine::RunResult;
using model::engine::TraceEvent;
using model::kern::PointKind;

constexpr std::string_view kRmpDetail = "RMPUPDATE pfn 0x1234: shared -> asid 1 gpa 0x5000 <\"a\" & 'b'>";

/// Three agents, seven points, one data race between step 1 (vcpu0) and step 4 (sev-ioctl),
/// raised at step 4. Cycles are written out so the expected values below are literal.
RunResult sample_run() {
  RunResult r;
  r.agent_names = {"vcpu0", "sev-ioctl", "psp<0>"};
  r.trace = {
      TraceEvent{0, 40, 0, PointKind::Lock, "sev->guest_req_mutex", "", "snp_handle_ext_guest_req"},
      TraceEvent{1, 44, 0, PointKind::PlainLoad, "snp_certs", "", "sev_snp_global_certs_get"},
      TraceEvent{2, 84, 1, PointKind::Lock, "sev_cmd_mutex", "", "sev_ioctl"},
      TraceEvent{3, 60084, 1, PointKind::FirmwareCall, "SNP_SET_CONFIG", "cmd 0x81 -> status 0", "sev_ioctl_do_snp_set_config"},
      TraceEvent{4, 60088, 1, PointKind::PlainStore, "snp_certs", "snp_certs = new & \"fresh\"", "sev_snp_set_global_certs"},
      TraceEvent{5, 60288, 2, PointKind::RmpInsn, "RMPUPDATE", std::string(kRmpDetail), "sev_ioctl_do_snp_set_config"},
      TraceEvent{6, 60292, 0, PointKind::Reload, "snp_certs", "reloaded: 0x7e00 -> 0x7f00", "sev_snp_global_certs_get"},
  };
  r.findings.push_back({snplab::model::FindingKind::DataRace, "plain load of 'snp_certs' races with a plain store <no lock>", 2, {1, 4}});
  r.replay = "a2b3c1a1";
  r.steps = 7;
  r.cycles = 60292;
  return r;
}

const TraceInfo kInfo{"certs-toctou under v10-global-certs-reload", "a2b3c1a1"};

nlohmann::json parse_trace(const RunResult& r) {
  return nlohmann::json::parse(chrome_trace_json(r, kInfo));
}

std::vector<nlohmann::json> events_with_ph(const nlohmann::json& doc, std::string_view ph) {
  std::vector<nlohmann::json> out;
  for (const auto& e : doc.at("traceEvents")) {
    if (e.at("ph") == ph) out.push_back(e);
  }
  return out;
}

std::size_t count(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST(ChromeTraceJson, SampleRun_ParsesAsTraceObjectWithMetadata) {
  const nlohmann::json doc = parse_trace(sample_run());
  ASSERT_TRUE(doc.is_object());
  EXPECT_TRUE(doc.at("traceEvents").is_array());
  EXPECT_EQ(doc.at("displayTimeUnit"), "ns");
  EXPECT_EQ(doc.at("metadata").at("title"), "certs-toctou under v10-global-certs-reload");
  EXPECT_EQ(doc.at("metadata").at("replay"), "a2b3c1a1");
}

TEST(ChromeTraceJson, SampleRun_OneCompleteEventPerPoint) {
  const auto xs = events_with_ph(parse_trace(sample_run()), "X");
  ASSERT_EQ(xs.size(), 7u);
  EXPECT_EQ(xs[0].at("name"), "lock sev->guest_req_mutex");
  EXPECT_EQ(xs[0].at("tid"), 1);
  EXPECT_EQ(xs[3].at("name"), "sev_do_cmd SNP_SET_CONFIG");
  EXPECT_EQ(xs[3].at("tid"), 2);
  EXPECT_EQ(xs[3].at("args").at("step"), 3);
  EXPECT_EQ(xs[5].at("name"), "rmp_insn RMPUPDATE");
  EXPECT_EQ(xs[5].at("tid"), 3);
  // The detail survives the round trip byte for byte: <, >, & and both quotes.
  EXPECT_EQ(xs[5].at("args").at("detail"), kRmpDetail);
  EXPECT_EQ(xs[4].at("args").at("detail"), "snp_certs = new & \"fresh\"");
}

TEST(ChromeTraceJson, CompleteEvent_EndsAtItsCycleAndLastsItsCost) {
  const auto xs = events_with_ph(parse_trace(sample_run()), "X");
  ASSERT_EQ(xs.size(), 7u);
  const std::uint64_t fw = model::engine::cost_of(PointKind::FirmwareCall);
  ASSERT_LE(fw, 60084u);
  EXPECT_EQ(xs[3].at("ts").get<std::uint64_t>(), 60084 - fw);
  EXPECT_EQ(xs[3].at("dur").get<std::uint64_t>(), fw);
  EXPECT_EQ(xs[1].at("ts").get<std::uint64_t>() + xs[1].at("dur").get<std::uint64_t>(), 44u);
}

TEST(ChromeTraceJson, CostBeyondCycle_StartClampedAtZero) {
  RunResult r;
  r.agent_names = {"vcpu0"};
  r.trace = {TraceEvent{0, 7, 0, PointKind::FirmwareCall, "SNP_INIT", "", ""}};  // 7 < a PSP command's cost
  const auto xs = events_with_ph(parse_trace(r), "X");
  ASSERT_EQ(xs.size(), 1u);
  EXPECT_EQ(xs[0].at("ts"), 0);
  EXPECT_EQ(xs[0].at("dur"), 7);
}

TEST(ChromeTraceJson, SampleRun_NamesOneThreadPerAgent) {
  const auto ms = events_with_ph(parse_trace(sample_run()), "M");
  std::vector<std::pair<int, std::string>> threads;
  for (const auto& m : ms) {
    if (m.at("name") == "thread_name") threads.emplace_back(m.at("tid").get<int>(), m.at("args").at("name").get<std::string>());
  }
  std::sort(threads.begin(), threads.end());
  const std::vector<std::pair<int, std::string>> want = {{1, "vcpu0"}, {2, "sev-ioctl"}, {3, "psp<0>"}};
  EXPECT_EQ(threads, want);
}

TEST(ChromeTraceJson, Finding_InstantEventAtCycleOfLastStep) {
  const auto is = events_with_ph(parse_trace(sample_run()), "i");
  ASSERT_EQ(is.size(), 1u);
  EXPECT_EQ(is[0].at("name"), "data-race");
  EXPECT_EQ(is[0].at("s"), "g");
  EXPECT_EQ(is[0].at("ts"), 60088);  // step 4, where the race was raised
  EXPECT_EQ(is[0].at("args").at("message"), "plain load of 'snp_certs' races with a plain store <no lock>");
  EXPECT_EQ(is[0].at("args").at("steps"), nlohmann::json::array({1, 4}));
}

TEST(ChromeTraceJson, ControlCharsAndBadUtf8_StillValidJson) {
  RunResult r = sample_run();
  r.trace[0].object = "bad\xff byte";
  r.trace[1].detail = "tab\there\x01";
  const auto xs = events_with_ph(parse_trace(r), "X");  // nlohmann rejects invalid UTF-8
  ASSERT_EQ(xs.size(), 7u);
  EXPECT_EQ(xs[0].at("name"), "lock bad\xEF\xBF\xBD byte");
  EXPECT_EQ(xs[1].at("args").at("detail"), "tab\there\x01");
}

TEST(TimelineSvg, SampleRun_SelfContainedSvgDocument) {
  const std::string svg = timeline_svg(sample_run(), kInfo);
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  EXPECT_EQ(count(svg, "<svg"), 1u);
  EXPECT_EQ(count(svg, "<g"), count(svg, "</g>"));
  EXPECT_EQ(count(svg, "<text"), count(svg, "</text>"));
  EXPECT_EQ(count(svg, "<script"), 0u);
  EXPECT_EQ(count(svg, "href"), 0u);
}

TEST(TimelineSvg, SampleRun_OneLaneLabelPerAgent) {
  const std::string svg = timeline_svg(sample_run(), kInfo);
  EXPECT_EQ(count(svg, "class=\"snp-lane-label\""), 3u);
  EXPECT_NE(svg.find(">vcpu0<title>"), std::string::npos);
  EXPECT_NE(svg.find(">sev-ioctl<title>"), std::string::npos);
  EXPECT_NE(svg.find(">psp&lt;0&gt;<title>"), std::string::npos);
}

TEST(TimelineSvg, SampleRun_OneBoxPerPoint) {
  const std::string svg = timeline_svg(sample_run(), kInfo);
  EXPECT_EQ(count(svg, "<rect class=\"snp-box\""), 7u);
  EXPECT_EQ(count(svg, "class=\"snp-pt snp-firmware\""), 1u);
  EXPECT_EQ(count(svg, "class=\"snp-pt snp-rmp\""), 1u);
  EXPECT_EQ(count(svg, "class=\"snp-pt snp-reload\""), 1u);
  EXPECT_EQ(count(svg, "class=\"snp-pt snp-memory\""), 2u);
  EXPECT_EQ(count(svg, "class=\"snp-pt snp-lock\""), 2u);
}

TEST(TimelineSvg, Finding_HighlightsEachStepAndLinksThem) {
  const std::string svg = timeline_svg(sample_run(), kInfo);
  EXPECT_EQ(count(svg, "class=\"snp-hit\""), 2u);
  EXPECT_NE(svg.find("class=\"snp-hit\" data-finding=\"1\" data-step=\"1\""), std::string::npos);
  EXPECT_NE(svg.find("class=\"snp-hit\" data-finding=\"1\" data-step=\"4\""), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"snp-link\""), 1u);  // two steps, one connector
  EXPECT_EQ(count(svg, "class=\"snp-finding\""), 1u);
  EXPECT_NE(svg.find("plain load of &#39;snp_certs&#39; races with a plain store &lt;no lock&gt;"),
            std::string::npos);
}

TEST(TimelineSvg, FindingStepOutsideTrace_NotHighlighted) {
  RunResult r = sample_run();
  r.findings[0].steps = {4, 99};
  const std::string svg = timeline_svg(r, kInfo);
  EXPECT_EQ(count(svg, "class=\"snp-hit\""), 1u);
  EXPECT_EQ(count(svg, "class=\"snp-link\""), 0u);
}

TEST(TimelineSvg, DetailWithMarkup_EscapedInTooltip) {
  const std::string svg = timeline_svg(sample_run(), kInfo);
  const std::string_view escaped =
      "RMPUPDATE pfn 0x1234: shared -&gt; asid 1 gpa 0x5000 &lt;&quot;a&quot; &amp; &#39;b&#39;&gt;";
  EXPECT_NE(svg.find(escaped), std::string::npos);
  EXPECT_EQ(svg.find("<\"a\""), std::string::npos);
  EXPECT_EQ(svg.find("& "), std::string::npos);
}

TEST(TimelineSvg, LongObjectName_LabelTruncatedTooltipFull) {
  RunResult r = sample_run();
  const std::string longname(80, 'x');
  r.trace[2].object = longname;
  const std::string svg = timeline_svg(r, kInfo);
  EXPECT_EQ(count(svg, longname), 1u);  // only in the tooltip
  EXPECT_NE(svg.find("\xE2\x80\xA6</text>"), std::string::npos);
}

TEST(TimelineSvg, EmptyRun_StillOneLanePerAgent) {
  RunResult r;
  r.agent_names = {"a", "b"};
  const std::string svg = timeline_svg(r, kInfo);
  EXPECT_EQ(count(svg, "class=\"snp-lane-label\""), 2u);
  EXPECT_EQ(count(svg, "class=\"snp-box\""), 0u);
  EXPECT_NE(svg.find("no scheduling points"), std::string::npos);
}

TEST(TimelineHtml, SampleRun_PageHoldsReplayFindingsSvgAndTable) {
  const std::string html = timeline_html(sample_run(), kInfo);
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(html.find("<h1>certs-toctou under v10-global-certs-reload</h1>"), std::string::npos);
  EXPECT_NE(html.find("<code>a2b3c1a1</code>"), std::string::npos);
  EXPECT_EQ(count(html, "<svg xmlns="), 1u);
  EXPECT_EQ(count(html, "</svg>"), 1u);
  EXPECT_NE(html.find("<span class=\"kind\">data-race</span>"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#step-4\">4</a>"), std::string::npos);
  EXPECT_EQ(count(html, "<tr id=\"step-"), 7u);
  EXPECT_EQ(count(html, "<tr id=\"step-1\" class=\"hit\">"), 1u);
  EXPECT_EQ(count(html, "<script"), 0u);
  EXPECT_EQ(count(html, "http://"), 1u);  // the SVG namespace, nothing fetched
  EXPECT_EQ(html.find("<\"a\""), std::string::npos);
}

}  // namespace
}  // namespace snplab::scenarios
