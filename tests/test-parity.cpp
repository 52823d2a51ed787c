// Parity with timm: loads the reference files written by the Python peers in tests/peer/ (attention modules and
// whole models), rebuilds each case here, loads timm's state_dict by name and compares outputs in eval and train
// mode. Skipped unless ATTNCNN_PARITY_DIR names a folder of *.safetensors files.
//
// Each file: metadata kind (attention | model), name, params, channels (attention) or model_config (model), timm;
// tensors input, state/<key>, output_eval, output_train.
#include <attncnn/attention/registry.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/models/model.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace attncnn;
namespace fs = std::filesystem;

namespace {

struct Built {
  std::shared_ptr<torch::nn::Module> module;
  std::function<torch::Tensor(const torch::Tensor&)> forward;
};

std::string meta(const SafeTensors& st, const std::string& key) {
  auto it = st.metadata.find(key);
  return it == st.metadata.end() ? std::string() : it->second;
}

Built build(const SafeTensors& st) {
  const std::string kind = meta(st, "kind");
  if (kind == "attention") {
    auto m = create_attention(meta(st, "name"), std::stoll(meta(st, "channels")), Params::parse(meta(st, "params")));
    if (!m) throw std::runtime_error("attention '" + meta(st, "name") + "' built nothing");
    return {m, [m](const torch::Tensor& x) { return m->forward(x); }};
  }
  if (kind == "model") {
    auto m = create_model(ModelConfig::from_json(meta(st, "model_config")));
    return {m, [m](const torch::Tensor& x) { return m->forward(x); }};
  }
  throw std::runtime_error("unknown kind '" + kind + "' (expected attention or model)");
}

// Loads every state/<key> tensor into the parameter or buffer of that name. Missing, unexpected and mis-shaped keys
// are collected into `errors`; nothing is loaded partially when there is any.
void load_state(torch::nn::Module& m, const SafeTensors& st, std::vector<std::string>& errors) {
  std::map<std::string, torch::Tensor> ours;
  for (const auto& p : m.named_parameters()) ours[p.key()] = p.value();
  for (const auto& b : m.named_buffers()) ours[b.key()] = b.value();
  std::map<std::string, torch::Tensor> theirs;
  const std::string prefix = "state/";
  for (const auto& kv : st.tensors)
    if (kv.first.rfind(prefix, 0) == 0) theirs[kv.first.substr(prefix.size())] = kv.second;
  for (const auto& kv : ours)
    if (!theirs.count(kv.first)) errors.push_back("missing in timm's state: " + kv.first);
  for (const auto& kv : theirs) {
    auto it = ours.find(kv.first);
    if (it == ours.end()) {
      errors.push_back("unexpected key from timm: " + kv.first);
    } else if (it->second.sizes() != kv.second.sizes()) {
      std::ostringstream os;
      os << "shape of " << kv.first << ": ours " << it->second.sizes() << ", timm " << kv.second.sizes();
      errors.push_back(os.str());
    }
  }
  if (!errors.empty()) return;
  torch::NoGradGuard g;
  for (auto& kv : ours) kv.second.copy_(theirs.at(kv.first).to(kv.second.dtype()));
}

struct Outcome {
  double eval_diff = -1, train_diff = -1, eval_tol = 0, train_tol = 0;
  std::vector<std::string> errors;
};

double compare(const torch::Tensor& ours, const torch::Tensor& timm, double* tol, std::vector<std::string>& errors,
               const char* what) {
  *tol = 1e-4 * std::max(1.0, timm.abs().max().item<double>());
  if (ours.sizes() != timm.sizes()) {
    std::ostringstream os;
    os << what << " shape: ours " << ours.sizes() << ", timm " << timm.sizes();
    errors.push_back(os.str());
    return -1;
  }
  return (ours.to(torch::kDouble) - timm.to(torch::kDouble)).abs().max().item<double>();
}

Outcome run_case(const SafeTensors& st) {
  Outcome out;
  const auto& input = st.at("input");
  torch::NoGradGuard g;
  // Eval first, then train on a freshly built and loaded copy, as the peer does.
  {
    Built b = build(st);
    load_state(*b.module, st, out.errors);
    if (!out.errors.empty()) return out;
    b.module->eval();
    out.eval_diff = compare(b.forward(input), st.at("output_eval"), &out.eval_tol, out.errors, "output_eval");
  }
  {
    Built b = build(st);
    load_state(*b.module, st, out.errors);
    if (!out.errors.empty()) return out;
    b.module->train();
    out.train_diff = compare(b.forward(input), st.at("output_train"), &out.train_tol, out.errors, "output_train");
  }
  return out;
}

}  // namespace

TEST(Parity, TimmReferenceFiles) {
  const char* dir = std::getenv("ATTNCNN_PARITY_DIR");
  if (!dir || !fs::is_directory(dir)) GTEST_SKIP() << "ATTNCNN_PARITY_DIR is unset or not a folder";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) GTEST_SKIP() << "no .safetensors files in " << dir;
  int failed = 0;
  for (const auto& f : files) {
    SCOPED_TRACE(f.filename().string());
    std::string name = f.filename().string(), expr;
    Outcome o;
    try {
      const SafeTensors st = load_safetensors(f.string());
      name = meta(st, "kind") + ":" + meta(st, "name") + (meta(st, "params").empty() ? "" : "[" + meta(st, "params") + "]");
      expr = meta(st, "timm");
      o = run_case(st);
    } catch (const std::exception& e) {
      o.errors.push_back(e.what());
    }
    const bool pass = o.errors.empty() && o.eval_diff >= 0 && o.eval_diff <= o.eval_tol && o.train_diff >= 0 &&
                      o.train_diff <= o.train_tol;
    std::printf("%-48s %-60s eval %.3g train %.3g %s\n", name.c_str(), expr.c_str(), o.eval_diff, o.train_diff,
                pass ? "PASS" : "FAIL");
    for (const auto& e : o.errors) std::printf("    %s\n", e.c_str());
    std::fflush(stdout);
    if (!pass) ++failed;
    EXPECT_TRUE(pass) << name << " (" << expr << "): eval diff " << o.eval_diff << " (tol " << o.eval_tol
                      << "), train diff " << o.train_diff << " (tol " << o.train_tol << ")";
  }
  std::printf("parity: %zu files, %d failed\n", files.size(), failed);
}
