// ONNX export: every attention module in a small network and every model family at a small width are exported,
// run in onnxruntime (onnxruntime-node, through tests/onnx/ort_run.js) and compared with libtorch on the same
// inputs, at batch 1 and 3 from one dynamic-batch file; attention maps against the ones the modules record; the
// file's metadata, names and folding read back with ONNX's protobuf types; bad input named with exit code 2.
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/registry.h>
#include <attncnn/export/onnx.h>
#include <attncnn/infer/evaluate.h>
#include <attncnn/models/checkpoint.h>
#include <attncnn/models/preact_resnet.h>
#include <attncnn/models/seed_net.h>
#include <attncnn/version.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <chrono>
#include <iostream>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_run.h"
#include "test_errors.h"

#if ATTNCNN_WITH_ONNX
#include <onnx/onnx_pb.h>
#endif

namespace fs = std::filesystem;

namespace {

const std::string kDir = std::string(ATTNCNN_TEST_TMP) + "/export";

attncnn::ModelConfig tiny_seed_net(const std::string& attn, const std::string& attn_opt = "") {
  attncnn::ModelConfig cfg;
  cfg.name = "seed_net";
  cfg.attn = attn;
  cfg.attn_params = attncnn::Params::parse(attn_opt);
  cfg.in_channels = 3;
  cfg.num_classes = 5;
  cfg.image_size = 12;
  cfg.model_params = attncnn::Params::parse("width=16,width3=16");
  return cfg;
}

// A small checkpoint of seed_net for the command-line tests.
std::string tiny_checkpoint(const std::string& name) {
  fs::create_directories(kDir);
  auto cfg = tiny_seed_net("cbam");
  cfg.in_channels = 1;
  auto model = attncnn::create_model(cfg);
  attncnn::CheckpointInfo info;
  info.model = model->config();
  info.dataset = "fashion-mnist";
  info.class_names = {"a", "b", "c", "d", "e"};
  info.input = {1, 12, 12};
  info.mean = {0.25};
  info.std = {0.5};
  const std::string path = kDir + "/" + name + ".safetensors";
  attncnn::save_checkpoint(path, *model, info);
  return path;
}

}  // namespace

#if !ATTNCNN_WITH_ONNX

// Built without libonnx: the API and the command say what is missing, as input errors (exit code 2).
TEST(Export, SaysLibonnxIsMissing) {
  EXPECT_FALSE(attncnn::onnx_export_available());
  auto model = attncnn::create_model(tiny_seed_net("se"));
  auto msg = error_of([&] { attncnn::export_onnx(*model, {}, kDir + "/x.onnx"); });
  EXPECT_NE(msg.find("libonnx-dev"), std::string::npos) << msg;
  const auto r = run_cli("export --weights " + tiny_checkpoint("missing_onnx") + " --out " + kDir + "/x.onnx");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("libonnx-dev"), std::string::npos) << r.out;
}

#else

namespace {

// BatchNorm statistics and affine parameters away from their initial values, and every all-zero weight (gca's
// last conv, nl's norm) made non-zero, so that a wrong fold or a skipped branch changes the output.
void randomise(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters())
    if (p.dim() == 1 || p.abs().max().item<float>() == 0) p.add_(torch::randn_like(p) * 0.1);
  for (auto& mod : m.modules(/*include_self=*/false)) {
    if (auto* bn = mod->as<attncnn::BatchNorm2d>()) {
      bn->running_mean.normal_(0, 0.2);
      bn->running_var.uniform_(0.5, 2.0);
      if (bn->weight.defined()) bn->weight.uniform_(0.5, 1.5);
    }
  }
}

void write_raw(const std::string& path, const torch::Tensor& t) {
  auto c = t.contiguous();
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Why onnxruntime cannot run here, or "" when it can.
std::string ort_missing() {
  if (std::string(ATTNCNN_NODE).empty())
    return "node was not found when attncnn was configured (scripts/setup.sh installs nodejs and npm)";
  if (!fs::exists(std::string(ATTNCNN_ORT_MODULES) + "/onnxruntime-node"))
    return std::string("onnxruntime-node is not installed in ") + ATTNCNN_ORT_MODULES +
           " (scripts/setup.sh installs it; -DATTNCNN_TEST_ONNXRUNTIME=OFF leaves these tests out)";
  return "";
}

#define REQUIRE_ORT()                                                                     \
  do {                                                                                    \
    if (!ATTNCNN_TEST_ORT) GTEST_SKIP() << "configured with -DATTNCNN_TEST_ONNXRUNTIME=OFF"; \
    const std::string why = ort_missing();                                                \
    if (!why.empty()) FAIL() << why;                                                      \
  } while (0)

using Outputs = std::map<std::string, torch::Tensor>;

// Runs `model_path` in onnxruntime on each of `inputs` (fed as `input_name`); the outputs of each run by name.
std::vector<Outputs> run_ort(const std::string& dir, const std::string& model_path, const std::string& input_name,
                             const std::vector<torch::Tensor>& inputs) {
  nlohmann::json spec;
  spec["model"] = model_path;
  spec["runs"] = nlohmann::json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string in = dir + "/in" + std::to_string(i) + ".bin";
    write_raw(in, inputs[i]);
    const bool u8 = inputs[i].scalar_type() == torch::kUInt8;
    spec["runs"].push_back({{"prefix", dir + "/out" + std::to_string(i)},
                            {"inputs", {{input_name, {{"file", in}, {"type", u8 ? "uint8" : "float32"},
                                                      {"dims", inputs[i].sizes().vec()}}}}}});
  }
  std::ofstream(dir + "/case.json") << spec.dump();
  const std::string cmd = std::string(ATTNCNN_NODE) + " " + ATTNCNN_SOURCE_DIR + "/tests/onnx/ort_run.js " +
                          ATTNCNN_ORT_MODULES + " " + dir + "/case.json 2>&1";
  Run r{-1, ""};
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    const int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::vector<Outputs> out;
  EXPECT_EQ(r.code, 0) << "onnxruntime failed on " << model_path << ":\n" << r.out;
  if (r.code != 0) return out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string prefix = dir + "/out" + std::to_string(i);
    Outputs o;
    const auto dims = nlohmann::json::parse(read_text(prefix + ".json"));
    for (const auto& kv : dims.items()) {
      const std::string bytes = read_text(prefix + "." + kv.key() + ".bin");
      auto t = torch::empty(kv.value().get<std::vector<int64_t>>(), torch::kFloat);
      EXPECT_EQ(static_cast<size_t>(t.nbytes()), bytes.size()) << kv.key();
      std::memcpy(t.data_ptr(), bytes.data(), std::min(bytes.size(), static_cast<size_t>(t.nbytes())));
      o[kv.key()] = t;
    }
    out.push_back(o);
  }
  return out;
}

// max |onnxruntime − libtorch| ≤ 1e-4 · max |libtorch|.
void expect_close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = want.abs().max().item<double>();
  const double diff = (got - want).abs().max().item<double>();
  EXPECT_LE(diff, 1e-4 * std::max(scale, 1e-6)) << what << ": max |diff| " << diff << ", output scale " << scale;
}

// Exports `model` with `opt`, runs the file in onnxruntime and in libtorch on the same random inputs (batch 1 and 3
// for a dynamic batch), and compares the logits and, with maps, every map the modules record.
void check_against_ort(attncnn::ModelImpl& model, const attncnn::OnnxExportOptions& opt, const std::string& name) {
  const std::string dir = kDir + "/" + name;
  fs::create_directories(dir);
  randomise(model);
  model.eval();
  const std::string path = dir + "/model.onnx";
  const auto r = attncnn::export_onnx(model, opt, path);
  const auto& chw = r.input_shape;
  std::vector<int64_t> batches = opt.dynamic_batch ? std::vector<int64_t>{1, 3} : std::vector<int64_t>{opt.batch_size};
  std::vector<torch::Tensor> inputs;
  std::vector<Outputs> want;
  torch::NoGradGuard no_grad;
  attncnn::set_record_maps(model, opt.with_maps);
  for (int64_t b : batches) {
    torch::Tensor in, x;
    if (opt.with_preprocess) {
      in = torch::randint(0, 256, {b, chw[1], chw[2], chw[3]}, torch::kUInt8);
      x = attncnn::preprocess(in, opt.mean, opt.std, torch::kCPU);
    } else {
      in = x = torch::randn({b, chw[1], chw[2], chw[3]});
    }
    inputs.push_back(in);
    Outputs o;
    o["logits"] = model.forward(x);
    for (const auto& m : attncnn::collect_maps(model))
      o[m.layer.empty() ? m.map.name : m.layer + "." + m.map.name] = m.map.value.clone();
    want.push_back(o);
  }
  attncnn::set_record_maps(model, false);
  const auto got = run_ort(dir, path, r.input, inputs);
  ASSERT_EQ(got.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string at = name + " batch " + std::to_string(batches[i]) + ", ";
    EXPECT_EQ(got[i].size(), want[i].size()) << at << "outputs: the file's and the recorded maps differ";
    for (const auto& kv : want[i]) {
      auto it = got[i].find(kv.first);
      if (it == got[i].end()) {
        ADD_FAILURE() << at << "no output " << kv.first;
        continue;
      }
      expect_close(it->second, kv.second, at + kv.first);
    }
  }
}

attncnn::OnnxExportOptions with_maps() {
  attncnn::OnnxExportOptions o;
  o.with_maps = true;
  return o;
}

onnx::ModelProto read_model(const std::string& path) {
  onnx::ModelProto m;
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(m.ParseFromIstream(&f)) << path;
  return m;
}

}  // namespace

// ---- every registered attention module in seed_net (attnpool as its head) ----

class ExportAttention : public ::testing::TestWithParam<std::string> {};

TEST_P(ExportAttention, MatchesLibtorchInOnnxruntime) {
  REQUIRE_ORT();
  const std::string name = GetParam();
  auto cfg = tiny_seed_net(name);
  if (attncnn::attention_entry(name).output == attncnn::AttnOutput::Pool) {
    cfg.attn = "sgate";
    cfg.head = name;
    cfg.head_params = attncnn::Params::parse("num_heads=2");
  }
  auto model = attncnn::create_model(cfg);
  const auto unsupported = attncnn::onnx_unsupported_attention();
  if (unsupported.count(name)) {
    auto msg = error_of([&] { attncnn::export_onnx(*model, {}, kDir + "/unsupported.onnx"); });
    EXPECT_NE(msg.find("'" + name + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(unsupported.at(name)), std::string::npos) << msg;
    return;
  }
  check_against_ort(*model, with_maps(), "attn_" + name);
}

INSTANTIATE_TEST_SUITE_P(Registered, ExportAttention, ::testing::ValuesIn(attncnn::attention_names()),
                         [](const auto& info) { return info.param; });

// Options that take other paths through the exporters.
struct Variant {
  const char* label;
  const char* attn;
  const char* options;
};
void PrintTo(const Variant& v, std::ostream* os) { *os << v.label; }
class ExportAttentionVariant : public ::testing::TestWithParam<Variant> {};

TEST_P(ExportAttentionVariant, MatchesLibtorchInOnnxruntime) {
  REQUIRE_ORT();
  const Variant v = GetParam();
  auto model = attncnn::create_model(tiny_seed_net(v.attn, v.options));
  check_against_ort(*model, with_maps(), std::string("variant_") + v.label);
}

INSTANTIATE_TEST_SUITE_P(
    Options, ExportAttentionVariant,
    ::testing::Values(Variant{"se_maxpool_hard", "se", "add_maxpool=1,gate_layer=hard_sigmoid"},
                      Variant{"ge_extent2", "ge", "extent=2"}, Variant{"ge_extent4_params", "ge", "extent=4,extra_params=1"},
                      Variant{"ge_no_mlp_max", "ge", "use_mlp=0,add_maxpool=1"}, Variant{"gc_mean", "gc", "use_attn=0"},
                      Variant{"splat_radix1", "splat", "radix=1"},
                      Variant{"splat_groups_bn", "splat", "groups=2,norm_layer=batchnorm"},
                      Variant{"sk_whole_input", "sk", "split_input=0,kernel_size=3:5:7"},
                      Variant{"triplet_no_spatial", "triplet", "no_spatial=1"}, Variant{"coord_skip", "coord", "has_skip=1,bias=1"},
                      Variant{"eca_k5", "eca", "kernel_size=5"}, Variant{"ceca_k5", "ceca", "kernel_size=5"},
                      Variant{"cbam_k3", "cbam", "spatial_kernel_size=3,mlp_bias=1"}),
    [](const auto& info) { return std::string(info.param.label); });

// ---- every model family at a small width ----

struct ModelCase {
  const char* label;
  const char* model;
  const char* attn;
  const char* model_opt;
  int64_t channels, size;
};
void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.label; }
class ExportModel : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ExportModel, MatchesLibtorchInOnnxruntime) {
  REQUIRE_ORT();
  const ModelCase c = GetParam();
  attncnn::ModelConfig cfg;
  cfg.name = c.model;
  cfg.attn = c.attn;
  cfg.model_params = attncnn::Params::parse(c.model_opt);
  cfg.in_channels = c.channels;
  cfg.num_classes = 7;
  cfg.image_size = c.size;
  auto model = attncnn::create_model(cfg);
  check_against_ort(*model, with_maps(), std::string("model_") + c.label);
}

INSTANTIATE_TEST_SUITE_P(
    Families, ExportModel,
    ::testing::Values(
        ModelCase{"seed_net", "seed_net", "default", "width=8,width3=16", 1, 12},
        ModelCase{"resnet18", "resnet18", "se", "channels=8,8,8,8,layers=1,1,1,1", 3, 32},
        ModelCase{"resnet26_deep_avgdown", "resnet26", "eca", "channels=4,4,4,4,layers=1,1,1,1,stem=deep,stem_width=8,avg_down=1", 3, 32},
        ModelCase{"resnet50_cifar", "resnet50", "cbam", "channels=4,4,4,4,layers=1,1,2,1,stem=cifar", 3, 16},
        ModelCase{"ecaresnet26d", "ecaresnet26d", "default", "channels=4,4,4,4,layers=1,1,1,1", 3, 32},
        ModelCase{"resnet20", "resnet20", "se", "", 3, 16},
        ModelCase{"resnet20_projection", "resnet20", "coord", "shortcut=B", 1, 12},
        ModelCase{"cbam_resnet20", "cbam_resnet20", "default", "", 3, 16},
        ModelCase{"fastnet", "fastnet", "eca", "widths=8,16,16", 3, 16},
        ModelCase{"fastnet_all_stages", "fastnet", "simam", "widths=8,8,16,attn_stages=1,2,3", 1, 12},
        ModelCase{"mobilenet_v2", "mobilenet_v2", "se", "stem=cifar,attn_stages=2,6", 3, 16},
        ModelCase{"attention56", "attention56", "none", "stem=cifar,attn_stages=4", 3, 14}),
    [](const auto& info) { return std::string(info.param.label); });

// The pre-activation family (preact_resnet18 and the wide ResNets share their classes) built at a small width.
TEST(ExportModelSmall, PreActResNetMatchesLibtorchInOnnxruntime) {
  REQUIRE_ORT();
  attncnn::ModelConfig cfg;
  cfg.name = "wrn16_8";
  cfg.attn = "se";
  cfg.in_channels = 3;
  cfg.num_classes = 4;
  cfg.image_size = 12;
  attncnn::PreActResNetImpl model(cfg, 8, {8, 16, 32}, {2, 1, 1}, 0.3);
  check_against_ort(model, with_maps(), "model_preact_small");
}

// Every registered model and alias at its own input size and class count, checked by ONNX's checker and shape
// inference only (no onnxruntime run). Minutes on two cores for the large ones: run it by hand with
// --gtest_also_run_disabled_tests.
TEST(ExportModelSmall, DISABLED_EveryRegisteredModelAtItsOwnSize) {
  std::vector<std::string> names = attncnn::model_names();
  for (const auto& a : attncnn::model_registry().aliases()) names.push_back(a.name);
  fs::create_directories(kDir);
  for (const auto& name : names) {
    const auto entry = attncnn::model_entry(name);
    attncnn::ModelConfig cfg;
    cfg.name = name;
    cfg.in_channels = entry.input[0];
    cfg.image_size = entry.input[1];
    cfg.num_classes = entry.num_classes;
    auto model = attncnn::create_model(cfg);
    const auto start = std::chrono::steady_clock::now();
    const auto r = attncnn::export_onnx(*model, with_maps(), kDir + "/every.onnx");
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::cout << name << ": " << r.nodes << " nodes, " << r.outputs.size() - 1 << " maps, " << r.bytes / 1000000
              << " MB, " << took.count() << " s\n";
  }
}

// ---- switches ----

TEST(ExportSwitches, FixedBatchUnfoldedAndPreprocessed) {
  REQUIRE_ORT();
  {
    auto model = attncnn::create_model(tiny_seed_net("cbam"));
    attncnn::OnnxExportOptions o;
    o.dynamic_batch = false;
    o.batch_size = 2;
    o.fold_bn = false;
    o.opset = 13;
    check_against_ort(*model, o, "switch_fixed_unfolded");
    const auto m = read_model(kDir + "/switch_fixed_unfolded/model.onnx");
    EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_value(), 2);
    EXPECT_EQ(m.opset_import(0).version(), 13);
    int bn = 0;
    for (const auto& n : m.graph().node()) bn += n.op_type() == "BatchNormalization";
    EXPECT_EQ(bn, 4);  // bn1..bn3 and cbam's spatial bn
  }
  {
    auto cfg = tiny_seed_net("eca");
    cfg.in_channels = 2;
    auto model = attncnn::create_model(cfg);
    attncnn::OnnxExportOptions o;
    o.with_preprocess = true;
    o.mean = {0.3, 0.6};
    o.std = {0.2, 0.4};
    check_against_ort(*model, o, "switch_preprocess");
  }
}

// The file read back: names, shapes, metadata, folding.
TEST(ExportFile, RecordsPreprocessingNamesAndFolds) {
  fs::create_directories(kDir);
  auto model = attncnn::create_model(tiny_seed_net("cbam"));
  randomise(*model);
  attncnn::OnnxExportOptions o;
  o.mean = {0.1, 0.2, 0.3};
  o.std = {0.5, 0.6, 0.7};
  o.class_names = {"a", "b", "c", "d", "e"};
  o.metadata["dataset"] = "cifar10";
  o.with_maps = true;
  const std::string path = kDir + "/file.onnx";
  const auto r = attncnn::export_onnx(*model, o, path);
  EXPECT_EQ(r.folded_bn, 4);
  EXPECT_EQ(r.outputs, (std::vector<std::string>{"logits", "attn.channel", "attn.spatial"}));
  const auto m = read_model(path);
  EXPECT_EQ(m.producer_name(), "attncnn");
  EXPECT_EQ(m.opset_import(0).version(), 17);
  const auto& in = m.graph().input(0);
  EXPECT_EQ(in.name(), "input");
  EXPECT_EQ(in.type().tensor_type().shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(in.type().tensor_type().shape().dim(2).dim_value(), 12);
  EXPECT_EQ(m.graph().output(0).name(), "logits");
  EXPECT_EQ(m.graph().output(0).type().tensor_type().shape().dim(1).dim_value(), 5);
  std::map<std::string, std::string> meta;
  for (const auto& p : m.metadata_props()) meta[p.key()] = p.value();
  EXPECT_EQ(nlohmann::json::parse(meta["mean"]), nlohmann::json({0.1, 0.2, 0.3}));
  EXPECT_EQ(nlohmann::json::parse(meta["std"]), nlohmann::json({0.5, 0.6, 0.7}));
  EXPECT_EQ(nlohmann::json::parse(meta["input"]), nlohmann::json({3, 12, 12}));
  EXPECT_EQ(nlohmann::json::parse(meta["class_names"]), nlohmann::json({"a", "b", "c", "d", "e"}));
  EXPECT_EQ(meta["dataset"], "cifar10");
  EXPECT_EQ(attncnn::ModelConfig::from_json(meta["model"]).attn, "cbam");
  // Initializers carry the state_dict keys; the folded conv's doc names the BatchNorm; no BN node is left.
  std::map<std::string, std::string> inits;
  for (const auto& t : m.graph().initializer()) inits[t.name()] = t.doc_string();
  for (const char* key : {"conv1.weight", "conv1.bias", "attn.channel.fc1.weight", "attn.spatial.conv.conv.weight",
                          "fc.weight", "fc.bias"})
    EXPECT_TRUE(inits.count(key)) << key;
  EXPECT_EQ(inits["conv1.weight"], "folded: bn1");
  for (const auto& n : m.graph().node()) EXPECT_NE(n.op_type(), "BatchNormalization") << n.name();
  // The folded weight is the conv's scaled by γ/√(σ²+ε) per output channel.
  const auto& w = std::find_if(m.graph().initializer().begin(), m.graph().initializer().end(),
                               [](const auto& t) { return t.name() == "conv1.weight"; });
  auto* seed = dynamic_cast<attncnn::SeedNetImpl*>(model.get());
  ASSERT_NE(seed, nullptr);
  auto folded = torch::from_blob(const_cast<char*>(w->raw_data().data()), seed->conv1->weight.sizes(), torch::kFloat);
  auto scale = seed->bn1->weight / (seed->bn1->running_var + seed->bn1->options.eps()).sqrt();
  EXPECT_TRUE(torch::allclose(folded, seed->conv1->weight * scale.view({-1, 1, 1, 1}), 1e-5, 1e-6));
}

// ---- errors ----

namespace {
// An attention module the exporter does not know.
class Unknown : public attncnn::AttentionImpl {
 public:
  Unknown() : AttentionImpl("test_unknown") {}
  torch::Tensor forward(const torch::Tensor& x) override { return x * torch::sigmoid(x); }
};
}  // namespace

TEST(ExportErrors, NameTheOptionTheSizeAndTheModule) {
  fs::create_directories(kDir);
  const std::string out = kDir + "/bad.onnx";
  auto model = attncnn::create_model(tiny_seed_net("se"));
  attncnn::OnnxExportOptions o;
  o.opset = 12;
  EXPECT_NE(error_of([&] { attncnn::export_onnx(*model, o, out); }).find("--opset 12"), std::string::npos);
  o = {};
  o.input = {1, 12, 12};
  EXPECT_NE(error_of([&] { attncnn::export_onnx(*model, o, out); }).find("takes 3 channels"), std::string::npos);
  o = {};
  o.with_preprocess = true;
  EXPECT_NE(error_of([&] { attncnn::export_onnx(*model, o, out); }).find("--with-preprocess"), std::string::npos);

  attncnn::ModelConfig fast;
  fast.name = "fastnet";
  fast.model_params = attncnn::Params::parse("widths=8,8,8");
  auto fastnet = attncnn::create_model(fast);
  o = {};
  o.input = {3, 6, 6};
  auto msg = error_of([&] { attncnn::export_onnx(*fastnet, o, out); });
  EXPECT_NE(msg.find("--input 3x6x6"), std::string::npos) << msg;
  EXPECT_NE(msg.find("too small"), std::string::npos) << msg;

  attncnn::register_attention({"test_unknown", "a module without an ONNX exporter", {}, attncnn::AttnOutput::Reweight,
                               [](int64_t, const attncnn::Params&) -> attncnn::Attention {
                                 return std::make_shared<Unknown>();
                               }});
  auto unknown = attncnn::create_model(tiny_seed_net("test_unknown"));
  msg = error_of([&] { attncnn::export_onnx(*unknown, {}, out); });
  EXPECT_NE(msg.find("layer 'attn'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'test_unknown' cannot be exported"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out));
}

TEST(ExportCli, WritesTheFileAndRejectsBadInput) {
  const std::string weights = tiny_checkpoint("cli");
  const std::string out = kDir + "/cli.onnx";
  fs::remove(out);
  auto r = run_cli("export --weights " + weights + " --out " + out + " --with-maps --opset 16");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("attn.spatial"), std::string::npos) << r.out;
  const auto m = read_model(out);
  std::map<std::string, std::string> meta;
  for (const auto& p : m.metadata_props()) meta[p.key()] = p.value();
  EXPECT_EQ(nlohmann::json::parse(meta["mean"]), nlohmann::json({0.25}));
  EXPECT_EQ(nlohmann::json::parse(meta["class_names"]), nlohmann::json({"a", "b", "c", "d", "e"}));
  EXPECT_EQ(meta["dataset"], "fashion-mnist");

  r = run_cli("export --weights " + weights + " --out " + out + " --with-preprocess --no-dynamic-batch -b 4 "
              "--no-fold-bn --input 1x16x20");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto m2 = read_model(out);
  EXPECT_EQ(m2.graph().input(0).name(), "image");
  EXPECT_EQ(m2.graph().input(0).type().tensor_type().elem_type(), onnx::TensorProto::UINT8);
  EXPECT_EQ(m2.graph().input(0).type().tensor_type().shape().dim(0).dim_value(), 4);
  EXPECT_EQ(m2.graph().input(0).type().tensor_type().shape().dim(3).dim_value(), 20);

  struct Bad {
    std::string args, expect;
  };
  for (const Bad& b : {Bad{"--weights " + kDir + "/nope.safetensors --out " + out, "nope.safetensors"},
                       Bad{"--weights " + weights + " --out " + out + " --format tflite", "--format tflite"},
                       Bad{"--weights " + weights + " --out " + out + " --opset 9", "--opset 9"},
                       Bad{"--weights " + weights + " --out " + out + " --input 3x12x12", "takes 1 channels"},
                       Bad{"--weights " + weights + " --out " + out + " --input 1x12", "--input '1x12'"},
                       Bad{"--weights " + weights + " --out " + kDir + "/no/such/dir/x.onnx", "does not exist"},
                       Bad{"--weights " + weights + " --out " + kDir, "a folder"}}) {
    r = run_cli("export " + b.args);
    EXPECT_EQ(r.code, 2) << b.args << "\n" << r.out;
    EXPECT_NE(r.out.find(b.expect), std::string::npos) << b.args << "\n" << r.out;
  }
}

#endif  // ATTNCNN_WITH_ONNX
