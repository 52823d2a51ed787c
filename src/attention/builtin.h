#pragma once
// Registration functions of the built-in modules, one per module file. The registry calls them all once, on
// first use (explicit calls, because a static library drops self-registering objects nobody references).
namespace attncnn {
void register_sgate();
void register_attnpool();
void register_squeeze_excite();
void register_eca();
void register_gather_excite();
void register_global_context();
void register_cbam();
void register_bam();
void register_coord();
void register_simam();
void register_triplet();
void register_selective_kernel();
void register_split_attn();
void register_non_local();
}  // namespace attncnn
