// Dataset specs: the real CIFAR-10 and Fashion-MNIST, CIFAR-100 files and image folders written here (PNG through
// encode_png, JPEG through libjpeg), every kind of broken input, the contact sheet, and `attncnn data`.
#include <attncnn/data/dataset.h>
#include <attncnn/data/preview.h>
#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/io/font.h>
#include <attncnn/io/image.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <jpeglib.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli_run.h"
#include "test_errors.h"

using namespace attncnn;

namespace {
const std::string kCifar10 = ATTNCNN_SHARED_DIR "/data/cifar-10-batches-bin";

std::string tmp_dir(const std::string& name) {
  const std::string d = std::string(ATTNCNN_TEST_TMP) + "/datasets_" + name;
  std::system(("rm -rf '" + d + "' && mkdir -p '" + d + "'").c_str());
  return d;
}
#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// A test image: h×w×c with a pattern that depends on `v`.
Image pattern(int64_t w, int64_t h, int64_t c, int v) {
  Image img;
  img.width = w, img.height = h, img.channels = c;
  img.pixels.resize(static_cast<size_t>(w * h * c));
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>((i * 13 + v * 40) % 256);
  return img;
}
void write_jpeg(const std::string& path, const Image& img, int quality = 90) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* mem = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &mem, &size);
  cinfo.image_width = static_cast<JDIMENSION>(img.width);
  cinfo.image_height = static_cast<JDIMENSION>(img.height);
  cinfo.input_components = static_cast<int>(img.channels);
  cinfo.in_color_space = img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(img.pixels.data() + cinfo.next_scanline * img.width * img.channels);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  write_all(path, std::string(reinterpret_cast<char*>(mem), size));
  jpeg_destroy_compress(&cinfo);
  std::free(mem);
}

// CIFAR records: label bytes then 3072 pixel bytes; pixel value = (record index + label) mod 256.
std::string cifar_records(const std::vector<std::vector<int>>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    for (int l : labels[i]) out.push_back(static_cast<char>(l));
    out.append(3072, static_cast<char>((i + labels[i].back()) % 256));
  }
  return out;
}


// A folder dataset: classes a (4 RGB PNGs of mixed sizes), b (3 JPEGs), c (3 gray PNGs) + files to ignore.
std::string make_folder(const std::string& name) {
  const std::string d = tmp_dir(name);
  for (const char* c : {"/a", "/b", "/c"}) make_dirs(d + c);
  write_png(d + "/a/0.png", pattern(40, 30, 3, 0));
  write_png(d + "/a/1.png", pattern(16, 16, 4, 1));  // RGBA
  write_png(d + "/a/2.PNG", pattern(20, 50, 3, 2));
  write_png(d + "/a/3.png", pattern(8, 8, 3, 3));
  for (int i = 0; i < 3; ++i) write_jpeg(d + "/b/" + std::to_string(i) + ".jpg", pattern(24, 20, 3, 10 + i));
  for (int i = 0; i < 3; ++i) write_png(d + "/c/" + std::to_string(i) + ".png", pattern(12, 12, 1, 20 + i));
  write_all(d + "/a/notes.txt", "not an image");
  write_all(d + "/README", "ignored");
  write_all(d + "/b/.hidden.jpg", "hidden files are ignored");
  return d;
}
}  // namespace

TEST(Datasets, RealCifar10) {
  if (!exists(kCifar10 + "/data_batch_1.bin")) GTEST_SKIP() << "CIFAR-10 not present";
  const auto ds = load_dataset("cifar10:" + kCifar10);
  EXPECT_EQ(ds.name, "cifar10");
  EXPECT_EQ(ds.train.images.sizes(), torch::IntArrayRef({50000, 3, 32, 32}));
  EXPECT_EQ(ds.test.images.sizes(), torch::IntArrayRef({10000, 3, 32, 32}));
  EXPECT_EQ(ds.train.labels[0].item<int64_t>(), 6);
  EXPECT_EQ(ds.class_names[6], "frog");
  EXPECT_EQ(ds.class_names.size(), 10u);
  EXPECT_EQ(ds.class_names[0], "airplane");
  const int64_t first_test[4] = {3, 8, 8, 0};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ds.test.labels[i].item<int64_t>(), first_test[i]);
  for (auto c : class_counts(ds.train.labels, 10)) EXPECT_EQ(c, 5000);
  for (auto c : class_counts(ds.test.labels, 10)) EXPECT_EQ(c, 1000);
  // The published channel means of CIFAR-10's training split.
  const auto s = channel_stats(ds.train.images);
  EXPECT_NEAR(s.first[0], 0.4914, 1e-3);
  EXPECT_NEAR(s.first[1], 0.4822, 1e-3);
  EXPECT_NEAR(s.first[2], 0.4465, 1e-3);
  // The parent folder of cifar-10-batches-bin works too.
  const auto parent = kCifar10.substr(0, kCifar10.rfind('/'));
  EXPECT_EQ(load_dataset("cifar10:" + parent).train.size(), 50000);
}

TEST(Datasets, RealFashionMnist) {
  if (!exists(ATTNCNN_FASHION_MNIST_DIR)) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto ds = load_dataset("fashion-mnist:" ATTNCNN_FASHION_MNIST_DIR);
  EXPECT_EQ(ds.train.images.sizes(), torch::IntArrayRef({60000, 1, 28, 28}));
  EXPECT_EQ(ds.test.size(), 10000);
  EXPECT_EQ(ds.class_names[9], "Ankle boot");
  EXPECT_EQ(ds.train.labels[0].item<int64_t>(), 9);
  for (auto c : class_counts(ds.train.labels, 10)) EXPECT_EQ(c, 6000);
}

TEST(Datasets, Cifar100FineCoarseAndNames) {
  const auto d = tmp_dir("c100");
  write_all(d + "/train.bin", cifar_records({{3, 99}, {19, 0}, {0, 42}}));
  write_all(d + "/test.bin", cifar_records({{7, 5}}));
  auto fine = load_dataset("cifar100:" + d);
  EXPECT_EQ(fine.train.images.sizes(), torch::IntArrayRef({3, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(fine.train.labels, torch::tensor({99, 0, 42}, torch::kLong)));
  EXPECT_EQ(fine.test.labels[0].item<int64_t>(), 5);
  EXPECT_EQ(fine.num_classes(), 100);
  EXPECT_EQ(fine.class_names[42], "42");
  // Pixel bytes: record 1 holds (1 + 0) everywhere.
  EXPECT_EQ(fine.train.images[1].max().item<int>(), 1);
  EXPECT_EQ(fine.train.images[0][2][31][31].item<int>(), 99 % 256);
  auto coarse = load_dataset("cifar100-coarse:" + d);
  EXPECT_TRUE(torch::equal(coarse.train.labels, torch::tensor({3, 19, 0}, torch::kLong)));
  EXPECT_EQ(coarse.num_classes(), 20);
  std::string names;
  for (int i = 0; i < 20; ++i) names += "coarse_" + std::to_string(i) + "\n";
  write_all(d + "/coarse_label_names.txt", names + "\n\n");
  EXPECT_EQ(load_dataset("cifar100-coarse:" + d).class_names[19], "coarse_19");
  write_all(d + "/fine_label_names.txt", "apple\nbanana\n");
  EXPECT_HAS(error_of([&] { load_dataset("cifar100:" + d); }), "fine_label_names.txt: 2 class names: expected 100");
}

TEST(Datasets, BrokenCifarFiles) {
  const auto d = tmp_dir("c100bad");
  write_all(d + "/train.bin", cifar_records({{3, 99}, {1, 1}}).substr(0, 6000));
  write_all(d + "/test.bin", cifar_records({{7, 5}}));
  auto msg = error_of([&] { load_dataset("cifar100:" + d); });
  EXPECT_HAS(msg, d + "/train.bin");
  EXPECT_HAS(msg, "size 6000 bytes");
  EXPECT_HAS(msg, "record size 3074");
  write_all(d + "/train.bin", cifar_records({{3, 99}, {1, 100}}));
  msg = error_of([&] { load_dataset("cifar100:" + d); });
  EXPECT_HAS(msg, "train.bin: record 1 has fine label 100: expected 0 to 99");
  write_all(d + "/train.bin", cifar_records({{20, 1}}));
  EXPECT_HAS(error_of([&] { load_dataset("cifar100-coarse:" + d); }), "coarse label 20: expected 0 to 19");
  write_all(d + "/train.bin", "");
  EXPECT_HAS(error_of([&] { load_dataset("cifar100:" + d); }), "train.bin: empty file");

  const auto c10 = tmp_dir("c10bad");
  for (int i = 1; i <= 5; ++i) write_all(c10 + "/data_batch_" + std::to_string(i) + ".bin", cifar_records({{i}, {0}}));
  EXPECT_HAS(error_of([&] { load_dataset("cifar10:" + c10); }), c10 + "/test_batch.bin: file not found");
  write_all(c10 + "/test_batch.bin", cifar_records({{9}}));
  auto ds = load_dataset("cifar10:" + c10);
  EXPECT_EQ(ds.train.size(), 10);
  EXPECT_EQ(ds.class_names[9], "truck");  // built-in names without batches.meta.txt
  EXPECT_TRUE(torch::equal(ds.train.labels.slice(0, 0, 4), torch::tensor({1, 0, 2, 0}, torch::kLong)));
  write_all(c10 + "/data_batch_3.bin", cifar_records({{1}, {2}}) + "x");
  msg = error_of([&] { load_dataset("cifar10:" + c10); });
  EXPECT_HAS(msg, c10 + "/data_batch_3.bin: size 6147 bytes is not a multiple of the record size 3073");
  write_all(c10 + "/data_batch_3.bin", cifar_records({{1}, {10}}));
  EXPECT_HAS(error_of([&] { load_dataset("cifar10:" + c10); }), "data_batch_3.bin: record 1 has label 10");
  EXPECT_HAS(error_of([&] { load_dataset("cifar10:" + c10 + "/nope"); }), "nope' not found");
}

TEST(Datasets, LooksInAttncnnDataAndSaysWhere) {
  const auto root = tmp_dir("envroot");
  make_dirs(root + "/cifar100");
  write_all(root + "/cifar100/train.bin", cifar_records({{1, 2}}));
  write_all(root + "/cifar100/test.bin", cifar_records({{1, 3}}));
  ::setenv("ATTNCNN_DATA", root.c_str(), 1);
  EXPECT_EQ(load_dataset("cifar100").train.size(), 1);
  auto msg = error_of([] { load_dataset("cifar10"); });
  EXPECT_HAS(msg, "looked in " + root + "/cifar10");
  msg = error_of([] { load_dataset("folder"); });
  EXPECT_HAS(msg, root + "/folder");
  ::unsetenv("ATTNCNN_DATA");
  EXPECT_HAS(error_of([] { load_dataset("mnist"); }), "ATTNCNN_DATA is not set");
  EXPECT_HAS(error_of([] { load_dataset("imagenet:/x"); }), "cifar10");
}

TEST(Datasets, FolderOfPngAndJpeg) {
  const auto d = make_folder("folder");
  DatasetOptions o;
  o.image_size = 16;
  o.val_split = 0.0;
  o.threads = 2;
  auto ds = load_dataset("folder:" + d, o);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ds.train.images.sizes(), torch::IntArrayRef({10, 3, 16, 16}));
  EXPECT_EQ(ds.test.size(), 0);
  EXPECT_EQ(ds.test_split, "val");
  EXPECT_EQ(class_counts(ds.train.labels, 3), (std::vector<int64_t>{4, 3, 3}));
  // Files are read in name order; an 8×8 PNG upscaled to 16 is still the right image (check a flat region):
  // class c's gray images become R = G = B.
  auto c0 = ds.train.images[7];
  EXPECT_TRUE(torch::equal(c0[0], c0[1]));
  EXPECT_TRUE(torch::equal(c0[1], c0[2]));
  // The same 16×16 RGBA PNG, alpha dropped, no resize needed: pixels equal the source's RGB.
  const auto src = pattern(16, 16, 4, 1);
  auto a1 = ds.train.images[1];
  EXPECT_EQ(a1[0][0][0].item<int>(), src.pixels[0]);
  EXPECT_EQ(a1[2][3][5].item<int>(), src.pixels[(3 * 16 + 5) * 4 + 2]);
  // JPEG is lossy: compare the decoded mean with the source's.
  auto b0 = ds.train.images[4].to(torch::kFloat);
  auto ref = image_to_tensor(convert_channels(pattern(24, 20, 3, 10), 3)).to(torch::kFloat);
  EXPECT_NEAR(b0.mean().item<double>(), ref.mean().item<double>(), 12.0);
  // Gray only: one channel by default; forced three channels.
  const auto g = tmp_dir("gray");
  make_dirs(g + "/x");
  make_dirs(g + "/y");
  write_png(g + "/x/1.png", pattern(10, 10, 1, 1));
  write_png(g + "/y/1.png", pattern(10, 12, 1, 2));
  write_jpeg(g + "/y/2.jpeg", pattern(9, 9, 1, 3));
  EXPECT_EQ(load_dataset("folder:" + g, o).channels(), 1);
  o.channels = 3;
  EXPECT_EQ(load_dataset("folder:" + g, o).channels(), 3);
  o.channels = 1;
  EXPECT_EQ(load_dataset("folder:" + d, o).channels(), 1);
}

TEST(Datasets, FolderValSplitIsSeededAndStratified) {
  const auto d = tmp_dir("split");
  for (int k = 0; k < 2; ++k) {
    make_dirs(d + "/k" + std::to_string(k));
    for (int i = 0; i < 10; ++i) write_png(d + "/k" + std::to_string(k) + "/" + std::to_string(i) + ".png", pattern(6, 6, 3, i + 10 * k));
  }
  DatasetOptions o;
  o.image_size = 6;
  o.val_split = 0.3;
  o.seed = 1;
  o.threads = 1;
  auto a = load_dataset("folder:" + d, o);
  EXPECT_EQ(a.train.size(), 14);
  EXPECT_EQ(a.test.size(), 6);
  EXPECT_EQ(class_counts(a.test.labels, 2), (std::vector<int64_t>{3, 3}));
  auto b = load_dataset("folder:" + d, o);
  EXPECT_TRUE(torch::equal(a.test.images, b.test.images));
  o.seed = 2;
  auto c = load_dataset("folder:" + d, o);
  EXPECT_FALSE(torch::equal(a.test.images, c.test.images));
  // Train and val together hold each image once.
  auto all = torch::cat({a.train.images, a.test.images}).view({20, -1}).sum(1).sort();
  auto all2 = torch::cat({c.train.images, c.test.images}).view({20, -1}).sum(1).sort();
  EXPECT_TRUE(torch::equal(std::get<0>(all), std::get<0>(all2)));
  o.val_split = 1.0;
  EXPECT_HAS(error_of([&] { load_dataset("folder:" + d, o); }), "--val-split");
}

TEST(Datasets, FolderWithTrainAndVal) {
  const auto d = tmp_dir("trainval");
  for (const char* p : {"/train/cat", "/train/dog", "/val/dog"}) make_dirs(d + p);
  write_png(d + "/train/cat/1.png", pattern(8, 8, 3, 1));
  write_png(d + "/train/dog/1.png", pattern(8, 8, 3, 2));
  write_png(d + "/train/dog/2.png", pattern(8, 8, 3, 3));
  write_png(d + "/val/dog/1.png", pattern(8, 8, 3, 4));
  DatasetOptions o;
  o.image_size = 8;
  o.threads = 1;
  auto ds = load_dataset("folder:" + d, o);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(ds.train.size(), 3);
  EXPECT_EQ(ds.test.size(), 1);
  EXPECT_EQ(ds.test.labels[0].item<int64_t>(), 1);
  EXPECT_EQ(ds.test_split, "val");
  make_dirs(d + "/val/bird");
  write_png(d + "/val/bird/1.png", pattern(8, 8, 3, 5));
  EXPECT_HAS(error_of([&] { load_dataset("folder:" + d, o); }), "/val/bird: class folder not present in");
}

TEST(Datasets, BrokenFolders) {
  DatasetOptions o;
  o.image_size = 8;
  o.threads = 2;
  // An empty class folder.
  auto d = make_folder("empty_class");
  make_dirs(d + "/zzz");
  write_all(d + "/zzz/readme.txt", "no images");
  EXPECT_HAS(error_of([&] { load_dataset("folder:" + d, o); }), d + "/zzz: empty class folder");
  // A folder with no images at all, and one with images but no class folders.
  d = tmp_dir("no_images");
  write_all(d + "/a.txt", "x");
  EXPECT_HAS(error_of([&] { load_dataset("folder:" + d, o); }), "no class subfolders and no images");
  write_png(d + "/loose.png", pattern(4, 4, 3, 0));
  EXPECT_HAS(error_of([&] { load_dataset("folder:" + d, o); }), "image file(s) directly in it");
  // Corrupt and truncated images fail by default, naming the file; --skip-bad skips and counts them.
  d = make_folder("corrupt");
  write_all(d + "/b/3.jpg", "\xff\xd8\xff\xe0 not really a jpeg");
  const auto png = encode_png(pattern(30, 30, 3, 7));
  write_all(d + "/c/9.png", png.substr(0, png.size() / 2));
  write_all(d + "/a/9.png", "plain text with a png name");
  auto msg = error_of([&] { load_dataset("folder:" + d, o); });
  EXPECT_HAS(msg, d + "/a/9.png");  // the first bad file in name order, whatever the threads
  EXPECT_HAS(msg, "--skip-bad");
  o.skip_bad = true;
  auto ds = load_dataset("folder:" + d, o);
  EXPECT_EQ(ds.skipped, 3);
  EXPECT_EQ(ds.train.size() + ds.test.size(), 10);
  ASSERT_EQ(ds.skipped_files.size(), 3u);
  EXPECT_HAS(ds.skipped_files[1], "b/3.jpg");
  EXPECT_HAS(ds.skipped_files[2], "c/9.png");
  // A class whose only images are bad has nothing to train on.
  d = tmp_dir("all_bad");
  make_dirs(d + "/good");
  make_dirs(d + "/bad");
  write_png(d + "/good/1.png", pattern(4, 4, 3, 0));
  write_all(d + "/bad/1.png", "junk");
  EXPECT_HAS(error_of([&] { load_dataset("folder:" + d, o); }), d + "/bad: no readable training images");
  o.image_size = 0;
  EXPECT_HAS(error_of([&] { load_dataset("folder:" + d, o); }), "--image-size 0");
}

TEST(Datasets, ContactSheetLayoutAndLabels) {
  ImageSet s;
  s.images = torch::full({70, 1, 28, 28}, 200, torch::kUInt8);
  s.labels = torch::arange(70, torch::kLong) % 3;
  const auto sheet = contact_sheet(s, {"zero", "one", "two"});
  const auto L = contact_sheet_layout(64, 28, 28);
  EXPECT_EQ(L.cols, 8);
  EXPECT_EQ(L.rows, 8);
  EXPECT_EQ(L.scale, 4);  // 28 px upscaled to 112
  EXPECT_EQ(sheet.width, 8 * (112 + 4) + 4);
  EXPECT_EQ(sheet.height, 8 * (112 + 11 + 4) + 4);
  EXPECT_EQ(sheet.channels, 3);
  // Tile 0: image pixels (200) then a white band with some black text pixels.
  auto px = [&](int64_t x, int64_t y, int c) { return sheet.pixels[(y * sheet.width + x) * 3 + c]; };
  EXPECT_EQ(px(4 + 50, 4 + 50, 0), 200);
  int black = 0, white = 0;
  for (int64_t y = 4 + 112; y < 4 + 112 + 11; ++y)
    for (int64_t x = 4; x < 4 + 112; ++x) (px(x, y, 0) == 0 ? black : white) += px(x, y, 0) == 0 || px(x, y, 0) == 255;
  EXPECT_GT(black, 20);  // "ZERO" in a 5×7 font
  EXPECT_GT(white, 500);
  EXPECT_EQ(text_width("ZERO"), 23);
  // Fewer images than the grid: one row.
  const auto small = contact_sheet_layout(5, 32, 32);
  EXPECT_EQ(small.cols, 5);
  EXPECT_EQ(small.rows, 1);
  EXPECT_EQ(small.scale, 3);
  ImageSet empty;
  empty.images = torch::empty({0, 3, 4, 4}, torch::kUInt8);
  empty.labels = torch::empty({0}, torch::kLong);
  EXPECT_THROW(contact_sheet(empty, {}), Error);
}

#ifdef ATTNCNN_CLI
TEST(Datasets, CliDataCommand) {
  const auto d = make_folder("cli");
  const auto out = std::string(ATTNCNN_TEST_TMP) + "/datasets_cli_sheet.png";
  std::remove(out.c_str());
  auto r = run_cli("data folder:" + d + " --image-size 20 --val-split 0 --json --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["channels"], 3);
  EXPECT_EQ(j["height"], 20);
  EXPECT_EQ(j["splits"]["train"], 10);
  EXPECT_EQ(j["classes"][0]["name"], "a");
  EXPECT_EQ(j["classes"][0]["train"], 4);
  EXPECT_EQ(j["mean"].size(), 3u);
  const auto sheet = read_image(out);
  const auto L = contact_sheet_layout(10, 20, 20);
  EXPECT_EQ(sheet.width, L.width);
  EXPECT_EQ(sheet.height, L.height);
  EXPECT_EQ(j["contact_sheet"]["width"], L.width);

  if (exists(kCifar10 + "/data_batch_1.bin")) {
    const auto out10 = std::string(ATTNCNN_TEST_TMP) + "/datasets_cifar10_sheet.png";
    r = run_cli("data cifar10:" + kCifar10 + " --out " + out10);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_HAS(r.out, "frog");
    EXPECT_HAS(r.out, "5000");
    EXPECT_HAS(r.out, "3x32x32");
    EXPECT_HAS(r.out, out10);
    const auto s10 = read_image(out10);
    EXPECT_EQ(s10.width, 8 * (96 + 4) + 4);
    EXPECT_EQ(s10.height, 8 * (96 + 11 + 4) + 4);
  }
  // Default output name in the current folder.
  r = run_cli("data folder:" + d + " --image-size 8 --val-split 0.2");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_HAS(r.out, "folder_contact_sheet.png");
  EXPECT_HAS(r.out, "val 3");  // round(0.2 · 3) = 1 of each of the three classes
  EXPECT_TRUE(exists("folder_contact_sheet.png"));
  std::remove("folder_contact_sheet.png");

  // Bad input: exit code 2 and the file named.
  write_all(d + "/c/bad.png", "junk");
  r = run_cli("data folder:" + d + " --out " + out);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_HAS(r.out, d + "/c/bad.png");
  r = run_cli("data folder:" + d + " --skip-bad --out " + out);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_HAS(r.out, "skipped 1 unreadable image");
  r = run_cli("data cifar10:/nonexistent/cifar");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_HAS(r.out, "/nonexistent/cifar");
}
#endif
