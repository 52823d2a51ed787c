// attncnn data: what a dataset spec holds (splits, classes, image size, pixel statistics) and a contact sheet.
#include <attncnn/data/dataset.h>
#include <attncnn/data/preview.h>
#include <attncnn/error.h>
#include <attncnn/io/image.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace attncnn::cli {

Runner add_data(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "Describe a dataset: splits, class counts, image size, pixel mean/std, "
                                         "and a labelled contact sheet of its first 64 training images");
  struct Opts {
    std::string spec = "fashion-mnist", out;
    DatasetOptions ds;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("spec", o->spec, "Dataset spec (see `attncnn list`)")->capture_default_str();
  cmd->add_option("--out,-o", o->out, "Contact sheet PNG (default: <name>_contact_sheet.png in the current folder)");
  cmd->add_option("--val-split", o->ds.val_split, "folder: share of each class held out when there is no DIR/val")
      ->capture_default_str();
  cmd->add_option("--seed", o->ds.seed, "folder: seed of the held-out share")->capture_default_str();
  cmd->add_option("--image-size", o->ds.image_size, "folder: images resized and centre-cropped to this square")
      ->capture_default_str();
  cmd->add_option("--channels", o->ds.channels, "folder: 1 or 3 (0: 3 when any image has colour)")
      ->capture_default_str();
  cmd->add_flag("--skip-bad", o->ds.skip_bad, "folder: skip unreadable images (and count them) instead of failing");
  cmd->add_option("--threads", o->ds.threads, "folder: decoding threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the numbers as JSON");
  return [o]() {
    const Dataset ds = load_dataset(o->spec, o->ds);
    const std::string out = o->out.empty() ? ds.name + "_contact_sheet.png" : o->out;
    const auto stats = channel_stats(ds.train.images);
    const auto train_counts = class_counts(ds.train.labels, ds.num_classes());
    const auto test_counts = ds.test.size() ? class_counts(ds.test.labels, ds.num_classes())
                                            : std::vector<int64_t>(ds.class_names.size(), 0);
    const Image sheet = contact_sheet(ds.train, ds.class_names);
    write_png(out, sheet);
    if (o->json) {
      nlohmann::json j;
      j["name"] = ds.name;
      j["spec"] = ds.spec;
      j["root"] = ds.root;
      j["channels"] = ds.channels();
      j["height"] = ds.height();
      j["width"] = ds.width();
      j["splits"] = {{"train", ds.train.size()}, {ds.test_split, ds.test.size()}};
      j["test_split"] = ds.test_split;
      j["classes"] = nlohmann::json::array();
      for (size_t k = 0; k < ds.class_names.size(); ++k)
        j["classes"].push_back({{"index", k}, {"name", ds.class_names[k]}, {"train", train_counts[k]},
                                {ds.test_split, test_counts[k]}});
      j["mean"] = stats.first;
      j["std"] = stats.second;
      j["skipped"] = ds.skipped;
      j["skipped_files"] = ds.skipped_files;
      j["contact_sheet"] = {{"path", out}, {"width", sheet.width}, {"height", sheet.height}};
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "dataset " << ds.spec << " (" << ds.root << ")\n"
              << "images  " << ds.channels() << "x" << ds.height() << "x" << ds.width() << " (channels x height x "
              << "width), uint8\n"
              << "splits  train " << ds.train.size() << ", " << ds.test_split << " " << ds.test.size() << "\n";
    if (ds.skipped) {
      std::cout << "skipped " << ds.skipped << " unreadable image(s):\n";
      for (size_t i = 0; i < ds.skipped_files.size() && i < 10; ++i) std::cout << "  " << ds.skipped_files[i] << "\n";
      if (ds.skipped_files.size() > 10) std::cout << "  ... and " << ds.skipped_files.size() - 10 << " more\n";
    }
    std::cout << "classes " << ds.num_classes() << "\n";
    size_t wname = 5;
    for (const auto& n : ds.class_names) wname = std::max(wname, n.size());
    std::cout << "  " << std::right << std::setw(5) << "index" << "  " << std::left << std::setw(wname) << "name"
              << std::right << std::setw(9) << "train" << std::setw(9) << ds.test_split << "\n";
    for (size_t k = 0; k < ds.class_names.size(); ++k)
      std::cout << "  " << std::right << std::setw(5) << k << "  " << std::left << std::setw(wname)
                << ds.class_names[k] << std::right << std::setw(9) << train_counts[k] << std::setw(9) << test_counts[k]
                << "\n";
    std::cout << std::fixed << std::setprecision(4) << "pixel mean (train, scaled to [0,1]):";
    for (double m : stats.first) std::cout << " " << m;
    std::cout << "\npixel std  (train, scaled to [0,1]):";
    for (double s : stats.second) std::cout << " " << s;
    std::cout << "\ncontact sheet: " << out << " (" << sheet.width << "x" << sheet.height << ", first "
              << std::min<int64_t>(64, ds.train.size()) << " training images)\n";
    return 0;
  };
}

}  // namespace attncnn::cli
