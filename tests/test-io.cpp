// safetensors: round trip, the exact byte layout of the format, and rejection of malformed files.
#include <attncnn/error.h>
#include <attncnn/io/safetensors.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include "test_files.h"

using namespace attncnn;

namespace {
std::string tmp_path(const std::string& name) {
  std::system(("mkdir -p '" + std::string(ATTNCNN_TEST_TMP) + "'").c_str());
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
