//===- Table.cpp - The printed comparison table and number formats --------===//

#include "Bench.h"
#include "Format.h"

#include <cmath>
#include <cstdio>

using nlohmann::json;

namespace gaon::bench {

namespace format {

namespace {

// Scales `value` by 1000s through `units` (smallest first) and prints three
// significant digits.
std::string scaled(double value, const char *const *units, int count,
                   int base) {
  if (!std::isfinite(value))
    return "n/a";
  double magnitude = std::fabs(value);
  int unit = base;
  while (unit + 1 < count && magnitude >= 1000) {
    magnitude /= 1000;
    value /= 1000;
    ++unit;
  }
  while (unit > 0 && magnitude > 0 && magnitude < 1) {
    magnitude *= 1000;
    value *= 1000;
    --unit;
  }
  char text[64];
  std::snprintf(text, sizeof text, "%.*f%s%s",
                magnitude >= 100  ? 0
                : magnitude >= 10 ? 1
                                  : 2,
                value, *units[unit] ? " " : "", units[unit]);
  return text;
}

} // namespace

std::string seconds(double value) {
  static const char *const units[] = {"ns", "us", "ms", "s"};
  return scaled(value * 1e9, units, 4, 0);
}

std::string joules(double value) {
  static const char *const units[] = {"nJ", "uJ", "mJ", "J", "kJ"};
  return scaled(value * 1e9, units, 5, 0);
}

std::string si(double value) {
  static const char *const units[] = {"", "k", "M", "G", "T", "P"};
  std::string text = scaled(value, units, 6, 0);
  // "81.3 k" -> "81.3k"
  if (size_t space = text.find(' '); space != std::string::npos)
    text.erase(space, 1);
  return text;
}

std::string ratio(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fx", value);
  return text;
}

std::string percent(double fraction) {
  char text[32];
  // Small shares keep one decimal, so that 0.4% does not read as nothing.
  double value = fraction * 100;
  std::snprintf(text, sizeof text,
                value > 0 && value < 9.95 ? "%.1f%%" : "%.0f%%", value);
  return text;
}

std::string bytes(double value) {
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
  return scaled(value, units, 5, 0);
}

} // namespace format

namespace {

std::string cell(const json &t, const char *key, std::string (*fn)(double)) {
  return format::orMissing(t, key, fn, "-");
}

} // namespace

std::string formatTable(const json &report) {
  const json &targets = report["targets"];
  std::vector<std::string> names;
  for (const json &t : targets)
    names.push_back(t.value("target", "?"));

  // Rows of (metric, one cell per target).
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  auto row = [&](const std::string &metric, auto &&fn) {
    std::vector<std::string> cells;
    for (const json &t : targets)
      cells.push_back(t.value("status", "") == "ok" ? fn(t) : "");
    rows.push_back({metric, cells});
  };
  {
    std::vector<std::string> cells;
    for (const json &t : targets)
      cells.push_back(t.value("status", "?"));
    rows.push_back({"status", cells});
  }
  row("device", [](const json &t) { return t.value("device", "-"); });
  row("mode", [](const json &t) {
    return t.value("mode", t.value("simulated", false) ? "" : "hardware");
  });
  row("latency", [](const json &t) {
    return cell(t, "latency_s", format::seconds) +
           (t.value("simulated", false) ? " (sim)" : "");
  });
  row("inferences/s",
      [](const json &t) { return cell(t, "inferences_per_s", format::si); });
  // Per-token figures need a sequence length: n/a when the first input
  // holds no ids (the JSON's workload.seq_note says why).
  row("tokens/s", [](const json &t) {
    return format::orMissing(t, "tokens_per_s", format::si);
  });
  row("energy/inference",
      [](const json &t) { return cell(t, "energy_j", format::joules); });
  row("energy/token", [](const json &t) {
    return format::orMissing(t, "joules_per_token", format::joules);
  });
  row("avg power", [](const json &t) {
    return format::orMissing(
        t, "avg_power_w", [](double w) { return format::si(w) + " W"; }, "-");
  });
  row("perf/W (inf/s/W)",
      [](const json &t) { return cell(t, "inferences_per_j", format::si); });
  row("roofline bound", [](const json &t) {
    if (!t.contains("roofline"))
      return std::string("-");
    const json &r = t["roofline"];
    return format::seconds(r.value("bound_s", 0.0)) + " (" +
           r.value("bound", "?") + ")";
  });
  row("x roofline", [](const json &t) {
    if (!t.contains("roofline") ||
        !t["roofline"]["latency_over_bound"].is_number())
      return std::string("-");
    return format::ratio(t["roofline"]["latency_over_bound"].get<double>());
  });
  row("MAC utilization", [](const json &t) {
    return cell(t, "mac_utilization", format::percent);
  });
  row("compile",
      [](const json &t) { return cell(t, "compile_s", format::seconds); });

  size_t metricWidth = 0;
  for (const auto &r : rows)
    metricWidth = std::max(metricWidth, r.first.size());
  std::vector<size_t> widths(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    widths[i] = names[i].size();
    for (const auto &r : rows)
      widths[i] = std::max(widths[i], r.second[i].size());
  }
  auto pad = [](std::string text, size_t width) {
    text.resize(std::max(width, text.size()), ' ');
    return text;
  };

  std::string out;
  const json &w = report.value("workload", json::object());
  char header[512];
  std::snprintf(
      header, sizeof header, "%s, %s, batch %lld, %s\n",
      report.value("model", "?").c_str(), report.value("dtype", "?").c_str(),
      static_cast<long long>(w.value("batch", 1)),
      w.contains("seq") && w["seq"].is_number()
          ? ("seq " + std::to_string(w["seq"].get<long long>())).c_str()
          : "seq n/a");
  out += header;
  std::string head = pad("", metricWidth);
  for (size_t i = 0; i < names.size(); ++i)
    head += "  " + pad(names[i], widths[i]);
  while (!head.empty() && head.back() == ' ')
    head.pop_back();
  out += head + "\n";
  for (const auto &[metric, cells] : rows) {
    std::string line = pad(metric, metricWidth);
    for (size_t i = 0; i < cells.size(); ++i)
      line += "  " + pad(cells[i], widths[i]);
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  }
  for (const json &t : targets) {
    std::string status = t.value("status", "");
    if (status == "skipped")
      out +=
          t.value("target", "?") + ": skipped: " + t.value("reason", "") + "\n";
    else if (status == "error")
      out += t.value("target", "?") + ": error: " + t.value("error", "") + "\n";
  }
  return out;
}

} // namespace gaon::bench
