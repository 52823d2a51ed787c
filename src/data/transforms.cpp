#include <attncnn/data/dataset.h>
#include <attncnn/data/transforms.h>
#include <attncnn/error.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

namespace attncnn {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t sample_key(uint64_t seed, int64_t epoch, int64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}

namespace {

// A stream of numbers drawn from one sample key: value k is splitmix64(key + k).
struct Stream {
  uint64_t key, k = 0;
  uint64_t next() { return splitmix64(key + 0x632be59bd9b4e019ULL * ++k); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int64_t below(int64_t n) { return n <= 1 ? 0 : static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Taps of a 1-D antialiased linear resampling from `len` source samples onto `out` samples of a grid of `full`
// samples (the resized length) starting at `offset` (the centre-crop offset).
struct Taps {
  std::vector<int64_t> start, count;
  std::vector<float> weight;  // `width` weights per output sample
  int64_t width = 0;
};
Taps make_taps(int64_t len, int64_t full, int64_t offset, int64_t out) {
  const double scale = static_cast<double>(len) / static_cast<double>(full);
  const double support = std::max(1.0, scale);
  Taps t;
  t.width = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.start.resize(out);
  t.count.resize(out);
  t.weight.assign(static_cast<size_t>(out * t.width), 0.f);
  std::vector<double> w;
  for (int64_t j = 0; j < out; ++j) {
    const double center = (static_cast<double>(j + offset) + 0.5) * scale;
    int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(center - support)));
    int64_t hi = std::min<int64_t>(len, static_cast<int64_t>(std::ceil(center + support)));
    if (hi <= lo) lo = std::min(lo, len - 1), hi = lo + 1;
    hi = std::min(hi, lo + t.width);
    double sum = 0;
    w.assign(static_cast<size_t>(hi - lo), 0.0);
    for (int64_t i = lo; i < hi; ++i) {
      const double d = std::abs((static_cast<double>(i) + 0.5 - center) / support);
      w[i - lo] = std::max(0.0, 1.0 - d);
      sum += w[i - lo];
    }
    if (sum <= 0) {  // the centre sits exactly between taps of zero weight: take the nearest sample
      std::fill(w.begin(), w.end(), 0.0);
      w[std::min<int64_t>(hi - lo - 1, std::max<int64_t>(0, static_cast<int64_t>(center) - lo))] = 1.0;
      sum = 1.0;
    }
    t.start[j] = lo;
    t.count[j] = hi - lo;
    for (int64_t i = 0; i < hi - lo; ++i) t.weight[j * t.width + i] = static_cast<float>(w[i] / sum);
  }
  return t;
}

// Source index for an output index along one axis; -1 means "zero".
inline int64_t resolve(int64_t i, int64_t len, bool reflect) {
  if (i >= 0 && i < len) return i;
  if (!reflect) return -1;
  if (i < 0) i = -i;
  if (i >= len) i = 2 * len - 2 - i;
  return (i >= 0 && i < len) ? i : -1;
}

}  // namespace

std::vector<uint8_t> resize_center_crop(const uint8_t* src, int64_t h, int64_t w, int64_t channels, int64_t size) {
  TORCH_CHECK(h > 0 && w > 0 && channels > 0 && size > 0, "resize_center_crop: bad sizes");
  if (h == size && w == size) return std::vector<uint8_t>(src, src + size * size * channels);
  const double scale = static_cast<double>(size) / static_cast<double>(std::min(h, w));
  const int64_t nh = std::max<int64_t>(size, std::llround(h * scale));
  const int64_t nw = std::max<int64_t>(size, std::llround(w * scale));
  const Taps ty = make_taps(h, nh, (nh - size) / 2, size);
  const Taps tx = make_taps(w, nw, (nw - size) / 2, size);
  // Horizontal pass over only the source rows the vertical pass will read.
  int64_t row_lo = h, row_hi = 0;
  for (int64_t j = 0; j < size; ++j) row_lo = std::min(row_lo, ty.start[j]), row_hi = std::max(row_hi, ty.start[j] + ty.count[j]);
  std::vector<float> tmp(static_cast<size_t>((row_hi - row_lo) * size * channels));
  for (int64_t y = row_lo; y < row_hi; ++y) {
    const uint8_t* row = src + y * w * channels;
    float* t = tmp.data() + (y - row_lo) * size * channels;
    for (int64_t x = 0; x < size; ++x) {
      const float* wt = tx.weight.data() + x * tx.width;
      for (int64_t c = 0; c < channels; ++c) {
        float acc = 0.f;
        for (int64_t i = 0; i < tx.count[x]; ++i) acc += wt[i] * row[(tx.start[x] + i) * channels + c];
        t[x * channels + c] = acc;
      }
    }
  }
  std::vector<uint8_t> out(static_cast<size_t>(size * size * channels));
  const int64_t row_len = size * channels;
  std::vector<float> acc(static_cast<size_t>(row_len));
  for (int64_t y = 0; y < size; ++y) {
    const float* wt = ty.weight.data() + y * ty.width;
    // Whole rows at a time: the inner loop is a vectorisable multiply-add.
    std::fill(acc.begin(), acc.end(), 0.f);
    for (int64_t i = 0; i < ty.count[y]; ++i) {
      const float wi = wt[i];
      const float* r = tmp.data() + (ty.start[y] + i - row_lo) * row_len;
      for (int64_t xc = 0; xc < row_len; ++xc) acc[xc] += wi * r[xc];
    }
    uint8_t* o = out.data() + y * row_len;
    for (int64_t xc = 0; xc < row_len; ++xc)
      o[xc] = static_cast<uint8_t>(std::min(255.f, std::max(0.f, acc[xc] + 0.5f)));
  }
  return out;
}

std::string Transform::to_json() const {
  nlohmann::json j;
  j["mean"] = mean;
  j["std"] = std;
  j["resize"] = resize;
  j["crop"] = crop;
  j["padding"] = padding;
  j["padding_mode"] = padding_mode;
  j["hflip"] = hflip;
  j["flip_mode"] = flip_mode;
  j["erase"] = erase;
  j["erase_min_area"] = erase_min_area;
  j["erase_max_area"] = erase_max_area;
  j["erase_max_ratio"] = erase_max_ratio;
  return j.dump();
}

namespace {
void check_transform(const Transform& t) {
  auto bad = [](const std::string& what) { input_error("transform: " + what); };
  if (t.resize < 0) bad("resize=" + std::to_string(t.resize) + ": expected 0 (off) or a size in pixels");
  if (t.crop < 0) bad("crop=" + std::to_string(t.crop) + ": expected 0 (image size) or a size in pixels");
  if (t.padding < 0) bad("pad=" + std::to_string(t.padding) + ": expected 0 or more pixels");
  if (t.padding_mode != "zero" && t.padding_mode != "reflect")
    bad("pad_mode=" + t.padding_mode + ": expected zero or reflect");
  if (!(t.hflip >= 0 && t.hflip <= 1)) bad("flip=" + num(t.hflip) + ": expected a probability in [0, 1]");
  if (t.flip_mode != "random" && t.flip_mode != "alternate")
    bad("flip_mode=" + t.flip_mode + ": expected random or alternate");
  if (!(t.erase >= 0 && t.erase <= 1)) bad("erase=" + num(t.erase) + ": expected a probability in [0, 1]");
  if (!(t.erase_min_area > 0 && t.erase_min_area <= t.erase_max_area && t.erase_max_area <= 1))
    bad("erase_area=" + num(t.erase_min_area) + ":" + num(t.erase_max_area) + ": expected 0 < min <= max <= 1");
  if (!(t.erase_max_ratio >= 1)) bad("erase_ratio=" + num(t.erase_max_ratio) + ": expected 1 or more");
  if (t.mean.size() != t.std.size())
    bad(std::to_string(t.mean.size()) + " mean value(s) but " + std::to_string(t.std.size()) + " std value(s)");
  for (double s : t.std)
    if (!(s > 0) || !std::isfinite(s)) bad("std " + num(s) + ": expected a positive number");
  for (double m : t.mean)
    if (!std::isfinite(m)) bad("mean " + num(m) + ": expected a finite number");
}
}  // namespace

Transform Transform::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    input_error("transform: not valid JSON: " + std::string(e.what()));
  }
  if (!j.is_object()) input_error("transform: expected a JSON object, got " + text);
  Transform t;
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const auto& k = it.key();
      const auto& v = it.value();
      if (k == "mean") t.mean = v.get<std::vector<double>>();
      else if (k == "std") t.std = v.get<std::vector<double>>();
      else if (k == "resize") t.resize = v.get<int64_t>();
      else if (k == "crop") t.crop = v.get<int64_t>();
      else if (k == "padding") t.padding = v.get<int64_t>();
      else if (k == "padding_mode") t.padding_mode = v.get<std::string>();
      else if (k == "hflip") t.hflip = v.get<double>();
      else if (k == "flip_mode") t.flip_mode = v.get<std::string>();
      else if (k == "erase") t.erase = v.get<double>();
      else if (k == "erase_min_area") t.erase_min_area = v.get<double>();
      else if (k == "erase_max_area") t.erase_max_area = v.get<double>();
      else if (k == "erase_max_ratio") t.erase_max_ratio = v.get<double>();
      else
        input_error("transform: unknown key '" + k + "'; valid keys: mean, std, resize, crop, padding, padding_mode, "
                    "hflip, flip_mode, erase, erase_min_area, erase_max_area, erase_max_ratio");
    }
  } catch (const nlohmann::json::exception& e) {
    input_error("transform: wrong value type in " + text + ": " + e.what());
  }
  check_transform(t);
  return t;
}

Transform Transform::parse(const std::string& text) {
  size_t b = text.find_first_not_of(" \t\n");
  if (b == std::string::npos || text == "none") return Transform{};
  if (text[b] == '{') return from_json(text);
  Transform t;
  auto number = [](const std::string& key, const std::string& v) {
    try {
      size_t used = 0;
      const double d = std::stod(v, &used);
      if (used != v.size()) throw std::invalid_argument(v);
      return d;
    } catch (const std::exception&) {
      input_error("transform: " + key + "=" + v + ": expected a number");
    }
  };
  auto integer = [&](const std::string& key, const std::string& v) {
    const double d = number(key, v);
    if (d != std::floor(d) || std::abs(d) > 1e9) input_error("transform: " + key + "=" + v + ": expected an integer");
    return static_cast<int64_t>(d);
  };
  auto list = [&](const std::string& key, const std::string& v) {
    std::vector<double> out;
    size_t s = 0;
    while (s <= v.size()) {
      const size_t e = std::min(v.find(':', s), v.size());
      out.push_back(number(key, v.substr(s, e - s)));
      s = e + 1;
    }
    return out;
  };
  size_t s = 0;
  while (s < text.size()) {
    const size_t e = std::min(text.find(',', s), text.size());
    const std::string item = text.substr(s, e - s);
    s = e + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos)
      input_error("transform: '" + item + "': expected key=value (e.g. crop=32,pad=4,flip=0.5)");
    const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "crop") t.crop = integer(k, v);
    else if (k == "pad" || k == "padding") t.padding = integer(k, v);
    else if (k == "pad_mode" || k == "padding_mode") t.padding_mode = v;
    else if (k == "flip_mode") t.flip_mode = v;
    else if (k == "flip" || k == "hflip") t.hflip = number(k, v);
    else if (k == "erase") t.erase = number(k, v);
    else if (k == "erase_area") {
      auto a = list(k, v);
      if (a.size() != 2) input_error("transform: erase_area=" + v + ": expected min:max");
      t.erase_min_area = a[0], t.erase_max_area = a[1];
    } else if (k == "erase_ratio") t.erase_max_ratio = number(k, v);
    else if (k == "resize") t.resize = integer(k, v);
    else if (k == "mean") t.mean = list(k, v);
    else if (k == "std") t.std = list(k, v);
    else
      input_error("transform: unknown key '" + k + "'; valid keys: crop, pad, pad_mode, flip, flip_mode, erase, "
                  "erase_area, erase_ratio, resize, mean, std");
  }
  check_transform(t);
  return t;
}

Transform Transform::eval_part() const {
  Transform t = *this;
  t.padding = 0;
  t.hflip = 0;
  t.erase = 0;
  return t;
}

bool Transform::is_random() const { return padding > 0 || crop > 0 || hflip > 0 || erase > 0; }

void Transform::fit(const torch::Tensor& images_u8) {
  if (!mean.empty() && !std.empty()) return;
  auto s = channel_stats(images_u8);
  if (mean.empty()) mean = s.first;
  if (std.empty()) std = s.second;
  for (auto& v : std)
    if (!(v > 1e-6)) v = 1.0;  // a constant channel: keep the scale instead of dividing by zero
}

std::pair<int64_t, int64_t> Transform::output_size(int64_t h, int64_t w) const {
  check_transform(*this);
  if (resize > 0) h = w = resize;
  if (padding_mode == "reflect" && padding >= std::min(h, w))
    input_error("transform: pad=" + std::to_string(padding) + " with pad_mode=reflect needs images larger than the "
                "padding, got " + std::to_string(h) + "x" + std::to_string(w));
  if (crop == 0) return {h, w};
  if (crop > std::min(h, w) + 2 * padding)
    input_error("transform: crop=" + std::to_string(crop) + " does not fit in " + std::to_string(h) + "x" +
                std::to_string(w) + " images padded by " + std::to_string(padding));
  return {crop, crop};
}

namespace {
// Draws the crop origin and flip from the sample's stream `r`; erasing continues the same stream.
AugmentParams draw_crop_flip(Stream& r, const CropFlipSpec& s, uint64_t seed, int64_t epoch, int64_t index) {
  AugmentParams p;
  p.top = r.below(s.top_choices);
  p.left = r.below(s.left_choices);
  p.flip = s.hflip > 0 && r.uniform() < s.hflip;
  if (s.hflip > 0 && s.alternate) {
    // One draw per image for the whole run, inverted on every other epoch.
    Stream once{sample_key(seed, -1, index)};
    p.flip = (once.uniform() < s.hflip) != (epoch % 2 == 0);
  }
  return p;
}
}  // namespace

AugmentParams crop_flip_params(const CropFlipSpec& spec, uint64_t seed, int64_t epoch, int64_t index) {
  Stream r{sample_key(seed, epoch, index)};
  return draw_crop_flip(r, spec, seed, epoch, index);
}

CropFlipSpec Transform::crop_flip_spec(int64_t h, int64_t w) const {
  if (resize > 0) h = w = resize;
  const auto o = output_size(h, w);
  CropFlipSpec s;
  s.top_choices = h + 2 * padding - o.first + 1;
  s.left_choices = w + 2 * padding - o.second + 1;
  s.hflip = hflip;
  s.alternate = flip_mode == "alternate";
  return s;
}

AugmentParams Transform::params(uint64_t seed, int64_t epoch, int64_t index, int64_t h, int64_t w) const {
  const CropFlipSpec spec = crop_flip_spec(h, w);
  if (resize > 0) h = w = resize;
  const std::pair<int64_t, int64_t> o{h + 2 * padding - spec.top_choices + 1,
                                      w + 2 * padding - spec.left_choices + 1};  // output_size(h, w)
  Stream r{sample_key(seed, epoch, index)};
  AugmentParams p = draw_crop_flip(r, spec, seed, epoch, index);
  if (erase > 0 && r.uniform() < erase) {
    const double area = (erase_min_area + r.uniform() * (erase_max_area - erase_min_area)) * o.first * o.second;
    const double lr = std::log(erase_max_ratio);
    const double ratio = std::exp((2 * r.uniform() - 1) * lr);
    p.erase_height = std::min<int64_t>(o.first, std::max<int64_t>(1, std::llround(std::sqrt(area * ratio))));
    p.erase_width = std::min<int64_t>(o.second, std::max<int64_t>(1, std::llround(std::sqrt(area / ratio))));
    p.erase_top = r.below(o.first - p.erase_height + 1);
    p.erase_left = r.below(o.second - p.erase_width + 1);
    p.erase = true;
  }
  return p;
}

torch::Tensor Transform::apply(const torch::Tensor& images_u8, const torch::Tensor& indices, uint64_t seed,
                               int64_t epoch, bool augment) const {
  TORCH_CHECK(images_u8.dim() == 4 && images_u8.scalar_type() == torch::kUInt8 && images_u8.device().is_cpu(),
              "Transform::apply: expected CPU uint8 N×C×H×W images");
  TORCH_CHECK(indices.dim() == 1 && indices.scalar_type() == torch::kLong && indices.device().is_cpu(),
              "Transform::apply: expected CPU int64 indices");
  const auto images = images_u8.contiguous();
  const auto idx_t = indices.contiguous();
  const int64_t N = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
  const int64_t n = idx_t.size(0);
  const Transform& t = augment ? *this : eval_part();
  const auto o = t.output_size(H, W);
  const int64_t oh = o.first, ow = o.second;
  const int64_t sh = resize > 0 ? resize : H, sw = resize > 0 ? resize : W;
  const bool do_resize = resize > 0 && (H != resize || W != resize);
  const bool reflect = t.padding_mode == "reflect";
  std::vector<uint8_t> fill(C, 0);
  if (t.erase > 0)
    for (int64_t c = 0; c < C; ++c)
      fill[c] = static_cast<uint8_t>(std::llround(255.0 * std::min(1.0, std::max(0.0, c < (int64_t)mean.size() ? mean[c] : 0.0))));

  auto out = torch::empty({n, C, oh, ow}, torch::kUInt8);
  uint8_t* dst = out.data_ptr<uint8_t>();
  const uint8_t* src_all = images.data_ptr<uint8_t>();
  const int64_t* idx = idx_t.data_ptr<int64_t>();
  std::vector<int64_t> xs(ow);
  std::vector<uint8_t> resized;
  for (int64_t s = 0; s < n; ++s) {
    const int64_t i = idx[s];
    TORCH_CHECK(i >= 0 && i < N, "Transform::apply: index ", i, " out of range for ", N, " images");
    const uint8_t* src = src_all + i * C * H * W;
    if (do_resize) {
      resized.resize(static_cast<size_t>(C * sh * sw));
      for (int64_t c = 0; c < C; ++c) {
        auto plane = resize_center_crop(src + c * H * W, H, W, 1, resize);
        std::memcpy(resized.data() + c * sh * sw, plane.data(), plane.size());
      }
      src = resized.data();
    }
    AugmentParams p;
    if (augment) {
      p = t.params(seed, epoch, i, H, W);
    } else {
      // Centre crop (or centred zero padding when the crop is larger than the image).
      auto floor_half = [](int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
      p.top = floor_half(sh - oh);
      p.left = floor_half(sw - ow);
    }
    const int64_t pad = augment ? t.padding : 0;
    for (int64_t x = 0; x < ow; ++x) xs[x] = resolve((p.flip ? ow - 1 - x : x) + p.left - pad, sw, reflect);
    uint8_t* d = dst + s * C * oh * ow;
    for (int64_t c = 0; c < C; ++c) {
      const uint8_t* plane = src + c * sh * sw;
      for (int64_t y = 0; y < oh; ++y) {
        uint8_t* drow = d + (c * oh + y) * ow;
        const int64_t sy = resolve(y + p.top - pad, sh, reflect);
        if (sy < 0) {
          std::memset(drow, 0, static_cast<size_t>(ow));
          continue;
        }
        const uint8_t* srow = plane + sy * sw;
        if (!p.flip && xs[0] >= 0 && xs[ow - 1] == xs[0] + ow - 1) {
          std::memcpy(drow, srow + xs[0], static_cast<size_t>(ow));
        } else {
          for (int64_t x = 0; x < ow; ++x) drow[x] = xs[x] >= 0 ? srow[xs[x]] : 0;
        }
      }
      if (p.erase)
        for (int64_t y = p.erase_top; y < p.erase_top + p.erase_height; ++y)
          std::memset(d + (c * oh + y) * ow + p.erase_left, fill[c], static_cast<size_t>(p.erase_width));
    }
  }
  return out;
}

torch::Tensor Transform::normalize(const torch::Tensor& batch_u8) const {
  TORCH_CHECK(batch_u8.dim() == 4, "Transform::normalize: expected N×C×H×W");
  const int64_t C = batch_u8.size(1);
  if (static_cast<int64_t>(mean.size()) != C || static_cast<int64_t>(std.size()) != C)
    input_error("transform: " + std::to_string(C) + " channel(s) but " + std::to_string(mean.size()) + " mean and " +
                std::to_string(std.size()) + " std value(s); call fit() or give mean/std per channel");
  const NormalizeAffine affine(mean, std, batch_u8.device());
  if (!batch_u8.device().is_cpu()) return affine(batch_u8);
  // On the CPU a plain loop over contiguous planes beats addcmul's broadcasting on one worker thread.
  const float* scale = affine.scale.data_ptr<float>();
  const float* shift = affine.shift.data_ptr<float>();
  const auto x = batch_u8.contiguous();
  auto out = torch::empty(x.sizes(), torch::kFloat);
  const int64_t n = x.size(0), hw = x.size(2) * x.size(3);
  const uint8_t* src = x.data_ptr<uint8_t>();
  float* dst = out.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < C; ++c) {
      const uint8_t* sp = src + (i * C + c) * hw;
      float* dp = dst + (i * C + c) * hw;
      const float a = scale[c], b = shift[c];
      for (int64_t k = 0; k < hw; ++k) dp[k] = static_cast<float>(sp[k]) * a + b;
    }
  return out;
}

NormalizeAffine::NormalizeAffine(const std::vector<double>& mean, const std::vector<double>& std,
                                 const torch::Device& device) {
  TORCH_CHECK(mean.size() == std.size(), "normalisation: ", mean.size(), " means but ", std.size(), " stds");
  const int64_t c = static_cast<int64_t>(mean.size());
  scale = torch::empty({1, c, 1, 1}, torch::kFloat);
  shift = torch::empty({1, c, 1, 1}, torch::kFloat);
  for (int64_t i = 0; i < c; ++i) {
    scale.data_ptr<float>()[i] = static_cast<float>(1.0 / (255.0 * std[i]));
    shift.data_ptr<float>()[i] = static_cast<float>(-mean[i] / std[i]);
  }
  scale = scale.to(device);
  shift = shift.to(device);
}

torch::Tensor NormalizeAffine::operator()(const torch::Tensor& images_u8) const {
  TORCH_CHECK(images_u8.dim() == 4 && images_u8.size(1) == scale.size(1), "normalisation: expected N×",
              scale.size(1), "×H×W images (one mean and std per channel), got ", images_u8.sizes());
  return torch::addcmul(shift, images_u8.to(torch::kFloat), scale);
}

}  // namespace attncnn
