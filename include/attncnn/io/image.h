#pragma once
/// Image files: PNG (libpng) and JPEG (libjpeg) in, PNG out.
///
///   auto img = attncnn::read_image("cat.jpg", 3);   // RGB, 8-bit
///   auto t = attncnn::image_to_tensor(img);           // uint8 3×H×W
///   attncnn::write_png("out.png", attncnn::tensor_to_image(t));
///
/// Decoding accepts PNG of every colour type and depth (gray, gray+alpha, RGB, RGBA, palette, 1–16 bits; 16-bit
/// samples are scaled to 8 bits) and baseline/progressive JPEG (gray, RGB/YCbCr; CMYK is rejected). Files are told
/// apart by their signature, not their name. Corrupt or truncated files throw attncnn::Error (input) naming the
/// file; decoding never aborts the process.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attncnn {

struct Image {
  int64_t width = 0, height = 0, channels = 0;  ///< channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  std::vector<uint8_t> pixels;                  ///< row-major, channels interleaved (H×W×C)
};

/// Whether the bytes start with a PNG or JPEG signature.
bool is_png(const std::string& bytes);
bool is_jpeg(const std::string& bytes);
/// Whether the path's extension is one we decode (.png, .jpg, .jpeg, any case).
bool has_image_extension(const std::string& path);

/// Decodes `bytes`; `name` only labels errors. want_channels: 0 keeps the file's own (1, 2, 3 or 4), 1 gray,
/// 3 RGB, 4 RGBA. Colour to gray uses ITU-R BT.601 luma; alpha is dropped when not wanted.
Image decode_image(const std::string& bytes, const std::string& name, int want_channels = 0);
/// Reads and decodes a file.
Image read_image(const std::string& path, int want_channels = 0);

/// Encodes 8-bit PNG (1–4 channels).
std::string encode_png(const Image& img);
/// Encodes and writes atomically.
void write_png(const std::string& path, const Image& img);

/// Converts between Image and uint8 C×H×W tensors.
torch::Tensor image_to_tensor(const Image& img);
Image tensor_to_image(const torch::Tensor& chw_u8);

/// Converts channel count (1, 2, 3, 4 → 1, 3 or 4).
Image convert_channels(const Image& img, int want_channels);

/// Nearest-neighbour resize (for showing small images larger without blurring them). Throws attncnn::Error
/// (input) for a size below 1.
Image resize_nearest(const Image& img, int64_t width, int64_t height);
/// Resize for network input: area averaging when shrinking, bilinear when enlarging. Throws as resize_nearest.
Image resize_image(const Image& img, int64_t width, int64_t height);

}  // namespace attncnn
