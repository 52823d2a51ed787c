// Data pipeline throughput: CIFAR-10 training epochs through the Loader (gather + augmentation + normalisation),
// and a folder of JPEG files (decode + resize + augmentation).
//
//   bench_loader [CIFAR10_DIR] [--epochs N] [--batch B]
//
// Prints a table of images per second. Results for a machine are kept in docs/benchmarks-data.md.
#include <attncnn/data/dataset.h>
#include <attncnn/data/loader.h>
#include <attncnn/error.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <jpeglib.h>
#include <string>
#include <thread>

using namespace attncnn;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void write_jpeg(const std::string& path, const uint8_t* chw, int64_t h, int64_t w) {
  std::vector<uint8_t> hwc(static_cast<size_t>(h * w * 3));
  for (int64_t p = 0; p < h * w; ++p)
    for (int64_t c = 0; c < 3; ++c) hwc[p * 3 + c] = chw[c * h * w + p];
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) runtime_error(path + ": cannot write");
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 90, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = hwc.data() + cinfo.next_scanline * w * 3;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(f);
}

// Runs `epochs` epochs and returns images per second (best epoch).
double loader_rate(const ImageSet& set, LoaderOptions opt, int epochs) {
  Loader loader(set, opt);
  double best = 0;
  for (int e = 1; e <= epochs; ++e) {
    loader.set_epoch(e);
    Batch b;
    int64_t n = 0;
    const double t0 = now();
    while (loader.next(b)) n += b.images.size(0);
    best = std::max(best, n / (now() - t0));
  }
  return best;
}

void row(const std::string& what, int workers, double rate) {
  std::printf("| %-44s | %7d | %12.0f |\n", what.c_str(), workers, rate);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = ATTNCNN_BENCH_CIFAR10;
  int epochs = 3;
  int64_t batch = 128;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--epochs" && i + 1 < argc) epochs = std::atoi(argv[++i]);
    else if (a == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
    else dir = a;
  }
  torch::set_num_threads(1);
  try {
    const double t0 = now();
    const Dataset ds = load_dataset("cifar10:" + dir);
    const double load_s = now() - t0;
    std::printf("CIFAR-10 from %s: %lld training images, read in %.2f s; batch %lld, best of %d epochs, %u hardware "
                "threads\n\n",
                ds.root.c_str(), static_cast<long long>(ds.train.size()), load_s, static_cast<long long>(batch),
                epochs, std::thread::hardware_concurrency());
    std::printf("| %-44s | %7s | %12s |\n", "pipeline", "workers", "images/s");
    std::printf("|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(9, '-').c_str(), std::string(14, '-').c_str());
    const Transform none = Transform::parse("none");
    const Transform crop_flip = Transform::parse("crop=32,pad=4,flip=0.5");
    const Transform crop_flip_erase = Transform::parse("crop=32,pad=4,flip=0.5,erase=0.25");
    const Transform reflect = Transform::parse("crop=32,pad=4,pad_mode=reflect,flip=0.5");
    for (int w : {0, 1, 2}) row("CIFAR-10 normalise only", w, loader_rate(ds.train, LoaderOptions(batch).workers(w).transform(none), epochs));
    for (int w : {0, 1, 2}) row("CIFAR-10 crop 32 pad 4 + flip", w, loader_rate(ds.train, LoaderOptions(batch).workers(w).transform(crop_flip), epochs));
    row("CIFAR-10 crop (reflect) + flip", 2, loader_rate(ds.train, LoaderOptions(batch).workers(2).transform(reflect), epochs));
    row("CIFAR-10 crop + flip + erase 0.25", 2, loader_rate(ds.train, LoaderOptions(batch).workers(2).transform(crop_flip_erase), epochs));

    // A folder of 2,000 JPEGs (200 per class) from the CIFAR-10 pixels.
    const std::string folder = std::string(ATTNCNN_BENCH_TMP) + "/jpeg_folder";
    std::system(("rm -rf '" + folder + "'").c_str());
    std::vector<int64_t> per_class(10, 0);
    const auto images = ds.train.images.contiguous();
    const auto labels = ds.train.labels.contiguous();
    for (const auto& name : ds.class_names) std::system(("mkdir -p '" + folder + "/" + name + "'").c_str());
    for (int64_t i = 0, written = 0; i < ds.train.size() && written < 2000; ++i) {
      const int64_t k = labels.data_ptr<int64_t>()[i];
      if (per_class[k] >= 200) continue;
      write_jpeg(folder + "/" + ds.class_names[k] + "/" + std::to_string(i) + ".jpg",
                 images.data_ptr<uint8_t>() + i * 3072, 32, 32);
      ++per_class[k], ++written;
    }
    for (int threads : {1, 2}) {
      for (int64_t size : {32, 64}) {
        DatasetOptions o;
        o.threads = threads;
        o.image_size = size;
        o.val_split = 0;
        double best = 0;
        Dataset f;
        for (int r = 0; r < 3; ++r) {
          const double t = now();
          f = load_dataset("folder:" + folder, o);
          best = std::max(best, f.train.size() / (now() - t));
        }
        row("2,000 JPEG 32x32: decode + resize to " + std::to_string(size), threads, best);
        if (threads == 2) {
          const Transform tf = Transform::parse("crop=" + std::to_string(size) + ",pad=" + std::to_string(size / 8) + ",flip=0.5");
          row("  then loader crop + flip at " + std::to_string(size), 2, loader_rate(f.train, LoaderOptions(batch).workers(2).transform(tf), epochs));
        }
      }
    }
    std::system(("rm -rf '" + folder + "'").c_str());
  } catch (const Error& e) {
    std::cerr << "bench_loader: " << e.what() << "\n";
    return e.exit_code();
  }
  return 0;
}
