// The real `attncnn` executable: exit codes, messages, and a short train → eval round on Fashion-MNIST.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli_run.h"
#include <attncnn/io/files.h>
#include <attncnn/io/image.h>

using attncnn::exists;

namespace {
const std::string kTmp = ATTNCNN_TEST_TMP;
}  // namespace

TEST(Cli, VersionHelpAndList) {
  auto v = run_cli("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find("attncnn 0."), std::string::npos) << v.out;
  auto h = run_cli("--help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("train"), std::string::npos);
  EXPECT_EQ(run_cli("train --help").code, 0);
  auto l = run_cli("list");
  EXPECT_EQ(l.code, 0);
  for (const char* name : {"sgate", "attnpool", "seed_net", "fashion-mnist"})
    EXPECT_NE(l.out.find(name), std::string::npos) << name;
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_cli("").code, 2);
  EXPECT_EQ(run_cli("frobnicate").code, 2);
  EXPECT_EQ(run_cli("train --epochs notanumber").code, 2);
  auto r = run_cli("train --attn sgatee --out " + kTmp + "/cli_bad");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("sgatee"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("valid names"), std::string::npos) << r.out;
  r = run_cli("train --epochs 0 --out " + kTmp + "/cli_bad");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--epochs 0"), std::string::npos) << r.out;
  r = run_cli("eval --weights " + kTmp + "/does_not_exist.safetensors");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("does_not_exist.safetensors"), std::string::npos) << r.out;
}

TEST(Cli, MissingDatasetTellsHowToGetIt) {
  auto r = run_cli("train --data fashion-mnist:/nonexistent/fashion --out " + kTmp + "/cli_missing");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("apt-get install dataset-fashion-mnist"), std::string::npos) << r.out;
}

TEST(Cli, TrainThenEvalOnFashionMnistSlice) {
  if (!exists(ATTNCNN_FASHION_MNIST_DIR)) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string out = kTmp + "/cli_train";
  std::system(("rm -rf '" + out + "'").c_str());
  // A narrow seed_net on 2% of the training split: a few seconds on one thread, far above chance (10%).
  auto r = run_cli("train --data fashion-mnist:" ATTNCNN_FASHION_MNIST_DIR " --fraction 0.03 --epochs 2 --threads 1 --device cpu "
               "--model-opt width=8,width3=16 --batch-size 32 --lr 0.01 --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("test accuracy"), std::string::npos) << r.out;
  for (const char* f : {"/args.json", "/results.csv", "/weights/last.safetensors", "/weights/best.safetensors"})
    EXPECT_TRUE(exists(out + f)) << f;
  std::ifstream csv(out + "/results.csv");
  std::string header, row1, row2;
  std::getline(csv, header);
  std::getline(csv, row1);
  std::getline(csv, row2);
  EXPECT_EQ(header.rfind("epoch,train_loss", 0), 0u);
  EXPECT_EQ(row2.rfind("2,", 0), 0u) << row2;
  auto e = run_cli("eval --threads 1 --device cpu --json --weights " + out + "/weights/last.safetensors");
  ASSERT_EQ(e.code, 0) << e.out;
  const auto pos = e.out.find("\"top1\":");
  ASSERT_NE(pos, std::string::npos) << e.out;
  const double top1 = std::stod(e.out.substr(pos + 7));
  EXPECT_GT(top1, 40.0) << e.out;
  EXPECT_NE(e.out.find("\"count\": 10000"), std::string::npos);
  // The eval must reproduce the top-1 the training run reported for its last epoch (5th column of results.csv).
  std::stringstream ss(row2);
  std::string field;
  for (int i = 0; i < 5; ++i) std::getline(ss, field, ',');
  EXPECT_NEAR(std::stod(field), top1, 0.011) << row2;
}

TEST(Cli, FolderDatasetOptionsAreRecordedAndRepeatedByEval) {
  // Three classes of 20×20 PNGs, told apart by colour. Training with --image-size 16 --val-split 0.25 holds out one
  // image per class; eval must rebuild the same 16×16 split from the checkpoint alone.
  const std::string dir = kTmp + "/cli_folder", out = kTmp + "/cli_folder_run";
  std::system(("rm -rf '" + dir + "' '" + out + "'").c_str());
  for (int c = 0; c < 3; ++c) {
    const std::string cls = dir + "/class" + std::to_string(c);
    std::system(("mkdir -p '" + cls + "'").c_str());
    for (int i = 0; i < 4; ++i) {
      attncnn::Image img;
      img.width = img.height = 20;
      img.channels = 3;
      img.pixels.assign(20 * 20 * 3, 0);
      for (int p = 0; p < 20 * 20; ++p) img.pixels[p * 3 + c] = static_cast<uint8_t>(150 + 20 * i + (p % 7));
      attncnn::write_png(cls + "/" + std::to_string(i) + ".png", img);
    }
  }
  auto r = run_cli("train --data folder:" + dir + " --image-size 16 --val-split 0.25 --model-opt width=8,width3=16 "
                   "--epochs 1 --batch-size 3 --threads 1 --device cpu --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("on 3 test images"), std::string::npos) << r.out;
  auto e = run_cli("eval --threads 1 --device cpu --json --weights " + out + "/weights/last.safetensors", false);
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_NE(e.out.find("\"count\": 3"), std::string::npos) << e.out;
  // The resolved settings record the folder options.
  std::ifstream args(out + "/args.json");
  std::stringstream ss;
  ss << args.rdbuf();
  EXPECT_NE(ss.str().find("\"image_size\": 16"), std::string::npos) << ss.str();
}
