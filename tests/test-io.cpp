// io: safetensors (round trip, the exact byte layout of the format, rejection of malformed files), the file
// helpers, the text escapes of each output format, and the bitmap font.
#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/io/font.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/io/text.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace attncnn;

namespace {
std::string tmp_path(const std::string& name) {
  make_dirs(ATTNCNN_TEST_TMP);
  return std::string(ATTNCNN_TEST_TMP) + "/" + name;
}
// A file image with the given JSON header and `data` bytes.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out;
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}
std::string error_of(const std::string& bytes) {
  try {
    parse_safetensors(bytes, "bad.safetensors");
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  return "";
}
}  // namespace

TEST(SafeTensors, RoundTripKeepsValuesDtypesAndMetadata) {
  const auto p = tmp_path("rt.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> t = {
      {"conv.weight", torch::randn({4, 3, 3, 3})},
      {"bn.num_batches_tracked", torch::tensor(7, torch::kLong)},
      {"half", torch::randn({5}).to(torch::kHalf)},
      {"bf", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"bytes", torch::arange(10, torch::kUInt8)},
      {"empty", torch::zeros({0, 3})},
      {"strided", torch::randn({4, 6}).t()},
  };
  save_safetensors(p, t, {{"format", "attncnn"}, {"note", "ä ü"}});
  auto st = load_safetensors(p);
  ASSERT_EQ(st.tensors.size(), t.size());
  for (const auto& kv : t) {
    const auto& got = st.at(kv.first);
    EXPECT_EQ(got.scalar_type(), kv.second.scalar_type()) << kv.first;
    EXPECT_TRUE(got.equal(kv.second.contiguous())) << kv.first;
  }
  EXPECT_EQ(st.metadata.at("note"), "ä ü");
  EXPECT_THROW(st.at("nope"), Error);
}

TEST(SafeTensors, ByteLayoutFollowsTheFormat) {
  const auto p = tmp_path("layout.safetensors");
  save_safetensors(p, {{"a", torch::tensor({1.0f, 2.0f})}, {"b", torch::tensor({(int64_t)3})}});
  const auto bytes = read_all(p);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 8 + 8);
  const std::string header = bytes.substr(8, n);
  EXPECT_NE(header.find("\"a\":{\"data_offsets\":[0,8],\"dtype\":\"F32\",\"shape\":[2]}"), std::string::npos) << header;
  EXPECT_NE(header.find("\"b\":{\"data_offsets\":[8,16],\"dtype\":\"I64\",\"shape\":[1]}"), std::string::npos) << header;
  float one;
  std::memcpy(&one, bytes.data() + 8 + n, 4);
  EXPECT_EQ(one, 1.0f);  // little-endian float data right after the header
}

TEST(SafeTensors, RejectsMalformedFiles) {
  const std::string ok_header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(error_of(make_file(ok_header, std::string(8, '\0'))), "");
  EXPECT_NE(error_of("abc").find("at least 8"), std::string::npos);
  // Header length larger than the file.
  auto f = make_file(ok_header, std::string(8, '\0'));
  f[0] = '\xff';
  f[5] = '\x01';
  EXPECT_NE(error_of(f).find("exceeds"), std::string::npos);
  // Offsets out of range.
  EXPECT_NE(error_of(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(4, '\0')))
                .find("out of range"),
            std::string::npos);
  // Overlapping tensors.
  EXPECT_NE(error_of(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                               std::string(8, '\0')))
                .find("overlaps"),
            std::string::npos);
  // A gap, and bytes no tensor covers.
  EXPECT_NE(error_of(make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')))
                .find("gap"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(ok_header, std::string(12, '\0'))).find("cover"), std::string::npos);
  // Unknown dtype.
  EXPECT_NE(error_of(make_file(R"({"x":{"dtype":"F8_Q","shape":[2],"data_offsets":[0,2]}})", std::string(2, '\0')))
                .find("unknown dtype 'F8_Q'"),
            std::string::npos);
  // Shape that disagrees with its offsets, and a huge declared shape.
  EXPECT_NE(error_of(make_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')))
                .find("needs 12 bytes"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"x":{"dtype":"F32","shape":[1000000000,1000000000],"data_offsets":[0,8]}})",
                               std::string(8, '\0'))),
            "");
  EXPECT_NE(error_of(make_file("{not json", "")).find("JSON"), std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"__metadata__":{"a":1}})", "")).find("string"), std::string::npos);
}

TEST(SafeTensors, AtomicWriteLeavesOldFileOnFailure) {
  const auto p = tmp_path("atomic.safetensors");
  save_safetensors(p, {{"w", torch::ones({3})}});
  // A write into a folder that does not exist fails without touching anything.
  EXPECT_THROW(atomic_write(tmp_path("no/such/dir/file"), "x"), Error);
  // A crash mid-write leaves only a temporary file beside the checkpoint: simulate one.
  {
    std::ofstream(p + ".tmp.99999", std::ios::binary) << "partial garbage";
  }
  auto st = load_safetensors(p);
  EXPECT_TRUE(st.at("w").equal(torch::ones({3})));
  save_safetensors(p, {{"w", torch::zeros({3})}});
  EXPECT_TRUE(load_safetensors(p).at("w").equal(torch::zeros({3})));
  std::remove((p + ".tmp.99999").c_str());
}

TEST(Files, PredicatesReadWriteAndFolders) {
  const std::string root = tmp_path("files_test");
  std::system(("rm -rf '" + root + "'").c_str());
  EXPECT_FALSE(exists(root));
  make_dirs(root + "/a/b/c");
  make_dirs(root + "/a/b/c/");  // again, with a trailing slash: nothing to do
  EXPECT_TRUE(exists(root + "/a/b/c"));
  EXPECT_TRUE(is_dir(root + "/a/b"));
  EXPECT_FALSE(is_file(root + "/a/b"));
  // Every byte value survives a write and a read.
  std::string bytes;
  for (int i = 0; i < 3 * 256; ++i) bytes.push_back(static_cast<char>(i % 256));
  const std::string f = root + "/a/bytes.bin";
  write_all(f, bytes);
  EXPECT_TRUE(is_file(f));
  EXPECT_FALSE(is_dir(f));
  EXPECT_EQ(file_size(f), 768);
  EXPECT_EQ(read_all(f), bytes);
  write_all(f, "short");  // truncates
  EXPECT_EQ(read_all(f), "short");
  atomic_write(f, "replaced");
  EXPECT_EQ(read_all(f), "replaced");
  EXPECT_FALSE(exists(f + ".tmp." + std::to_string(::getpid())));
  write_all(root + "/empty", "");
  EXPECT_EQ(read_all(root + "/empty"), "");
  // Errors name the path: reading what is missing is the user's (input), failing to write is a runtime error.
  try {
    read_all(root + "/missing.txt");
    ADD_FAILURE() << "read of a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos) << e.what();
  }
  try {
    file_size(root + "/a");
    ADD_FAILURE() << "size of a folder";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), root + "/a: not a regular file");
  }
  EXPECT_THROW(file_size(root + "/missing.txt"), Error);
  try {
    write_all(root + "/no/such/folder/x", "x");
    ADD_FAILURE() << "write into a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("/no/such/folder/x"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_dirs(f + "/sub"), Error);  // a file stands in the way
  EXPECT_THROW(make_dirs(f), Error);
}

TEST(Text, EscapesOfEachFormat) {
  EXPECT_EQ(html_escape("plain text"), "plain text");
  EXPECT_EQ(html_escape("<b class=\"x\">Tom & Jerry's</b>"),
            "&lt;b class=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/b&gt;");
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");  // already escaped text is escaped again, as it should be
  EXPECT_EQ(html_escape("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through

  EXPECT_EQ(xml_escape("a < b && c > \"d\" 'e'"), "a &lt; b &amp;&amp; c &gt; &quot;d&quot; &apos;e&apos;");
  EXPECT_EQ(xml_escape(std::string("tab\tline\ncr\rbell\x07nul") + '\0'), "tab\tline\ncr\rbell?nul?");

  EXPECT_EQ(csv_field("T-shirt/top"), "T-shirt/top");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
  EXPECT_EQ(csv_field(" padded"), "\" padded\"");
  EXPECT_EQ(csv_field("in side"), "in side");

  EXPECT_EQ(json_escape("plain"), "plain");
  EXPECT_EQ(json_escape("q\"b\\n\n"), "q\\\"b\\\\n\\n");
  EXPECT_EQ(json_escape(std::string(1, '\x01')), "\\u0001");
  EXPECT_EQ(json_escape("\x1f"), "\\u001f");
  // Against nlohmann::json, an independent writer: every control character, quotes, backslashes, UTF-8, DEL.
  std::string all;
  for (int c = 1; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "caf\xc3\xa9 \xe2\x86\x92 end";
  EXPECT_EQ("\"" + json_escape(all) + "\"", nlohmann::json(all).dump());
  // And back: parsing the escaped literal gives the original text.
  EXPECT_EQ(nlohmann::json::parse("\"" + json_escape(all) + "\"").get<std::string>(), all);
}

TEST(Font, GlyphsWidthsAndClipping) {
  auto blank = [](int64_t w, int64_t h) {
    Image img;
    img.width = w, img.height = h, img.channels = 3;
    img.pixels.assign(static_cast<size_t>(w * h * 3), 0);
    return img;
  };
  auto lit = [](const Image& img) {
    int64_t n = 0;
    for (size_t i = 0; i < img.pixels.size(); i += 3) n += img.pixels[i] != 0;
    return n;
  };
  EXPECT_EQ(text_width(""), 0);
  EXPECT_EQ(text_width("A"), 5);
  EXPECT_EQ(text_width("ZERO"), 23);
  EXPECT_EQ(text_width("AB", 3), 33);
  // '-' is the middle row's three centre dots: exactly those pixels, in the given colour.
  Image img = blank(7, 9);
  draw_text(img, 1, 1, "-", {10, 20, 30});
  EXPECT_EQ(lit(img), 3);
  for (int64_t x = 2; x <= 4; ++x) {
    const uint8_t* p = img.pixels.data() + ((1 + 3) * 7 + x) * 3;
    EXPECT_EQ(p[0], 10);
    EXPECT_EQ(p[1], 20);
    EXPECT_EQ(p[2], 30);
  }
  // 'L' has 11 dots: at scale 3 each is a 3x3 square.
  img = blank(20, 25);
  draw_text(img, 0, 0, "L", {255, 255, 255}, 3);
  EXPECT_EQ(lit(img), 11 * 9);
  // Lower case draws as upper case; a character without a glyph as '?'; '&' (from the contact sheets' font) exists.
  Image lower = blank(12, 9), upper = blank(12, 9), unknown = blank(12, 9), question = blank(12, 9);
  draw_text(lower, 0, 0, "ab", {255, 255, 255});
  draw_text(upper, 0, 0, "AB", {255, 255, 255});
  EXPECT_EQ(lower.pixels, upper.pixels);
  draw_text(unknown, 0, 0, "~", {255, 255, 255});
  draw_text(question, 0, 0, "?", {255, 255, 255});
  EXPECT_EQ(unknown.pixels, question.pixels);
  Image amp = blank(6, 7), q = blank(6, 7);
  draw_text(amp, 0, 0, "&", {255, 255, 255});
  draw_text(q, 0, 0, "?", {255, 255, 255});
  EXPECT_NE(amp.pixels, q.pixels);
  // Text running off every edge is clipped, not written out of bounds: 'L' at (-2, -3) keeps its lower right.
  img = blank(4, 5);
  draw_text(img, -2, -3, "L", {255, 255, 255});
  // Visible window: glyph columns 2..4 and rows 3..6 of 'L' ("#    " x6, "#####"): only the base row's 3 dots.
  EXPECT_EQ(lit(img), 3);
  Image gray;
  gray.width = 2, gray.height = 2, gray.channels = 1;
  gray.pixels.assign(4, 0);
  EXPECT_THROW(draw_text(gray, 0, 0, "A"), Error);
}
