// `attncnn predict` on PNG and JPEG files written here, with a checkpoint trained by the real executable.
#include <attncnn/data/dataset.h>
#include <attncnn/explain/explain.h>
#include <attncnn/io/image.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/trainer.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>

#include <jpeglib.h>

namespace fs = std::filesystem;

namespace {

const std::string kTmp = ATTNCNN_TEST_TMP;
const std::string kDir = kTmp + "/predict";

struct Run {
  int code;
  std::string out, err;
};
Run run_cli(const std::string& args) {
  const std::string err_file = kDir + "/stderr.txt";
  const std::string cmd = std::string(ATTNCNN_CLI) + " " + args + " 2>" + err_file;
  Run r{-1, "", ""};
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(err_file);
  std::ostringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

void write_jpeg(const std::string& path, const torch::Tensor& hw_u8) {
  const int h = static_cast<int>(hw_u8.size(0)), w = static_cast<int>(hw_u8.size(1));
  auto t = hw_u8.contiguous();
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 95, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = t.data_ptr<uint8_t>() + cinfo.next_scanline * w;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(f);
}

// Trains the checkpoint through the real executable. ctest runs every test of a file as its own process, so all
// checks share one test (one training) instead of racing on one folder.
std::string train_checkpoint(std::string* log) {
  fs::remove_all(kDir);
  fs::create_directories(kDir);
  auto r = run_cli("train --data fashion-mnist:" ATTNCNN_FASHION_MNIST_DIR
                   " --fraction 0.05 --model-opt width=8,width3=16 --epochs 2 --threads 1 --lr 0.03 --batch-size 32"
                   " --quiet --out " + kDir + "/run");
  *log = r.out + r.err;
  return r.code == 0 ? kDir + "/run/weights/last.safetensors" : "";
}

void check_png_predictions(const std::string& weights_);
void check_jpeg_text_and_bad_files(const std::string& weights_);

}  // namespace

TEST(Predict, PngJpegTextJsonAndBadFiles) {
  if (!fs::exists(ATTNCNN_FASHION_MNIST_DIR)) GTEST_SKIP() << "Fashion-MNIST not installed";
  std::string log;
  const std::string weights = train_checkpoint(&log);
  ASSERT_FALSE(weights.empty()) << log;
  {
    SCOPED_TRACE("PNG files match the dataset tensors");
    check_png_predictions(weights);
  }
  {
    SCOPED_TRACE("JPEG, text output, bad files");
    check_jpeg_text_and_bad_files(weights);
  }
}

namespace {

// PNG files written from the test split: the probabilities equal the library's on the same tensors.
void check_png_predictions(const std::string& weights_) {
  auto ds = attncnn::load_dataset("fashion-mnist:" ATTNCNN_FASHION_MNIST_DIR);
  attncnn::CheckpointInfo info;
  auto model = attncnn::load_checkpoint(weights_, &info);
  const int n = 30;
  const std::string dir = kDir + "/png";
  fs::create_directories(dir);
  for (int i = 0; i < n; ++i)
    attncnn::write_png(dir + "/" + std::to_string(100 + i) + ".png",
                       attncnn::tensor_to_image(ds.test.images[i]));
  // On the CPU like the library reference below (a GPU's convolutions differ in the last bits).
  auto r = run_cli("predict --device cpu --threads 1 --json --topk 10 --batch-size 7 --weights " + weights_ + " " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), static_cast<size_t>(n));
  EXPECT_TRUE(j["errors"].empty());

  // The same images straight from the dataset tensors, through the library.
  torch::NoGradGuard no_grad;
  auto x = attncnn::preprocess(ds.test.images.slice(0, 0, n), info.mean, info.std, torch::kCPU);
  auto prob = torch::softmax(model->forward(x), 1);
  int correct = 0;
  for (int i = 0; i < n; ++i) {
    const auto& res = j["results"][i];
    EXPECT_NE(res["image"].get<std::string>().find(std::to_string(100 + i) + ".png"), std::string::npos);
    const auto& preds = res["predictions"];
    ASSERT_EQ(preds.size(), 10u);
    double sum = 0, last = 2;
    for (const auto& p : preds) {
      const double v = p["probability"].get<double>();
      EXPECT_LE(v, last);
      last = v;
      sum += v;
      // PNG is lossless and 28×28 needs no resizing: the probabilities are the library's (up to the rounding of
      // convolution algorithms that differ with the batch size).
      EXPECT_NEAR(v, prob[i][p["index"].get<int64_t>()].item<double>(), 1e-4);
      EXPECT_EQ(p["class"].get<std::string>(), info.class_names[p["index"].get<int64_t>()]);
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
    correct += preds[0]["index"].get<int64_t>() == ds.test.labels[i].item<int64_t>();
  }
  // Chance is 3 of 30; this narrow seed_net reaches about 62% test accuracy after two epochs on 5% of the data.
  EXPECT_GE(correct, 12) << "top-1 on " << n << " test images written as PNG";
}

void check_jpeg_text_and_bad_files(const std::string& weights_) {
  auto ds = attncnn::load_dataset("fashion-mnist:" ATTNCNN_FASHION_MNIST_DIR);
  const std::string dir = kDir + "/mixed";
  fs::create_directories(dir);
  write_jpeg(dir + "/a.jpg", ds.test.images[0][0]);
  // Enlarged 2× as RGB: converted to gray and shrunk back to 28×28 before the model sees it.
  attncnn::Image big = attncnn::convert_channels(
      attncnn::resize_nearest(attncnn::tensor_to_image(ds.test.images[1]), 56, 56), 3);
  attncnn::write_png(dir + "/b.png", big);
  auto r = run_cli("predict --threads 1 --topk 3 --weights " + weights_ + " " + dir + "/a.jpg " + dir + "/b.png");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<double> probs;
  int headers = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("  ", 0) != 0) {
      ++headers;
      continue;
    }
    probs.push_back(std::stod(line.substr(line.find_last_of(' ') + 1)));
  }
  EXPECT_EQ(headers, 2) << r.out;
  ASSERT_EQ(probs.size(), 6u) << r.out;
  for (int k = 0; k < 2; ++k) {
    EXPECT_GE(probs[k * 3], probs[k * 3 + 1]);
    EXPECT_GE(probs[k * 3 + 1], probs[k * 3 + 2]);
    EXPECT_LE(probs[k * 3] + probs[k * 3 + 1] + probs[k * 3 + 2], 1.0 + 1e-3);
  }

  // A corrupt file is named on stderr, the others are still predicted, and the exit code is 2.
  std::ofstream(dir + "/c_broken.png", std::ios::binary) << std::string("\x89PNG\r\n\x1a\n", 8) << "not really";
  std::ofstream(dir + "/d_notes.jpg", std::ios::binary) << "plain text";
  r = run_cli("predict --threads 1 --json --weights " + weights_ + " " + dir);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("c_broken.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("d_notes.jpg"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["errors"].size(), 2u);

  EXPECT_EQ(run_cli("predict --weights " + weights_ + " " + dir + "/missing.png").code, 2);
  EXPECT_EQ(run_cli("predict --topk 0 --weights " + weights_ + " " + dir + "/a.jpg").code, 2);
}

}  // namespace
