// attncnn predict: classify image files with a checkpoint.
#include <attncnn/error.h>
#include <attncnn/infer/images.h>
#include <attncnn/infer/predictor.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace attncnn::cli {

Runner add_predict(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "predict", "Classify PNG/JPEG images (files or folders) with a checkpoint and print the top-k classes");
  struct Opts {
    std::string weights, device = "auto";
    std::vector<std::string> inputs;
    int64_t topk = 5, batch_size = 64, tta = 0;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--weights,-w", o->weights, "Checkpoint (.safetensors) written by attncnn train")->required();
  cmd->add_option("inputs", o->inputs, "Image files (PNG/JPEG) or folders searched recursively")->required();
  cmd->add_option("--topk,-k", o->topk, "Classes listed per image")->capture_default_str();
  cmd->add_option("--batch-size,-b", o->batch_size, "Images per forward pass")->capture_default_str();
  cmd->add_option("--device", o->device, "auto, cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--tta", o->tta, "Test-time augmentation: 0 none, 1 flip, 2 flip + 1-pixel shifts")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the results as JSON");
  cmd->footer(
      "Images are converted to the checkpoint's channels, resized to its input size and normalised with its "
      "mean/std. A file that cannot be read is reported on stderr and the others are still classified; the exit "
      "code is then 2.");
  return [o]() {
    set_threads(o->threads);
    if (o->topk < 1) input_error("--topk " + std::to_string(o->topk) + ": expected at least 1");
    PredictorOptions popt;
    popt.device = o->device;
    popt.batch_size = o->batch_size;
    popt.tta = o->tta;
    auto predictor = Predictor::load(o->weights, popt);
    std::vector<std::string> paths;
    for (const auto& f : expand_image_paths(o->inputs)) paths.push_back(f.path);
    nlohmann::json results = nlohmann::json::array(), errors = nlohmann::json::array();
    size_t failed = 0;
    for (const auto& r : predictor.predict(paths, o->topk)) {
      if (!r.ok()) {
        ++failed;
        std::cerr << "attncnn: error: " << r.error << "\n";
        errors.push_back({{"image", r.path}, {"error", r.error}});
        continue;
      }
      if (o->json) {
        nlohmann::json preds = nlohmann::json::array();
        for (const auto& p : r.top)
          preds.push_back({{"class", p.name}, {"index", p.index}, {"probability", p.probability}});
        results.push_back({{"image", r.path}, {"predictions", preds}});
        continue;
      }
      std::cout << r.path << "\n";
      for (size_t j = 0; j < r.top.size(); ++j)
        std::cout << "  " << j + 1 << ". " << std::left << std::setw(16) << r.top[j].name << std::right << std::fixed
                  << std::setprecision(4) << r.top[j].probability << "\n";
    }
    if (o->json) {
      nlohmann::json j;
      j["weights"] = o->weights;
      j["results"] = results;
      j["errors"] = errors;
      std::cout << j.dump(2) << "\n";
    }
    if (failed) {
      std::cerr << "attncnn: " << failed << " of " << paths.size() << " image(s) could not be read\n";
      return 2;
    }
    return 0;
  };
}

}  // namespace attncnn::cli
