// GoogleTest main shared by every test program: one libtorch thread, fixed seed.
#include <gtest/gtest.h>
#include <torch/torch.h>

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  torch::manual_seed(0);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
