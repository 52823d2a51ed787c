#include <attncnn/data/preview.h>
#include <attncnn/error.h>
#include <attncnn/io/font.h>

#include <torch/torch.h>

#include <algorithm>

namespace attncnn {

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
