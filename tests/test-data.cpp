// Fashion-MNIST from the real Debian files, and idx files that are broken in every way the reader must catch.
#include <attncnn/data/dataset.h>
#include <attncnn/data/idx.h>
#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <cstdio>

using namespace attncnn;

namespace {
std::string tmp_dir(const std::string& name) {
  const std::string d = std::string(ATTNCNN_TEST_TMP) + "/" + name;
  std::system(("rm -rf '" + d + "' && mkdir -p '" + d + "'").c_str());
  return d;
}
void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}
std::string idx_images(uint32_t n, uint32_t h, uint32_t w, size_t data_bytes) {
  return std::string("\0\0\x08\x03", 4) + be32(n) + be32(h) + be32(w) + std::string(data_bytes, '\x07');
}
std::string idx_labels(uint32_t n, size_t data_bytes, char label = 1) {
  return std::string("\0\0\x08\x01", 4) + be32(n) + std::string(data_bytes, label);
}
bool have_fashion() { return exists(ATTNCNN_FASHION_MNIST_DIR); }
template <typename F>
std::string error_of(F f, int* code = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (code) *code = e.exit_code();
    return e.what();
  }
  return "";
}
}  // namespace

TEST(FashionMnist, RealFilesHaveKnownCounts) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  auto ds = load_dataset(std::string("fashion-mnist:") + ATTNCNN_FASHION_MNIST_DIR);
  EXPECT_EQ(ds.train.size(), 60000);
  EXPECT_EQ(ds.test.size(), 10000);
  EXPECT_EQ(ds.train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(ds.train.images.scalar_type(), torch::kUInt8);
  ASSERT_EQ(ds.num_classes(), 10);
  EXPECT_EQ(ds.class_names[9], "Ankle boot");
  for (auto c : class_counts(ds.train.labels, 10)) EXPECT_EQ(c, 6000);
  for (auto c : class_counts(ds.test.labels, 10)) EXPECT_EQ(c, 1000);
  // Known facts of the files: the first training label is 9 (ankle boot), the first test labels 9, 2, 1, 1.
  EXPECT_EQ(ds.train.labels[0].item<int64_t>(), 9);
  EXPECT_TRUE(ds.test.labels.slice(0, 0, 4).equal(torch::tensor({9, 2, 1, 1}, torch::kLong)));
  // Published pixel statistics of the training split: mean 0.2860, std 0.3530.
  auto stats = channel_stats(ds.train.images);
  EXPECT_NEAR(stats.first[0], 0.2860, 1e-4);
  EXPECT_NEAR(stats.second[0], 0.3530, 1e-4);
}

TEST(FashionMnist, MissingFolderSaysHowToInstall) {
  int code = 0;
  auto msg = error_of([] { load_dataset("fashion-mnist:/nonexistent/fm"); }, &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(msg.find("/nonexistent/fm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("apt-get install dataset-fashion-mnist"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { load_dataset("cifar7"); }).find("fashion-mnist"), std::string::npos);
}

TEST(Idx, ReadsRawAndGzipIdentically) {
  const auto d = tmp_dir("idx_ok");
  std::string imgs = idx_images(3, 2, 2, 12);
  for (int i = 0; i < 12; ++i) imgs[16 + i] = static_cast<char>(i * 20);
  write_all(d + "/a.idx", imgs);
  write_gz(d + "/a.idx.gz", imgs);
  auto raw = read_idx_images(d + "/a.idx");
  auto gz = read_idx_images(d + "/a.idx.gz");
  EXPECT_EQ(raw.sizes(), (std::vector<int64_t>{3, 1, 2, 2}));
  EXPECT_TRUE(raw.equal(gz));
  EXPECT_EQ(raw[2][0][1][1].item<int>(), 11 * 20);
}

TEST(Idx, TruncatedFileNamesExpectedAndActualSizes) {
  const auto d = tmp_dir("idx_trunc");
  write_gz(d + "/t.gz", idx_images(10, 28, 28, 5000));
  int code = 0;
  auto msg = error_of([&] { read_idx_images(d + "/t.gz"); }, &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(msg.find(d + "/t.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("7840"), std::string::npos) << msg;  // expected 10·28·28 bytes
  EXPECT_NE(msg.find("5000"), std::string::npos) << msg;  // found
  write_all(d + "/short", std::string("\0\0\x08", 3));
  EXPECT_NE(error_of([&] { read_idx_images(d + "/short"); }).find("truncated"), std::string::npos);
}

TEST(Idx, WrongMagicAndDimensions) {
  const auto d = tmp_dir("idx_magic");
  write_all(d + "/labels_as_images", idx_labels(4, 4));
  auto msg = error_of([&] { read_idx_images(d + "/labels_as_images"); });
  EXPECT_NE(msg.find("labels_as_images"), std::string::npos) << msg;
  EXPECT_NE(msg.find("wrong magic 0x00000801"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0x00000803"), std::string::npos) << msg;
  write_all(d + "/png", std::string("\x89PNG\r\n\x1a\n0000000000"));
  EXPECT_NE(error_of([&] { read_idx_labels(d + "/png"); }).find("wrong magic"), std::string::npos);
  write_all(d + "/zero", idx_images(0, 28, 28, 0));
  EXPECT_NE(error_of([&] { read_idx_images(d + "/zero"); }).find("dimension 0"), std::string::npos);
  write_all(d + "/extra", idx_labels(2, 3));
  EXPECT_NE(error_of([&] { read_idx_labels(d + "/extra"); }).find("holds more"), std::string::npos);
}

TEST(Idx, HugeHeaderDoesNotAllocateForIt) {
  // A header claiming 10^9 28×28 images with 100 bytes of data must fail fast on the missing data.
  const auto d = tmp_dir("idx_huge");
  write_all(d + "/huge", idx_images(1000000000u, 28, 28, 100));
  auto msg = error_of([&] { read_idx_images(d + "/huge"); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 100"), std::string::npos) << msg;
}

TEST(Idx, DatasetFolderChecksCountsAndLabels) {
  const auto d = tmp_dir("idx_set");
  write_all(d + "/train-images-idx3-ubyte", idx_images(4, 3, 3, 36));
  write_all(d + "/train-labels-idx1-ubyte", idx_labels(5, 5));
  write_all(d + "/t10k-images-idx3-ubyte", idx_images(2, 3, 3, 18));
  write_all(d + "/t10k-labels-idx1-ubyte", idx_labels(2, 2));
  auto msg = error_of([&] { load_dataset("idx:" + d); });
  EXPECT_NE(msg.find("4 images"), std::string::npos) << msg;
  EXPECT_NE(msg.find("5 labels"), std::string::npos) << msg;
  write_all(d + "/train-labels-idx1-ubyte", idx_labels(4, 4, 12));
  msg = error_of([&] { load_dataset("mnist:" + d); });
  EXPECT_NE(msg.find("label 12 out of range"), std::string::npos) << msg;
  write_all(d + "/train-labels-idx1-ubyte", idx_labels(4, 4, 3));
  auto ds = load_dataset("idx:" + d);
  EXPECT_EQ(ds.num_classes(), 4);  // labels 0..3 seen: 3 in train, 1 in test
  std::remove((d + "/t10k-labels-idx1-ubyte").c_str());
  EXPECT_NE(error_of([&] { load_dataset("idx:" + d); }).find("t10k-labels-idx1-ubyte"), std::string::npos);
}

TEST(Subset, SeededAndSized) {
  ImageSet s{torch::arange(100, torch::kUInt8).reshape({100, 1, 1, 1}), torch::arange(100, torch::kLong)};
  auto a = subset(s, 0.3, 7), b = subset(s, 0.3, 7), c = subset(s, 0.3, 8);
  EXPECT_EQ(a.size(), 30);
  EXPECT_TRUE(a.labels.equal(b.labels));
  EXPECT_FALSE(a.labels.equal(c.labels));
  EXPECT_TRUE(a.images.flatten().to(torch::kLong).equal(a.labels));
  EXPECT_THROW(subset(s, 0.0, 1), Error);
}
