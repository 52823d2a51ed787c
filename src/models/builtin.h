#pragma once
// Registration functions of the built-in models, one per model file (see src/attention/builtin.h for why).
namespace attncnn {
void register_seed_net();
}  // namespace attncnn
namespace attncnn {
void register_resnet();
void register_cifar_resnet();
void register_preact_resnet();
void register_wide_resnet();
void register_mobilenet_v2();
void register_residual_attention();
void register_fastnet();
void register_model_aliases();
}  // namespace attncnn
