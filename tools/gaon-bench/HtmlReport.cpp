//===- HtmlReport.cpp - One self-contained HTML page with SVG charts ------===//
//
// No scripts, no fonts, no network: the page is CSS and inline SVG written
// here, so it opens the same from a mail attachment or an air-gapped
// machine. Every chart is an <svg id="chart-..."> whose bars are
// <rect class="bar" data-label=... data-value=...>, which the tests find in
// the DOM a headless browser builds.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Format.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>

using nlohmann::json;

namespace gaon::bench {

namespace {

std::string escape(const std::string &text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string slug(const std::string &text) {
  std::string out;
  for (char c : text)
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out;
}

// Colour-blind-safe palette (Okabe-Ito), one colour per target or series.
const char *color(size_t index) {
  static const char *const palette[] = {"#0072B2", "#E69F00", "#009E73",
                                        "#CC79A7", "#56B4E9", "#D55E00",
                                        "#F0E442", "#000000"};
  return palette[index % 8];
}

struct Bar {
  std::string label;
  double value = 0; ///< negative: no bar (shown as `note`)
  std::string text; ///< printed after the bar
  std::string color;
  std::string note;   ///< instead of a bar
  double marker = -1; ///< a vertical tick at this value (roofline bound)
};

// A horizontal bar chart: one row per bar, scaled to the largest value.
std::string barChart(const std::string &id, const std::string &title,
                     const std::vector<Bar> &bars,
                     const std::string &markerLegend = "") {
  const int labelWidth = 190, barWidth = 420, textWidth = 150, row = 26;
  const int top = 34, width = labelWidth + barWidth + textWidth;
  int height = top + row * int(bars.size()) + (markerLegend.empty() ? 8 : 26);
  double maxValue = 0;
  for (const Bar &bar : bars)
    maxValue = std::max({maxValue, bar.value, bar.marker});
  std::string svg = "<svg id=\"" + escape(id) +
                    "\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
                    "width=\"" +
                    std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" viewBox=\"0 0 " +
                    std::to_string(width) + " " + std::to_string(height) +
                    "\" role=\"img\" aria-label=\"" + escape(title) + "\">\n";
  svg +=
      "<text class=\"title\" x=\"0\" y=\"18\">" + escape(title) + "</text>\n";
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar &bar = bars[i];
    int y = top + int(i) * row;
    svg += "<text class=\"label\" x=\"" + std::to_string(labelWidth - 8) +
           "\" y=\"" + std::to_string(y + 17) + "\" text-anchor=\"end\">" +
           escape(bar.label) + "</text>\n";
    if (bar.value < 0 || maxValue <= 0) {
      svg += "<text class=\"note\" x=\"" + std::to_string(labelWidth) +
             "\" y=\"" + std::to_string(y + 17) + "\">" +
             escape(bar.note.empty() ? "n/a" : bar.note) + "</text>\n";
      continue;
    }
    double w = std::max(1.0, bar.value / maxValue * barWidth);
    svg += "<rect class=\"bar\" data-label=\"" + escape(bar.label) +
           "\" data-value=\"" + number(bar.value) + "\" x=\"" +
           std::to_string(labelWidth) + "\" y=\"" + std::to_string(y + 4) +
           "\" width=\"" + number(w) + "\" height=\"" +
           std::to_string(row - 8) + "\" fill=\"" + bar.color + "\"><title>" +
           escape(bar.label + ": " + bar.text) + "</title></rect>\n";
    if (bar.marker > 0) {
      double x = labelWidth + bar.marker / maxValue * barWidth;
      svg += "<line class=\"marker\" x1=\"" + number(x) + "\" x2=\"" +
             number(x) + "\" y1=\"" + std::to_string(y + 1) + "\" y2=\"" +
             std::to_string(y + row - 1) + "\"/>\n";
    }
    svg += "<text class=\"value\" x=\"" + number(labelWidth + w + 6) +
           "\" y=\"" + std::to_string(y + 17) + "\">" + escape(bar.text) +
           "</text>\n";
  }
  if (!markerLegend.empty())
    svg += "<text class=\"note\" x=\"" + std::to_string(labelWidth) +
           "\" y=\"" + std::to_string(height - 6) + "\">" +
           escape(markerLegend) + "</text>\n";
  return svg + "</svg>\n";
}

// One bar, split into coloured segments (energy by component).
std::string stackedBar(const std::string &id, const std::string &title,
                       const std::vector<std::pair<std::string, double>> &parts,
                       std::string (*fmt)(double)) {
  const int width = 760, barHeight = 30, top = 30;
  double total = 0;
  for (const auto &part : parts)
    total += std::max(0.0, part.second);
  int legendRows = int(parts.size() + 3) / 4;
  int height = top + barHeight + 16 + legendRows * 22;
  std::string svg = "<svg id=\"" + escape(id) +
                    "\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
                    "width=\"" +
                    std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" role=\"img\" aria-label=\"" +
                    escape(title) + "\">\n";
  svg +=
      "<text class=\"title\" x=\"0\" y=\"18\">" + escape(title) + "</text>\n";
  double x = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    double value = std::max(0.0, parts[i].second);
    double w = total > 0 ? value / total * width : 0;
    std::string text = parts[i].first + ": " + fmt(value) + " (" +
                       format::percent(total > 0 ? value / total : 0) + ")";
    if (w > 0)
      svg += "<rect class=\"bar segment\" data-label=\"" +
             escape(parts[i].first) + "\" data-value=\"" + number(value) +
             "\" x=\"" + number(x) + "\" y=\"" + std::to_string(top) +
             "\" width=\"" + number(w) + "\" height=\"" +
             std::to_string(barHeight) + "\" fill=\"" + color(i) +
             "\"><title>" + escape(text) + "</title></rect>\n";
    x += w;
    int lx = int(i % 4) * (width / 4),
        ly = top + barHeight + 16 + int(i / 4) * 22;
    svg += "<rect x=\"" + std::to_string(lx) + "\" y=\"" + std::to_string(ly) +
           "\" width=\"12\" height=\"12\" fill=\"" + color(i) +
           "\"/><text class=\"legend\" x=\"" + std::to_string(lx + 18) +
           "\" y=\"" + std::to_string(ly + 11) + "\">" + escape(text) +
           "</text>\n";
  }
  return svg + "</svg>\n";
}

std::string targetNote(const json &t) {
  std::string status = t.value("status", "");
  if (status == "skipped")
    return "skipped: " + t.value("reason", "");
  if (status == "error")
    return "error";
  return "n/a";
}

// A comparison chart: one bar per target of `key` (targets that did not run
// or lack the value get a note instead).
std::string targetChart(const json &targets, const std::string &id,
                        const std::string &title, const char *key,
                        std::string (*fmt)(double), bool rooflineMarker) {
  std::vector<Bar> bars;
  bool anyMarker = false;
  for (size_t i = 0; i < targets.size(); ++i) {
    const json &t = targets[i];
    Bar bar;
    bar.label = t.value("target", "?");
    bar.color = color(i);
    if (t.value("status", "") == "ok" && t.contains(key) &&
        t[key].is_number()) {
      bar.value = t[key].get<double>();
      bar.text = fmt(bar.value);
      if (rooflineMarker && t.contains("roofline")) {
        bar.marker = t["roofline"].value("bound_s", -1.0);
        anyMarker = anyMarker || bar.marker > 0;
      }
    } else {
      // The reason is in the table; a chart row has room for a word.
      bar.value = -1;
      bar.note =
          t.value("status", "") == "ok" ? "n/a" : t.value("status", "n/a");
    }
    bars.push_back(bar);
  }
  return barChart(id, title, bars,
                  anyMarker ? "| marks the roofline bound" : "");
}

std::string watts(double value) { return format::si(value) + " W"; }
std::string perJoule(double value) { return format::si(value) + " inf/J"; }

std::string summaryTable(const json &targets) {
  std::string html = "<table class=\"summary\"><thead><tr><th>metric</th>";
  for (const json &t : targets)
    html += "<th>" + escape(t.value("target", "?")) + "</th>";
  html += "</tr></thead><tbody>\n";
  struct Row {
    const char *name, *key;
    std::string (*fmt)(double);
  };
  const Row rows[] = {
      {"latency", "latency_s", format::seconds},
      {"inferences/s", "inferences_per_s", format::si},
      {"tokens/s", "tokens_per_s", format::si},
      {"energy / inference", "energy_j", format::joules},
      {"energy / token", "joules_per_token", format::joules},
      {"average power", "avg_power_w", watts},
      {"perf/W (inferences/s per W)", "inferences_per_j", format::si},
      {"MAC utilization", "mac_utilization", format::percent},
      {"compile time", "compile_s", format::seconds},
  };
  html += "<tr><td>status</td>";
  for (const json &t : targets)
    html += "<td>" +
            escape(t.value("status", "?") == "ok"
                       ? t.value("mode", std::string("ok"))
                       : targetNote(t)) +
            "</td>";
  html += "</tr>\n";
  for (const Row &row : rows) {
    html += "<tr><td>" + std::string(row.name) + "</td>";
    for (const json &t : targets)
      html += "<td>" +
              escape(t.value("status", "") != "ok"
                         ? "-"
                         : format::orMissing(t, row.key, row.fmt, "n/a")) +
              "</td>";
    html += "</tr>\n";
  }
  html += "<tr><td>roofline bound</td>";
  for (const json &t : targets) {
    std::string text = "-";
    if (t.contains("roofline")) {
      const json &r = t["roofline"];
      text = format::seconds(r.value("bound_s", 0.0)) + " (" +
             r.value("bound", "?") + "), " +
             format::orMissing(r, "latency_over_bound", format::ratio, "-");
    }
    html += "<td>" + escape(text) + "</td>";
  }
  html += "</tr>\n</tbody></table>\n";
  return html;
}

// Per-unit utilization averaged over the cores (dma0, tensor, vector, ...).
std::vector<Bar> unitBars(const json &deviceReport) {
  std::map<std::string, std::pair<double, int>> byUnit;
  std::vector<std::string> order;
  for (const json &unit : deviceReport.value("units", json::array())) {
    std::string name = unit.value("unit", "?");
    if (!byUnit.count(name))
      order.push_back(name);
    auto &[sum, count] = byUnit[name];
    sum += unit.value("utilization", 0.0);
    ++count;
  }
  std::vector<Bar> bars;
  for (size_t i = 0; i < order.size(); ++i) {
    auto [sum, count] = byUnit[order[i]];
    double mean = count ? sum / count : 0;
    bars.push_back(
        {order[i], mean, format::percent(mean) + " busy", color(i), "", -1});
  }
  return bars;
}

std::string breakdownSection(const json &t, size_t index) {
  std::string id = slug(t.value("target", "t" + std::to_string(index)));
  std::string html = "<section class=\"breakdown\" id=\"breakdown-" + id +
                     "\">\n<h2>" + escape(t.value("target", "?")) +
                     ": where time and energy go</h2>\n";
  if (t.contains("device_report")) {
    const json &report = t["device_report"];
    const json &e = report.value("energy_joules", json::object());
    std::vector<std::pair<std::string, double>> parts;
    for (const char *key : {"mac", "vector", "scratchpad", "shared_sram",
                            "dram", "network", "static"})
      parts.push_back({key, e.value(key, 0.0)});
    html += stackedBar("chart-energy-components-" + id,
                       "Energy per inference by component (simulator model)",
                       parts, format::joules);
    html += barChart("chart-units-" + id,
                     "Unit utilization (busy cycles / total, mean over cores)",
                     unitBars(report));
  }
  if (!t.contains("breakdown")) {
    if (t.contains("breakdown_error"))
      html += "<p class=\"note\">No per-kernel breakdown: " +
              escape(t["breakdown_error"].get<std::string>()) + "</p>\n";
    return html + "</section>\n";
  }
  const json &b = t["breakdown"];
  std::vector<Bar> timeBars, energyBars;
  for (const json &op : b["by_op"]) {
    std::string label = op.value("op", "?") + " (" +
                        std::to_string(op.value("kernels", 0)) + ")";
    double s = op.value("seconds", 0.0), j = op.value("energy_j", 0.0);
    timeBars.push_back({label, s,
                        format::seconds(s) + ", " +
                            format::percent(op.value("share_time", 0.0)),
                        color(0), "", -1});
    energyBars.push_back({label, j,
                          format::joules(j) + ", " +
                              format::percent(op.value("share_energy", 0.0)),
                          color(1), "", -1});
  }
  html +=
      "<div class=\"pair\">" +
      barChart("chart-ops-time-" + id, "Time by op kind (kernels)", timeBars) +
      barChart("chart-ops-energy-" + id, "Energy by op kind", energyBars) +
      "</div>\n";
  const json &layers = b["by_layer"];
  if (layers.size() > 1) {
    std::vector<Bar> layerTime, layerEnergy;
    for (const json &layer : layers) {
      std::string name = layer.value("layer", "?");
      std::string label = name == "outside layers" ? name : "layer " + name;
      double s = layer.value("seconds", 0.0), j = layer.value("energy_j", 0.0);
      layerTime.push_back({label, s, format::seconds(s), color(2), "", -1});
      layerEnergy.push_back({label, j, format::joules(j), color(5), "", -1});
    }
    html +=
        "<div class=\"pair\">" +
        barChart("chart-layers-time-" + id, "Time by layer", layerTime) +
        barChart("chart-layers-energy-" + id, "Energy by layer", layerEnergy) +
        "</div>\n";
  }
  // The kernels that take the most time.
  std::vector<json> kernels(b["kernels"].begin(), b["kernels"].end());
  std::stable_sort(kernels.begin(), kernels.end(),
                   [](const json &a, const json &c) {
                     return a.value("seconds", 0.0) > c.value("seconds", 0.0);
                   });
  if (kernels.size() > 15)
    kernels.resize(15);
  html += "<h3>Slowest kernels</h3>\n<table class=\"kernels\"><thead><tr>"
          "<th>#</th><th>op</th><th>ONNX node</th><th>time</th><th>energy</th>"
          "<th>MAC util.</th><th>DRAM bytes</th></tr></thead><tbody>\n";
  for (const json &k : kernels)
    html += "<tr><td>" + std::to_string(k.value("index", 0)) + "</td><td>" +
            escape(k.value("op", "")) + "</td><td>" +
            escape(k.value("name", "")) + "</td><td>" +
            format::seconds(k.value("seconds", 0.0)) + "</td><td>" +
            format::joules(k.value("energy_j", 0.0)) + "</td><td>" +
            format::percent(k.value("mac_utilization", 0.0)) + "</td><td>" +
            format::bytes(k.value("dram_bytes", 0.0)) + "</td></tr>\n";
  html += "</tbody></table>\n";
  char note[512];
  std::snprintf(note, sizeof note,
                "%zu kernels, each simulated alone (timing only): %s in all "
                "against %s for the whole run%s.",
                size_t(b.value("kernel_count", 0)),
                format::seconds(b.value("sum_seconds", 0.0)).c_str(),
                format::seconds(t.value("latency_s", 0.0)).c_str(),
                b.value("labelled", false)
                    ? ""
                    : "; kernels could not be matched to ops and are named "
                      "by their content");
  html += "<p class=\"note\">" + escape(note) + "</p>\n";
  return html + "</section>\n";
}

const char *kStyle = R"(
body { font: 14px/1.4 sans-serif; color: #222; margin: 24px; max-width: 1600px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ccc; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.meta { color: #555; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: right; }
th { background: #eef2f7; }
td:first-child, th:first-child { text-align: left; }
table.kernels td:nth-child(2), table.kernels td:nth-child(3) { text-align: left; }
svg.chart { display: block; margin: 10px 0 18px; background: #fbfbfd; }
svg .title { font: bold 14px sans-serif; fill: #222; }
svg .label, svg .value, svg .legend { font: 12px sans-serif; fill: #333; }
svg .note { font: italic 12px sans-serif; fill: #888; }
svg .marker { stroke: #c00; stroke-width: 2; }
.pair { display: flex; flex-wrap: wrap; gap: 24px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
p.note { color: #666; font-size: 12px; }
)";

} // namespace

std::string renderHtml(const json &report) {
  const json &targets = report["targets"];
  const json &w = report.value("workload", json::object());
  const json &g = report.value("graph", json::object());
  std::string title = "gaon-bench: " + report.value("model", "?");
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                     "charset=\"utf-8\"><title>" +
                     escape(title) + "</title>\n<style>" + kStyle +
                     "</style></head>\n<body>\n";
  std::string seq = w.contains("seq") && w["seq"].is_number()
                        ? std::to_string(w["seq"].get<long long>())
                        : "n/a";
  html += "<h1>" + escape(title) + "</h1>\n<p class=\"meta\">" +
          escape(report.value("model_path", "")) + " &middot; " +
          escape(report.value("dtype", "")) + " &middot; batch " +
          std::to_string(w.value("batch", 1)) + ", sequence " + escape(seq) +
          " &middot; " + format::si(g.value("flops", 0.0)) + "FLOP, " +
          format::bytes(g.value("weights_bytes", 0.0)) +
          " of weights per inference</p>\n";
  html += summaryTable(targets);
  html += "<div class=\"charts\">\n";
  html += targetChart(targets, "chart-latency", "Latency per inference",
                      "latency_s", format::seconds, true);
  html += targetChart(targets, "chart-energy", "Energy per inference",
                      "energy_j", format::joules, false);
  html += targetChart(targets, "chart-perf-per-watt",
                      "Performance per watt (inferences/s per W)",
                      "inferences_per_j", perJoule, false);
  html += targetChart(targets, "chart-power", "Average power", "avg_power_w",
                      watts, false);
  html += "</div>\n";
  for (size_t i = 0; i < targets.size(); ++i)
    if (targets[i].value("status", "") == "ok" &&
        (targets[i].contains("breakdown") ||
         targets[i].contains("device_report")))
      html += breakdownSection(targets[i], i);
  html += "<p class=\"note\">Simulated latencies are cycles / clock of the "
          "simulated chip; energies of npu-sim targets come from the "
          "simulator's energy model, of hardware targets from the driver's "
          "counters. Roofline bound = max(FLOPs / peak, (weights + inputs + "
          "outputs) / memory bandwidth). Made by gaon-bench "
          "(docs/gaon-bench.md).</p>\n";
  return html + "</body></html>\n";
}

} // namespace gaon::bench
