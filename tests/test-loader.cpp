// Loader: every sample once per epoch, drop_last, order from (seed, epoch), identical batches whatever the worker
// count, bounded prefetch, clean shutdown mid-epoch, worker exceptions reaching the consumer.
#include <attncnn/data/loader.h>
#include <attncnn/error.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

using namespace attncnn;

namespace {
ImageSet make_set(int64_t n, int64_t c = 3, int64_t h = 8, int64_t w = 8) {
  torch::manual_seed(3);
  ImageSet s;
  s.images = torch::randint(0, 256, {n, c, h, w}, torch::kLong).to(torch::kUInt8);
  s.labels = torch::arange(n, torch::kLong) % 7;
  return s;
}
std::vector<Batch> epoch_batches(Loader& l, int64_t epoch) {
  l.set_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (l.next(b)) out.push_back(b);
  return out;
}
}  // namespace

TEST(Loader, EpochOrderIsAPermutationFromSeedAndEpoch) {
  const auto a = epoch_order(1000, 5, 1);
  std::set<int64_t> seen(a.begin(), a.end());
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 999);
  EXPECT_EQ(a, epoch_order(1000, 5, 1));
  EXPECT_NE(a, epoch_order(1000, 5, 2));
  EXPECT_NE(a, epoch_order(1000, 6, 1));
  const auto plain = epoch_order(10, 5, 1, false);
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(plain[i], i);
  EXPECT_TRUE(epoch_order(0, 1, 1).empty());
  EXPECT_EQ(epoch_order(1, 1, 1), std::vector<int64_t>{0});
}

TEST(Loader, CoversEverySampleOncePerEpoch) {
  const auto set = make_set(103);
  Loader l(set, LoaderOptions(10).seed(1).workers(2).transform(Transform::parse("crop=8,pad=2,flip=0.5")));
  EXPECT_EQ(l.size(), 11);
  EXPECT_EQ(l.samples(), 103);
  for (int64_t epoch : {1, 2}) {
    const auto batches = epoch_batches(l, epoch);
    ASSERT_EQ(batches.size(), 11u);
    std::multiset<int64_t> seen;
    for (size_t k = 0; k < batches.size(); ++k) {
      const auto& b = batches[k];
      EXPECT_EQ(b.index, static_cast<int64_t>(k));
      EXPECT_EQ(b.images.size(0), k + 1 < batches.size() ? 10 : 3);
      EXPECT_EQ(b.images.scalar_type(), torch::kFloat);
      EXPECT_EQ(b.images.sizes().slice(1), torch::IntArrayRef({3, 8, 8}));
      EXPECT_EQ(b.labels.scalar_type(), torch::kLong);
      EXPECT_TRUE(torch::equal(b.labels, set.labels.index_select(0, b.indices)));
      for (int64_t i = 0; i < b.indices.size(0); ++i) seen.insert(b.indices[i].item<int64_t>());
    }
    EXPECT_EQ(seen.size(), 103u);
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 103u);
  }
}

TEST(Loader, DropLast) {
  const auto set = make_set(103);
  Loader l(set, LoaderOptions(10).drop_last(true).workers(1));
  EXPECT_EQ(l.size(), 10);
  EXPECT_EQ(l.samples(), 100);
  const auto batches = epoch_batches(l, 0);
  ASSERT_EQ(batches.size(), 10u);
  std::set<int64_t> seen;
  for (const auto& b : batches) {
    EXPECT_EQ(b.images.size(0), 10);
    for (int64_t i = 0; i < 10; ++i) seen.insert(b.indices[i].item<int64_t>());
  }
  EXPECT_EQ(seen.size(), 100u);
  Loader small(set, LoaderOptions(200).drop_last(true));
  EXPECT_EQ(small.size(), 0);
  Batch b;
  EXPECT_FALSE(small.next(b));
}

TEST(Loader, BatchesMatchTheTransformAndDoNotDependOnWorkers) {
  const auto set = make_set(70);
  const Transform tf = Transform::parse("crop=8,pad=2,pad_mode=reflect,flip=0.5,erase=0.3");
  std::vector<std::vector<Batch>> runs;
  for (int workers : {0, 1, 2, 3}) {
    Loader l(set, LoaderOptions(16).seed(42).workers(workers).prefetch(2).transform(tf));
    runs.push_back(epoch_batches(l, 3));
  }
  for (size_t r = 1; r < runs.size(); ++r) {
    ASSERT_EQ(runs[r].size(), runs[0].size());
    for (size_t k = 0; k < runs[0].size(); ++k) {
      EXPECT_TRUE(torch::equal(runs[r][k].indices, runs[0][k].indices)) << r << " " << k;
      EXPECT_TRUE(torch::equal(runs[r][k].images, runs[0][k].images)) << r << " " << k;
      EXPECT_TRUE(torch::equal(runs[r][k].labels, runs[0][k].labels)) << r << " " << k;
    }
  }
  // The images are the transform of those indices, normalised with the set's own statistics.
  Transform fitted = tf;
  fitted.fit(set.images);
  const auto& b = runs[0][1];
  auto expect = fitted.normalize(fitted.apply(set.images, b.indices, 42, 3));
  EXPECT_TRUE(torch::allclose(b.images, expect));
  // Another epoch: another order and other augmentations.
  Loader l(set, LoaderOptions(16).seed(42).workers(2).transform(tf));
  const auto other = epoch_batches(l, 4);
  EXPECT_FALSE(torch::equal(other[0].indices, runs[0][0].indices));
  // Evaluation mode: no shuffle, no augmentation.
  Loader ev(set, LoaderOptions(16).shuffle(false).augment(false).transform(tf));
  const auto eb = epoch_batches(ev, 0);
  EXPECT_TRUE(torch::equal(eb[0].indices, torch::arange(16, torch::kLong)));
  EXPECT_TRUE(torch::allclose(eb[0].images, fitted.normalize(set.images.slice(0, 0, 16))));
}

TEST(Loader, PrefetchIsBounded) {
  const auto set = make_set(200);
  std::atomic<int> made{0};
  Loader l(set, LoaderOptions(10).workers(2).prefetch(2).on_batch(
                    [&](torch::Tensor&, const torch::Tensor&) { ++made; }));
  Batch b;
  ASSERT_TRUE(l.next(b));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Workers may work on batches 1 and 2 (consumed 1 + prefetch 2), never further ahead.
  EXPECT_LE(made.load(), 3);
  EXPECT_GE(made.load(), 2);
}

TEST(Loader, StopsCleanlyMidEpochAndRestarts) {
  const auto set = make_set(500);
  for (int rep = 0; rep < 20; ++rep) {
    Loader l(set, LoaderOptions(8).workers(2).prefetch(3).transform(Transform::parse("flip=0.5")));
    Batch b;
    ASSERT_TRUE(l.next(b));
    if (rep % 2) {
      l.set_epoch(rep);  // abandon the epoch, start another
      int64_t n = 0;
      while (l.next(b)) ++n;
      EXPECT_EQ(n, l.size());
    }
  }  // destructors join the workers; a hang here fails by timeout
}

TEST(Loader, WorkerExceptionReachesTheConsumer) {
  const auto set = make_set(100);
  auto hook = [](torch::Tensor&, const torch::Tensor& idx) {
    for (int64_t i = 0; i < idx.size(0); ++i)
      if (idx[i].item<int64_t>() == 57) throw Error(ErrorKind::Input, "sample 57 is cursed");
  };
  for (int workers : {0, 2}) {
    Loader l(set, LoaderOptions(10).workers(workers).on_batch(hook));
    Batch b;
    std::string msg;
    int64_t got = 0;
    try {
      while (l.next(b)) ++got;
    } catch (const Error& e) {
      msg = e.what();
    }
    EXPECT_EQ(msg, "sample 57 is cursed") << workers;
    EXPECT_LT(got, 10);
    // A new epoch runs again (and fails again at the same sample).
    l.set_epoch(1);
    EXPECT_THROW(
        {
          while (l.next(b)) {
          }
        },
        Error);
  }
}

TEST(Loader, RejectsBadOptions) {
  const auto set = make_set(10);
  EXPECT_THROW(Loader(set, LoaderOptions(0)), Error);
  EXPECT_THROW(Loader(set, LoaderOptions(4).prefetch(0)), Error);
  EXPECT_THROW(Loader(set, LoaderOptions(4).workers(-1)), Error);
  EXPECT_THROW(Loader(set, LoaderOptions(4).transform(Transform::parse("crop=30"))), Error);
  EXPECT_THROW(Loader(set, LoaderOptions(4).transform(Transform::parse("mean=0.5,std=0.5"))), Error);
}

TEST(Loader, CudaBatchesEqualCpuBatches) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto set = make_set(50);
  const Transform tf = Transform::parse("crop=8,pad=2,flip=0.5,erase=0.5");
  Loader cpu(set, LoaderOptions(16).seed(1).workers(2).transform(tf));
  Loader gpu(set, LoaderOptions(16).seed(1).workers(2).transform(tf).device(torch::Device(torch::kCUDA)));
  const auto a = epoch_batches(cpu, 1), b = epoch_batches(gpu, 1);
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_TRUE(b[k].images.is_cuda());
    EXPECT_TRUE(b[k].labels.is_cuda());
    EXPECT_TRUE(torch::allclose(a[k].images, b[k].images.cpu(), 1e-5, 1e-5));
    EXPECT_TRUE(torch::equal(a[k].labels, b[k].labels.cpu()));
  }
}
