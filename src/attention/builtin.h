#pragma once
// Declarations of the registration functions of the built-in modules, one per line of builtin.inc.
namespace attncnn {
#define ATTNCNN_BUILTIN(name) void register_##name();
#include "builtin.inc"
#undef ATTNCNN_BUILTIN
}  // namespace attncnn
