// Transforms: hand-checked resizing, crops that stay inside the padded image, flips, erasing, normalisation,
// reproducibility from (seed, epoch, index), and the JSON / key=value forms.
#include <attncnn/data/dataset.h>
#include <attncnn/data/transforms.h>
#include <attncnn/error.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <functional>
#include <set>

using namespace attncnn;

namespace {
torch::Tensor random_images(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed = 1) {
  torch::manual_seed(seed);
  return torch::randint(0, 256, {n, c, h, w}, torch::kLong).to(torch::kUInt8);
}
torch::Tensor iota(int64_t n) { return torch::arange(n, torch::kLong); }
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Transforms, SplitMix64MatchesTheReferenceSequence) {
  // The first outputs of the reference splitmix64 generator seeded with 0 are splitmix64(0), splitmix64(γ), ...
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(0x9e3779b97f4a7c15ULL), 0x6e789e6aa1b965f4ULL);
  EXPECT_NE(sample_key(1, 0, 0), sample_key(1, 1, 0));
  EXPECT_NE(sample_key(1, 0, 0), sample_key(1, 0, 1));
  EXPECT_NE(sample_key(1, 0, 0), sample_key(2, 0, 0));
}

TEST(Transforms, IdentityWhenNothingIsSet) {
  auto x = random_images(5, 3, 7, 6);
  Transform t;
  auto idx = torch::tensor({4, 0, 2}, torch::kLong);
  auto y = t.apply(x, idx, 1, 0);
  ASSERT_EQ(y.sizes(), torch::IntArrayRef({3, 3, 7, 6}));
  EXPECT_TRUE(torch::equal(y, x.index_select(0, idx)));
  EXPECT_FALSE(t.is_random());
}

TEST(Transforms, FlipTwiceIsIdentityAndMatchesTorchFlip) {
  auto x = random_images(4, 3, 5, 7);
  Transform t;
  t.hflip = 1.0;
  auto once = t.apply(x, iota(4), 3, 0);
  EXPECT_TRUE(torch::equal(once, x.flip({3})));
  auto twice = t.apply(once, iota(4), 3, 0);
  EXPECT_TRUE(torch::equal(twice, x));
  // With p = 0.5 about half the samples are flipped, each one either flipped or untouched.
  t.hflip = 0.5;
  auto big = random_images(400, 1, 2, 3);
  auto y = t.apply(big, iota(400), 9, 2);
  int flipped = 0;
  for (int64_t i = 0; i < 400; ++i) {
    const bool same = torch::equal(y[i], big[i]), flip = torch::equal(y[i], big[i].flip({2}));
    EXPECT_TRUE(same || flip);
    flipped += flip && !same;
    EXPECT_EQ(t.params(9, 2, i, 2, 3).flip, flip && !same);
  }
  EXPECT_GT(flipped, 150);
  EXPECT_LT(flipped, 250);
}

TEST(Transforms, CropOfPaddedImageEqualsTheMatchingWindow) {
  auto x = random_images(50, 3, 8, 8);
  for (const std::string mode : {"zero", "reflect"}) {
    Transform t;
    t.crop = 8;
    t.padding = 3;
    t.padding_mode = mode;
    auto y = t.apply(x, iota(50), 11, 4);
    ASSERT_EQ(y.sizes(), torch::IntArrayRef({50, 3, 8, 8}));
    // The padded reference, written with libtorch's own padding.
    auto xf = x.to(torch::kFloat);
    auto padded = mode == "zero" ? torch::constant_pad_nd(xf, {3, 3, 3, 3}, 0)
                                 : torch::reflection_pad2d(xf, {3, 3, 3, 3});
    std::set<std::pair<int64_t, int64_t>> offsets;
    for (int64_t i = 0; i < 50; ++i) {
      const auto p = t.params(11, 4, i, 8, 8);
      ASSERT_GE(p.top, 0);
      ASSERT_LE(p.top, 6);
      ASSERT_GE(p.left, 0);
      ASSERT_LE(p.left, 6);
      offsets.insert({p.top, p.left});
      auto window = padded[i].slice(1, p.top, p.top + 8).slice(2, p.left, p.left + 8);
      EXPECT_TRUE(torch::equal(y[i].to(torch::kFloat), window)) << mode << " sample " << i;
    }
    EXPECT_GT(offsets.size(), 20u) << "offsets should vary";
  }
  // A smaller crop than the image, no padding.
  Transform t;
  t.crop = 5;
  auto y = t.apply(x, iota(50), 1, 1);
  ASSERT_EQ(y.sizes(), torch::IntArrayRef({50, 3, 5, 5}));
  for (int64_t i = 0; i < 50; ++i) {
    const auto p = t.params(1, 1, i, 8, 8);
    EXPECT_TRUE(torch::equal(y[i], x[i].slice(1, p.top, p.top + 5).slice(2, p.left, p.left + 5)));
  }
  // Evaluation takes the centre crop.
  auto e = t.apply(x, iota(50), 1, 1, /*augment=*/false);
  EXPECT_TRUE(torch::equal(e, x.slice(2, 1, 6).slice(3, 1, 6)));
}

TEST(Transforms, CropAndFlipTogether) {
  auto x = random_images(30, 2, 6, 6);
  Transform t;
  t.crop = 6;
  t.padding = 2;
  t.hflip = 0.5;
  auto y = t.apply(x, iota(30), 5, 0);
  auto padded = torch::constant_pad_nd(x, {2, 2, 2, 2}, 0);
  for (int64_t i = 0; i < 30; ++i) {
    const auto p = t.params(5, 0, i, 6, 6);
    auto w = padded[i].slice(1, p.top, p.top + 6).slice(2, p.left, p.left + 6);
    if (p.flip) w = w.flip({2});
    EXPECT_TRUE(torch::equal(y[i], w)) << i;
  }
}

TEST(Transforms, ErasingFillsOneRectangleWithTheMean) {
  auto x = random_images(40, 3, 10, 12);
  Transform t;
  t.erase = 1.0;
  t.mean = {0.2, 0.5, 1.0};
  t.std = {1, 1, 1};
  auto y = t.apply(x, iota(40), 2, 0);
  const uint8_t fill[3] = {51, 128, 255};
  for (int64_t i = 0; i < 40; ++i) {
    const auto p = t.params(2, 0, i, 10, 12);
    ASSERT_TRUE(p.erase);
    ASSERT_GE(p.erase_height, 1);
    ASSERT_GE(p.erase_width, 1);
    ASSERT_LE(p.erase_top + p.erase_height, 10);
    ASSERT_LE(p.erase_left + p.erase_width, 12);
    const double area = static_cast<double>(p.erase_height * p.erase_width) / 120.0;
    EXPECT_LE(area, 0.5);  // 0.33 of the area, up to rounding of each side
    auto expect = x[i].clone();
    for (int64_t c = 0; c < 3; ++c)
      expect[c].slice(0, p.erase_top, p.erase_top + p.erase_height)
          .slice(1, p.erase_left, p.erase_left + p.erase_width)
          .fill_(fill[c]);
    EXPECT_TRUE(torch::equal(y[i], expect)) << i;
  }
  t.erase = 0.0;
  EXPECT_TRUE(torch::equal(t.apply(x, iota(40), 2, 0), x));
}

TEST(Transforms, SameSeedSameResultOtherEpochOrSeedDiffers) {
  auto x = random_images(64, 3, 8, 8);
  Transform t = Transform::parse("crop=8,pad=2,flip=0.5,erase=0.5");
  auto a = t.apply(x, iota(64), 7, 3);
  EXPECT_TRUE(torch::equal(a, t.apply(x, iota(64), 7, 3)));
  EXPECT_FALSE(torch::equal(a, t.apply(x, iota(64), 7, 4)));
  EXPECT_FALSE(torch::equal(a, t.apply(x, iota(64), 8, 3)));
  // A sample's result does not depend on the batch it is in or its position there.
  auto idx = torch::tensor({17, 3, 40}, torch::kLong);
  auto b = t.apply(x, idx, 7, 3);
  EXPECT_TRUE(torch::equal(b[0], a[17]));
  EXPECT_TRUE(torch::equal(b[1], a[3]));
  EXPECT_TRUE(torch::equal(b[2], a[40]));
}

TEST(Transforms, NormalizeMatchesThePlainFormula) {
  auto x = random_images(3, 2, 4, 5);
  Transform t;
  t.mean = {0.25, 0.75};
  t.std = {0.5, 0.125};
  auto y = t.normalize(x);
  ASSERT_EQ(y.scalar_type(), torch::kFloat);
  auto xa = x.accessor<uint8_t, 4>();
  auto ya = y.accessor<float, 4>();
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 5; ++w)
          EXPECT_NEAR(ya[n][c][h][w], (xa[n][c][h][w] / 255.0 - t.mean[c]) / t.std[c], 1e-5);
  Transform bad;
  bad.mean = {0.5};
  bad.std = {0.5};
  EXPECT_NE(error_of([&] { bad.normalize(x); }).find("2 channel(s)"), std::string::npos);
}

TEST(Transforms, FitUsesChannelStats) {
  auto x = random_images(10, 3, 4, 4);
  Transform t;
  t.fit(x);
  const auto s = channel_stats(x);
  EXPECT_EQ(t.mean, s.first);
  EXPECT_EQ(t.std, s.second);
  Transform given;
  given.mean = {0.1, 0.2, 0.3};
  given.std = {1, 1, 1};
  given.fit(x);
  EXPECT_EQ(given.mean, (std::vector<double>{0.1, 0.2, 0.3}));
}

TEST(Transforms, ResizeCenterCrop) {
  // Equal size: identity. A wide image of the right height: its centre columns.
  std::vector<uint8_t> img(4 * 8);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 7);
  auto same = resize_center_crop(img.data(), 4, 8, 1, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_EQ(same[y * 4 + x], img[y * 8 + x + 2]) << y << "," << x;
  // A constant colour image stays constant at any size; interleaved channels stay apart.
  std::vector<uint8_t> rgb(30 * 50 * 3);
  for (size_t i = 0; i < rgb.size(); i += 3) rgb[i] = 10, rgb[i + 1] = 200, rgb[i + 2] = 99;
  for (int64_t s : {7, 16, 64}) {
    auto r = resize_center_crop(rgb.data(), 30, 50, 3, s);
    ASSERT_EQ(r.size(), static_cast<size_t>(s * s * 3));
    for (size_t i = 0; i < r.size(); i += 3) {
      ASSERT_EQ(r[i], 10);
      ASSERT_EQ(r[i + 1], 200);
      ASSERT_EQ(r[i + 2], 99);
    }
  }
  // Shrinking a fine checkerboard averages it (antialiasing) instead of picking one colour.
  std::vector<uint8_t> check(64 * 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) check[y * 64 + x] = ((x + y) % 2) ? 255 : 0;
  auto small = resize_center_crop(check.data(), 64, 64, 1, 8);
  for (auto v : small) EXPECT_NEAR(v, 127.5, 3.0);
  // Through Transform: resize applies to a batch of larger images.
  auto x = random_images(2, 3, 20, 30);
  Transform t;
  t.resize = 10;
  auto y = t.apply(x, iota(2), 0, 0);
  ASSERT_EQ(y.sizes(), torch::IntArrayRef({2, 3, 10, 10}));
  auto plane = x[1][2].contiguous();
  auto ref = resize_center_crop(plane.data_ptr<uint8_t>(), 20, 30, 1, 10);
  auto got = y[1][2].contiguous();
  EXPECT_EQ(std::memcmp(ref.data(), got.data_ptr<uint8_t>(), 100), 0);
}

TEST(Transforms, JsonAndKeyValueRoundTrip) {
  Transform t = Transform::parse("crop=32,pad=4,pad_mode=reflect,flip=0.5,erase=0.25,erase_area=0.05:0.2,"
                                 "mean=0.4:0.5:0.6,std=0.2:0.25:0.3,resize=40");
  EXPECT_EQ(t.crop, 32);
  EXPECT_EQ(t.padding, 4);
  EXPECT_EQ(t.padding_mode, "reflect");
  EXPECT_DOUBLE_EQ(t.hflip, 0.5);
  EXPECT_DOUBLE_EQ(t.erase_min_area, 0.05);
  EXPECT_EQ(t.mean.size(), 3u);
  EXPECT_EQ(t.resize, 40);
  const Transform u = Transform::from_json(t.to_json());
  EXPECT_EQ(u.to_json(), t.to_json());
  EXPECT_EQ(Transform::parse(t.to_json()).to_json(), t.to_json());
  const Transform e = t.eval_part();
  EXPECT_EQ(e.padding, 0);
  EXPECT_EQ(e.hflip, 0.0);
  EXPECT_EQ(e.erase, 0.0);
  EXPECT_EQ(e.crop, 32);
  EXPECT_EQ(e.mean, t.mean);
  EXPECT_EQ(Transform::parse("none").to_json(), Transform{}.to_json());
  EXPECT_NE(error_of([] { Transform::parse("crop=32,flop=1"); }).find("flop"), std::string::npos);
  EXPECT_NE(error_of([] { Transform::parse("flip=2"); }).find("flip=2"), std::string::npos);
  EXPECT_NE(error_of([] { Transform::parse("crop=abc"); }).find("crop=abc"), std::string::npos);
  EXPECT_NE(error_of([] { Transform::parse("pad_mode=wrap"); }).find("wrap"), std::string::npos);
  EXPECT_NE(error_of([] { Transform::from_json("{\"crop\": \"x\"}"); }).find("transform"), std::string::npos);
  EXPECT_NE(error_of([] { Transform::from_json("{\"zoom\": 1}"); }).find("zoom"), std::string::npos);
  Transform big;
  big.crop = 20;
  big.padding = 2;
  EXPECT_NE(error_of([&] { big.output_size(8, 8); }).find("crop=20"), std::string::npos);
  Transform refl;
  refl.padding = 8;
  refl.padding_mode = "reflect";
  EXPECT_NE(error_of([&] { refl.output_size(8, 8); }).find("reflect"), std::string::npos);
}

TEST(Transforms, AlternateFlipInvertsEachImageEveryOtherEpoch) {
  Transform t = Transform::parse("flip=0.5,flip_mode=alternate");
  EXPECT_EQ(t.flip_mode, "alternate");
  EXPECT_EQ(Transform::from_json(t.to_json()).flip_mode, "alternate");
  int flipped = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const bool e1 = t.params(4, 1, i, 8, 8).flip, e2 = t.params(4, 2, i, 8, 8).flip, e5 = t.params(4, 5, i, 8, 8).flip;
    EXPECT_NE(e1, e2) << i;
    EXPECT_EQ(e1, e5) << i;
    flipped += e1;
  }
  EXPECT_GT(flipped, 70);
  EXPECT_LT(flipped, 130);
  EXPECT_THROW(Transform::parse("flip=0.5,flip_mode=sometimes"), attncnn::Error);
}

// Transform::params takes its crop and flip from crop_flip_params (which device batches use too); erasing only
// adds to them. The spec counts the crop origins that fit in the padded image.
TEST(Transforms, CropAndFlipComeFromCropFlipParams) {
  const Transform t = Transform::parse("crop=6,pad=1,flip=0.5,erase=0.5");
  const CropFlipSpec s = t.crop_flip_spec(8, 9);
  EXPECT_EQ(s.top_choices, 8 + 2 - 6 + 1);
  EXPECT_EQ(s.left_choices, 9 + 2 - 6 + 1);
  EXPECT_DOUBLE_EQ(s.hflip, 0.5);
  EXPECT_FALSE(s.alternate);
  EXPECT_TRUE(Transform::parse("flip=0.3,flip_mode=alternate").crop_flip_spec(8, 8).alternate);
  std::set<int64_t> tops, lefts;
  int erased = 0;
  for (int64_t i = 0; i < 300; ++i) {
    const auto p = t.params(3, 2, i, 8, 9), q = crop_flip_params(s, 3, 2, i);
    EXPECT_EQ(p.top, q.top);
    EXPECT_EQ(p.left, q.left);
    EXPECT_EQ(p.flip, q.flip);
    EXPECT_FALSE(q.erase);
    tops.insert(p.top), lefts.insert(p.left), erased += p.erase;
  }
  EXPECT_EQ(tops, std::set<int64_t>({0, 1, 2, 3, 4}));
  EXPECT_EQ(lefts, std::set<int64_t>({0, 1, 2, 3, 4, 5}));
  EXPECT_GT(erased, 100);
  for (int64_t i = 0; i < 50; ++i)
    EXPECT_EQ(Transform::parse("flip=0.3,flip_mode=alternate").params(3, 4, i, 8, 8).flip,
              crop_flip_params({1, 1, 0.3, true}, 3, 4, i).flip);
}
