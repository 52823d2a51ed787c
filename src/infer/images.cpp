// Image files to model inputs, and logits to named predictions.
#include <attncnn/error.h>
#include <attncnn/infer/evaluate.h>
#include <attncnn/infer/images.h>

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace fs = std::filesystem;

namespace attncnn {

namespace {

std::string squash(const std::string& s) {
  std::string out;
  for (unsigned char c : s)
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
  return out;
}

}  // namespace

std::vector<ImageFile> expand_image_paths(const std::vector<std::string>& args) {
  std::vector<ImageFile> out;
  for (const auto& a : args) {
    std::error_code ec;
    const fs::path p(a);
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        // Hidden files and folders (".name") are skipped, as folder datasets skip them.
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
          if (it->is_directory(ec)) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file(ec) && has_image_extension(it->path().string())) found.push_back(it->path());
      }
      if (ec) input_error(a + ": cannot list the folder (" + ec.message() + ")");
      std::sort(found.begin(), found.end());
      if (found.empty()) input_error(a + ": no .png, .jpg or .jpeg files in this folder");
      for (const auto& f : found) {
        auto rel = fs::relative(f, p, ec);
        if (ec) rel = f.filename();
        rel.replace_extension();
        out.push_back({f.string(), rel.string()});
      }
    } else if (fs::exists(p, ec)) {
      out.push_back({a, p.stem().string()});
    } else {
      input_error(a + ": no such file or folder (expected PNG/JPEG files or folders of them)");
    }
  }
  return out;
}

Image load_model_image(const std::string& path, const CheckpointInfo& info) {
  if (info.input.size() != 3) input_error(path + ": the checkpoint does not record its input size");
  const int want = static_cast<int>(info.input[0]);
  if (want != 1 && want != 3) input_error(path + ": models with " + std::to_string(want) + " input channels are not supported");
  Image img = read_image(path, want);
  return resize_image(img, info.input[2], info.input[1]);
}

torch::Tensor model_input(const std::vector<Image>& images, const CheckpointInfo& info, const torch::Device& device) {
  TORCH_CHECK(!images.empty(), "model_input: no images");
  std::vector<torch::Tensor> ts;
  for (const auto& img : images) ts.push_back(image_to_tensor(img));
  return preprocess(torch::stack(ts), info.mean, info.std, device);
}

int64_t label_from_path(const std::string& path, const std::vector<std::string>& class_names) {
  const auto parent = fs::path(path).parent_path().filename().string();
  const std::string key = squash(parent);
  if (key.empty()) return -1;
  for (size_t i = 0; i < class_names.size(); ++i)
    if (squash(class_names[i]) == key) return static_cast<int64_t>(i);
  if (std::all_of(parent.begin(), parent.end(), [](unsigned char c) { return std::isdigit(c); }) && parent.size() < 6) {
    const int64_t i = std::stoll(parent);
    if (i < static_cast<int64_t>(class_names.size())) return i;
  }
  return -1;
}

std::vector<std::vector<Prediction>> top_predictions(const torch::Tensor& logits,
                                                     const std::vector<std::string>& class_names, int64_t k) {
  TORCH_CHECK(logits.dim() == 2, "top_predictions: expected N×K logits, got ", logits.sizes());
  k = std::max<int64_t>(1, std::min(k, logits.size(1)));
  auto prob = torch::softmax(logits.detach().to(torch::kCPU, torch::kDouble), 1);
  auto top = prob.topk(k, 1);
  auto p = std::get<0>(top).contiguous(), idx = std::get<1>(top).contiguous();
  std::vector<std::vector<Prediction>> out(logits.size(0));
  for (int64_t n = 0; n < logits.size(0); ++n) {
    for (int64_t j = 0; j < k; ++j) {
      Prediction pr;
      pr.index = idx[n][j].item<int64_t>();
      pr.probability = p[n][j].item<double>();
      pr.name = pr.index < static_cast<int64_t>(class_names.size()) ? class_names[pr.index]
                                                                     : "class " + std::to_string(pr.index);
      out[n].push_back(pr);
    }
  }
  return out;
}

}  // namespace attncnn
