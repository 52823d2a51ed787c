#pragma once
// Registration functions of the built-in models, one per model file (see src/attention/builtin.h for why).
namespace attncnn {
void register_seed_net();
}  // namespace attncnn
