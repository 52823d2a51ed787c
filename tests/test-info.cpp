// The real `attncnn info` executable: totals, per-layer rows, attention sites, JSON, aliases and errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

#include "cli_run.h"

namespace {
}  // namespace

TEST(InfoCli, TextReportOfCifarResNet) {
  auto r = run_cli("info --model resnet20 --attn sgate --model-opt attn_stages=2,3");
  ASSERT_EQ(r.code, 0) << r.out;
  // resnet20 (269,722) plus six sgates: 3 on 32 channels (32·32+32+32+1) and 3 on 64 (64·64+64+64+1).
  const int64_t params = 269722 + 3 * (32 * 32 + 32 + 32 + 1) + 3 * (64 * 64 + 64 + 64 + 1);
  EXPECT_EQ(params, 285664);
  EXPECT_NE(r.out.find("parameters 285,664"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("attention modules: 6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layer2.0.se  sgate"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("layer1.0.se  sgate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1x16x32x32"), std::string::npos) << r.out;  // conv1's output at the nominal 3x32x32
  EXPECT_NE(r.out.find("layer3.2.conv2"), std::string::npos) << r.out;
}

TEST(InfoCli, JsonForResNet50At224) {
  auto r = run_cli("info --model resnet50 --json", /*with_stderr=*/false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["params"].get<int64_t>(), 25557032);
  EXPECT_EQ(j["input"], nlohmann::json({3, 224, 224}));
  EXPECT_EQ(j["output"], nlohmann::json({1, 1000}));
  const double gmacs = j["macs"].get<double>() / 1e9;
  EXPECT_NEAR(gmacs, 4.09, 0.02);
  EXPECT_EQ(j["macs"].get<int64_t>(),
            j["conv_macs"].get<int64_t>() + j["linear_macs"].get<int64_t>() + j["matmul_macs"].get<int64_t>());
  EXPECT_EQ(j["linear_macs"].get<int64_t>(), 2048 * 1000);
  EXPECT_TRUE(j["attention"].empty());
  int64_t sum = 0;
  for (const auto& l : j["layers"]) sum += l["params"].get<int64_t>();
  EXPECT_EQ(sum, 25557032);
  EXPECT_EQ(j["layers"][0]["name"], "conv1");
  EXPECT_EQ(j["layers"][0]["output"], nlohmann::json({1, 64, 112, 112}));
  EXPECT_EQ(j["layers"][0]["macs"].get<int64_t>(), int64_t{112} * 112 * 64 * 3 * 49);
}

TEST(InfoCli, AliasesInputAndClasses) {
  auto r = run_cli("info --model resnet26d --input 1x64x48 --num-classes 7 --json --no-layers", false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["config"]["name"], "resnet26");
  EXPECT_EQ(j["config"]["model_params"]["stem"], "deep");
  EXPECT_EQ(j["output"], nlohmann::json({1, 7}));
  EXPECT_EQ(j["input"], nlohmann::json({1, 64, 48}));
  EXPECT_TRUE(j["layers"].empty());
  auto l = run_cli("list");
  ASSERT_EQ(l.code, 0);
  for (const char* name : {"resnet20", "resnet110", "resnet50", "wrn28_10", "mobilenet_v2", "attention92",
                           "preact_resnet18", "seresnet50", "alias: resnet50 + attn se", "cbam_resnet20"})
    EXPECT_NE(l.out.find(name), std::string::npos) << name;
}

TEST(InfoCli, ErrorsExitTwoAndNameTheValue) {
  auto r = run_cli("info --model resnet20 --input 3x32");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("3x32"), std::string::npos) << r.out;
  r = run_cli("info --model resnet21");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("resnet21"), std::string::npos) << r.out;
  r = run_cli("info --model resnet20 --model-opt attn_stages=5 --attn sgate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("attn_stages"), std::string::npos) << r.out;
  EXPECT_EQ(run_cli("info").code, 2);
}
