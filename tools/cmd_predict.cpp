// attncnn predict: classify image files with a checkpoint.
#include <attncnn/error.h>
#include <attncnn/explain/explain.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/trainer.h>

#include <torch/torch.h>

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
    int64_t topk = 5, batch_size = 64;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--weights,-w", o->weights, "Checkpoint (.safetensors) written by attncnn train")->required();
  cmd->add_option("inputs", o->inputs, "Image files (PNG/JPEG) or folders searched recursively")->required();
  cmd->add_option("--topk,-k", o->topk, "Classes listed per image")->capture_default_str();
  cmd->add_option("--batch-size,-b", o->batch_size, "Images per forward pass")->capture_default_str();
  cmd->add_option("--device", o->device, "auto, cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the results as JSON");
  cmd->footer(
      "Images are converted to the checkpoint's channels, resized to its input size and normalised with its "
      "mean/std. A file that cannot be read is reported on stderr and the others are still classified; the exit "
      "code is then 2.");
  return [o]() {
    set_threads(o->threads);
    if (o->topk < 1) input_error("--topk " + std::to_string(o->topk) + ": expected at least 1");
    if (o->batch_size < 1) input_error("--batch-size " + std::to_string(o->batch_size) + ": expected at least 1");
    CheckpointInfo info;
    auto model = load_checkpoint(o->weights, &info);
    const auto device = resolve_device(o->device);
    model->to(device);
    model->eval();
    const auto files = expand_image_paths(o->inputs);
    torch::NoGradGuard no_grad;
    nlohmann::json results = nlohmann::json::array(), errors = nlohmann::json::array();
    size_t failed = 0;
    for (size_t start = 0; start < files.size(); start += static_cast<size_t>(o->batch_size)) {
      const size_t end = std::min(files.size(), start + static_cast<size_t>(o->batch_size));
      std::vector<Image> images;
      std::vector<const ImageFile*> ok;
      for (size_t i = start; i < end; ++i) {
        try {
          images.push_back(load_model_image(files[i].path, info));
          ok.push_back(&files[i]);
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::Input) throw;
          ++failed;
          std::cerr << "attncnn: error: " << e.what() << "\n";
          errors.push_back({{"image", files[i].path}, {"error", e.what()}});
        }
      }
      if (images.empty()) continue;
      auto logits = model->forward(model_input(images, info, device));
      const auto top = top_predictions(logits, info.class_names, o->topk);
      for (size_t i = 0; i < ok.size(); ++i) {
        if (o->json) {
          nlohmann::json preds = nlohmann::json::array();
          for (const auto& p : top[i])
            preds.push_back({{"class", p.name}, {"index", p.index}, {"probability", p.probability}});
          results.push_back({{"image", ok[i]->path}, {"predictions", preds}});
          continue;
        }
        std::cout << ok[i]->path << "\n";
        for (size_t j = 0; j < top[i].size(); ++j)
          std::cout << "  " << j + 1 << ". " << std::left << std::setw(16) << top[i][j].name << std::right
                    << std::fixed << std::setprecision(4) << top[i][j].probability << "\n";
      }
    }
    if (o->json) {
      nlohmann::json j;
      j["weights"] = o->weights;
      j["results"] = results;
      j["errors"] = errors;
      std::cout << j.dump(2) << "\n";
    }
    if (failed) {
      std::cerr << "attncnn: " << failed << " of " << files.size() << " image(s) could not be read\n";
      return 2;
    }
    return 0;
  };
}

}  // namespace attncnn::cli
