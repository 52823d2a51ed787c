// PNG and JPEG decoding of every kind of input, PNG encoding, channel conversion and hostile files.
// Inputs are written here with libpng's and libjpeg's own classic APIs, independent of the code under test.
#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/io/image.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

namespace {

const std::string kTmp = ATTNCNN_TEST_TMP;

struct PngSpec {
  int width = 0, height = 0;
  int color_type = PNG_COLOR_TYPE_GRAY;
  int bit_depth = 8;
  bool interlace = false;
  std::vector<png_color> palette;
  std::vector<png_byte> trans;  // palette alpha entries
};

void png_append(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void png_noflush(png_structp) {}

// Writes raw rows (already packed in the PNG's own sample layout, big-endian for 16 bits).
std::string make_png(const PngSpec& s, const std::vector<std::vector<png_byte>>& rows) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    ADD_FAILURE() << "libpng failed to write the test image";
    return "";
  }
  png_set_write_fn(png, &out, png_append, png_noflush);
  png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type,
               s.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty()) png_set_PLTE(png, info, s.palette.data(), static_cast<int>(s.palette.size()));
  if (!s.trans.empty()) png_set_tRNS(png, info, s.trans.data(), static_cast<int>(s.trans.size()), nullptr);
  png_write_info(png, info);
  std::vector<png_bytep> ptrs;
  for (auto& r : rows) ptrs.push_back(const_cast<png_bytep>(r.data()));
  png_write_image(png, ptrs.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// A deterministic 8-bit pattern value for channel c of pixel (x, y).
uint8_t pattern(int x, int y, int c) { return static_cast<uint8_t>((x * 37 + y * 11 + c * 70 + x * y) & 255); }

// An 8- or 16-bit image of `channels` interleaved samples; 16-bit samples are v·257 + 100 so that scaling to 8 bits
// must round to v.
std::vector<std::vector<png_byte>> pattern_rows(int w, int h, int channels, int depth) {
  std::vector<std::vector<png_byte>> rows(h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) {
        const int v = pattern(x, y, c);
        if (depth == 8) {
          rows[y].push_back(static_cast<png_byte>(v));
        } else {
          const int v16 = v * 257 + (v == 255 ? 0 : 100);
          rows[y].push_back(static_cast<png_byte>(v16 >> 8));
          rows[y].push_back(static_cast<png_byte>(v16 & 255));
        }
      }
  return rows;
}

void expect_pattern(const attncnn::Image& img, int w, int h, int channels, int tolerance) {
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  ASSERT_EQ(img.channels, channels);
  ASSERT_EQ(img.pixels.size(), static_cast<size_t>(w * h * channels));
  int worst = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        worst = std::max(worst, std::abs(img.pixels[(y * w + x) * channels + c] - pattern(x, y, c)));
  EXPECT_LE(worst, tolerance);
}

std::string make_jpeg(int w, int h, int channels, int quality, const std::function<uint8_t(int, int, int)>& px) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buf, &size);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<uint8_t> row(w * channels);
  while (cinfo.next_scanline < cinfo.image_height) {
    const int y = cinfo.next_scanline;
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) row[x * channels + c] = px(x, y, c);
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&cinfo, &r, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string out(reinterpret_cast<char*>(buf), size);
  jpeg_destroy_compress(&cinfo);
  std::free(buf);
  return out;
}

// Smooth content: JPEG keeps it within a few levels at high quality.
uint8_t smooth(int x, int y, int c) { return static_cast<uint8_t>(20 + 2 * x + 2 * y + 30 * c); }  // ≤ 204 for 40×24

std::string write_file(const std::string& name, const std::string& bytes) {
  attncnn::make_dirs(kTmp);
  const std::string path = kTmp + "/" + name;
  attncnn::write_all(path, bytes);
  return path;
}

// Expects decoding to throw attncnn::Error (input) whose message names `name` and contains `what`.
void expect_rejected(const std::string& bytes, const std::string& name, const std::string& what) {
  const std::string path = write_file(name, bytes);
  try {
    attncnn::read_image(path);
    ADD_FAILURE() << name << ": decoded without an error";
  } catch (const attncnn::Error& e) {
    EXPECT_EQ(e.kind(), attncnn::ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string chunk(const std::string& type, const std::string& data) {
  std::string body = type + data;
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  return be32(static_cast<uint32_t>(data.size())) + body + be32(static_cast<uint32_t>(crc));
}

}  // namespace

TEST(ImagePng, EightBitKindsRoundTripExactly) {
  const int w = 13, h = 7;
  struct Case {
    int color, channels;
  } cases[] = {{PNG_COLOR_TYPE_GRAY, 1},
               {PNG_COLOR_TYPE_GRAY_ALPHA, 2},
               {PNG_COLOR_TYPE_RGB, 3},
               {PNG_COLOR_TYPE_RGB_ALPHA, 4}};
  for (const auto& c : cases) {
    PngSpec s;
    s.width = w, s.height = h, s.color_type = c.color;
    const auto bytes = make_png(s, pattern_rows(w, h, c.channels, 8));
    EXPECT_TRUE(attncnn::is_png(bytes));
    auto img = attncnn::decode_image(bytes, "case", 0);
    expect_pattern(img, w, h, c.channels, 0);
    // And back through our own encoder and decoder.
    auto again = attncnn::decode_image(attncnn::encode_png(img), "again", 0);
    EXPECT_EQ(again.pixels, img.pixels);
    EXPECT_EQ(again.channels, c.channels);
  }
}

TEST(ImagePng, SixteenBitScalesToEightBitsWithRounding) {
  const int w = 9, h = 5;
  struct Case {
    int color, channels;
  } cases[] = {{PNG_COLOR_TYPE_GRAY, 1},
               {PNG_COLOR_TYPE_GRAY_ALPHA, 2},
               {PNG_COLOR_TYPE_RGB, 3},
               {PNG_COLOR_TYPE_RGB_ALPHA, 4}};
  for (const auto& c : cases) {
    PngSpec s;
    s.width = w, s.height = h, s.color_type = c.color, s.bit_depth = 16;
    auto img = attncnn::decode_image(make_png(s, pattern_rows(w, h, c.channels, 16)), "16bit", 0);
    expect_pattern(img, w, h, c.channels, 0);
  }
}

TEST(ImagePng, InterlacedEqualsProgressiveRows) {
  const int w = 17, h = 11;  // not multiples of 8: every Adam7 pass has partial blocks
  for (int depth : {8, 16}) {
    PngSpec s;
    s.width = w, s.height = h, s.color_type = PNG_COLOR_TYPE_RGB, s.bit_depth = depth, s.interlace = true;
    auto img = attncnn::decode_image(make_png(s, pattern_rows(w, h, 3, depth)), "adam7", 0);
    expect_pattern(img, w, h, 3, 0);
  }
}

TEST(ImagePng, PaletteExpandsToRgbAndTransparencyToAlpha) {
  const int w = 10, h = 6;
  PngSpec s;
  s.width = w, s.height = h, s.color_type = PNG_COLOR_TYPE_PALETTE, s.bit_depth = 2;
  s.palette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
  // 2-bit indices, four per byte, most significant first.
  std::vector<std::vector<png_byte>> rows(h, std::vector<png_byte>((w + 3) / 4, 0));
  auto index = [](int x, int y) { return (x + 2 * y) % 4; };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) rows[y][x / 4] |= static_cast<png_byte>(index(x, y) << (6 - 2 * (x % 4)));
  auto img = attncnn::decode_image(make_png(s, rows), "palette", 0);
  ASSERT_EQ(img.channels, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const auto& p = s.palette[index(x, y)];
      const uint8_t* q = img.pixels.data() + (y * w + x) * 3;
      EXPECT_EQ(q[0], p.red);
      EXPECT_EQ(q[1], p.green);
      EXPECT_EQ(q[2], p.blue);
    }
  s.trans = {0, 128};  // entries 2 and 3 stay opaque
  auto rgba = attncnn::decode_image(make_png(s, rows), "palette-trns", 0);
  ASSERT_EQ(rgba.channels, 4);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int i = index(x, y);
      EXPECT_EQ(rgba.pixels[(y * w + x) * 4 + 3], i == 0 ? 0 : i == 1 ? 128 : 255);
    }
}

TEST(ImagePng, OneBitGrayExpandsToFullRange) {
  const int w = 11, h = 3;
  PngSpec s;
  s.width = w, s.height = h, s.bit_depth = 1;
  std::vector<std::vector<png_byte>> rows(h, std::vector<png_byte>((w + 7) / 8, 0));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if ((x + y) % 3 == 0) rows[y][x / 8] |= static_cast<png_byte>(0x80 >> (x % 8));
  auto img = attncnn::decode_image(make_png(s, rows), "1bit", 0);
  ASSERT_EQ(img.channels, 1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) EXPECT_EQ(img.pixels[y * w + x], (x + y) % 3 == 0 ? 255 : 0);
}

TEST(ImagePng, FileRoundTripThroughWritePng) {
  attncnn::Image img;
  img.width = 5, img.height = 4, img.channels = 3;
  for (int i = 0; i < 5 * 4 * 3; ++i) img.pixels.push_back(static_cast<uint8_t>(i * 7));
  const std::string path = kTmp + "/roundtrip.png";
  attncnn::make_dirs(kTmp);
  attncnn::write_png(path, img);
  auto back = attncnn::read_image(path);
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.height, 4);
  EXPECT_EQ(back.pixels, img.pixels);
  // Tensor conversion is C×H×W with the same samples.
  auto t = attncnn::image_to_tensor(back);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(t[2][3][1].item<int>(), img.pixels[(3 * 5 + 1) * 3 + 2]);
  EXPECT_EQ(attncnn::tensor_to_image(t).pixels, img.pixels);
}

TEST(ImageJpeg, GrayAndRgbDecodeWithinJpegTolerance) {
  const int w = 40, h = 24;
  for (int channels : {1, 3}) {
    const auto bytes = make_jpeg(w, h, channels, 95, smooth);
    EXPECT_TRUE(attncnn::is_jpeg(bytes));
    auto img = attncnn::decode_image(bytes, "jpeg", 0);
    ASSERT_EQ(img.width, w);
    ASSERT_EQ(img.height, h);
    ASSERT_EQ(img.channels, channels);
    double sum = 0;
    int worst = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < channels; ++c) {
          const int d = std::abs(img.pixels[(y * w + x) * channels + c] - smooth(x, y, c));
          sum += d;
          worst = std::max(worst, d);
        }
    EXPECT_LT(sum / (w * h * channels), 2.0) << channels;
    EXPECT_LE(worst, 12) << channels;
  }
}

TEST(ImageChannels, GrayRgbConversionsUseLumaWeights) {
  attncnn::Image rgb;
  rgb.width = 4, rgb.height = 1, rgb.channels = 3;
  rgb.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 200, 100, 50};
  auto gray = attncnn::convert_channels(rgb, 1);
  ASSERT_EQ(gray.channels, 1);
  // BT.601: 0.299 R + 0.587 G + 0.114 B, rounded.
  EXPECT_EQ(gray.pixels, (std::vector<uint8_t>{76, 150, 29, 124}));
  auto back = attncnn::convert_channels(gray, 3);
  EXPECT_EQ(back.pixels, (std::vector<uint8_t>{76, 76, 76, 150, 150, 150, 29, 29, 29, 124, 124, 124}));
  auto rgba = attncnn::convert_channels(gray, 4);
  EXPECT_EQ(rgba.pixels[3], 255);
  attncnn::Image ga;
  ga.width = 1, ga.height = 1, ga.channels = 2;
  ga.pixels = {90, 7};
  EXPECT_EQ(attncnn::convert_channels(ga, 4).pixels, (std::vector<uint8_t>{90, 90, 90, 7}));
  EXPECT_EQ(attncnn::convert_channels(ga, 1).pixels, (std::vector<uint8_t>{90}));
  // decode_image converts on request: an RGB PNG read as gray, a gray JPEG read as RGB.
  PngSpec s;
  s.width = 4, s.height = 1, s.color_type = PNG_COLOR_TYPE_RGB;
  std::vector<std::vector<png_byte>> rows = {{255, 0, 0, 0, 255, 0, 0, 0, 255, 200, 100, 50}};
  EXPECT_EQ(attncnn::decode_image(make_png(s, rows), "rgb", 1).pixels, gray.pixels);
  auto j = attncnn::decode_image(make_jpeg(8, 8, 1, 95, smooth), "g", 3);
  ASSERT_EQ(j.channels, 3);
  EXPECT_EQ(j.pixels[0], j.pixels[1]);
  EXPECT_EQ(j.pixels[1], j.pixels[2]);
  EXPECT_THROW(attncnn::convert_channels(rgb, 2), attncnn::Error);
}

TEST(ImageErrors, CorruptAndTruncatedFilesNameTheFile) {
  PngSpec s;
  s.width = 32, s.height = 32, s.color_type = PNG_COLOR_TYPE_RGB;
  const auto png = make_png(s, pattern_rows(32, 32, 3, 8));
  expect_rejected(png.substr(0, png.size() / 2), "truncated.png", "corrupt PNG");
  expect_rejected(png.substr(0, 8), "signature_only.png", "corrupt PNG");
  std::string flipped = png;
  for (size_t i = 60; i < 80; ++i) flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);  // inside IDAT: CRC fails
  expect_rejected(flipped, "flipped.png", "corrupt PNG");
  std::string garbage = png.substr(0, 8) + std::string(200, '\x42');
  expect_rejected(garbage, "garbage.png", "corrupt PNG");

  const auto jpg = make_jpeg(64, 48, 3, 90, smooth);
  expect_rejected(jpg.substr(0, jpg.size() / 2), "truncated.jpg", "corrupt JPEG");
  expect_rejected(jpg.substr(0, 3), "header_only.jpg", "corrupt JPEG");
  expect_rejected(std::string("\xff\xd8\xff") + std::string(100, '\x00'), "garbage.jpg", "corrupt JPEG");

  expect_rejected("GIF89a\x01\x00\x01\x00", "picture.gif", "not a PNG or JPEG");
  expect_rejected("", "empty.png", "not a PNG or JPEG");
  try {
    attncnn::read_image(kTmp + "/no_such_image.png");
    ADD_FAILURE() << "missing file read";
  } catch (const attncnn::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_image.png"), std::string::npos);
  }
}

TEST(ImageErrors, AbsurdDimensionsAreRejectedBeforeDecoding) {
  // A valid IHDR announcing 100000×100000 RGB (30 GB), then a tiny IDAT: rejected from the header alone.
  std::string ihdr = be32(100000) + be32(100000) + std::string("\x08\x02\x00\x00\x00", 5);
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", std::string(16, '\0')) +
                    chunk("IEND", "");
  expect_rejected(png, "huge.png", "out of range");
  // A JPEG whose SOF0 claims 60000×60000.
  std::string jpg = make_jpeg(16, 16, 3, 90, smooth);
  const auto sof = jpg.find("\xff\xc0", 0, 2);
  ASSERT_NE(sof, std::string::npos);
  jpg[sof + 5] = static_cast<char>(60000 >> 8);
  jpg[sof + 6] = static_cast<char>(60000 & 255);
  jpg[sof + 7] = static_cast<char>(60000 >> 8);
  jpg[sof + 8] = static_cast<char>(60000 & 255);
  expect_rejected(jpg, "huge.jpg", "out of range");
}

TEST(ImageNames, SignaturesAndExtensions) {
  EXPECT_TRUE(attncnn::has_image_extension("a/b.PNG"));
  EXPECT_TRUE(attncnn::has_image_extension("x.jpeg"));
  EXPECT_TRUE(attncnn::has_image_extension("x.Jpg"));
  EXPECT_FALSE(attncnn::has_image_extension("x.gif"));
  EXPECT_FALSE(attncnn::has_image_extension("png"));
  EXPECT_FALSE(attncnn::is_png("\x89PNG"));
  EXPECT_FALSE(attncnn::is_jpeg("\xff\xd8"));
}
