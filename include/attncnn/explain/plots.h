#pragma once
/// Small raster plots drawn without a plotting library (text in the font of attncnn/io/font.h): the
/// confusion-matrix heatmap.
///
///   attncnn::write_confusion_png("confusion.png", result.confusion, info.class_names);
#include <attncnn/io/image.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attncnn {

/// A K×K confusion matrix (rows: true class, columns: predicted class) painted as a heatmap: each cell coloured
/// by its share of the row (viridis), with its count written in it, class names along the left and (rotated) along
/// the top. Throws attncnn::Error (input) if the matrix is not square or does not match the class names.
Image confusion_image(const std::vector<std::vector<int64_t>>& confusion, const std::vector<std::string>& class_names);
/// confusion_image written as PNG to `path`.
void write_confusion_png(const std::string& path, const std::vector<std::vector<int64_t>>& confusion,
                         const std::vector<std::string>& class_names);

}  // namespace attncnn
