#include <attncnn/error.h>
#include <attncnn/explain/colormap.h>
#include <attncnn/explain/plots.h>
#include <attncnn/io/font.h>

#include <algorithm>
#include <cstring>

namespace attncnn {

namespace {

void fill_rect(Image& img, int64_t x0, int64_t y0, int64_t w, int64_t h, std::array<uint8_t, 3> c) {
  for (int64_t y = std::max<int64_t>(0, y0); y < std::min(img.height, y0 + h); ++y)
    for (int64_t x = std::max<int64_t>(0, x0); x < std::min(img.width, x0 + w); ++x)
      std::copy(c.begin(), c.end(), img.pixels.begin() + (y * img.width + x) * 3);
}

Image blank(int64_t w, int64_t h, uint8_t v) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.assign(static_cast<size_t>(w * h * 3), v);
  return img;
}

std::string clip(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n - 1) + "."; }

}  // namespace

Image confusion_image(const std::vector<std::vector<int64_t>>& confusion, const std::vector<std::string>& names) {
  const int64_t k = static_cast<int64_t>(confusion.size());
  if (k == 0) input_error("confusion matrix: empty");
  for (const auto& row : confusion)
    if (static_cast<int64_t>(row.size()) != k)
      input_error("confusion matrix: expected " + std::to_string(k) + "x" + std::to_string(k) + " counts");
  if (static_cast<int64_t>(names.size()) != k)
    input_error("confusion matrix: " + std::to_string(k) + " classes but " + std::to_string(names.size()) +
                " class names");
  int64_t max_count = 0;
  for (const auto& row : confusion)
    for (auto v : row) max_count = std::max(max_count, v);
  const int64_t digits = static_cast<int64_t>(std::to_string(max_count).size());
  const int64_t cell = std::max<int64_t>(30, digits * 6 + 6);
  size_t longest = 0;
  for (const auto& n : names) longest = std::max(longest, clip(n, 14).size());
  const int64_t label = text_width(std::string(longest, 'M')) + 10;
  const int64_t title_h = 14;
  const int64_t left = label + 14, top = label + title_h + 4;
  const int64_t w = left + k * cell + 8, h = top + k * cell + 20;
  Image img = blank(w, h, 255);
  const std::array<uint8_t, 3> ink{30, 30, 30};
  draw_text(img, left, 4, "PREDICTED", ink);
  draw_text(img, 4, h - 12, "ROWS: TRUE CLASS", ink);
  for (int64_t t = 0; t < k; ++t) {
    int64_t row_total = 0;
    for (auto v : confusion[t]) row_total += v;
    const std::string name = clip(names[t], 14);
    draw_text(img, left - 6 - text_width(name), top + t * cell + (cell - 7) / 2, name, ink);
    for (int64_t p = 0; p < k; ++p) {
      const double share = row_total ? static_cast<double>(confusion[t][p]) / row_total : 0.0;
      const auto c = colormap_rgb(Colormap::Viridis, share);
      fill_rect(img, left + p * cell, top + t * cell, cell - 1, cell - 1, c);
      const std::string n = std::to_string(confusion[t][p]);
      const std::array<uint8_t, 3> txt = share > 0.6 ? std::array<uint8_t, 3>{0, 0, 0}
                                                     : std::array<uint8_t, 3>{255, 255, 255};
      draw_text(img, left + p * cell + (cell - 1 - text_width(n)) / 2, top + t * cell + (cell - 1 - 7) / 2, n, txt);
    }
  }
  // Column labels: drawn horizontally into a strip, then rotated a quarter turn counter-clockwise.
  for (int64_t p = 0; p < k; ++p) {
    const std::string name = clip(names[p], 14);
    Image strip = blank(label, 7, 255);
    draw_text(strip, 0, 0, name, ink);  // starts next to the grid once rotated
    const int64_t x0 = left + p * cell + (cell - 7) / 2, y0 = title_h + 2;
    for (int64_t sy = 0; sy < 7; ++sy)
      for (int64_t sx = 0; sx < label; ++sx) {
        const uint8_t* s = strip.pixels.data() + (sy * label + sx) * 3;
        if (s[0] == 255) continue;
        const int64_t x = x0 + sy, y = y0 + (label - 1 - sx);
        if (x < w && y < h) std::copy(s, s + 3, img.pixels.begin() + (y * w + x) * 3);
      }
  }
  // Drawn at one pixel per font dot, then doubled (nearest) so the 5×7 text is legible on today's screens.
  return resize_nearest(img, img.width * 2, img.height * 2);
}

void write_confusion_png(const std::string& path, const std::vector<std::vector<int64_t>>& confusion,
                         const std::vector<std::string>& class_names) {
  write_png(path, confusion_image(confusion, class_names));
}

}  // namespace attncnn
