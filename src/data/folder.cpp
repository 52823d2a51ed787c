// Image folders: DIR/<class>/<image>, or DIR/train/<class>/... + DIR/val/<class>/... . Images of any size and
// kind are decoded in parallel, resized (shorter side) and centre-cropped to a square, and stored as uint8
// N×C×S×S like every other dataset.
#include <attncnn/data/loader.h>
#include <attncnn/data/transforms.h>
#include <attncnn/error.h>
#include <attncnn/io/image.h>

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <dirent.h>
#include <thread>

#include "readers.h"

namespace attncnn::detail {

namespace {

struct Entry {
  std::string name;
  bool dir;
};

// Sorted entries of a folder, hidden ones left out.
std::vector<Entry> list_dir(const std::string& dir) {
  std::vector<Entry> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) input_error(dir + ": cannot read folder: " + std::strerror(errno));
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.empty() || n[0] == '.') continue;
    const std::string p = dir + "/" + n;
    if (is_dir(p)) out.push_back({n, true});
    else if (is_file(p)) out.push_back({n, false});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

struct ClassFiles {
  std::string name;
  std::vector<std::string> files;  // full paths, sorted
};

// The class folders of `dir` and their image files (non-image files are ignored).
std::vector<ClassFiles> scan(const std::string& dir, bool allow_empty_class) {
  std::vector<ClassFiles> classes;
  int64_t loose_images = 0;
  for (const auto& e : list_dir(dir)) {
    if (!e.dir) {
      loose_images += has_image_extension(e.name);
      continue;
    }
    ClassFiles c{e.name, {}};
    for (const auto& f : list_dir(dir + "/" + e.name))
      if (!f.dir && has_image_extension(f.name)) c.files.push_back(dir + "/" + e.name + "/" + f.name);
    if (c.files.empty() && !allow_empty_class)
      input_error(dir + "/" + e.name + ": empty class folder: no .png, .jpg or .jpeg files");
    classes.push_back(std::move(c));
  }
  if (classes.empty())
    input_error(dir + ": no class subfolders" +
                (loose_images ? " (found " + std::to_string(loose_images) +
                                    " image file(s) directly in it: put each class's images in a subfolder named "
                                    "after the class)"
                              : std::string(" and no images: expected one subfolder of PNG/JPEG images per class")));
  return classes;
}

struct Job {
  std::string path;
  int64_t label;
  bool test;
};

struct Decoded {
  std::vector<uint8_t> pixels;  // S×S×channels
  int channels = 0;             // 1 or 3; 0: failed
  std::string error;
};

Decoded decode_one(const std::string& path, int64_t size) {
  Decoded d;
  try {
    Image img = read_image(path, 0);
    if (img.channels == 2) img = convert_channels(img, 1);
    if (img.channels == 4) img = convert_channels(img, 3);
    d.pixels = resize_center_crop(img.pixels.data(), img.height, img.width, img.channels, size);
    d.channels = static_cast<int>(img.channels);
  } catch (const Error& e) {
    d.error = e.what();
  } catch (const std::exception& e) {
    d.error = path + ": cannot decode: " + e.what();
  }
  if (d.channels == 0 && d.error.empty()) d.error = path + ": cannot decode";
  return d;
}

}  // namespace

void read_folder(Dataset& ds, const DatasetOptions& o) {
  if (!(o.val_split >= 0.0 && o.val_split < 1.0))
    input_error("--val-split " + std::to_string(o.val_split) + ": expected a share in [0, 1)");
  if (o.image_size < 1 || o.image_size > 4096)
    input_error("--image-size " + std::to_string(o.image_size) + ": expected 1 to 4096 pixels");
  if (o.channels != 0 && o.channels != 1 && o.channels != 3)
    input_error("--channels " + std::to_string(o.channels) + ": expected 0 (from the images), 1 or 3");
  const std::string& dir = ds.root;
  std::vector<Job> jobs;
  const bool split_dirs = is_dir(dir + "/train");
  if (split_dirs) {
    const auto train = scan(dir + "/train", false);
    for (size_t k = 0; k < train.size(); ++k) {
      ds.class_names.push_back(train[k].name);
      for (const auto& f : train[k].files) jobs.push_back({f, static_cast<int64_t>(k), false});
    }
    std::string val_dir = dir + "/val";
    if (!is_dir(val_dir) && is_dir(dir + "/test")) val_dir = dir + "/test";
    if (is_dir(val_dir)) {
      ds.test_split = val_dir == dir + "/val" ? "val" : "test";
      for (const auto& c : scan(val_dir, false)) {
        const auto it = std::find(ds.class_names.begin(), ds.class_names.end(), c.name);
        if (it == ds.class_names.end())
          input_error(val_dir + "/" + c.name + ": class folder not present in " + dir + "/train");
        for (const auto& f : c.files) jobs.push_back({f, it - ds.class_names.begin(), true});
      }
    }
  } else {
    ds.test_split = "val";
    const auto classes = scan(dir, false);
    for (size_t k = 0; k < classes.size(); ++k) {
      ds.class_names.push_back(classes[k].name);
      const int64_t n = static_cast<int64_t>(classes[k].files.size());
      // Per-class seeded hold-out, at least one training image per class.
      int64_t n_val = static_cast<int64_t>(std::llround(o.val_split * static_cast<double>(n)));
      n_val = std::min(n_val, n - 1);
      const auto order = epoch_order(n, o.seed, static_cast<int64_t>(k), true);
      std::vector<bool> held(n, false);
      for (int64_t i = 0; i < n_val; ++i) held[order[i]] = true;
      for (int64_t i = 0; i < n; ++i) jobs.push_back({classes[k].files[i], static_cast<int64_t>(k), held[i]});
    }
  }

  // Decode in parallel; results land in their job's slot, so the outcome does not depend on the thread count.
  std::vector<Decoded> out(jobs.size());
  std::atomic<size_t> next{0};
  // Without skip_bad, work stops past the first failure but every earlier job still runs, so the failure reported
  // is the first in file order.
  std::atomic<size_t> first_bad{jobs.size()};
  auto work = [&] {
    for (size_t i; (i = next++) < jobs.size();) {
      if (!o.skip_bad && i > first_bad) return;
      out[i] = decode_one(jobs[i].path, o.image_size);
      if (out[i].channels == 0)
        for (size_t b = first_bad; i < b && !first_bad.compare_exchange_weak(b, i);) {
        }
    }
  };
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const size_t nt = std::min<size_t>(jobs.size(), o.threads > 0 ? static_cast<size_t>(o.threads) : hw);
  std::vector<std::thread> threads;
  for (size_t t = 1; t < nt; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();

  // Report the first failure in file order (deterministic), or count the skipped ones.
  bool colour = false;
  std::vector<int64_t> per_class(ds.class_names.size(), 0);
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (out[i].channels == 0 && !out[i].error.empty()) {
      if (!o.skip_bad) input_error(out[i].error + " (use --skip-bad to skip unreadable images)");
      ds.skipped_files.push_back(out[i].error);
      continue;
    }
    if (out[i].channels == 0) continue;  // not decoded because an earlier failure stopped the work
    colour = colour || out[i].channels == 3;
    if (!jobs[i].test) ++per_class[jobs[i].label];
  }
  ds.skipped = static_cast<int64_t>(ds.skipped_files.size());
  for (size_t k = 0; k < per_class.size(); ++k)
    if (per_class[k] == 0)
      input_error(dir + (split_dirs ? "/train/" : "/") + ds.class_names[k] + ": no readable training images (" +
                  std::to_string(ds.skipped) + " unreadable image(s) skipped in the dataset)");

  const int64_t C = o.channels ? o.channels : (colour ? 3 : 1), S = o.image_size;
  int64_t n_train = 0, n_test = 0;
  for (size_t i = 0; i < jobs.size(); ++i)
    if (out[i].channels) (jobs[i].test ? n_test : n_train)++;
  ds.train = {torch::empty({n_train, C, S, S}, torch::kUInt8), torch::empty({n_train}, torch::kLong)};
  ds.test = {torch::empty({n_test, C, S, S}, torch::kUInt8), torch::empty({n_test}, torch::kLong)};
  int64_t it = 0, iv = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!out[i].channels) continue;
    Image img;
    img.width = img.height = S;
    img.channels = out[i].channels;
    img.pixels = std::move(out[i].pixels);
    if (img.channels != C) img = convert_channels(img, static_cast<int>(C));
    ImageSet& set = jobs[i].test ? ds.test : ds.train;
    const int64_t row = jobs[i].test ? iv++ : it++;
    uint8_t* dst = set.images.data_ptr<uint8_t>() + row * C * S * S;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < S * S; ++p) dst[c * S * S + p] = img.pixels[p * C + c];
    set.labels.data_ptr<int64_t>()[row] = jobs[i].label;
  }
}

}  // namespace attncnn::detail
