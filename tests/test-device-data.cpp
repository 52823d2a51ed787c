// DeviceBatches (runs on the CPU here and on the GPU on the GPU machine): every sample once per epoch, crops are
// windows of the zero-padded image, flips mirror, normalisation matches preprocess(), the same seed repeats, and
// the batches equal the host loader's for the same seed and transform.
#include <attncnn/data/loader.h>
#include <attncnn/error.h>
#include <attncnn/train/device_data.h>
#include <attncnn/train/trainer.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

using namespace attncnn;

namespace {
torch::Device test_device() { return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU); }
ImageSet toy(int64_t n) {
  // Image i holds the value i in every pixel of channel 0 and a gradient in channel 1, label i % 3.
  auto imgs = torch::zeros({n, 2, 5, 6}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    imgs[i][0].fill_(i + 1);
    for (int64_t x = 0; x < 6; ++x) imgs[i][1].select(1, x).fill_(10 * (x + 1));
  }
  return {imgs, torch::arange(n, torch::kLong).remainder(3)};
}
}  // namespace

TEST(DeviceBatches, CoversEverySampleOnceAndNormalises) {
  auto set = toy(23);
  const std::vector<double> mean{0.1, 0.2}, std{0.5, 0.25};
  DeviceBatches db(set, test_device(), {5, false, 0, false, false}, mean, std);
  EXPECT_EQ(db.batches_per_epoch(), 5);
  db.start_epoch(3, 1);
  std::multiset<int64_t> seen;
  torch::Tensor x, y;
  int batches = 0;
  while (db.next(x, y)) {
    ++batches;
    auto raw = ((x.cpu() * torch::tensor({0.5f, 0.25f}).view({1, 2, 1, 1}) + torch::tensor({0.1f, 0.2f}).view({1, 2, 1, 1})) * 255)
                   .round();
    for (int64_t k = 0; k < x.size(0); ++k) {
      const int64_t id = raw[k][0][0][0].item<int64_t>() - 1;
      seen.insert(id);
      EXPECT_EQ(y[k].item<int64_t>(), id % 3);
    }
    // The same pixels as the CPU preprocessing path.
    EXPECT_TRUE(torch::allclose(x.cpu(), preprocess(set.images.index_select(0, (raw.select(1, 0).select(1, 0).select(1, 0) - 1).to(torch::kLong)),
                                                     mean, std, torch::kCPU), 1e-5, 1e-5));
  }
  EXPECT_EQ(batches, 5);
  EXPECT_EQ(seen.size(), 23u);
  for (int64_t i = 0; i < 23; ++i) EXPECT_EQ(seen.count(i), 1u);
  DeviceBatches drop(set, test_device(), {5, true, 0, false, false}, mean, std);
  EXPECT_EQ(drop.batches_per_epoch(), 4);
}

TEST(DeviceBatches, CropsAreWindowsOfThePaddedImageAndFlipsMirror) {
  auto set = toy(16);
  const std::vector<double> mean{0.0, 0.0}, std{1.0 / 255, 1.0 / 255};  // identity normalisation: pixel values
  DeviceBatches db(set, test_device(), {16, false, 2, true, false}, mean, std);
  db.start_epoch(7, 2);
  torch::Tensor x, y;
  ASSERT_TRUE(db.next(x, y));
  x = x.cpu().round().to(torch::kLong);
  int flipped = 0, shifted = 0;
  for (int64_t k = 0; k < 16; ++k) {
    // Channel 1 of the source is 10,20,...,60 along x; a crop of the padded image is a window of 0,0,10..60,0,0
    // (or its mirror). Find the window offset that explains the row.
    std::vector<int64_t> padded_row{0, 0, 10, 20, 30, 40, 50, 60, 0, 0};
    auto row = x[k][1][2];  // a middle row: never padding vertically for |dy| <= 2 of 5 rows? rows may be zero
    bool ok = false;
    for (int flip = 0; flip < 2 && !ok; ++flip)
      for (int64_t off = 0; off <= 4 && !ok; ++off) {
        bool match = true;
        for (int64_t c = 0; c < 6; ++c) {
          const int64_t src = flip ? padded_row[off + 5 - c] : padded_row[off + c];
          if (row[c].item<int64_t>() != src) match = false;
        }
        if (match) ok = true, flipped += flip, shifted += off != 2;
      }
    // A row that is entirely zero is a vertical shift into the padding: also a valid window.
    EXPECT_TRUE(ok || row.abs().sum().item<int64_t>() == 0) << "image " << k;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_GT(shifted, 0);
  // The same (seed, epoch) repeats exactly; another epoch differs.
  DeviceBatches again(set, test_device(), {16, false, 2, true, false}, mean, std);
  again.start_epoch(7, 2);
  torch::Tensor x2, y2;
  ASSERT_TRUE(again.next(x2, y2));
  EXPECT_TRUE(x2.cpu().round().to(torch::kLong).equal(x));
  again.start_epoch(7, 3);
  ASSERT_TRUE(again.next(x2, y2));
  EXPECT_FALSE(x2.cpu().round().to(torch::kLong).equal(x));
}

TEST(DeviceBatches, ReflectPaddingMirrorsTheImageAndSkipResumesTheEpoch) {
  auto set = toy(16);
  const std::vector<double> mean{0.0, 0.0}, std{1.0 / 255, 1.0 / 255};
  DeviceBatchOptions opts;
  opts.batch_size = 16;
  opts.crop_padding = 2;
  opts.reflect = true;
  opts.hflip = true;
  DeviceBatches db(set, test_device(), opts, mean, std);
  db.start_epoch(5, 1);
  torch::Tensor x, y;
  ASSERT_TRUE(db.next(x, y));
  x = x.cpu().round().to(torch::kLong);
  // Mirrored padding never brings in zeros: channel 0 keeps its constant value everywhere.
  EXPECT_GT(x.select(1, 0).min().item<int64_t>(), 0);
  // Channel 1 (10..60 along x) reflected by 2 is 30,20,10,20,30,40,50,60,50,40: each row a window of it.
  const std::vector<int64_t> padded{30, 20, 10, 20, 30, 40, 50, 60, 50, 40};
  int shifted = 0;
  for (int64_t k = 0; k < 16; ++k) {
    bool ok = false;
    for (int flip = 0; flip < 2 && !ok; ++flip)
      for (int64_t off = 0; off <= 4 && !ok; ++off) {
        bool match = true;
        for (int64_t r = 0; r < 5; ++r)
          for (int64_t cx = 0; cx < 6; ++cx)
            if (x[k][1][r][cx].item<int64_t>() != (flip ? padded[off + 5 - cx] : padded[off + cx])) match = false;
        if (match) ok = true, shifted += off != 2;
      }
    EXPECT_TRUE(ok) << "image " << k;
  }
  EXPECT_GT(shifted, 0);
  // skip(n) lands where n calls of next() would.
  DeviceBatchOptions small = opts;
  small.batch_size = 4;
  DeviceBatches a(set, test_device(), small, mean, std), b(set, test_device(), small, mean, std);
  a.start_epoch(9, 4);
  b.start_epoch(9, 4);
  torch::Tensor xa, ya, xb, yb;
  a.next(xa, ya);
  a.next(xa, ya);
  a.next(xa, ya);
  b.skip(2);
  b.next(xb, yb);
  EXPECT_TRUE(xa.equal(xb));
  EXPECT_TRUE(ya.equal(yb));
}

TEST(DeviceBatches, AlternateFlipMirrorsEachImageOnEveryOtherEpoch) {
  auto set = toy(40);
  const std::vector<double> mean{0.0, 0.0}, std{1.0 / 255, 1.0 / 255};
  DeviceBatchOptions opts;
  opts.batch_size = 40;
  opts.hflip = true;
  opts.alternate_flip = true;
  DeviceBatches db(set, test_device(), opts, mean, std);
  // Channel 1 rises along x (10..60) unless the image is mirrored; channel 0 names the image.
  auto flips = [&](int64_t epoch) {
    db.start_epoch(11, epoch);
    torch::Tensor x, y;
    EXPECT_TRUE(db.next(x, y));
    x = x.cpu().round().to(torch::kLong);
    std::vector<int> f(40, -1);
    for (int64_t k = 0; k < 40; ++k) f[x[k][0][0][0].item<int64_t>() - 1] = x[k][1][0][0].item<int64_t>() == 60;
    return f;
  };
  auto e1 = flips(1), e2 = flips(2), e3 = flips(3);
  int flipped = 0;
  for (int i = 0; i < 40; ++i) {
    EXPECT_NE(e1[i], e2[i]) << i;
    EXPECT_EQ(e1[i], e3[i]) << i;
    flipped += e1[i];
  }
  EXPECT_GT(flipped, 5);
  EXPECT_LT(flipped, 35);
}

// The host loader and the device batches make the same random choices from the same seed: the same order, crops
// and flips, so a run gives the same batches on either path. Pixels are random so that every difference shows.
TEST(DeviceBatches, SameBatchesAsTheHostLoader) {
  const int64_t n = 37, bs = 8;  // 8 does not divide 37: the last batch is partial
  torch::manual_seed(17);
  ImageSet set{torch::randint(0, 256, {n, 3, 7, 9}, torch::kLong).to(torch::kUInt8),
               torch::randint(0, 10, {n}, torch::kLong)};
  const std::vector<double> mean{0.4, 0.5, 0.6}, std{0.2, 0.25, 0.3};
  auto pixels = [&](const torch::Tensor& x) {  // back to uint8 from the normalised floats
    const auto s = torch::tensor({0.2f, 0.25f, 0.3f}).view({1, 3, 1, 1});
    const auto m = torch::tensor({0.4f, 0.5f, 0.6f}).view({1, 3, 1, 1});
    return ((x.cpu() * s + m) * 255).round().to(torch::kUInt8);
  };
  for (const std::string spec :
       {"pad=2,flip=0.5", "pad=3,pad_mode=reflect,flip=0.5", "pad=2,flip=0.5,flip_mode=alternate",
        "pad=2,pad_mode=reflect,flip=0.7,flip_mode=alternate", "flip=0.5", "pad=1", "pad=1,flip=1"}) {
    SCOPED_TRACE(spec);
    Transform tf = Transform::parse(spec);
    tf.mean = mean;
    tf.std = std;
    Loader host(set, LoaderOptions(bs).seed(13).workers(2).transform(tf));
    DeviceBatchOptions o = device_batch_options(tf, 7, 9);
    o.batch_size = bs;
    DeviceBatches dev(set, test_device(), o, mean, std);
    ASSERT_EQ(dev.batches_per_epoch(), host.size());
    int64_t augmented = 0;
    for (int64_t epoch : {1, 2}) {
      host.set_epoch(epoch);
      dev.start_epoch(13, epoch);
      Batch hb;
      torch::Tensor x, y;
      int64_t batches = 0;
      while (host.next(hb)) {
        ASSERT_TRUE(dev.next(x, y)) << "epoch " << epoch << " batch " << batches;
        const auto hp = pixels(hb.images), dp = pixels(x);
        ASSERT_EQ(hp.sizes(), dp.sizes());
        for (int64_t k = 0; k < hp.size(0); ++k)
          EXPECT_TRUE(torch::equal(hp[k], dp[k])) << "epoch " << epoch << " batch " << batches << " image " << k;
        EXPECT_TRUE(torch::equal(hb.labels, y.cpu()));
        EXPECT_TRUE(torch::allclose(hb.images, x.cpu(), 1e-5, 1e-5));
        augmented += (hp != set.images.index_select(0, hb.indices)).flatten(1).any(1).sum().item<int64_t>();
        ++batches;
      }
      EXPECT_FALSE(dev.next(x, y));
      EXPECT_EQ(batches, 5);
    }
    EXPECT_GT(augmented, n / 2);  // the comparison is between augmented batches, not plain copies
    // Resuming mid-epoch: skip(2) on the device lands on the host's third batch.
    host.set_epoch(2);
    Batch hb;
    for (int k = 0; k < 3; ++k) host.next(hb);
    dev.start_epoch(13, 2);
    dev.skip(2);
    torch::Tensor x, y;
    ASSERT_TRUE(dev.next(x, y));
    EXPECT_TRUE(torch::equal(pixels(hb.images), pixels(x)));
    EXPECT_TRUE(torch::equal(hb.labels, y.cpu()));
  }
}

TEST(DeviceBatches, OptionsFromATransformRefuseWhatOnlyTheHostDoes) {
  auto o = device_batch_options(Transform::parse("pad=4,pad_mode=reflect,flip=0.3,flip_mode=alternate"), 32, 32);
  EXPECT_EQ(o.crop_padding, 4);
  EXPECT_TRUE(o.reflect);
  EXPECT_TRUE(o.hflip);
  EXPECT_DOUBLE_EQ(o.flip_prob, 0.3);
  EXPECT_TRUE(o.alternate_flip);
  EXPECT_FALSE(device_batch_options(Transform::parse("pad=2"), 32, 32).hflip);
  EXPECT_THROW(device_batch_options(Transform::parse("erase=0.25"), 32, 32), attncnn::Error);
  EXPECT_THROW(device_batch_options(Transform::parse("resize=32"), 32, 32), attncnn::Error);
  EXPECT_THROW(device_batch_options(Transform::parse("crop=28,pad=2"), 32, 32), attncnn::Error);
}
