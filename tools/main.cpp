// attncnn: train, evaluate and inspect CNNs with attention modules.
#include <attncnn/error.h>
#include <attncnn/version.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <iostream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <thread>
#include <torch/torch.h>

#include "commands.h"

namespace attncnn::cli {
void set_threads(int threads) {
  if (threads < 0) throw attncnn::Error(attncnn::ErrorKind::Input, "--threads " + std::to_string(threads) + ": expected 0 (all cores) or more");
  const int n = threads == 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) : threads;
  torch::set_num_threads(n);
}
}  // namespace attncnn::cli

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  // Activations of tens of MB are allocated and freed every step. glibc serves them with mmap and returns them to
  // the system on free, so every step pays page faults for fresh memory (measured: a third of CPU training time
  // went to the kernel). Keep freed memory in the heap instead.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
  CLI::App app{"attncnn: convolutional networks with attention modules (train, eval, list)", "attncnn"};
  app.set_version_flag("--version", std::string("attncnn ") + ATTNCNN_VERSION_STRING + " (libtorch " +
                                        TORCH_VERSION + ")");
  app.require_subcommand(1);
  app.footer("Run `attncnn <command> --help` for a command's options.");
  std::vector<std::pair<CLI::App*, attncnn::cli::Runner>> commands;
  const auto before = app.get_subcommands({}).size();
  (void)before;
  auto add = [&](attncnn::cli::Runner (*fn)(CLI::App&)) {
    auto r = fn(app);
    commands.emplace_back(app.get_subcommands({}).back(), r);
  };
  add(attncnn::cli::add_train);
  add(attncnn::cli::add_eval);
  add(attncnn::cli::add_list);
  add(attncnn::cli::add_info);
  add(attncnn::cli::add_data);
  add(attncnn::cli::add_predict);
  add(attncnn::cli::add_explain);
  add(attncnn::cli::add_export);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    for (auto& c : commands)
      if (c.first->parsed()) return c.second();
    return 2;
  } catch (const attncnn::Error& e) {
    std::cerr << "attncnn: error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const c10::Error& e) {
    std::cerr << "attncnn: error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "attncnn: error: " << e.what() << "\n";
    return 1;
  }
}
