#include <attncnn/attention/base.h>
#include <attncnn/error.h>
#include <attncnn/explain/explain.h>
#include <attncnn/explain/gradcam.h>
#include <attncnn/infer/images.h>
#include <attncnn/io/text.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/models/capture.h>

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace attncnn {

namespace {

std::string sanitize(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (std::isalnum(c) || c == '-') ? static_cast<char>(c) : '_';
  return out.empty() ? "_" : out;
}

std::string method_tag(const std::string& method) {
  std::string m = method;
  const auto p = m.find("++");
  if (p != std::string::npos) m.replace(p, 2, "pp");
  return sanitize(m);
}

std::string fixed(double v, int digits) {
  std::ostringstream ss;
  ss << std::fixed << std::setprecision(digits) << v;
  return ss.str();
}

Image gray_or_rgb(const Image& img) { return convert_channels(img, img.channels <= 2 ? 1 : 3); }

// The best activation for showing a channel map of `layer` with `c` channels: the capture point of that name, else
// the longest capture point name that encloses it, else the last point with c channels.
const std::pair<std::string, at::Tensor>* channel_source(const Capture& cap, const std::string& layer, int64_t c) {
  const std::pair<std::string, at::Tensor>* best = nullptr;
  size_t best_len = 0;
  const std::pair<std::string, at::Tensor>* last = nullptr;
  for (const auto& p : cap.points()) {
    if (p.second.dim() != 4 || p.second.size(1) != c) continue;
    if (p.first == layer) return &p;
    if (layer.compare(0, p.first.size() + 1, p.first + ".") == 0 && p.first.size() > best_len) {
      best = &p;
      best_len = p.first.size();
    }
    last = &p;
  }
  return best ? best : last;
}

}  // namespace

void set_methods(ExplainOptions& o, const std::string& method) {
  if (method == "all") o.maps = o.gradcam = o.gradcampp = true;
  else if (method == "maps") o.maps = true, o.gradcam = o.gradcampp = false;
  else if (method == "gradcam") o.gradcam = true, o.maps = o.gradcampp = false;
  else if (method == "gradcam++") o.gradcampp = true, o.maps = o.gradcam = false;
  else input_error("--method " + method + ": expected maps, gradcam, gradcam++ or all");
}

std::vector<ExplainMap> explain_maps(ModelImpl& model, const torch::Tensor& x, const ExplainOptions& options,
                                     torch::Tensor* logits) {
  TORCH_CHECK(x.dim() == 4 && x.size(0) == 1, "explain_maps: expected one 1×C×H×W image, got ", x.sizes());
  const int64_t h = x.size(2), w = x.size(3);
  std::vector<ExplainMap> out;
  if (options.maps || logits) {
    torch::NoGradGuard no_grad;
    set_record_maps(model, true);
    Capture cap;
    auto y = model.forward(x);
    if (logits) *logits = y.detach();
    std::vector<LayerMap> maps;
    if (options.maps) maps = collect_maps(model);
    set_record_maps(model, false);
    for (const auto& lm : maps) {
      const auto& m = lm.map;
      const std::string type = lm.type.empty() ? "attention" : lm.type;
      if (m.kind == MapKind::Spatial && m.value.dim() == 4) {
        const int64_t k = m.value.size(1);
        auto v = m.value[0].to(torch::kFloat).mean(0, /*keepdim=*/true);
        ExplainMap e;
        e.layer = lm.layer;
        e.method = m.name == "spatial" ? "attn" : "attn-" + m.name;
        e.label = "attention map" + (m.name == "spatial" ? std::string() : " '" + m.name + "'") + " (" + type + ")" +
                  (k > 1 ? ", mean of " + std::to_string(k) : std::string());
        e.map = upsample_maps(v, h, w)[0];
        out.push_back(std::move(e));
      } else if (m.kind == MapKind::Channel && m.value.dim() >= 2) {
        auto weights = m.value[0].to(torch::kFloat).flatten();
        const auto* src = channel_source(cap, lm.layer, weights.size(0));
        if (!src) continue;
        auto act = src->second[0].detach().to(torch::kFloat).abs();
        auto v = (weights.view({-1, 1, 1}) * act).sum(0, /*keepdim=*/true);
        ExplainMap e;
        e.layer = lm.layer;
        e.method = m.name == "channel" ? "chanact" : "chanact-" + m.name;
        e.label = "channel-weighted activation sum w|A| at " + src->first + " (" + type + " channel weights" +
                  (m.name == "channel" ? std::string() : " '" + m.name + "'") + ")";
        e.map = upsample_maps(v, h, w)[0];
        out.push_back(std::move(e));
      }
    }
  }
  if (options.gradcam || options.gradcampp) {
    CamOptions co;
    co.layer = options.layer;
    co.target_class = options.target_class;
    auto r = grad_cam(model, x, co);
    const int64_t c = r.classes[0].item<int64_t>();
    const std::string cls = c < static_cast<int64_t>(options.class_names.size())
                                ? "for " + options.class_names[c]
                                : "for class " + std::to_string(c);
    if (options.gradcam)
      out.push_back({r.layer, "gradcam", "Grad-CAM at " + r.layer + " " + cls, upsample_maps(r.gradcam_raw, h, w)[0]});
    if (options.gradcampp)
      out.push_back(
          {r.layer, "gradcam++", "Grad-CAM++ at " + r.layer + " " + cls, upsample_maps(r.gradcampp_raw, h, w)[0]});
  }
  return out;
}

MapStats map_stats(const torch::Tensor& map) {
  TORCH_CHECK(map.dim() == 2, "map_stats: expected an H×W map, got ", map.sizes());
  auto m = map.detach().to(torch::kCPU, torch::kDouble).contiguous();
  MapStats s;
  s.min = m.min().item<double>();
  s.max = m.max().item<double>();
  const int64_t h = m.size(0), w = m.size(1);
  const int64_t peak = m.flatten().argmax().item<int64_t>();
  s.peak_x = peak % w;
  s.peak_y = peak / w;
  auto mass = m.clamp_min(0);
  const double total = mass.sum().item<double>();
  const int64_t y0 = h / 4, y1 = h - h / 4, x0 = w / 4, x1 = w - w / 4;
  const double inner = mass.slice(0, y0, y1).slice(1, x0, x1).sum().item<double>();
  s.center_share = total > 0 ? inner / total : 0.0;
  return s;
}

namespace {

// maps.json: the options, every image's predictions and every map's file and statistics, and the failures.
nlohmann::json maps_json(const ExplainReport& report, const CheckpointInfo& info, const ExplainOptions& options) {
  nlohmann::json j;
  j["colormap"] = colormap_name(options.colormap);
  j["alpha"] = options.alpha;
  j["input"] = info.input;
  j["class_names"] = info.class_names;
  j["images"] = nlohmann::json::array();
  j["maps"] = nlohmann::json::array();
  for (const auto& r : report.images) {
    nlohmann::json ji;
    ji["image"] = r.path;
    ji["name"] = r.name;
    ji["input_png"] = r.input_file;
    ji["true_label"] = r.true_label >= 0 ? nlohmann::json(info.class_names[r.true_label]) : nlohmann::json(nullptr);
    ji["explained_class"] = r.explained_class;
    ji["top"] = nlohmann::json::array();
    for (const auto& p : r.top) ji["top"].push_back({{"class", p.name}, {"index", p.index}, {"probability", p.probability}});
    j["images"].push_back(ji);
    for (const auto& m : r.maps) {
      j["maps"].push_back({{"image", r.path},
                           {"layer", m.layer},
                           {"method", m.method},
                           {"label", m.label},
                           {"file", m.file},
                           {"min", m.stats.min},
                           {"max", m.stats.max},
                           {"peak", {{"x", m.stats.peak_x}, {"y", m.stats.peak_y}}},
                           {"center_share", m.stats.center_share}});
    }
  }
  j["errors"] = nlohmann::json::array();
  for (const auto& f : report.failures) j["errors"].push_back({{"image", f.first}, {"error", f.second}});
  return j;
}

// index.html: a table of images, their top predictions and their maps; opens from disk (inline CSS, relative links).
std::string gallery_html(const ExplainReport& report, const CheckpointInfo& info, const ExplainOptions& options) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>attncnn explain</title>\n<style>\n"
       "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:16px;color:#222;"
       "background:#f7f7f7}\nh1{font-size:20px;margin:0 0 4px}\n.meta{color:#555;font-size:13px;margin-bottom:10px}\n"
       "table{border-collapse:collapse;background:#fff}\nth{text-align:left;font-size:13px;color:#555;padding:6px;"
       "border-bottom:2px solid #ccc}\ntd{vertical-align:top;padding:8px 6px;border-bottom:1px solid #ddd}\n"
       "figure{display:inline-block;margin:0 6px 4px 0;vertical-align:top;width:144px}\n"
       "figure img{width:144px;height:auto;image-rendering:pixelated;border:1px solid #ccc}\n"
       "figcaption{font-size:11px;line-height:1.3;color:#333;word-wrap:break-word}\n"
       "figcaption b{font-size:12px}\nol{margin:0;padding-left:20px;font-size:13px;min-width:170px}\n"
       ".ok{color:#07602a;font-weight:600}.bad{color:#b00020;font-weight:600}\n.true{font-size:13px;margin-top:4px}\n"
       ".range{color:#777}\n.legend img{width:256px;height:12px;vertical-align:middle;border:1px solid #ccc}\n.err{color:#b00020}\n"
       "</style></head><body>\n";
  h << "<h1>attncnn explain: " << html_escape(info.model.name) << " + " << html_escape(info.model.attn) << "</h1>\n";
  h << "<div class=\"meta\">" << report.images.size() << " image(s), input " << info.input[0] << "&times;"
    << info.input[1] << "&times;" << info.input[2] << ", explained class: "
    << (options.target_class >= 0 ? html_escape(info.class_names.at(options.target_class)) : std::string("prediction"))
    << ". Each map is normalised to its own range, then blended over the image (alpha " << fixed(options.alpha, 2)
    << ").</div>\n<div class=\"meta legend\">low <img src=\"colorbar.png\" alt=\"colour bar\"> high ("
    << colormap_name(options.colormap) << ")</div>\n";
  int64_t labelled = 0, right = 0;
  for (const auto& r : report.images) {
    if (r.true_label < 0) continue;
    ++labelled;
    right += !r.top.empty() && r.top[0].index == r.true_label;
  }
  if (labelled)
    h << "<div class=\"meta\">top-1 correct on the images with a known label: " << right << " of " << labelled
      << "</div>\n";
  h << "<table><tr><th>image</th><th>top-" << options.topk << " predictions</th><th>maps</th></tr>\n";
  for (const auto& r : report.images) {
    h << "<tr><td><figure><img src=\"" << r.input_file << "\" alt=\"input\"><figcaption><b>"
      << html_escape(r.name) << "</b></figcaption></figure>";
    if (r.true_label >= 0) {
      const bool ok = !r.top.empty() && r.top[0].index == r.true_label;
      h << "<div class=\"true\">true: <span class=\"" << (ok ? "ok" : "bad") << "\">"
        << html_escape(info.class_names[r.true_label]) << "</span></div>";
    }
    h << "</td><td><ol>";
    for (const auto& p : r.top)
      h << "<li>" << html_escape(p.name) << " " << fixed(100 * p.probability, 1) << "%</li>";
    h << "</ol></td><td>";
    for (const auto& m : r.maps)
      h << "<figure><img src=\"" << m.file << "\" alt=\"" << html_escape(m.layer + " " + m.method)
        << "\"><figcaption><b>" << html_escape(m.layer.empty() ? "model" : m.layer) << "</b> &middot; "
        << html_escape(m.method) << "<br>" << html_escape(m.label) << "<br><span class=\"range\">values "
        << fixed(m.stats.min, 3) << " to " << fixed(m.stats.max, 3) << "</span></figcaption></figure>";
    h << "</td></tr>\n";
  }
  h << "</table>\n";
  if (!report.failures.empty()) {
    h << "<h2>Not explained</h2><ul>\n";
    for (const auto& f : report.failures) h << "<li class=\"err\">" << html_escape(f.second) << "</li>\n";
    h << "</ul>\n";
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace

ExplainReport explain_images(ModelImpl& model, const CheckpointInfo& info, const std::vector<ImageFile>& files,
                             const std::string& out_dir, const ExplainOptions& given, std::ostream& log) {
  ExplainOptions options = given;
  if (options.class_names.empty()) options.class_names = info.class_names;
  if (options.topk < 1) input_error("--topk " + std::to_string(options.topk) + ": expected at least 1");
  if (!(options.alpha >= 0 && options.alpha <= 1))
    input_error("--alpha " + std::to_string(options.alpha) + ": expected a value in [0, 1]");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) input_error(out_dir + ": cannot create the output folder (" + ec.message() + ")");
  const auto device = [&] {
    for (const auto& p : model.parameters()) return p.device();
    return torch::Device(torch::kCPU);
  }();
  const auto join = [&](const std::string& f) { return (fs::path(out_dir) / f).string(); };

  ExplainReport report;
  std::set<std::string> used;
  for (const auto& file : files) {
    ImageRecord rec;
    rec.path = file.path;
    try {
      Image img = load_model_image(file.path, info);
      auto x = model_input({img}, info, device);
      torch::Tensor logits;
      auto maps = explain_maps(model, x, options, &logits);
      rec.top = top_predictions(logits, info.class_names, options.topk)[0];
      rec.explained_class = options.target_class >= 0 ? options.target_class : logits.argmax(1).item<int64_t>();
      rec.true_label = label_from_path(file.path, info.class_names);
      // index.html links files by relative name: sanitised names hold only characters safe in a URL.
      std::string base = sanitize(file.name);
      for (int i = 2; used.count(base); ++i) base = sanitize(file.name) + "-" + std::to_string(i);
      used.insert(base);
      rec.name = base;
      // Small inputs are enlarged by a whole factor so a person can see them; pixels stay crisp.
      const int64_t side = std::max(img.width, img.height);
      const int64_t f = side >= options.display_min ? 1 : (options.display_min + side - 1) / side;
      const int64_t dw = img.width * f, dh = img.height * f;
      const Image shown = resize_nearest(gray_or_rgb(img), dw, dh);
      rec.input_file = base + "_input.png";
      write_png(join(rec.input_file), shown);
      for (const auto& m : maps) {
        MapRecord mr;
        mr.layer = m.layer;
        mr.method = m.method;
        mr.label = m.label;
        mr.stats = map_stats(m.map);
        mr.file = base + "_" + sanitize(m.layer.empty() ? "model" : m.layer) + "_" + method_tag(m.method) + ".png";
        auto big = upsample_maps(normalize_maps(m.map.unsqueeze(0)), dh, dw)[0];
        write_png(join(mr.file), overlay(shown, big, options.colormap, options.alpha));
        rec.maps.push_back(std::move(mr));
      }
      log << file.path << ": " << rec.top[0].name << " (" << fixed(100 * rec.top[0].probability, 1) << "%), "
          << rec.maps.size() << " map(s)\n";
      report.images.push_back(std::move(rec));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Input) throw;
      report.failures.emplace_back(file.path, e.what());
    }
  }

  // Colour bar for the legend.
  {
    auto ramp = torch::linspace(0, 1, 256).unsqueeze(0).expand({12, 256}).contiguous();
    write_png(join("colorbar.png"), colorize(ramp, options.colormap));
  }

  atomic_write(join("maps.json"), maps_json(report, info, options).dump(2) + "\n");

  atomic_write(join("index.html"), gallery_html(report, info, options));
  return report;
}

double spearman(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK(a.numel() == b.numel() && a.numel() > 1, "spearman: expected two maps of the same size");
  auto rank = [](const torch::Tensor& t) {
    auto v = t.detach().to(torch::kCPU, torch::kDouble).contiguous().flatten();
    const double* p = v.data_ptr<double>();
    const size_t n = static_cast<size_t>(v.numel());
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return p[i] < p[j]; });
    std::vector<double> r(n);
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j + 1 < n && p[order[j + 1]] == p[order[i]]) ++j;
      const double avg = 0.5 * static_cast<double>(i + j) + 1.0;
      for (size_t k = i; k <= j; ++k) r[order[k]] = avg;
      i = j + 1;
    }
    return r;
  };
  const auto ra = rank(a), rb = rank(b);
  const double n = static_cast<double>(ra.size());
  const double mean = (n + 1) / 2;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  if (saa == 0 || sbb == 0) return std::numeric_limits<double>::quiet_NaN();
  return sab / std::sqrt(saa * sbb);
}

SanityReport sanity_check(ModelImpl& trained, ModelImpl& randomised, const CheckpointInfo& info,
                          const std::vector<ImageFile>& files, const ExplainOptions& options, double threshold) {
  SanityReport rep;
  rep.threshold = threshold;
  const auto device = [&] {
    for (const auto& p : trained.parameters()) return p.device();
    return torch::Device(torch::kCPU);
  }();
  for (const auto& file : files) {
    try {
      auto x = model_input({load_model_image(file.path, info)}, info, device);
      torch::Tensor logits;
      auto mine = explain_maps(trained, x, options, &logits);
      ExplainOptions same = options;
      // The randomised model explains the class the trained one chose, so only the weights differ.
      same.target_class = options.target_class >= 0 ? options.target_class : logits.argmax(1).item<int64_t>();
      auto theirs = explain_maps(randomised, x, same);
      for (const auto& m : mine) {
        for (const auto& t : theirs) {
          if (t.layer != m.layer || t.method != m.method) continue;
          SanityRow row;
          row.image = file.path;
          row.layer = m.layer;
          row.method = m.method;
          row.rho = spearman(m.map, t.map);
          row.suspicious = !std::isnan(row.rho) && row.rho > threshold;
          rep.rows.push_back(row);
          break;
        }
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Input) throw;
      rep.failures.emplace_back(file.path, e.what());
    }
  }
  return rep;
}

}  // namespace attncnn
