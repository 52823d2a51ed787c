#pragma once
/// The speed switches (PerfOptions, apply_backend_settings, to_channels_last, AutocastGuard) are shared with
/// inference and live in infer/device.h; this header keeps training code that includes it compiling.
#include <attncnn/infer/device.h>
