// attncnn eval: evaluate a checkpoint on a dataset split.
#include <attncnn/data/dataset.h>
#include <attncnn/error.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/trainer.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace attncnn::cli {

Runner add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint: loss, top-1, top-5 and per-class accuracy");
  struct Opts {
    std::string weights, data, split = "test", device = "auto";
    int64_t batch_size = 512;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--weights,-w", o->weights, "Checkpoint (.safetensors) written by attncnn train")->required();
  cmd->add_option("--data", o->data, "Dataset spec (default: the one the checkpoint was trained on)");
  cmd->add_option("--split", o->split, "test or train")->capture_default_str();
  cmd->add_option("--batch-size,-b", o->batch_size, "Batch size")->capture_default_str();
  cmd->add_option("--device", o->device, "auto, cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the results as JSON");
  return [o]() {
    set_threads(o->threads);
    if (o->split != "test" && o->split != "train") input_error("--split " + o->split + ": expected test or train");
    if (o->batch_size < 1) input_error("--batch-size " + std::to_string(o->batch_size) + ": expected at least 1");
    CheckpointInfo info;
    auto model = load_checkpoint(o->weights, &info);
    const auto device = resolve_device(o->device);
    model->to(device);
    const std::string spec = o->data.empty() ? info.dataset : o->data;
    auto ds = load_dataset(spec);
    const ImageSet& set = o->split == "test" ? ds.test : ds.train;
    if (set.images.size(1) != info.input[0])
      input_error(spec + ": images have " + std::to_string(set.images.size(1)) + " channel(s) but " + o->weights +
                  " expects " + std::to_string(info.input[0]));
    if (ds.num_classes() != info.model.num_classes)
      input_error(spec + ": " + std::to_string(ds.num_classes()) + " classes but " + o->weights + " has " +
                  std::to_string(info.model.num_classes));
    auto r = evaluate(*model, set, info.mean, info.std, o->batch_size, device);
    if (o->json) {
      nlohmann::json j;
      j["weights"] = o->weights;
      j["data"] = spec;
      j["split"] = o->split;
      j["count"] = r.count;
      j["loss"] = r.loss;
      j["top1"] = r.top1;
      j["top5"] = r.top5;
      nlohmann::json per = nlohmann::json::object();
      for (size_t k = 0; k < r.class_total.size(); ++k)
        per[info.class_names[k]] = r.class_total[k] ? 100.0 * r.class_correct[k] / r.class_total[k] : 0.0;
      j["per_class_top1"] = per;
      j["confusion"] = r.confusion;
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << std::fixed << std::setprecision(2) << "eval " << o->weights << " on " << spec << " (" << o->split
              << ", " << r.count << " images)\n"
              << "loss " << std::setprecision(4) << r.loss << "  top1 " << std::setprecision(2) << r.top1
              << "%  top5 " << r.top5 << "%\n";
    for (size_t k = 0; k < r.class_total.size(); ++k)
      std::cout << "  " << std::left << std::setw(14) << info.class_names[k] << std::right << std::setw(7)
                << (r.class_total[k] ? 100.0 * r.class_correct[k] / r.class_total[k] : 0.0) << "%  ("
                << r.class_correct[k] << "/" << r.class_total[k] << ")\n";
    return 0;
  };
}

}  // namespace attncnn::cli
