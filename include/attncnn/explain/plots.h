#pragma once
/// Small raster plots drawn without a plotting library: a 5×7 bitmap font and the confusion-matrix heatmap.
///
///   attncnn::write_confusion_png("confusion.png", result.confusion, info.class_names);
#include <attncnn/io/image.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attncnn {

/// Width in pixels of `text` drawn with the built-in 5×7 font at `scale` (6·scale per character, no trailing gap).
int64_t text_width(const std::string& text, int scale = 1);
/// Draws `text` into an RGB image with its top-left corner at (x, y); pixels outside the image are skipped.
/// Lower-case letters are drawn as capitals; characters without a glyph are drawn as '?'.
void draw_text(Image& img, int64_t x, int64_t y, const std::string& text, std::array<uint8_t, 3> color, int scale = 1);

/// A K×K confusion matrix (rows: true class, columns: predicted class) painted as a heatmap: each cell coloured
/// by its share of the row (viridis), with its count written in it, class names along the left and (rotated) along
/// the top. Throws attncnn::Error (input) if the matrix is not square or does not match the class names.
Image confusion_image(const std::vector<std::vector<int64_t>>& confusion, const std::vector<std::string>& class_names);
/// confusion_image written as PNG to `path`.
void write_confusion_png(const std::string& path, const std::vector<std::vector<int64_t>>& confusion,
                         const std::vector<std::string>& class_names);

}  // namespace attncnn
