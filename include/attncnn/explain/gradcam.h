#pragma once
/// Grad-CAM (Selvaraju et al. 2017) and Grad-CAM++ (Chattopadhay et al. 2018) class activation maps.
///
///   attncnn::CamOptions o;                 // layer: the model's last capture point; class: the prediction
///   auto r = attncnn::grad_cam(*net, x, o);
///   r.gradcam;                             // N×H×W in [0,1], the input's size
///
/// The layer is a capture point of the model (see models/capture.h): its activation A (N×C×h×w) and the gradient
/// G = d(logit of the class)/dA. Grad-CAM weighs each channel by the spatial mean of G; Grad-CAM++ by
/// Σ_ij alpha_ij·ReLU(G_ij) with alpha = G² / (2G² + Σ_ab A_ab·G³) (the closed form for an exponential of the
/// score; alpha is 0 where the denominator is 0). Both maps are ReLU(Σ_k w_k A_k), upsampled bilinearly to the
/// input size and min-max normalised per image (a constant map becomes all zeros).
#include <attncnn/models/model.h>

#include <string>

namespace attncnn {

struct CamOptions {
  std::string layer;          ///< capture point name; empty: the last point the forward passes
  int64_t target_class = -1;  ///< class to explain; -1: each image's top prediction
};

struct CamResult {
  std::string layer;          ///< the capture point used
  torch::Tensor logits;       ///< N×K, detached
  torch::Tensor classes;      ///< N, int64: the class explained for each image
  torch::Tensor gradcam;      ///< N×H×W float in [0,1] at the input's size
  torch::Tensor gradcampp;    ///< N×H×W float in [0,1] at the input's size
  torch::Tensor gradcam_raw;  ///< N×h×w at the layer's resolution, before upsampling and normalisation
  torch::Tensor gradcampp_raw;
};

/// Runs one forward and one backward of `model` (put it in eval mode first: batch statistics would mix images)
/// on x (N×C×H×W float) and returns both maps. Throws attncnn::Error (input) for an unknown layer (listing the
/// capture points) or a class outside [0, K).
CamResult grad_cam(ModelImpl& model, const torch::Tensor& x, const CamOptions& options);

/// The capture points `model` passes on an input shaped like `x`, in forward order.
std::vector<std::string> capture_points(ModelImpl& model, const torch::Tensor& x);

/// Grad-CAM from an activation and its gradient (both N×C×h×w): ReLU(Σ_k mean_ij(G_k) A_k), N×h×w.
torch::Tensor gradcam_map(const torch::Tensor& activation, const torch::Tensor& grad);
/// Grad-CAM++ from an activation and its gradient (both N×C×h×w), N×h×w (see above).
torch::Tensor gradcampp_map(const torch::Tensor& activation, const torch::Tensor& grad);

/// N×h×w (or N×1×h×w) maps upsampled bilinearly (align_corners false) to N×H×W.
torch::Tensor upsample_maps(const torch::Tensor& maps, int64_t height, int64_t width);
/// Per-image min-max normalisation of N×H×W maps to [0,1]; a constant map becomes zeros.
torch::Tensor normalize_maps(const torch::Tensor& maps);

}  // namespace attncnn
