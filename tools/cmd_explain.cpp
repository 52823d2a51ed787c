// attncnn explain: attention maps, Grad-CAM and Grad-CAM++ over images, as a gallery; and the sanity check.
#include <attncnn/error.h>
#include <attncnn/explain/explain.h>
#include <attncnn/infer/images.h>
#include <attncnn/infer/predictor.h>

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace attncnn::cli {

namespace {

struct ExplainOpts {
  std::string weights, out, method = "all", layer, cls = "pred", colormap = "turbo", device = "auto";
  std::vector<std::string> inputs;
  double alpha = 0.5, threshold = 0.5;
  int64_t topk = 3, display = 224;
  uint64_t seed = 1;
  int threads = 0;
  bool sanity = false;
};

// --sanity: the model-randomisation check as a table on stdout (and sanity.json with --out).
int run_sanity(const ExplainOpts& o, Predictor& predictor, const std::vector<ImageFile>& files,
               const ExplainOptions& opts) {
  const CheckpointInfo& info = predictor.info();
  torch::manual_seed(o.seed);
  auto fresh = create_model(info.model);
  fresh->to(predictor.device());
  fresh->eval();
  auto rep = sanity_check(predictor.model(), *fresh, info, files, opts, o.threshold);
  for (const auto& f : rep.failures) std::cerr << "attncnn: error: " << f.second << "\n";
  std::cout << "sanity check (model randomisation): Spearman rank correlation between each map of " << o.weights
            << " and the same map with re-initialised weights (seed " << o.seed << ");\nmaps above "
            << o.threshold << " barely depend on what the model learned and are marked SUSPICIOUS\n\n";
  std::cout << std::left << std::setw(36) << "image" << std::setw(16) << "layer" << std::setw(12) << "method"
            << std::right << std::setw(8) << "rho" << "\n";
  std::map<std::string, std::pair<double, int>> mean;
  int suspicious = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : rep.rows) {
    const std::filesystem::path path(r.image);
    std::string name = (path.parent_path().filename() / path.filename()).string();
    if (name.size() > 34) name = "..." + name.substr(name.size() - 31);
    std::cout << std::left << std::setw(36) << name << std::setw(16) << r.layer << std::setw(12) << r.method
              << std::right << std::setw(8)
              << (std::isnan(r.rho) ? std::string("n/a") : [&] {
                   std::ostringstream s;
                   s << std::fixed << std::setprecision(3) << r.rho;
                   return s.str();
                 }())
              << (r.suspicious ? "  SUSPICIOUS" : "") << "\n";
    if (!std::isnan(r.rho)) {
      auto& m = mean[r.layer + " " + r.method];
      m.first += r.rho;
      m.second += 1;
    }
    suspicious += r.suspicious;
    rows.push_back({{"image", r.image}, {"layer", r.layer}, {"method", r.method},
                    {"rho", std::isnan(r.rho) ? nlohmann::json(nullptr) : nlohmann::json(r.rho)},
                    {"suspicious", r.suspicious}});
  }
  std::cout << "\nmean rank correlation per map:\n";
  for (const auto& m : mean)
    std::cout << "  " << std::left << std::setw(30) << m.first << std::right << std::fixed << std::setprecision(3)
              << m.second.first / m.second.second << (m.second.first / m.second.second > o.threshold
                                                          ? "  SUSPICIOUS" : "") << "\n";
  std::cout << suspicious << " of " << rep.rows.size() << " map(s) suspicious\n";
  if (!o.out.empty()) {
    std::filesystem::create_directories(o.out);
    nlohmann::json j;
    j["weights"] = o.weights;
    j["threshold"] = o.threshold;
    j["seed"] = o.seed;
    j["rows"] = rows;
    std::ofstream(std::filesystem::path(o.out) / "sanity.json") << j.dump(2) << "\n";
  }
  return rep.failures.empty() ? 0 : 2;
}

}  // namespace

Runner add_explain(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "explain", "Attention maps, Grad-CAM and Grad-CAM++ heatmaps over images: PNGs, index.html and maps.json");
  auto o = std::make_shared<ExplainOpts>();
  cmd->add_option("--weights,-w", o->weights, "Checkpoint (.safetensors) written by attncnn train")->required();
  cmd->add_option("inputs", o->inputs, "Image files (PNG/JPEG) or folders searched recursively")->required();
  cmd->add_option("--out,-o", o->out, "Output folder for the gallery (required unless --sanity)");
  cmd->add_option("--method", o->method, "maps, gradcam, gradcam++ or all")->capture_default_str();
  cmd->add_option("--layer", o->layer, "Grad-CAM layer: a capture point of the model (default: its last)");
  cmd->add_option("--class", o->cls, "Class to explain: pred (each image's prediction) or an index")->capture_default_str();
  cmd->add_option("--colormap", o->colormap, "turbo, jet, viridis or inferno")->capture_default_str();
  cmd->add_option("--alpha", o->alpha, "Heatmap weight in the overlay, 0 to 1")->capture_default_str();
  cmd->add_option("--topk", o->topk, "Predictions listed per image")->capture_default_str();
  cmd->add_option("--display-size", o->display, "Enlarge smaller images to at least this many pixels")->capture_default_str();
  cmd->add_option("--device", o->device, "auto, cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--sanity", o->sanity,
                "Model-randomisation check: compare each map with the same architecture's map under fresh weights");
  cmd->add_option("--sanity-threshold", o->threshold, "Spearman rank correlation above which a map is suspicious")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the re-initialised weights (--sanity)")->capture_default_str();
  cmd->footer(
      "Unreadable images are reported on stderr and the others are still explained; the exit code is then 2.");
  return [o]() {
    set_threads(o->threads);
    ExplainOptions opts;
    set_methods(opts, o->method);
    opts.layer = o->layer;
    opts.colormap = parse_colormap(o->colormap);
    opts.alpha = o->alpha;
    opts.topk = o->topk;
    opts.display_min = o->display;
    if (!(o->alpha >= 0 && o->alpha <= 1)) input_error("--alpha " + std::to_string(o->alpha) + ": expected 0 to 1");
    if (o->topk < 1) input_error("--topk " + std::to_string(o->topk) + ": expected at least 1");
    if (o->display < 1) input_error("--display-size " + std::to_string(o->display) + ": expected at least 1");
    if (!o->sanity && o->out.empty()) input_error("--out is required (the folder the gallery is written to)");
    PredictorOptions popt;
    popt.device = o->device;
    auto predictor = Predictor::load(o->weights, popt);
    const CheckpointInfo& info = predictor.info();
    if (o->cls != "pred") {
      size_t used = 0;
      long long v = -1;
      try {
        v = std::stoll(o->cls, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != o->cls.size() || v < 0 || v >= info.model.num_classes)
        input_error("--class " + o->cls + ": expected pred or a class index from 0 to " +
                    std::to_string(info.model.num_classes - 1));
      opts.target_class = v;
    }
    const auto files = expand_image_paths(o->inputs);

    if (o->sanity) return run_sanity(*o, predictor, files, opts);

    auto rep = explain_images(predictor.model(), info, files, o->out, opts, std::cout);
    for (const auto& f : rep.failures) std::cerr << "attncnn: error: " << f.second << "\n";
    std::cout << "wrote " << o->out << "/index.html and maps.json (" << rep.images.size() << " image(s))\n";
    if (!rep.failures.empty()) {
      std::cerr << "attncnn: " << rep.failures.size() << " of " << files.size() << " image(s) could not be read\n";
      return 2;
    }
    return 0;
  };
}

}  // namespace attncnn::cli
