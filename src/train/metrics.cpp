// Per-epoch metrics files of a run folder: results.csv, metrics.jsonl and the curves.svg chart.
#include <attncnn/error.h>
#include <attncnn/io/text.h>
#include <attncnn/train/metrics.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace attncnn {

namespace {

std::string fixed(double v, int prec) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(prec) << v;
  return o.str();
}

// The columns with their CSV precision; one table keeps results.csv, metrics.jsonl and parsing in step.
struct Column {
  const char* name;
  int precision;
  double EpochMetrics::*field;
};
const std::vector<Column>& columns() {
  static const std::vector<Column> c = {
      {"train_loss", 6, &EpochMetrics::train_loss},   {"train_acc", 4, &EpochMetrics::train_acc},
      {"val_loss", 6, &EpochMetrics::val_loss},       {"val_top1", 4, &EpochMetrics::val_top1},
      {"val_top5", 4, &EpochMetrics::val_top5},       {"lr", 8, &EpochMetrics::lr},
      {"epoch_seconds", 3, &EpochMetrics::epoch_seconds}, {"images_per_second", 1, &EpochMetrics::images_per_second},
  };
  return c;
}

// Columns present only in runs that have them (model EMA): written when any epoch has a value.
const std::vector<Column>& optional_columns() {
  static const std::vector<Column> c = {
      {"ema_val_loss", 6, &EpochMetrics::ema_val_loss},
      {"ema_val_top1", 4, &EpochMetrics::ema_val_top1},
      {"ema_val_top5", 4, &EpochMetrics::ema_val_top5},
  };
  return c;
}

std::vector<Column> columns_of(const std::vector<EpochMetrics>& history) {
  std::vector<Column> out = columns();
  for (const auto& c : optional_columns())
    for (const auto& m : history)
      if (std::isfinite(m.*c.field)) {
        out.push_back(c);
        break;
      }
  return out;
}

// Shortest text for a tick value: as many decimals as the tick spacing needs.
std::string tick_label(double v, double spacing) {
  int decimals = 0;
  if (spacing > 0 && spacing < 1) decimals = std::min(6, static_cast<int>(std::ceil(-std::log10(spacing) - 1e-9)));
  if (std::fabs(v) < spacing * 1e-6) v = 0;
  return fixed(v, decimals);
}

struct Series {
  std::string label, color;
  bool dashed;
  std::vector<double> y;
};

// One panel: frame, grid, ticks, axis labels, the series as polylines with point markers, and a legend.
void panel(std::ostringstream& svg, double x0, double y0, double w, double h, const std::string& title,
           const std::string& ylabel, const std::vector<int64_t>& epochs, const std::vector<Series>& series,
           double ymin_hint, double ymax_hint) {
  const double left = x0 + 62, right = x0 + w - 14, top = y0 + 56, bottom = y0 + h - 48;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series)
    for (double v : s.y)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) lo = ymin_hint, hi = ymax_hint;
  if (std::isfinite(ymin_hint)) lo = std::min(lo, ymin_hint);
  if (std::isfinite(ymax_hint)) hi = std::max(hi, ymax_hint);
  if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
  auto yt = nice_ticks(lo, hi, 5);
  lo = std::min(lo, yt.front());
  hi = std::max(hi, yt.back());
  const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1.0;

  const int64_t n = epochs.empty() ? 1 : epochs.back();
  double xlo = 1, xhi = static_cast<double>(std::max<int64_t>(n, 2));
  if (n <= 1) xlo = 0, xhi = 2;  // a single epoch sits in the middle
  auto xt = nice_ticks(xlo, xhi, std::min<int64_t>(10, static_cast<int64_t>(xhi - xlo)));
  std::vector<double> xticks;
  for (double t : xt)
    if (t >= xlo - 1e-9 && t <= xhi + 1e-9 && std::fabs(t - std::round(t)) < 1e-9 && t >= 1) xticks.push_back(t);

  auto px = [&](double x) { return left + (x - xlo) / (xhi - xlo) * (right - left); };
  auto py = [&](double y) { return bottom - (y - lo) / (hi - lo) * (bottom - top); };

  svg << "<g>\n<text x=\"" << fixed((left + right) / 2, 1) << "\" y=\"" << fixed(y0 + 20, 1)
      << "\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" << xml_escape(title) << "</text>\n";
  // Grid and y ticks.
  for (double t : yt) {
    const double y = py(t);
    svg << "<line x1=\"" << fixed(left, 1) << "\" y1=\"" << fixed(y, 1) << "\" x2=\"" << fixed(right, 1) << "\" y2=\""
        << fixed(y, 1) << "\" stroke=\"#e5e5e5\"/>\n"
        << "<line x1=\"" << fixed(left - 5, 1) << "\" y1=\"" << fixed(y, 1) << "\" x2=\"" << fixed(left, 1)
        << "\" y2=\"" << fixed(y, 1) << "\" stroke=\"#333\"/>\n"
        << "<text x=\"" << fixed(left - 8, 1) << "\" y=\"" << fixed(y + 4, 1)
        << "\" text-anchor=\"end\" font-size=\"11\">" << tick_label(t, ystep) << "</text>\n";
  }
  for (double t : xticks) {
    const double x = px(t);
    svg << "<line x1=\"" << fixed(x, 1) << "\" y1=\"" << fixed(bottom, 1) << "\" x2=\"" << fixed(x, 1) << "\" y2=\""
        << fixed(bottom + 5, 1) << "\" stroke=\"#333\"/>\n"
        << "<text x=\"" << fixed(x, 1) << "\" y=\"" << fixed(bottom + 18, 1)
        << "\" text-anchor=\"middle\" font-size=\"11\">" << static_cast<int64_t>(std::llround(t)) << "</text>\n";
  }
  // Axes.
  svg << "<line x1=\"" << fixed(left, 1) << "\" y1=\"" << fixed(top, 1) << "\" x2=\"" << fixed(left, 1) << "\" y2=\""
      << fixed(bottom, 1) << "\" stroke=\"#333\"/>\n"
      << "<line x1=\"" << fixed(left, 1) << "\" y1=\"" << fixed(bottom, 1) << "\" x2=\"" << fixed(right, 1)
      << "\" y2=\"" << fixed(bottom, 1) << "\" stroke=\"#333\"/>\n"
      << "<text x=\"" << fixed((left + right) / 2, 1) << "\" y=\"" << fixed(bottom + 38, 1)
      << "\" text-anchor=\"middle\" font-size=\"12\">epoch</text>\n"
      << "<text x=\"" << fixed(x0 + 16, 1) << "\" y=\"" << fixed((top + bottom) / 2, 1)
      << "\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 " << fixed(x0 + 16, 1) << " "
      << fixed((top + bottom) / 2, 1) << ")\">" << xml_escape(ylabel) << "</text>\n";
  // Series.
  for (const auto& s : series) {
    std::string pts;
    for (size_t i = 0; i < s.y.size() && i < epochs.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      pts += (pts.empty() ? "" : " ") + fixed(px(static_cast<double>(epochs[i])), 1) + "," + fixed(py(s.y[i]), 1);
    }
    if (!pts.empty())
      svg << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\""
          << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"" << pts << "\"/>\n";
    for (size_t i = 0; i < s.y.size() && i < epochs.size(); ++i)
      if (std::isfinite(s.y[i]))
        svg << "<circle cx=\"" << fixed(px(static_cast<double>(epochs[i])), 1) << "\" cy=\"" << fixed(py(s.y[i]), 1)
            << "\" r=\"3\" fill=\"" << s.color << "\"/>\n";
  }
  // Legend: one row between the title and the plot, so it never hides a curve.
  std::vector<double> widths;
  double total = 0;
  for (const auto& s : series) widths.push_back(34 + 6.5 * s.label.size() + 14), total += widths.back();
  double lx = (left + right) / 2 - total / 2;
  const double ly = y0 + 40;
  for (size_t i = 0; i < series.size(); ++i) {
    svg << "<line x1=\"" << fixed(lx, 1) << "\" y1=\"" << fixed(ly - 4, 1) << "\" x2=\"" << fixed(lx + 26, 1)
        << "\" y2=\"" << fixed(ly - 4, 1) << "\" stroke=\"" << series[i].color << "\" stroke-width=\"2\""
        << (series[i].dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n"
        << "<text x=\"" << fixed(lx + 32, 1) << "\" y=\"" << fixed(ly, 1) << "\" font-size=\"11\">"
        << xml_escape(series[i].label) << "</text>\n";
    lx += widths[i];
  }
  svg << "</g>\n";
}

}  // namespace

const std::vector<std::string>& metric_columns() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v{"epoch"};
    for (const auto& c : columns()) v.push_back(c.name);
    return v;
  }();
  return names;
}

std::string results_csv(const std::vector<EpochMetrics>& history) {
  const auto cols = columns_of(history);
  std::string out = "epoch";
  for (const auto& c : cols) out += std::string(",") + c.name;
  out += "\n";
  for (const auto& m : history) {
    out += std::to_string(m.epoch);
    for (const auto& c : cols) out += "," + fixed(m.*c.field, c.precision);
    out += "\n";
  }
  return out;
}

std::string metrics_jsonl(const std::vector<EpochMetrics>& history) {
  std::string out;
  const auto cols = columns_of(history);
  for (const auto& m : history) {
    nlohmann::ordered_json j;
    j["epoch"] = m.epoch;
    for (const auto& c : cols) {
      const double v = m.*c.field;
      if (std::isfinite(v)) j[c.name] = v;
      else j[c.name] = nullptr;  // JSON has no NaN
    }
    out += j.dump() + "\n";
  }
  return out;
}

std::vector<EpochMetrics> parse_metrics(const std::string& text, const std::string& source) {
  std::vector<nlohmann::json> objects;
  try {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '[') {
      for (const auto& o : nlohmann::json::parse(text)) objects.push_back(o);
    } else {
      std::stringstream ss(text);
      std::string line;
      while (std::getline(ss, line))
        if (line.find_first_not_of(" \t\r") != std::string::npos) objects.push_back(nlohmann::json::parse(line));
    }
  } catch (const std::exception& e) {
    input_error(source + ": malformed metrics: " + e.what());
  }
  std::vector<EpochMetrics> out;
  for (const auto& o : objects) {
    if (!o.is_object() || !o.contains("epoch") || !o["epoch"].is_number_integer())
      input_error(source + ": malformed metrics: each entry needs an integer 'epoch'");
    EpochMetrics m;
    m.epoch = o["epoch"].get<int64_t>();
    for (const auto& c : columns()) {
      if (!o.contains(c.name)) input_error(source + ": malformed metrics: epoch " + std::to_string(m.epoch) +
                                           " lacks '" + c.name + "'");
      const auto& v = o[c.name];
      m.*c.field = v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
    }
    for (const auto& c : optional_columns())
      if (o.contains(c.name) && o[c.name].is_number()) m.*c.field = o[c.name].get<double>();
    out.push_back(m);
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!(hi > lo)) return {lo};
  max_ticks = std::max(1, max_ticks);
  const double raw = (hi - lo) / max_ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double f : {1.0, 2.0, 5.0, 10.0}) {
    step = f * mag;
    if (step >= raw * (1 - 1e-9)) break;
  }
  std::vector<double> t;
  const double start = std::floor(lo / step + 1e-9) * step;
  for (int i = 0; i < 1000; ++i) {
    const double v = start + i * step;
    t.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
    if (v >= hi - step * 1e-9) break;
  }
  return t;
}

std::string curves_svg(const std::vector<EpochMetrics>& history, const std::string& title) {
  const double w = 960, h = 400, ph = title.empty() ? h : h - 24;
  std::vector<int64_t> epochs;
  std::vector<double> tl, vl, ta, v1, v5;
  for (const auto& m : history) {
    epochs.push_back(m.epoch);
    tl.push_back(m.train_loss), vl.push_back(m.val_loss);
    ta.push_back(m.train_acc), v1.push_back(m.val_top1), v5.push_back(m.val_top5);
  }
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w
      << " " << h << "\" font-family=\"sans-serif\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  double y0 = 0;
  if (!title.empty()) {
    svg << "<text x=\"" << w / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">" << xml_escape(title)
        << "</text>\n";
    y0 = 24;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  panel(svg, 0, y0, w / 2, ph, "Loss", "loss", epochs,
        {{"train loss", "#1f77b4", false, tl}, {"validation loss", "#d62728", false, vl}}, 0.0, nan);
  panel(svg, w / 2, y0, w / 2, ph, "Accuracy", "accuracy (%)", epochs,
        {{"train accuracy", "#1f77b4", false, ta},
         {"validation top-1", "#d62728", false, v1},
         {"validation top-5", "#2ca02c", true, v5}},
        nan, 100.0);
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace attncnn
