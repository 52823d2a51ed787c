// Grad-CAM, Grad-CAM++, colour maps, overlays, the gallery and the sanity check.
#include <attncnn/attention/base.h>
#include <attncnn/error.h>
#include <attncnn/explain/colormap.h>
#include <attncnn/explain/explain.h>
#include <attncnn/explain/gradcam.h>
#include <attncnn/explain/plots.h>
#include <attncnn/io/files.h>
#include <attncnn/io/font.h>
#include <attncnn/io/image.h>
#include <attncnn/models/capture.h>
#include <attncnn/models/checkpoint.h>
#include <attncnn/models/model.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <sys/wait.h>

#include "cli_run.h"

namespace fs = std::filesystem;
using attncnn::read_all;

namespace {

const std::string kTmp = ATTNCNN_TEST_TMP;

// A network whose class-0 logit sees only the top-right quadrant of its input: positive 3×3 filters, ReLU, a mask
// that keeps the top-right quadrant (captured as "masked"), global mean, linear layer (+1 for class 0, -1 for 1).
class QuadrantNet : public attncnn::ModelImpl {
 public:
  QuadrantNet() {
    cfg_.in_channels = 1;
    cfg_.num_classes = 2;
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1).bias(false)));
    fc = register_module("fc", torch::nn::Linear(4, 2));
    torch::NoGradGuard g;
    conv->weight.fill_(0.1);
    fc->weight.copy_(torch::tensor({1.f, 1.f, 1.f, 1.f, -1.f, -1.f, -1.f, -1.f}).view({2, 4}));
    fc->bias.zero_();
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto a = attncnn::capture_point("conv", torch::relu(conv->forward(x)));
    const int64_t h = x.size(2), w = x.size(3);
    auto mask = torch::zeros({1, 1, h, w});
    mask.slice(2, 0, h / 2).slice(3, w / 2, w).fill_(1);
    auto m = attncnn::capture_point("masked", a * mask);
    return fc->forward(m.mean({2, 3}));
  }
  const attncnn::ModelConfig& config() const override { return cfg_; }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  attncnn::ModelConfig cfg_;
};

// Positive noise everywhere and the brightest blob in the bottom-left: a map that just follows brightness would
// peak outside the quadrant the logit reads.
torch::Tensor quadrant_input() {
  torch::manual_seed(3);
  auto x = torch::rand({1, 1, 16, 16}) * 0.3;
  x.slice(2, 10, 14).slice(3, 2, 6) += 3.0;   // bottom-left: bright, ignored by the logit
  x.slice(2, 2, 5).slice(3, 10, 13) += 1.0;   // top-right: what the logit sees
  return x;
}

std::pair<int64_t, int64_t> peak(const torch::Tensor& map_hw) {
  const int64_t i = map_hw.flatten().argmax().item<int64_t>();
  return {i % map_hw.size(1), i / map_hw.size(1)};
}

attncnn::Model small_seed_net(const std::string& attn = "sgate") {
  torch::manual_seed(0);
  attncnn::ModelConfig cfg;
  cfg.in_channels = 1;
  cfg.num_classes = 10;
  cfg.attn = attn;
  cfg.model_params = attncnn::Params::parse("width=8,width3=16");
  auto m = attncnn::create_model(cfg);
  m->eval();
  return m;
}

attncnn::CheckpointInfo fashion_info(const attncnn::Model& m) {
  attncnn::CheckpointInfo info;
  info.model = m->config();
  info.dataset = "fashion-mnist";
  info.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  info.input = {1, 28, 28};
  info.mean = {0.286};
  info.std = {0.353};
  return info;
}

attncnn::Image test_image(int w, int h, int channels, int seed) {
  attncnn::Image img;
  img.width = w, img.height = h, img.channels = channels;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        img.pixels.push_back(static_cast<uint8_t>(((x - w / 2) * (x - w / 2) + (y - h / 3) * (y - h / 3) < 40 ? 220 : 20) +
                                                  (seed * 13 + x + c) % 20));
  return img;
}



// A channel-only module (weights N×C, like squeeze-and-excitation) and a two-head spatial one, to check that
// explain_maps handles every MapKind generically.
class FakeChannel : public attncnn::AttentionImpl {
 public:
  FakeChannel() : AttentionImpl("fakechan") {}
  torch::Tensor forward(const torch::Tensor& x) override {
    auto w = torch::sigmoid(x.mean({2, 3}));
    if (recording()) keep_map("channel", attncnn::MapKind::Channel, w);
    return x * w.unsqueeze(2).unsqueeze(3);
  }
};
class FakeHeads : public attncnn::AttentionImpl {
 public:
  FakeHeads() : AttentionImpl("fakeheads") {}
  torch::Tensor forward(const torch::Tensor& x) override {
    auto a = torch::sigmoid(torch::cat({x.select(1, 0).unsqueeze(1), -x.select(1, 1).unsqueeze(1)}, 1));
    if (recording()) keep_map("heads", attncnn::MapKind::Spatial, a);
    return x * a.mean(1, true);
  }
};
struct Stage : torch::nn::Module {
  Stage() { chan = register_module("chan", std::make_shared<FakeChannel>()); }
  std::shared_ptr<FakeChannel> chan;
};
class TwoModuleNet : public attncnn::ModelImpl {
 public:
  TwoModuleNet() {
    cfg_.in_channels = 2;
    cfg_.num_classes = 3;
    stage = register_module("stage", std::make_shared<Stage>());
    heads = register_module("heads", std::make_shared<FakeHeads>());
    fc = register_module("fc", torch::nn::Linear(2, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto y = attncnn::capture_point("stage", stage->chan->forward(x));  // encloses "stage.chan"
    y = attncnn::capture_point("heads", heads->forward(y));
    return fc->forward(y.mean({2, 3}));
  }
  const attncnn::ModelConfig& config() const override { return cfg_; }
  std::shared_ptr<Stage> stage;
  std::shared_ptr<FakeHeads> heads;
  torch::nn::Linear fc{nullptr};

 private:
  attncnn::ModelConfig cfg_;
};

}  // namespace

TEST(Capture, IsInertWithoutACaptureAndNests) {
  auto x = torch::ones({2, 2});
  EXPECT_TRUE(attncnn::capture_point("a", x).is_same(x));
  attncnn::Capture outer;
  attncnn::capture_point("a", x);
  {
    attncnn::Capture inner;
    attncnn::capture_point("b", x * 2);
    EXPECT_EQ(inner.names(), std::vector<std::string>{"b"});
  }
  attncnn::capture_point("c", x);
  EXPECT_EQ(outer.names(), (std::vector<std::string>{"a", "c"}));
  EXPECT_THROW(outer.get("b"), attncnn::Error);
}

TEST(GradCam, FormulasMatchPlainLoops) {
  torch::manual_seed(1);
  auto a = torch::rand({2, 3, 4, 5});
  auto g = torch::randn({2, 3, 4, 5});
  auto cam = attncnn::gradcam_map(a, g);
  auto campp = attncnn::gradcampp_map(a, g);
  ASSERT_EQ(cam.sizes(), (std::vector<int64_t>{2, 4, 5}));
  for (int n = 0; n < 2; ++n) {
    double w[3], wpp[3];
    for (int k = 0; k < 3; ++k) {
      double mean = 0, sum_a = 0;
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 5; ++j) {
          mean += g[n][k][i][j].item<double>() / 20;
          sum_a += a[n][k][i][j].item<double>();
        }
      w[k] = mean;
      wpp[k] = 0;
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 5; ++j) {
          const double gg = g[n][k][i][j].item<double>();
          const double den = 2 * gg * gg + sum_a * gg * gg * gg;
          const double alpha = den != 0 ? gg * gg / den : 0;
          wpp[k] += alpha * std::max(gg, 0.0);
        }
    }
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 5; ++j) {
        double s = 0, spp = 0;
        for (int k = 0; k < 3; ++k) {
          s += w[k] * a[n][k][i][j].item<double>();
          spp += wpp[k] * a[n][k][i][j].item<double>();
        }
        EXPECT_NEAR(cam[n][i][j].item<double>(), std::max(s, 0.0), 1e-5);
        EXPECT_NEAR(campp[n][i][j].item<double>(), std::max(spp, 0.0), 1e-4);
      }
  }
}

TEST(GradCam, PeaksInTheQuadrantTheLogitReads) {
  QuadrantNet net;
  net.eval();
  auto x = quadrant_input();
  attncnn::CamOptions o;  // default layer: the last capture point, "masked"
  o.target_class = 0;
  auto r = attncnn::grad_cam(net, x, o);
  EXPECT_EQ(r.layer, "masked");
  ASSERT_EQ(r.gradcam.sizes(), (std::vector<int64_t>{1, 16, 16}));
  for (const auto& m : {r.gradcam[0], r.gradcampp[0]}) {
    auto [px, py] = peak(m);
    EXPECT_GE(px, 8) << "peak (" << px << "," << py << ")";
    EXPECT_LT(py, 8) << "peak (" << px << "," << py << ")";
    EXPECT_NEAR(m.max().item<double>(), 1.0, 1e-6);
    EXPECT_NEAR(m.min().item<double>(), 0.0, 1e-6);
    // Nothing outside the quadrant (beyond the bilinear seam).
    EXPECT_LT(m.slice(0, 10, 16).max().item<double>(), 1e-6);
  }
  // Class 1 has negative weights: ReLU leaves nothing, and a constant map normalises to zeros.
  o.target_class = 1;
  auto r1 = attncnn::grad_cam(net, x, o);
  EXPECT_EQ(r1.gradcam.abs().max().item<double>(), 0.0);
  EXPECT_EQ(r1.classes[0].item<int64_t>(), 1);
  // The prediction is class 0 (positive activations, positive weights).
  o.target_class = -1;
  EXPECT_EQ(attncnn::grad_cam(net, x, o).classes[0].item<int64_t>(), 0);
  // The unmasked layer follows brightness instead: its peak is the bottom-left blob.
  o.layer = "conv";
  auto rc = attncnn::grad_cam(net, x, o);
  auto [cx, cy] = peak(rc.gradcam[0]);
  EXPECT_LT(cx, 8);
  EXPECT_GE(cy, 8);
  o.layer = "nope";
  try {
    attncnn::grad_cam(net, x, o);
    ADD_FAILURE() << "unknown layer accepted";
  } catch (const attncnn::Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv, masked"), std::string::npos) << e.what();
  }
  o.layer = "";
  o.target_class = 2;
  EXPECT_THROW(attncnn::grad_cam(net, x, o), attncnn::Error);
}

TEST(GradCam, SeedNetCapturePointsAndBatchIndependence) {
  auto net = small_seed_net();
  auto x = torch::randn({3, 1, 12, 12});
  EXPECT_EQ(attncnn::capture_points(*net, x), (std::vector<std::string>{"conv1", "conv2", "attn", "conv3"}));
  attncnn::CamOptions o;
  auto batch = attncnn::grad_cam(*net, x, o);
  EXPECT_EQ(batch.layer, "conv3");
  auto single = attncnn::grad_cam(*net, x.slice(0, 1, 2), o);
  EXPECT_TRUE(torch::allclose(batch.gradcam_raw[1], single.gradcam_raw[0], 1e-4, 1e-6));
  EXPECT_TRUE(torch::allclose(batch.gradcampp[1], single.gradcampp[0], 1e-4, 1e-5));
}

TEST(Colormap, EndPointsAndParsing) {
  using attncnn::Colormap;
  using Rgb = std::array<uint8_t, 3>;
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Viridis, 0), (Rgb{68, 1, 84}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Viridis, 1), (Rgb{253, 231, 37}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Viridis, 0.5), (Rgb{33, 145, 140}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Inferno, 0), (Rgb{0, 0, 4}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Inferno, 1), (Rgb{252, 255, 164}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Turbo, 0), (Rgb{48, 18, 59}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Turbo, 1), (Rgb{122, 4, 3}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Jet, 0), (Rgb{0, 0, 128}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Jet, 0.5), (Rgb{128, 255, 128}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Jet, 1), (Rgb{128, 0, 0}));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Viridis, -3), attncnn::colormap_rgb(Colormap::Viridis, 0));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Viridis, NAN), attncnn::colormap_rgb(Colormap::Viridis, 0));
  EXPECT_EQ(attncnn::colormap_rgb(Colormap::Inferno, 7), attncnn::colormap_rgb(Colormap::Inferno, 1));
  // Viridis and inferno grow brighter monotonically.
  for (auto cm : {Colormap::Viridis, Colormap::Inferno}) {
    double last = -1;
    for (int i = 0; i <= 100; ++i) {
      auto c = attncnn::colormap_rgb(cm, i / 100.0);
      const double luma = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
      EXPECT_GE(luma, last - 0.6) << i;
      last = luma;
    }
  }
  EXPECT_EQ(attncnn::parse_colormap("jet"), Colormap::Jet);
  EXPECT_EQ(attncnn::colormap_name(attncnn::parse_colormap("inferno")), "inferno");
  EXPECT_THROW(attncnn::parse_colormap("rainbow"), attncnn::Error);
}

TEST(Overlay, BlendsAndKeepsTheInputSize) {
  attncnn::Image gray;
  gray.width = 3, gray.height = 2, gray.channels = 1;
  gray.pixels = {0, 100, 200, 50, 150, 250};
  auto map = torch::tensor({0.f, 0.5f, 1.f, 1.f, 0.f, 0.25f}).view({2, 3});
  auto o = attncnn::overlay(gray, map, attncnn::Colormap::Viridis, 0.25);
  ASSERT_EQ(o.channels, 3);
  ASSERT_EQ(o.width, 3);
  ASSERT_EQ(o.height, 2);
  // Pixel (2,0): 0.75·200 + 0.25·viridis(1).
  EXPECT_EQ(o.pixels[2 * 3 + 0], static_cast<uint8_t>(std::lround(0.75 * 200 + 0.25 * 253)));
  EXPECT_EQ(o.pixels[2 * 3 + 1], static_cast<uint8_t>(std::lround(0.75 * 200 + 0.25 * 231)));
  EXPECT_EQ(o.pixels[2 * 3 + 2], static_cast<uint8_t>(std::lround(0.75 * 200 + 0.25 * 37)));
  EXPECT_THROW(attncnn::overlay(gray, map.t(), attncnn::Colormap::Viridis, 0.5), attncnn::Error);
  EXPECT_THROW(attncnn::overlay(gray, map, attncnn::Colormap::Viridis, 1.5), attncnn::Error);

  // The attention map of seed_net's gate, upsampled to a 28×28 input and blended: 28×28 RGB.
  auto net = small_seed_net();
  auto info = fashion_info(net);
  auto img = test_image(28, 28, 1, 0);
  auto x = attncnn::model_input({img}, info);
  attncnn::ExplainOptions opts;
  auto maps = attncnn::explain_maps(*net, x, opts);
  ASSERT_EQ(maps.size(), 3u);
  EXPECT_EQ(maps[0].layer, "attn");
  EXPECT_EQ(maps[0].method, "attn");
  EXPECT_EQ(maps[1].method, "gradcam");
  EXPECT_EQ(maps[2].method, "gradcam++");
  for (const auto& m : maps) {
    ASSERT_EQ(m.map.sizes(), (std::vector<int64_t>{28, 28}));
    auto ov = attncnn::overlay(img, attncnn::normalize_maps(m.map.unsqueeze(0))[0], attncnn::Colormap::Turbo, 0.5);
    EXPECT_EQ(ov.width, 28);
    EXPECT_EQ(ov.height, 28);
  }
  // The sigmoid gate's values are kept (in (0,1)), and recording is switched off afterwards.
  EXPECT_GT(maps[0].map.min().item<double>(), 0.0);
  EXPECT_LT(maps[0].map.max().item<double>(), 1.0);
  EXPECT_TRUE(attncnn::collect_maps(*net).empty());
}

TEST(Overlay, ResizeHelpers) {
  auto img = test_image(4, 2, 3, 1);
  auto big = attncnn::resize_nearest(img, 8, 4);
  ASSERT_EQ(big.pixels.size(), 8u * 4 * 3);
  EXPECT_EQ(big.pixels[(3 * 8 + 7) * 3 + 1], img.pixels[(1 * 4 + 3) * 3 + 1]);
  // Area shrink of a 2×2 block is its mean.
  attncnn::Image sq;
  sq.width = 2, sq.height = 2, sq.channels = 1;
  sq.pixels = {10, 20, 30, 41};
  auto one = attncnn::resize_image(sq, 1, 1);
  EXPECT_EQ(one.pixels[0], 25);
}

TEST(MapStats, PeakAndCentralShare) {
  auto m = torch::zeros({8, 8});
  m[5][6] = 2.0;
  auto s = attncnn::map_stats(m);
  EXPECT_EQ(s.peak_x, 6);
  EXPECT_EQ(s.peak_y, 5);
  EXPECT_EQ(s.max, 2.0);
  EXPECT_EQ(s.center_share, 0.0);  // the central box of 8×8 is [2,6)×[2,6): x = 6 is outside
  m[3][3] = 1.0;
  m[0][0] = -5.0;  // negative values carry no mass
  s = attncnn::map_stats(m);
  EXPECT_NEAR(s.center_share, 1.0 / 3.0, 1e-12);
  EXPECT_EQ(s.min, -5.0);
  EXPECT_NEAR(attncnn::map_stats(torch::ones({8, 12})).center_share, 0.25, 1e-12);  // uniform: a quarter
}

TEST(Spearman, KnownValues) {
  auto a = torch::arange(10).to(torch::kFloat);
  EXPECT_NEAR(attncnn::spearman(a, a * 3 + 1), 1.0, 1e-12);
  EXPECT_NEAR(attncnn::spearman(a, -a.pow(3)), -1.0, 1e-12);
  EXPECT_TRUE(std::isnan(attncnn::spearman(a, torch::ones({10}))));
  // Ties get average ranks: x = 1,2,3,4,5 vs y = 1,2,2,4,5 → ranks 1,2.5,2.5,4,5; ρ = 0.9747 (Pearson of ranks).
  auto x = torch::tensor({1.0, 2.0, 3.0, 4.0, 5.0});
  auto y = torch::tensor({1.0, 2.0, 2.0, 4.0, 5.0});
  EXPECT_NEAR(attncnn::spearman(x, y), 9.5 / std::sqrt(10.0 * 9.5), 1e-12);
}

TEST(Plots, TextAndConfusionMatrix) {
  attncnn::Image canvas;
  canvas.width = 40, canvas.height = 20, canvas.channels = 3;
  canvas.pixels.assign(40 * 20 * 3, 0);
  attncnn::draw_text(canvas, 1, 1, "I", {255, 255, 255}, 2);
  int lit = 0;
  for (size_t i = 0; i < canvas.pixels.size(); i += 3) lit += canvas.pixels[i] == 255;
  EXPECT_EQ(lit, 4 * 11);  // 'I' has 11 pixels, each 2×2 at scale 2
  EXPECT_EQ(attncnn::text_width("AB"), 11);

  std::vector<std::vector<int64_t>> conf = {{50, 0, 0}, {5, 40, 5}, {0, 10, 990}};
  const std::string path = kTmp + "/confusion.png";
  fs::create_directories(kTmp);
  attncnn::write_confusion_png(path, conf, {"cat", "dog", "T-shirt/top"});
  auto img = attncnn::read_image(path);
  EXPECT_EQ(img.channels, 3);
  EXPECT_GT(img.width, 3 * 30);
  EXPECT_GT(img.height, 3 * 30);
  // A full row paints its cell with viridis(1), an empty cell with viridis(0).
  auto count = [&](std::array<uint8_t, 3> c) {
    int n = 0;
    for (size_t i = 0; i < img.pixels.size(); i += 3)
      n += img.pixels[i] == c[0] && img.pixels[i + 1] == c[1] && img.pixels[i + 2] == c[2];
    return n;
  };
  EXPECT_GT(count({253, 231, 37}), 400);
  EXPECT_GT(count({68, 1, 84}), 3 * 400);
  EXPECT_THROW(attncnn::confusion_image(conf, {"a", "b"}), attncnn::Error);
  EXPECT_THROW(attncnn::confusion_image({{1, 2}}, {"a"}), attncnn::Error);
}

TEST(Gallery, IndexReferencesExistingFilesAndBadImagesAreReported) {
  auto net = small_seed_net();
  auto info = fashion_info(net);
  const std::string in = kTmp + "/gallery_in", out = kTmp + "/gallery_out";
  fs::remove_all(in);
  fs::remove_all(out);
  fs::create_directories(in + "/Dress");
  fs::create_directories(in + "/ankle_boot");
  attncnn::write_png(in + "/Dress/a.png", test_image(28, 28, 1, 1));
  attncnn::write_png(in + "/ankle_boot/b.png", test_image(40, 30, 3, 2));  // RGB, other size: converted, resized
  std::ofstream(in + "/Dress/broken.png", std::ios::binary) << std::string("\x89PNG\r\n\x1a\n", 8) << "garbage";
  auto files = attncnn::expand_image_paths({in});
  ASSERT_EQ(files.size(), 3u);
  attncnn::ExplainOptions opts;
  opts.topk = 4;
  std::ostringstream log;
  auto rep = attncnn::explain_images(*net, info, files, out, opts, log);
  ASSERT_EQ(rep.images.size(), 2u);
  ASSERT_EQ(rep.failures.size(), 1u);
  EXPECT_NE(rep.failures[0].first.find("broken.png"), std::string::npos);
  EXPECT_NE(rep.failures[0].second.find("broken.png"), std::string::npos);
  EXPECT_EQ(rep.images[0].true_label, 3);  // Dress
  EXPECT_EQ(rep.images[1].true_label, 9);  // ankle_boot ~ "Ankle boot"
  EXPECT_EQ(rep.images[0].top.size(), 4u);

  const std::string html = read_all(out + "/index.html");
  std::regex src("src=\"([^\"]+)\"");
  int refs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator(); ++it) {
    const std::string f = (*it)[1];
    EXPECT_FALSE(f.find("://") != std::string::npos || f[0] == '/') << f;
    EXPECT_TRUE(fs::exists(fs::path(out) / f)) << f;
    ++refs;
  }
  EXPECT_EQ(refs, 1 + 2 * 4);  // colour bar; per image: input + attention + Grad-CAM + Grad-CAM++
  EXPECT_EQ(html.find("http"), std::string::npos);
  EXPECT_NE(html.find("broken.png"), std::string::npos);
  EXPECT_NE(html.find("Dress"), std::string::npos);
  // Displayed images are enlarged from 28 to 28·8 = 224 pixels.
  auto shown = attncnn::read_image(out + "/Dress_a_input.png");
  EXPECT_EQ(shown.width, 224);
  auto heat = attncnn::read_image(out + "/Dress_a_attn_attn.png");
  EXPECT_EQ(heat.width, 224);
  EXPECT_EQ(heat.channels, 3);
  EXPECT_TRUE(fs::exists(out + "/Dress_a_conv3_gradcampp.png"));

  auto j = nlohmann::json::parse(read_all(out + "/maps.json"));
  ASSERT_EQ(j["maps"].size(), 6u);
  for (const auto& m : j["maps"]) {
    EXPECT_TRUE(fs::exists(fs::path(out) / m["file"].get<std::string>()));
    EXPECT_LE(m["min"].get<double>(), m["max"].get<double>());
    EXPECT_GE(m["peak"]["x"].get<int>(), 0);
    EXPECT_LT(m["peak"]["x"].get<int>(), 28);
    EXPECT_GE(m["center_share"].get<double>(), 0.0);
    EXPECT_LE(m["center_share"].get<double>(), 1.0);
  }
  EXPECT_EQ(j["images"][0]["true_label"], "Dress");
  ASSERT_EQ(j["errors"].size(), 1u);
}

TEST(Sanity, RandomisedWeightsChangeGradCam) {
  auto trained = small_seed_net();
  torch::manual_seed(99);
  auto fresh = attncnn::create_model(trained->config());
  fresh->eval();
  auto info = fashion_info(trained);
  const std::string in = kTmp + "/sanity_in";
  fs::create_directories(in);
  attncnn::write_png(in + "/x.png", test_image(28, 28, 1, 4));
  auto files = attncnn::expand_image_paths({in + "/x.png"});
  attncnn::ExplainOptions opts;
  auto same = attncnn::sanity_check(*trained, *trained, info, files, opts, 0.5);
  ASSERT_EQ(same.rows.size(), 3u);
  for (const auto& r : same.rows) {
    // Identical weights give identical maps (a Grad-CAM map that ReLU left all zero has no ranks: NaN).
    if (r.method == "attn" || !std::isnan(r.rho)) {
      EXPECT_NEAR(r.rho, 1.0, 1e-9) << r.method;
      EXPECT_TRUE(r.suspicious);
    }
  }
  EXPECT_EQ(same.rows[0].method, "attn");
  auto rep = attncnn::sanity_check(*trained, *fresh, info, files, opts, 0.5);
  ASSERT_EQ(rep.rows.size(), 3u);
  for (const auto& r : rep.rows) EXPECT_TRUE(std::isnan(r.rho) || (r.rho >= -1 && r.rho <= 1));
}

TEST(ExplainCli, GalleryFromACheckpoint) {
  auto net = small_seed_net();
  auto info = fashion_info(net);
  const std::string dir = kTmp + "/explain_cli";
  fs::remove_all(dir);
  fs::create_directories(dir + "/in/Trouser");
  attncnn::save_checkpoint(dir + "/w.safetensors", *net, info);
  attncnn::write_png(dir + "/in/Trouser/t1.png", test_image(28, 28, 1, 5));
  attncnn::write_png(dir + "/in/Trouser/t2.png", test_image(28, 28, 1, 6));
  std::ofstream(dir + "/in/Trouser/bad.jpg", std::ios::binary) << std::string("\xff\xd8\xff\xe0", 4);
  auto r = run_cli("explain --threads 1 --weights " + dir + "/w.safetensors " + dir + "/in --out " + dir +
                   "/out --colormap viridis --method all --class pred");
  EXPECT_EQ(r.code, 2) << r.out;  // one unreadable image
  EXPECT_NE(r.out.find("bad.jpg"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/out/Trouser_t1_attn_attn.png")) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/out/Trouser_t2_conv3_gradcam.png")) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/out/index.html"));
  fs::remove(dir + "/in/Trouser/bad.jpg");
  r = run_cli("explain --threads 1 --weights " + dir + "/w.safetensors " + dir + "/in/Trouser/t1.png --out " + dir +
              "/out2 --method gradcam --layer attn --class 1");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/out2/t1_attn_gradcam.png")) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/out2/t1_attn_attn.png"));
  r = run_cli("explain --weights " + dir + "/w.safetensors " + dir + "/in --out " + dir + "/out3 --layer nope");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("conv1, conv2, attn, conv3"), std::string::npos) << r.out;
  r = run_cli("explain --weights " + dir + "/w.safetensors " + dir + "/in --out " + dir + "/out3 --class 10");
  EXPECT_EQ(r.code, 2) << r.out;
  r = run_cli("explain --threads 1 --sanity --weights " + dir + "/w.safetensors " + dir + "/in");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("Spearman"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gradcam++"), std::string::npos) << r.out;
}

TEST(ExplainMaps, ChannelModulesShowWeightedActivationsAndHeadsAreAveraged) {
  TwoModuleNet net;
  net.eval();
  torch::manual_seed(5);
  auto x = torch::randn({1, 2, 6, 8});
  attncnn::ExplainOptions opts;
  opts.gradcam = opts.gradcampp = false;
  auto maps = attncnn::explain_maps(net, x, opts);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0].layer, "stage.chan");
  EXPECT_EQ(maps[0].method, "chanact");
  EXPECT_NE(maps[0].label.find("at stage"), std::string::npos) << maps[0].label;
  // Σ_c w_c·|A_c| with A the activation captured at "stage" (the module's output).
  auto w = torch::sigmoid(x.mean({2, 3}))[0];
  auto a = (x * w.view({1, 2, 1, 1}))[0].abs();
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 8; ++j)
      EXPECT_NEAR(maps[0].map[i][j].item<double>(),
                  (w[0] * a[0][i][j] + w[1] * a[1][i][j]).item<double>(), 1e-5);
  EXPECT_EQ(maps[1].method, "attn-heads");
  EXPECT_NE(maps[1].label.find("mean of 2"), std::string::npos) << maps[1].label;
  auto y = x * w.view({1, 2, 1, 1});
  auto expect = 0.5 * (torch::sigmoid(y[0][0]) + torch::sigmoid(-y[0][1]));
  EXPECT_TRUE(torch::allclose(maps[1].map, expect, 1e-5, 1e-6));
}
