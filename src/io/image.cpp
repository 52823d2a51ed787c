#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/io/image.h>

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <csetjmp>
#include <cstdio>
#include <cstring>

// libjpeg's header needs FILE and size_t declared first.
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

namespace attncnn {

namespace {

constexpr int64_t kMaxSide = 1 << 15;        // 32768: larger sides are rejected before allocating
constexpr int64_t kMaxPixels = int64_t(1) << 28;

// ---- PNG ----
struct PngReadState {
  const std::string* bytes;
  size_t pos;
  std::string error;
};

void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
  auto* st = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (st->pos + n > st->bytes->size()) png_error(png, "unexpected end of file (truncated)");
  std::memcpy(out, st->bytes->data() + st->pos, n);
  st->pos += n;
}
void png_on_error(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngReadState*>(png_get_error_ptr(png));
  if (st) st->error = msg;
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}

bool size_ok(int64_t w, int64_t h) {
  return w > 0 && h > 0 && w <= kMaxSide && h <= kMaxSide && w * h <= kMaxPixels;
}

// The setjmp frames below hold only C objects: a longjmp leaves C++ objects modified after setjmp (such as a
// vector that was resized) indeterminate, so the Image being filled lives in the caller's frame.
enum class Decoded { Ok, Corrupt, BadSize };

Decoded decode_png_into(const std::string& bytes, Image* img, std::vector<png_bytep>* rows, PngReadState* st,
                        int64_t* bad_w, int64_t* bad_h) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, st, png_on_error, png_on_warning);
  if (!png) {
    st->error = "cannot initialise libpng";
    return Decoded::Corrupt;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    st->error = "cannot initialise libpng";
    return Decoded::Corrupt;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return Decoded::Corrupt;
  }
  png_set_read_fn(png, st, png_read_mem);
  png_read_info(png, info);
  const auto w = static_cast<int64_t>(png_get_image_width(png, info));
  const auto h = static_cast<int64_t>(png_get_image_height(png, info));
  if (!size_ok(w, h)) {
    *bad_w = w;
    *bad_h = h;
    png_destroy_read_struct(&png, &info, nullptr);
    return Decoded::BadSize;
  }
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_scale_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  img->width = w;
  img->height = h;
  img->channels = png_get_channels(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (rowbytes != static_cast<size_t>(w * img->channels)) png_error(png, "unexpected row layout");
  img->pixels.resize(static_cast<size_t>(h) * rowbytes);
  rows->resize(h);
  for (int64_t y = 0; y < h; ++y) (*rows)[y] = img->pixels.data() + y * rowbytes;
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return Decoded::Ok;
}

std::string size_message(const std::string& name, int64_t w, int64_t h) {
  return name + ": image size " + std::to_string(w) + "x" + std::to_string(h) +
         " is out of range (expected 1 to 32768 per side and at most 2^28 pixels)";
}

Image decode_png(const std::string& bytes, const std::string& name) {
  PngReadState st{&bytes, 0, ""};
  Image img;
  std::vector<png_bytep> rows;
  int64_t w = 0, h = 0;
  switch (decode_png_into(bytes, &img, &rows, &st, &w, &h)) {
    case Decoded::Ok: return img;
    case Decoded::BadSize: input_error(size_message(name, w, h));
    case Decoded::Corrupt: break;
  }
  input_error(name + ": corrupt PNG: " + (st.error.empty() ? "decoding failed" : st.error));
}

struct PngWriteState {
  std::string out;
  std::string error;
};
void png_write_mem(png_structp png, png_bytep data, png_size_t n) {
  static_cast<PngWriteState*>(png_get_io_ptr(png))->out.append(reinterpret_cast<const char*>(data), n);
}
void png_flush_mem(png_structp) {}
void png_on_write_error(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngWriteState*>(png_get_error_ptr(png));
  if (st) st->error = msg;
  png_longjmp(png, 1);
}

// ---- JPEG ----
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};
void jpeg_on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}
void jpeg_on_message(j_common_ptr) {}
void jpeg_on_emit(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
}

Decoded decode_jpeg_into(const std::string& bytes, Image* img, JpegError* err, int64_t* bad_w, int64_t* bad_h) {
  jpeg_decompress_struct cinfo;
  err->message[0] = '\0';
  err->truncated = false;
  cinfo.err = jpeg_std_error(&err->mgr);
  err->mgr.emit_message = jpeg_on_emit;
  err->mgr.error_exit = jpeg_on_error;
  err->mgr.output_message = jpeg_on_message;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return Decoded::Corrupt;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(err->message, sizeof(err->message), "CMYK JPEG is not supported (expected grayscale or RGB)");
    return Decoded::Corrupt;
  }
  if (!size_ok(cinfo.image_width, cinfo.image_height)) {
    *bad_w = cinfo.image_width;
    *bad_h = cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return Decoded::BadSize;
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  img->width = cinfo.output_width;
  img->height = cinfo.output_height;
  img->channels = cinfo.output_components;
  const size_t stride = static_cast<size_t>(img->width * img->channels);
  img->pixels.resize(stride * img->height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img->pixels.data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  // A truncated JPEG decodes with a warning and gray fill in libjpeg; treat a premature end as corrupt.
  if (err->truncated) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(err->message, sizeof(err->message), "premature end of data (truncated file)");
    return Decoded::Corrupt;
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return Decoded::Ok;
}

Image decode_jpeg(const std::string& bytes, const std::string& name) {
  JpegError err;
  Image img;
  int64_t w = 0, h = 0;
  switch (decode_jpeg_into(bytes, &img, &err, &w, &h)) {
    case Decoded::Ok: return img;
    case Decoded::BadSize: input_error(size_message(name, w, h));
    case Decoded::Corrupt: break;
  }
  input_error(name + ": corrupt JPEG: " + std::string(err.message));
}

}  // namespace

bool is_png(const std::string& b) { return b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0; }
bool is_jpeg(const std::string& b) {
  return b.size() >= 3 && static_cast<uint8_t>(b[0]) == 0xFF && static_cast<uint8_t>(b[1]) == 0xD8 &&
         static_cast<uint8_t>(b[2]) == 0xFF;
}

bool has_image_extension(const std::string& path) {
  const auto dot = path.find_last_of('.');
  if (dot == std::string::npos) return false;
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == "png" || ext == "jpg" || ext == "jpeg";
}

Image convert_channels(const Image& img, int want) {
  if (want == 0 || want == img.channels) return img;
  if (want != 1 && want != 3 && want != 4)
    input_error("image channels " + std::to_string(want) + ": expected 1, 3 or 4");
  Image out;
  out.width = img.width;
  out.height = img.height;
  out.channels = want;
  const size_t n = static_cast<size_t>(img.width * img.height);
  out.pixels.resize(n * want);
  const int c = static_cast<int>(img.channels);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = img.pixels.data() + i * c;
    uint8_t r, g, b, a = 255;
    if (c <= 2) {
      r = g = b = p[0];
      if (c == 2) a = p[1];
    } else {
      r = p[0], g = p[1], b = p[2];
      if (c == 4) a = p[3];
    }
    uint8_t* q = out.pixels.data() + i * want;
    if (want == 1) {
      q[0] = static_cast<uint8_t>(std::min(255.0, std::round(0.299 * r + 0.587 * g + 0.114 * b)));
    } else {
      q[0] = r, q[1] = g, q[2] = b;
      if (want == 4) q[3] = a;
    }
  }
  return out;
}

Image decode_image(const std::string& bytes, const std::string& name, int want_channels) {
  Image img;
  if (is_png(bytes)) img = decode_png(bytes, name);
  else if (is_jpeg(bytes)) img = decode_jpeg(bytes, name);
  else input_error(name + ": not a PNG or JPEG file (unrecognised signature)");
  return convert_channels(img, want_channels);
}

Image read_image(const std::string& path, int want_channels) {
  return decode_image(read_all(path), path, want_channels);
}

std::string encode_png(const Image& img) {
  if (img.channels < 1 || img.channels > 4) runtime_error("encode_png: channels must be 1 to 4");
  if (img.pixels.size() != static_cast<size_t>(img.width * img.height * img.channels))
    runtime_error("encode_png: pixel buffer does not match the image size");
  PngWriteState st;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, png_on_write_error, png_on_warning);
  if (!png) runtime_error("encode_png: cannot initialise libpng");
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    runtime_error("encode_png: " + st.error);
  }
  static const int kTypes[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                               PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_write_fn(png, &st, png_write_mem, png_flush_mem);
  png_set_IHDR(png, info, static_cast<png_uint_32>(img.width), static_cast<png_uint_32>(img.height), 8,
               kTypes[img.channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(img.width * img.channels);
  for (int64_t y = 0; y < img.height; ++y)
    png_write_row(png, const_cast<png_bytep>(img.pixels.data() + y * stride));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return st.out;
}

void write_png(const std::string& path, const Image& img) { atomic_write(path, encode_png(img)); }

torch::Tensor image_to_tensor(const Image& img) {
  auto hwc = torch::from_blob(const_cast<uint8_t*>(img.pixels.data()), {img.height, img.width, img.channels},
                              torch::kUInt8);
  return hwc.permute({2, 0, 1}).contiguous();
}

Image tensor_to_image(const torch::Tensor& chw) {
  TORCH_CHECK(chw.dim() == 3 && chw.size(0) >= 1 && chw.size(0) <= 4, "tensor_to_image: expected C×H×W, C in 1..4, got ",
              chw.sizes());
  auto hwc = chw.to(torch::kCPU, torch::kUInt8).permute({1, 2, 0}).contiguous();
  Image img;
  img.channels = chw.size(0);
  img.height = chw.size(1);
  img.width = chw.size(2);
  img.pixels.assign(hwc.data_ptr<uint8_t>(), hwc.data_ptr<uint8_t>() + hwc.numel());
  return img;
}

Image resize_nearest(const Image& img, int64_t width, int64_t height) {
  if (width < 1 || height < 1) input_error("resize: size must be positive");
  Image out;
  out.width = width;
  out.height = height;
  out.channels = img.channels;
  out.pixels.resize(static_cast<size_t>(width * height * img.channels));
  for (int64_t y = 0; y < height; ++y) {
    const int64_t sy = std::min(img.height - 1, y * img.height / height);
    for (int64_t x = 0; x < width; ++x) {
      const int64_t sx = std::min(img.width - 1, x * img.width / width);
      std::copy_n(img.pixels.begin() + (sy * img.width + sx) * img.channels, img.channels,
                  out.pixels.begin() + (y * width + x) * img.channels);
    }
  }
  return out;
}

Image resize_image(const Image& img, int64_t width, int64_t height) {
  if (width < 1 || height < 1) input_error("resize: size must be positive");
  if (width == img.width && height == img.height) return img;
  namespace F = torch::nn::functional;
  auto t = image_to_tensor(img).to(torch::kFloat).unsqueeze(0);
  auto opts = F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width});
  if (width <= img.width && height <= img.height) opts.mode(torch::kArea);
  else opts.mode(torch::kBilinear).align_corners(false);
  auto r = F::interpolate(t, opts).squeeze(0).round().clamp(0, 255).to(torch::kUInt8);
  return tensor_to_image(r);
}

}  // namespace attncnn
