#pragma once
/// Wide ResNets (Zagoruyko & Komodakis 2016), CIFAR layout: `wrn16_8`, `wrn28_10`, `wrn40_4` (WRN-depth-k).
///
///   conv1 3×3 (in → 16)
///   layer1..layer3: n = (depth − 4)/6 pre-activation blocks each (preact_resnet.h), widths 16k/32k/64k,
///                   strides 1/2/2; dropout between the two convs of a block (model_params dropout, default 0;
///                   the paper uses 0.3 on CIFAR)
///   bn, ReLU, global average pooling (or attnpool, `global_pool`), fc
///
/// Shortcuts where the shape changes are 1×1 convs on the pre-activated input (`shortcut`), as in the authors' code.
/// Parameters with 10 classes: wrn16_8 10,961,370; wrn28_10 36,479,194; wrn40_4 8,949,210.
/// The attention module of a block (cfg.attn) sits after its second conv, before the addition (`layerX.Y.attn`).
/// model_params: dropout=0.3, attn_stages=1,2,3 (default all), drop_path_rate=0 (stochastic depth on each block's
/// residual branch, growing linearly over the blocks; see preact_resnet.h).
/// Input N×in_channels×H×W, any H, W ≥ 1 (designed for 32×32); output N×num_classes.
#include <attncnn/models/preact_resnet.h>
