// Starting from a checkpoint: load_initial_checkpoint with attncnn checkpoints and plain safetensors state dicts,
// the classifier kept or left fresh by class count and reset_head, strict errors for other architectures, and the
// generic classifier lookup.
#include <attncnn/error.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/models/model.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/initial.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <map>

#include <attncnn/io/files.h>

using namespace attncnn;

namespace {
const std::string kTmp = ATTNCNN_TEST_TMP;

std::string tmp_file(const std::string& name) {
  std::system(("mkdir -p '" + kTmp + "/initial'").c_str());
  return kTmp + "/initial/" + name;
}
ModelConfig seed_cfg(int64_t classes, const std::string& params = "width=4,width3=8") {
  ModelConfig c;
  c.in_channels = 3;
  c.num_classes = classes;
  c.attn = "sgate";
  c.model_params = Params::parse(params);
  return c;
}
// A model whose every parameter and buffer differs from a fresh one, as after training.
Model trained(const ModelConfig& cfg, uint64_t seed) {
  torch::manual_seed(seed);
  auto m = create_model(cfg);
  torch::NoGradGuard g;
  for (auto& kv : state_dict(*m)) {
    if (kv.first.size() > 11 && kv.first.compare(kv.first.size() - 11, 11, "running_var") == 0)
      kv.second.add_(torch::rand_like(kv.second));  // variances stay positive
    else if (kv.second.is_floating_point())
      kv.second.add_(torch::randn_like(kv.second));
    else
      kv.second.add_(17);  // num_batches_tracked
  }
  return m;
}
void save_attncnn(const std::string& path, ModelImpl& m) {
  CheckpointInfo info;
  info.model = m.config();
  info.dataset = "synthetic";
  info.class_names = std::vector<std::string>(static_cast<size_t>(m.config().num_classes), "c");
  info.input = {3, 8, 8};
  info.mean = {0.5, 0.5, 0.5};
  info.std = {0.25, 0.25, 0.25};
  save_checkpoint(path, m, info);
}
std::map<std::string, torch::Tensor> snapshot(ModelImpl& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : state_dict(m)) out[kv.first] = kv.second.detach().clone();
  return out;
}
const std::vector<std::string> kHead = {"fc.weight", "fc.bias"};
bool is_head(const std::string& n) { return n == "fc.weight" || n == "fc.bias"; }
std::string error_of(ModelImpl& m, const std::string& path, bool reset_head = false) {
  try {
    load_initial_checkpoint(m, path, reset_head);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    return e.what();
  }
  ADD_FAILURE() << "no error loading " << path;
  return "";
}
}  // namespace

TEST(InitialCheckpoint, OtherClassCountCopiesTheBodyAndLeavesTheHeadFresh) {
  auto source = trained(seed_cfg(10), 1);
  const std::string path = tmp_file("seed10.safetensors");
  save_attncnn(path, *source);
  torch::manual_seed(2);
  auto target = create_model(seed_cfg(5));
  const auto fresh = snapshot(*target);
  const auto src = snapshot(*source);
  const auto report = load_initial_checkpoint(*target, path, /*reset_head=*/false);
  EXPECT_EQ(report.reset, kHead);
  const auto names = state_dict(*target);
  EXPECT_EQ(report.loaded.size(), names.size() - 2);
  for (const auto& kv : names) {
    if (is_head(kv.first)) {
      EXPECT_TRUE(kv.second.equal(fresh.at(kv.first))) << kv.first;
    } else {
      EXPECT_TRUE(kv.second.equal(src.at(kv.first))) << kv.first;
      EXPECT_FALSE(kv.second.equal(fresh.at(kv.first))) << kv.first;
    }
  }
  // With the first five classes of the source's head put in, the model computes what the source computes.
  {
    torch::NoGradGuard g;
    auto s = snapshot(*source);
    for (auto& kv : state_dict(*target))
      if (is_head(kv.first)) kv.second.copy_(s.at(kv.first).narrow(0, 0, 5));
  }
  source->eval();
  target->eval();
  torch::NoGradGuard g;
  const auto x = torch::randn({2, 3, 8, 8});
  EXPECT_TRUE(torch::allclose(target->forward(x), source->forward(x).narrow(1, 0, 5), 1e-5, 1e-6));
}

TEST(InitialCheckpoint, SameClassCountCopiesEverything) {
  auto source = trained(seed_cfg(10), 3);
  const std::string path = tmp_file("seed10_same.safetensors");
  save_attncnn(path, *source);
  torch::manual_seed(4);
  auto target = create_model(seed_cfg(10));
  const auto report = load_initial_checkpoint(*target, path, false);
  EXPECT_TRUE(report.reset.empty());
  const auto src = snapshot(*source);
  EXPECT_EQ(report.loaded.size(), src.size());
  for (const auto& kv : state_dict(*target)) EXPECT_TRUE(kv.second.equal(src.at(kv.first))) << kv.first;
}

TEST(InitialCheckpoint, ResetHeadKeepsTheHeadFresh) {
  auto source = trained(seed_cfg(10), 5);
  const std::string path = tmp_file("seed10_reset.safetensors");
  save_attncnn(path, *source);
  torch::manual_seed(6);
  auto target = create_model(seed_cfg(10));
  const auto fresh = snapshot(*target);
  const auto src = snapshot(*source);
  const auto report = load_initial_checkpoint(*target, path, /*reset_head=*/true);
  EXPECT_EQ(report.reset, kHead);
  for (const auto& kv : state_dict(*target))
    EXPECT_TRUE(kv.second.equal(is_head(kv.first) ? fresh.at(kv.first) : src.at(kv.first))) << kv.first;
}

TEST(InitialCheckpoint, PlainSafetensorsStateDictLoads) {
  // As Python writes it: state_dict names, no attncnn metadata (here a 10-class head into a 5-class model), with
  // tensors in half precision.
  auto source = trained(seed_cfg(10), 7);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& kv : state_dict(*source))
    tensors.emplace_back(kv.first, kv.second.is_floating_point() ? kv.second.to(torch::kHalf) : kv.second);
  const std::string path = tmp_file("plain.safetensors");
  save_safetensors(path, tensors, {{"format", "pt"}});
  torch::manual_seed(8);
  auto target = create_model(seed_cfg(5));
  const auto fresh = snapshot(*target);
  const auto report = load_initial_checkpoint(*target, path, false);
  EXPECT_EQ(report.reset, kHead);
  std::map<std::string, torch::Tensor> given(tensors.begin(), tensors.end());
  for (const auto& kv : state_dict(*target)) {
    const auto want = is_head(kv.first) ? fresh.at(kv.first) : given.at(kv.first).to(kv.second.scalar_type());
    EXPECT_TRUE(kv.second.equal(want)) << kv.first;
  }
  // A state dict without a classifier (timm's num_classes=0) loads too, the head left fresh.
  std::vector<std::pair<std::string, torch::Tensor>> headless;
  for (const auto& kv : tensors)
    if (!is_head(kv.first)) headless.push_back(kv);
  const std::string path2 = tmp_file("headless.safetensors");
  save_safetensors(path2, headless);
  torch::manual_seed(9);
  auto target2 = create_model(seed_cfg(10));
  const auto fresh2 = snapshot(*target2);
  EXPECT_EQ(load_initial_checkpoint(*target2, path2, false).reset, kHead);
  auto t2 = snapshot(*target2);
  for (const auto& n : kHead) EXPECT_TRUE(t2.at(n).equal(fresh2.at(n))) << n;
}

TEST(InitialCheckpoint, WrongArchitectureListsTheMismatches) {
  auto source = trained(seed_cfg(10), 10);
  const std::string path = tmp_file("seed10_arch.safetensors");
  save_attncnn(path, *source);
  // Other widths: every conv and BN has another shape.
  torch::manual_seed(11);
  auto wider = create_model(seed_cfg(10, "width=6,width3=8"));
  const auto before = snapshot(*wider);
  const std::string msg = error_of(*wider, path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("wrong shape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("conv1.weight (expected [6, 3, 3, 3], got [4, 3, 3, 3])"), std::string::npos) << msg;
  EXPECT_NE(msg.find("saved from model 'seed_net'"), std::string::npos) << msg;
  for (const auto& kv : state_dict(*wider)) EXPECT_TRUE(kv.second.equal(before.at(kv.first))) << kv.first;

  // Another model altogether: its names are missing, the file's are unexpected.
  ModelConfig r20;
  r20.name = "resnet20";
  r20.attn = "none";
  auto resnet = create_model(r20);
  const std::string msg2 = error_of(*resnet, path);
  EXPECT_NE(msg2.find("missing layer1.0.conv1.weight"), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("unexpected attn."), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("'resnet20'"), std::string::npos) << msg2;

  // A classifier whose input width differs is a mismatch, not another class count.
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& kv : state_dict(*source))
    tensors.emplace_back(kv.first, kv.first == "fc.weight" ? torch::zeros({10, 9}) : kv.second);
  const std::string path3 = tmp_file("bad_head.safetensors");
  save_safetensors(path3, tensors);
  auto target = create_model(seed_cfg(10));
  const std::string msg3 = error_of(*target, path3);
  EXPECT_NE(msg3.find("fc.weight (expected [10, 8], got [10, 9])"), std::string::npos) << msg3;
  // Reset, the head's shape no longer matters.
  EXPECT_EQ(load_initial_checkpoint(*target, path3, /*reset_head=*/true).reset, kHead);
}

TEST(InitialCheckpoint, NotSafetensorsIsAnInputError) {
  const std::string path = tmp_file("garbage.safetensors");
  write_all(path, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10));
  auto target = create_model(seed_cfg(10));
  EXPECT_NE(error_of(*target, path).find(path), std::string::npos);
  EXPECT_NE(error_of(*target, tmp_file("absent.safetensors")).find("absent.safetensors"), std::string::npos);
}

TEST(InitialCheckpoint, ClassifierIsTheLastLinear) {
  ModelConfig mb;
  mb.name = "mobilenet_v2";
  mb.attn = "none";
  mb.num_classes = 7;
  EXPECT_EQ(classifier_names(*create_model(mb)),
            (std::vector<std::string>{"classifier.1.weight", "classifier.1.bias"}));
  ModelConfig fast;
  fast.name = "fastnet";
  fast.attn = "none";
  EXPECT_EQ(classifier_names(*create_model(fast)), (std::vector<std::string>{"fc.weight"}));
  ModelConfig pooled = seed_cfg(3);
  pooled.head = "attnpool";
  EXPECT_EQ(classifier_names(*create_model(pooled)), kHead);
}
