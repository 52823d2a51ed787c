#pragma once
// Registration functions of the built-in modules, one per module file. The registry calls them all once, on
// first use (explicit calls, because a static library drops self-registering objects nobody references).
namespace attncnn {
void register_sgate();
void register_attnpool();
}  // namespace attncnn
