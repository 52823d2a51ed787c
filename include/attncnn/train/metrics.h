#pragma once
/// Per-epoch training metrics and the files a run folder keeps of them: results.csv, metrics.jsonl, curves.svg.
/// All three are rendered from the whole history, so a resumed run rewrites them complete.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace attncnn {

struct EpochMetrics {
  int64_t epoch = 0;
  double train_loss = 0, train_acc = 0;      ///< mean over the epoch's batches; accuracy in percent
  double val_loss = 0, val_top1 = 0, val_top5 = 0;
  double lr = 0;                             ///< learning rate of the epoch's last step
  double epoch_seconds = 0;                  ///< training time of the epoch (without validation)
  double images_per_second = 0;
  /// Of the model EMA's weights (--model-ema); NaN when the run keeps none. results.csv and metrics.jsonl list
  /// these columns only when some epoch has them.
  double ema_val_loss = std::numeric_limits<double>::quiet_NaN();
  double ema_val_top1 = std::numeric_limits<double>::quiet_NaN();
  double ema_val_top5 = std::numeric_limits<double>::quiet_NaN();
};

/// The column names, in order, shared by results.csv and the keys of metrics.jsonl (without the optional EMA ones).
const std::vector<std::string>& metric_columns();

/// results.csv: a header line of metric_columns(), then one line per epoch.
std::string results_csv(const std::vector<EpochMetrics>& history);
/// metrics.jsonl: one JSON object per line and epoch, keys as metric_columns().
std::string metrics_jsonl(const std::vector<EpochMetrics>& history);
/// Inverse of metrics_jsonl (also accepts a JSON array of the same objects); throws (input error) naming
/// `source` on malformed text.
std::vector<EpochMetrics> parse_metrics(const std::string& text, const std::string& source);

/// A self-contained SVG chart: loss (train, validation) and accuracy (train, validation top-1 and top-5) by
/// epoch, in two panels with axes, ticks, labels and a legend. An empty history gives empty panels.
std::string curves_svg(const std::vector<EpochMetrics>& history, const std::string& title = "");

/// Up to `max_ticks`+1 round tick values ("nice numbers": 1, 2 or 5 × 10^k apart) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 5);

}  // namespace attncnn
