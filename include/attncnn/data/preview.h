#pragma once
/// Pictures of a dataset: a labelled contact sheet of its first images, labels drawn with the 5×7 bitmap font of
/// attncnn/io/font.h.
///
///   auto sheet = attncnn::contact_sheet(ds.train, ds.class_names);   // 8×8 grid of the first 64 images
///   attncnn::write_png("sheet.png", sheet);
///
/// Layout (ContactSheetLayout): each h×w image is upscaled by an integer factor to at least 96 pixels on its longer
/// side (nearest neighbour, so pixels stay sharp), with its class name in a white band under it (letters are
/// drawn upper-case; names longer than the tile are cut); tiles are separated by `pad` pixels of grey.
#include <attncnn/data/dataset.h>
#include <attncnn/io/image.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attncnn {

struct ContactSheetLayout {
  int64_t cols = 0, rows = 0;
  int64_t scale = 1;               ///< integer upscaling of each image
  int64_t tile_w = 0, tile_h = 0;  ///< upscaled image size
  int64_t label_h = 0;             ///< height of the name band under each tile
  int64_t pad = 4;
  int64_t width = 0, height = 0;   ///< of the whole sheet
};

/// The layout for `count` images of h×w in `cols` columns.
ContactSheetLayout contact_sheet_layout(int64_t count, int64_t h, int64_t w, int64_t cols = 8);

/// An RGB sheet of the first min(count, N) images of `set` (uint8 N×C×H×W, C 1 or 3), labelled with
/// names[label]. Throws attncnn::Error (input) for an empty set.
Image contact_sheet(const ImageSet& set, const std::vector<std::string>& names, int64_t count = 64, int64_t cols = 8);

}  // namespace attncnn
