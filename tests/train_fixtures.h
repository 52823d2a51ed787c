#pragma once
// Fixtures of the training tests: a tiny deterministic run on a Fashion-MNIST slice, fresh run folders, a
// bit-for-bit comparison of two safetensors files, and a stop-and-resume run checked against an uninterrupted one.
#include <attncnn/io/files.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/train/config.h>
#include <attncnn/train/trainer.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <iostream>
#include <functional>
#include <string>

#include "fashion_small.h"

namespace {

// An empty folder `<test tmp>/<name>` (removed first if it exists).
inline std::string fresh_dir(const std::string& name) {
  const std::string p = std::string(ATTNCNN_TEST_TMP) + "/" + name;
  std::system(("rm -rf '" + p + "' && mkdir -p '" + p + "'").c_str());
  return p;
}

inline bool have_fashion_mnist() { return attncnn::exists(ATTNCNN_FASHION_MNIST_DIR); }

// A tiny, fast configuration on a slice of Fashion-MNIST, deterministic on one CPU thread: 600 images at the
// default fraction, 10 steps per epoch, 3 epochs.
inline attncnn::TrainConfig tiny(const std::string& out, double fraction = 0.1) {
  attncnn::TrainConfig c;
  c.data = "fashion-mnist:" + small_fashion();
  c.fraction = fraction;
  c.model.model_params = attncnn::Params::parse("width=4,width3=8");
  c.epochs = 3;
  c.batch_size = 64;
  c.lr = 0.01;
  c.device = "cpu";
  c.deterministic = true;
  c.quiet = true;
  c.out = out;
  return c;
}

// Every tensor of two safetensors files, compared bit for bit.
inline void expect_same_tensors(const std::string& a, const std::string& b) {
  auto x = attncnn::load_safetensors(a), y = attncnn::load_safetensors(b);
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  for (size_t i = 0; i < x.tensors.size(); ++i) {
    EXPECT_EQ(x.tensors[i].first, y.tensors[i].first);
    EXPECT_TRUE(torch::equal(x.tensors[i].second, y.tensors[i].second)) << x.tensors[i].first;
  }
}

// Trains `c` (whose out is a fresh folder) until it stops at optimizer step `stop`, as Ctrl-C would stop it, runs
// `between` on what was saved, resumes to the end, and expects the weights of the uninterrupted run in `full`.
inline void expect_resume_matches(attncnn::TrainConfig c, int64_t stop, const std::string& full,
                                  const std::function<void()>& between = {}) {
  c.max_steps = stop;
  EXPECT_TRUE(attncnn::train(c, std::cout).interrupted);
  if (between) between();
  c.max_steps = 0;
  c.resume = c.out + "/weights/last.safetensors";
  EXPECT_TRUE(attncnn::train(c, std::cout).resumed);
  expect_same_tensors(full + "/weights/last.safetensors", c.out + "/weights/last.safetensors");
}

}  // namespace
