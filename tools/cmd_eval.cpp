// attncnn eval: evaluate a checkpoint on a dataset split (docs/training.md).
#include <attncnn/error.h>
#include <attncnn/explain/plots.h>
#include <attncnn/infer/predictor.h>
#include <attncnn/io/files.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/io/text.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"

namespace attncnn::cli {

namespace {

double percent(int64_t a, int64_t b) { return b ? 100.0 * a / b : 0.0; }

nlohmann::json result_json(const EvalResult& r, const CheckpointInfo& info) {
  nlohmann::json j;
  j["count"] = r.count;
  j["loss"] = r.loss;
  j["top1"] = r.top1;
  j["top5"] = r.top5;
  nlohmann::json per = nlohmann::json::object();
  nlohmann::json classes = nlohmann::json::array();
  for (size_t k = 0; k < r.class_total.size(); ++k) {
    per[info.class_names[k]] = percent(r.class_correct[k], r.class_total[k]);
    classes.push_back({{"class", info.class_names[k]},
                       {"correct", r.class_correct[k]},
                       {"total", r.class_total[k]},
                       {"accuracy", percent(r.class_correct[k], r.class_total[k])}});
  }
  j["per_class_top1"] = per;
  j["per_class"] = classes;
  j["class_names"] = info.class_names;
  j["confusion"] = r.confusion;
  return j;
}

// confusion.csv: one row per true class, one column per predicted class, counts; first row and column name them.
std::string confusion_csv(const EvalResult& r, const std::vector<std::string>& names) {
  std::string s = "true\\predicted";
  for (const auto& n : names) s += "," + csv_field(n);
  s += "\n";
  for (size_t t = 0; t < r.confusion.size(); ++t) {
    s += csv_field(names[t]);
    for (int64_t v : r.confusion[t]) s += "," + std::to_string(v);
    s += "\n";
  }
  return s;
}

void print_report(std::ostream& out, const EvalResult& r, const CheckpointInfo& info) {
  const size_t k = r.class_total.size();
  size_t w = 5;
  for (const auto& n : info.class_names) w = std::max(w, n.size());
  out << std::fixed << "loss " << std::setprecision(4) << r.loss << "  top1 " << std::setprecision(2) << r.top1
      << "%  top5 " << r.top5 << "%\n\nper-class accuracy:\n";
  for (size_t c = 0; c < k; ++c)
    out << "  " << std::setw(3) << c << " " << std::left << std::setw(static_cast<int>(w)) << info.class_names[c]
        << std::right << std::setw(8) << percent(r.class_correct[c], r.class_total[c]) << "%  (" << r.class_correct[c]
        << "/" << r.class_total[c] << ")\n";
  if (k > 20) {
    out << "\nconfusion matrix: " << k << " classes are too many to print; --save-dir writes confusion.csv\n";
    return;
  }
  int64_t most = 1;
  for (const auto& row : r.confusion)
    for (int64_t v : row) most = std::max(most, v);
  const int cw = std::max<int>(4, static_cast<int>(std::to_string(most).size()) + 1);
  out << "\nconfusion matrix (rows: true class, columns: predicted class):\n"
      << std::string(w + 6, ' ');
  for (size_t p = 0; p < k; ++p) out << std::setw(cw) << p;
  out << "\n";
  for (size_t t = 0; t < k; ++t) {
    out << "  " << std::setw(3) << t << " " << std::left << std::setw(static_cast<int>(w)) << info.class_names[t]
        << std::right;
    for (size_t p = 0; p < k; ++p) out << std::setw(cw) << r.confusion[t][p];
    out << "\n";
  }
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval", "Evaluate a checkpoint: loss, top-1, top-5, per-class accuracy and the confusion matrix");
  struct Opts {
    std::string weights, data, split = "test", device = "auto", save_dir;
    int64_t batch_size = 512, tta = 0;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--weights,-w", o->weights, "Checkpoint (.safetensors) written by attncnn train")->required();
  cmd->add_option("--data", o->data, "Dataset spec (default: the one the checkpoint was trained on)");
  cmd->add_option("--split", o->split, "test or train")->capture_default_str();
  cmd->add_option("--batch-size,-b", o->batch_size, "Batch size")->capture_default_str();
  cmd->add_option("--device", o->device, "auto, cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--tta", o->tta, "Test-time augmentation: 0 none, 1 flip, 2 flip + 1-pixel shifts")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_option("--save-dir", o->save_dir, "Write confusion.csv, confusion.png, per_class.csv and eval.json into this folder");
  cmd->add_flag("--json", o->json, "Print the results as JSON");
  return [o]() {
    set_threads(o->threads);
    if (o->split != "test" && o->split != "train") input_error("--split " + o->split + ": expected test or train");
    PredictorOptions popt;
    popt.device = o->device;
    popt.batch_size = o->batch_size;
    popt.tta = o->tta;
    auto predictor = Predictor::load(o->weights, popt);
    const CheckpointInfo& info = predictor.info();
    const std::string spec = o->data.empty() ? info.dataset : o->data;
    // Folder datasets are rebuilt with the options the model was trained with (split, size, channels).
    const Dataset ds = predictor.load_dataset(spec);
    const auto r = predictor.evaluate(o->split == "test" ? ds.test : ds.train);

    nlohmann::json j = result_json(r, info);
    j["weights"] = o->weights;
    j["data"] = spec;
    j["split"] = o->split;
    j["epoch"] = info.epoch;
    if (!o->save_dir.empty()) {
      try {
        make_dirs(o->save_dir);
      } catch (const Error& e) {
        runtime_error("--save-dir " + o->save_dir + ": " + e.what());
      }
      atomic_write(o->save_dir + "/confusion.csv", confusion_csv(r, info.class_names));
      std::string per = "class,name,correct,total,top1\n";
      for (size_t k = 0; k < r.class_total.size(); ++k) {
        std::ostringstream row;
        row << k << "," << csv_field(info.class_names[k]) << "," << r.class_correct[k] << "," << r.class_total[k]
            << "," << std::fixed << std::setprecision(4) << percent(r.class_correct[k], r.class_total[k]) << "\n";
        per += row.str();
      }
      atomic_write(o->save_dir + "/per_class.csv", per);
      atomic_write(o->save_dir + "/eval.json", j.dump(2) + "\n");
      write_confusion_png(o->save_dir + "/confusion.png", r.confusion, info.class_names);
    }
    if (o->json) {
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "eval " << o->weights << " (epoch " << info.epoch << ") on " << spec << " (" << o->split << ", "
              << r.count << " images)\n";
    print_report(std::cout, r, info);
    if (!o->save_dir.empty())
      std::cout << "\nsaved " << o->save_dir << "/confusion.csv, confusion.png, per_class.csv, eval.json\n";
    return 0;
  };
}

}  // namespace attncnn::cli
