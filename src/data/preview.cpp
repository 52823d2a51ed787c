#include <attncnn/data/preview.h>
#include <attncnn/error.h>

#include <torch/torch.h>

#include <algorithm>
#include <cctype>

namespace attncnn {

namespace {

struct Glyph {
  char c;
  const char* rows[7];  // 5 columns each, '#' set
};

// A 5×7 font: upper-case letters, digits and the punctuation that class names use.
const Glyph kFont[] = {
    {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
    {'A', {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'B', {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."}},
    {'C', {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."}},
    {'D', {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."}},
    {'E', {"#####", "#....", "#....", "####.", "#....", "#....", "#####"}},
    {'F', {"#####", "#....", "#....", "####.", "#....", "#....", "#...."}},
    {'G', {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"}},
    {'H', {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'I', {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'J', {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
    {'K', {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"}},
    {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####"}},
    {'M', {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"}},
    {'N', {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"}},
    {'O', {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."}},
    {'Q', {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"}},
    {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"}},
    {'S', {".####", "#....", "#....", ".###.", "....#", "....#", "####."}},
    {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
    {'U', {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'V', {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'W', {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."}},
    {'X', {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"}},
    {'Y', {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."}},
    {'Z', {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"}},
    {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
    {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
    {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."}},
    {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
    {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
    {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
    {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
    {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
    {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
    {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
    {'_', {".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
    {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
    {',', {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."}},
    {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
    {'/', {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."}},
    {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
    {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
    {'\'', {"..#..", "..#..", ".#...", ".....", ".....", ".....", "....."}},
    {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
    {'&', {".##..", "#..#.", "#.#..", ".#...", "#.#.#", "#..#.", ".##.#"}},
    {'?', {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."}},
};

const Glyph& glyph(char c) {
  const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& g : kFont)
    if (g.c == u) return g;
  for (const auto& g : kFont)
    if (g.c == '?') return g;
  return kFont[0];
}

}  // namespace

int64_t text_width(const std::string& text, int64_t scale) {
  return text.empty() ? 0 : (static_cast<int64_t>(text.size()) * 6 - 1) * scale;
}

void draw_text(Image& img, int64_t x, int64_t y, const std::string& text, int64_t scale, uint8_t r, uint8_t g,
               uint8_t b) {
  TORCH_CHECK(img.channels == 3, "draw_text: expected an RGB image");
  for (size_t k = 0; k < text.size(); ++k) {
    const Glyph& gl = glyph(text[k]);
    const int64_t x0 = x + static_cast<int64_t>(k) * 6 * scale;
    for (int64_t gy = 0; gy < 7; ++gy)
      for (int64_t gx = 0; gx < 5; ++gx) {
        if (gl.rows[gy][gx] != '#') continue;
        for (int64_t sy = 0; sy < scale; ++sy)
          for (int64_t sx = 0; sx < scale; ++sx) {
            const int64_t px = x0 + gx * scale + sx, py = y + gy * scale + sy;
            if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
            uint8_t* p = img.pixels.data() + (py * img.width + px) * 3;
            p[0] = r, p[1] = g, p[2] = b;
          }
      }
  }
}

ContactSheetLayout contact_sheet_layout(int64_t count, int64_t h, int64_t w, int64_t cols) {
  ContactSheetLayout l;
  l.cols = std::max<int64_t>(1, std::min(cols, count));
  l.rows = (count + l.cols - 1) / l.cols;
  const int64_t side = std::max(h, w);
  l.scale = std::max<int64_t>(1, (96 + side - 1) / side);
  l.tile_w = w * l.scale;
  l.tile_h = h * l.scale;
  l.label_h = 11;
  l.width = l.cols * (l.tile_w + l.pad) + l.pad;
  l.height = l.rows * (l.tile_h + l.label_h + l.pad) + l.pad;
  return l;
}

Image contact_sheet(const ImageSet& set, const std::vector<std::string>& names, int64_t count, int64_t cols) {
  if (set.size() == 0) input_error("contact sheet: the split holds no images");
  TORCH_CHECK(set.images.dim() == 4 && set.images.scalar_type() == torch::kUInt8, "contact_sheet: uint8 N×C×H×W");
  const int64_t n = std::min(count, set.size());
  const int64_t C = set.images.size(1), H = set.images.size(2), W = set.images.size(3);
  TORCH_CHECK(C == 1 || C == 3, "contact_sheet: expected 1 or 3 channels, got ", C);
  const auto L = contact_sheet_layout(n, H, W, cols);
  Image sheet;
  sheet.width = L.width;
  sheet.height = L.height;
  sheet.channels = 3;
  sheet.pixels.assign(static_cast<size_t>(L.width * L.height * 3), 64);
  const auto images = set.images.slice(0, 0, n).contiguous();
  const auto labels = set.labels.slice(0, 0, n).to(torch::kLong).contiguous();
  const uint8_t* src = images.data_ptr<uint8_t>();
  const int64_t chars = std::max<int64_t>(1, (L.tile_w + 1) / 6);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t x0 = L.pad + (i % L.cols) * (L.tile_w + L.pad);
    const int64_t y0 = L.pad + (i / L.cols) * (L.tile_h + L.label_h + L.pad);
    const uint8_t* img = src + i * C * H * W;
    for (int64_t y = 0; y < L.tile_h; ++y)
      for (int64_t x = 0; x < L.tile_w; ++x) {
        uint8_t* p = sheet.pixels.data() + ((y0 + y) * L.width + x0 + x) * 3;
        const int64_t s = (y / L.scale) * W + x / L.scale;
        for (int64_t c = 0; c < 3; ++c) p[c] = img[(C == 3 ? c : 0) * H * W + s];
      }
    for (int64_t y = L.tile_h; y < L.tile_h + L.label_h; ++y)
      std::fill_n(sheet.pixels.data() + ((y0 + y) * L.width + x0) * 3, L.tile_w * 3, uint8_t{255});
    const int64_t label = labels.data_ptr<int64_t>()[i];
    std::string name = label >= 0 && label < static_cast<int64_t>(names.size()) ? names[label] : std::to_string(label);
    if (static_cast<int64_t>(name.size()) > chars) name.resize(static_cast<size_t>(chars));
    const int64_t tx = x0 + (L.tile_w - text_width(name)) / 2;
    draw_text(sheet, tx, y0 + L.tile_h + 2, name);
  }
  return sheet;
}

}  // namespace attncnn
