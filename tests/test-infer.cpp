// The inference layer: a Predictor built from a checkpoint written here, checked against the model run by hand.
#include <attncnn/error.h>
#include <attncnn/infer/evaluate.h>
#include <attncnn/infer/predictor.h>
#include <attncnn/io/image.h>
#include <attncnn/models/checkpoint.h>
#include <attncnn/models/model.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <attncnn/io/files.h>
#ifdef ATTNCNN_CLI
#include "cli_run.h"
#endif

namespace fs = std::filesystem;

namespace {

const std::string kTmp = ATTNCNN_TEST_TMP;

// Per-channel statistics far from 0.5/0.25 so a wrong or missing normalisation changes the logits.
const std::vector<double> kMean = {0.2, 0.5, 0.7};
const std::vector<double> kStd = {0.3, 0.25, 0.2};
constexpr int64_t kH = 12, kW = 10;  // not square: a swapped height and width fails

// ctest runs each test in its own process, so each writes into a folder of its own.
std::string fresh_dir(const std::string& name) {
  const std::string dir = kTmp + "/infer_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A narrow seed_net on 3×12×10 images with every parameter and BatchNorm statistic drawn at random (a model that
// loaded nothing would still give default statistics), saved as a checkpoint. Returns the in-memory original.
attncnn::Model write_checkpoint(const std::string& path) {
  torch::manual_seed(7);
  attncnn::ModelConfig cfg;
  cfg.in_channels = 3;
  cfg.num_classes = 4;
  cfg.image_size = kH;
  cfg.model_params = attncnn::Params::parse("width=8,width3=16");
  auto model = attncnn::create_model(cfg);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.copy_(torch::randn_like(p) * 0.5);
    for (auto& b : model->named_buffers()) {
      if (!b.value().is_floating_point()) continue;
      const bool var = b.key().find("running_var") != std::string::npos;
      b.value().copy_(var ? torch::rand_like(b.value()) + 0.5 : torch::randn_like(b.value()) * 0.2);
    }
  }
  model->eval();
  attncnn::CheckpointInfo info;
  info.model = cfg;
  info.dataset = "synthetic";
  info.class_names = {"a", "b", "c", "d"};
  info.input = {3, kH, kW};
  info.mean = kMean;
  info.std = kStd;
  attncnn::save_checkpoint(path, *model, info);
  return model;
}

torch::Tensor random_images(int64_t n, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randint(0, 256, {n, 3, kH, kW}, gen, torch::kUInt8);
}

// The reference: (x/255 - mean)/std written out per channel, then the original model's forward.
torch::Tensor by_hand(attncnn::ModelImpl& model, const torch::Tensor& images_u8) {
  torch::NoGradGuard no_grad;
  auto x = images_u8.to(torch::kDouble) / 255.0;
  std::vector<torch::Tensor> channels;
  for (int64_t c = 0; c < 3; ++c) channels.push_back((x.select(1, c) - kMean[c]) / kStd[c]);
  return model.forward(torch::stack(channels, 1).to(torch::kFloat));
}

attncnn::PredictorOptions cpu(int64_t batch_size = 64, int64_t tta = 0) {
  attncnn::PredictorOptions o;
  o.device = "cpu";
  o.batch_size = batch_size;
  o.tta = tta;
  return o;
}

// The message of the attncnn::Error (input) that `f` throws, or "" when it throws none.
template <typename F>
std::string input_error_of(F&& f) {
  try {
    f();
  } catch (const attncnn::Error& e) {
    EXPECT_EQ(e.kind(), attncnn::ErrorKind::Input) << e.what();
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Infer, LogitsEqualTheModelRunByHandWithTheCheckpointsNormalisation) {
  const std::string dir = fresh_dir("logits");
  auto original = write_checkpoint(dir + "/w.safetensors");
  auto p = attncnn::Predictor::load(dir + "/w.safetensors", cpu());
  EXPECT_EQ(p.info().mean, kMean);
  EXPECT_EQ(p.info().input, (std::vector<int64_t>{3, kH, kW}));
  EXPECT_TRUE(p.device().is_cpu());
  EXPECT_FALSE(p.model().is_training());

  const auto images = random_images(5, 1);
  const auto expected = by_hand(*original, images);
  const auto got = p.logits(images);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{5, 4}));
  EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-5)) << (got - expected).abs().max();
  // The logits differ between images: a model that ignored its input (or one image) would pass the above by luck
  // only with equal rows.
  EXPECT_GT((expected[0] - expected[1]).abs().max().item<double>(), 1e-3);

  // Decoded images through preprocess(): floats are taken as normalised, so the same logits come back.
  std::vector<attncnn::Image> decoded;
  for (int64_t i = 0; i < 5; ++i) decoded.push_back(attncnn::tensor_to_image(images[i]));
  const auto x = p.preprocess(decoded);
  EXPECT_EQ(x.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(p.logits(x), expected, 1e-4, 1e-5));

  // Files: PNG is lossless and needs no resizing, so predict() gives softmax(by hand), most probable first.
  std::vector<std::string> paths;
  for (int64_t i = 0; i < 5; ++i) {
    paths.push_back(dir + "/img" + std::to_string(i) + ".png");
    attncnn::write_png(paths.back(), decoded[i]);
  }
  paths.insert(paths.begin() + 2, dir + "/missing.png");
  const auto preds = p.predict(paths, 3);
  ASSERT_EQ(preds.size(), 6u);
  EXPECT_FALSE(preds[2].ok());
  EXPECT_NE(preds[2].error.find("missing.png"), std::string::npos) << preds[2].error;
  const auto prob = torch::softmax(expected.to(torch::kDouble), 1);
  for (int64_t i = 0, k = 0; i < 6; ++i) {
    if (i == 2) continue;
    ASSERT_TRUE(preds[i].ok()) << preds[i].error;
    ASSERT_EQ(preds[i].top.size(), 3u);
    EXPECT_EQ(preds[i].top[0].index, prob[k].argmax().item<int64_t>());
    for (const auto& pr : preds[i].top) {
      EXPECT_NEAR(pr.probability, prob[k][pr.index].item<double>(), 1e-5);
      EXPECT_EQ(pr.name, p.info().class_names[pr.index]);
    }
    ++k;
  }
}

TEST(Infer, TtaOneIsTheMeanOfTheImageAndItsMirror) {
  const std::string dir = fresh_dir("tta");
  auto original = write_checkpoint(dir + "/w.safetensors");
  auto p = attncnn::Predictor::load(dir + "/w.safetensors", cpu(64, 1));
  const auto images = random_images(4, 2);
  const auto plain = by_hand(*original, images);
  const auto mirrored = by_hand(*original, images.flip({3}));
  const auto expected = 0.5 * (plain + mirrored);
  const auto got = p.logits(images);
  EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-5)) << (got - expected).abs().max();
  // The mirror matters for this model: without it the logits would differ.
  EXPECT_FALSE(torch::allclose(got, plain, 1e-3, 1e-3));

#ifdef ATTNCNN_CLI
  // The command line takes the same views: `attncnn predict --tta 1` gives softmax of the mean.
  const std::string png = dir + "/one.png";
  attncnn::write_png(png, attncnn::tensor_to_image(images[0]));
  auto r = run_cli("predict --device cpu --threads 1 --json --tta 1 --topk 4 --weights " + dir + "/w.safetensors " +
                       png,
                   /*with_stderr=*/false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  const auto prob = torch::softmax(expected[0].to(torch::kDouble), 0);
  ASSERT_EQ(j["results"][0]["predictions"].size(), 4u);
  for (const auto& pr : j["results"][0]["predictions"])
    EXPECT_NEAR(pr["probability"].get<double>(), prob[pr["index"].get<int64_t>()].item<double>(), 1e-5);
#endif
}

TEST(Infer, BatchSizeDoesNotChangeLogitsOrEvaluation) {
  const std::string dir = fresh_dir("batch");
  auto original = write_checkpoint(dir + "/w.safetensors");
  const auto images = random_images(5, 3);
  auto two = attncnn::Predictor::load(dir + "/w.safetensors", cpu(2, 2));
  auto seven = attncnn::Predictor::load(dir + "/w.safetensors", cpu(7, 2));
  const auto a = two.logits(images), b = seven.logits(images);
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{5, 4}));
  // Each image's logits depend on that image alone (eval-mode BatchNorm), so batches of 2+2+1 and one batch of 5
  // give the same numbers, up to the last bit: oneDNN picks its convolution kernels by batch size (differences of
  // about 1e-6 were seen), where a batching mistake (an image dropped, repeated or misplaced) changes them by ~1.
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5)) << (a - b).abs().max();

  // evaluate() over a labelled set: loss and accuracy computed here from the hand-run logits, without TTA.
  attncnn::ImageSet set;
  set.images = images;
  set.labels = torch::tensor({0, 1, 2, 3, 0}, torch::kLong);
  auto plain2 = attncnn::Predictor::load(dir + "/w.safetensors", cpu(2));
  auto plain7 = attncnn::Predictor::load(dir + "/w.safetensors", cpu(7));
  const auto expected = by_hand(*original, images);
  const double loss = torch::nn::functional::cross_entropy(expected.to(torch::kDouble), set.labels).item<double>();
  const double top1 = 100.0 * expected.argmax(1).eq(set.labels).sum().item<int64_t>() / 5.0;
  for (auto* p : {&plain2, &plain7}) {
    const auto r = p->evaluate(set);
    EXPECT_EQ(r.count, 5);
    EXPECT_NEAR(r.loss, loss, 1e-5);
    EXPECT_DOUBLE_EQ(r.top1, top1);
    int64_t diagonal = 0, total = 0;
    for (size_t t = 0; t < r.confusion.size(); ++t) {
      for (size_t q = 0; q < r.confusion[t].size(); ++q) total += r.confusion[t][q];
      diagonal += r.confusion[t][t];
    }
    EXPECT_EQ(total, 5);
    EXPECT_DOUBLE_EQ(100.0 * diagonal / 5.0, top1);
  }
  // The free function training calls gives the same numbers as the Predictor.
  const auto r = attncnn::evaluate(*original, set, kMean, kStd, 3, torch::kCPU, 0);
  EXPECT_NEAR(r.loss, plain7.evaluate(set).loss, 1e-6);
}

TEST(Infer, BadDeviceCheckpointOrOptionIsNamed) {
  const std::string dir = fresh_dir("errors");
  write_checkpoint(dir + "/w.safetensors");
  const std::string w = dir + "/w.safetensors";

  auto opts = cpu();
  opts.device = "tpu";
  auto msg = input_error_of([&] { attncnn::Predictor::load(w, opts); });
  EXPECT_NE(msg.find("--device tpu"), std::string::npos) << msg;
  if (!torch::cuda::is_available()) {
    opts.device = "cuda:3";
    msg = input_error_of([&] { attncnn::Predictor::load(w, opts); });
    EXPECT_NE(msg.find("--device cuda:3"), std::string::npos) << msg;
  }
  msg = input_error_of([&] { attncnn::Predictor::load(w, cpu(0)); });
  EXPECT_NE(msg.find("--batch-size 0"), std::string::npos) << msg;
  msg = input_error_of([&] { attncnn::Predictor::load(w, cpu(8, 3)); });
  EXPECT_NE(msg.find("--tta 3"), std::string::npos) << msg;

  msg = input_error_of([&] { attncnn::Predictor::load(dir + "/no_such.safetensors", cpu()); });
  EXPECT_NE(msg.find("no_such.safetensors"), std::string::npos) << msg;
  attncnn::write_all(dir + "/junk.safetensors", "this is not a safetensors file");
  msg = input_error_of([&] { attncnn::Predictor::load(dir + "/junk.safetensors", cpu()); });
  EXPECT_NE(msg.find("junk.safetensors"), std::string::npos) << msg;

  // Inputs of the wrong shape or type are refused with what was expected, not passed to the model.
  auto p = attncnn::Predictor::load(w, cpu());
  msg = input_error_of([&] { p.logits(torch::zeros({2, 1, kH, kW}, torch::kUInt8)); });
  EXPECT_NE(msg.find("N×3×H×W"), std::string::npos) << msg;
  msg = input_error_of([&] { p.logits(torch::zeros({2, 3, kH, kW}, torch::kLong)); });
  EXPECT_NE(msg.find("uint8"), std::string::npos) << msg;
  attncnn::Image wrong;
  wrong.width = kW + 1, wrong.height = kH, wrong.channels = 3;
  wrong.pixels.assign(static_cast<size_t>(wrong.width * wrong.height * 3), 0);
  msg = input_error_of([&] { p.preprocess({wrong}); });
  EXPECT_NE(msg.find("3×12×11"), std::string::npos) << msg;
}

TEST(Infer, CudaChannelsLastAndBf16AgreeWithTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = fresh_dir("cuda");
  auto original = write_checkpoint(dir + "/w.safetensors");
  const auto images = random_images(9, 4);
  const auto expected = by_hand(*original, images);
  attncnn::PredictorOptions o = cpu(4, 1);
  o.device = "cuda";
  auto gpu = attncnn::Predictor::load(dir + "/w.safetensors", o);
  EXPECT_TRUE(gpu.device().is_cuda());
  const auto mirrored = by_hand(*original, images.flip({3}));
  const auto tta = 0.5 * (expected + mirrored);
  auto got = gpu.logits(images);
  EXPECT_TRUE(got.device().is_cpu());
  // TF32 and cuDNN's algorithms round differently from the CPU: agreement to a small share of the logits' range.
  const double spread = tta.abs().max().item<double>();
  EXPECT_LT((got - tta).abs().max().item<double>(), 0.01 * spread + 1e-3) << "range " << spread;
  o.channels_last = true;
  o.amp = true;
  auto fast = attncnn::Predictor::load(dir + "/w.safetensors", o);
  got = fast.logits(images.cuda());
  EXPECT_EQ(got.scalar_type(), torch::kFloat);
  // bf16 keeps 8 bits of mantissa: the logits agree to a few percent of their range.
  EXPECT_LT((got - tta).abs().max().item<double>(), 0.1 * spread + 0.05) << "range " << spread;
}
