#pragma once
/// Helpers shared by the attention modules, following timm's conventions.
#include <cstdint>

namespace attncnn {

/// timm's make_divisible: rounds v to a multiple of divisor, at least min_value (default divisor), and never
/// more than 10% below v.
int64_t make_divisible(double v, int64_t divisor = 8, int64_t min_value = 0, double round_limit = 0.9);

/// Hidden width of a reduction: rd_channels if given (> 0), else make_divisible(channels·rd_ratio, rd_divisor).
int64_t reduced_channels(int64_t channels, double rd_ratio, int64_t rd_channels, int64_t rd_divisor);

}  // namespace attncnn
