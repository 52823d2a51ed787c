#pragma once
// The subcommands of the `attncnn` program, one file each. Each add_* function registers its CLI11 subcommand
// and returns the function that runs it; main() dispatches to the one that was parsed and maps errors onto exit
// codes (0 success, 1 runtime failure, 2 usage or input error).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attncnn::cli {

using Runner = std::function<int()>;

Runner add_train(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_list(CLI::App& app);
Runner add_info(CLI::App& app);
Runner add_data(CLI::App& app);
Runner add_predict(CLI::App& app);
Runner add_explain(CLI::App& app);
Runner add_export(CLI::App& app);

/// Applies --threads (0: all cores) to libtorch's intra-op pool.
void set_threads(int threads);

/// "3x224x224" as {3, 224, 224}; throws attncnn::Error (input) naming --input otherwise.
std::vector<int64_t> parse_chw(const std::string& spec);

}  // namespace attncnn::cli
