// The attention zoo against plain-loop references on tiny tensors, shapes, maps, parameter counts and timm names.
//
// Each reference below walks accessors element by element (convolutions, norms, pools, softmaxes written out as
// loops), never the tensor ops the modules use. Modules run in double so that the comparison can be tight, in
// eval mode with randomised BatchNorm statistics so that the running statistics matter.
#include <attncnn/attention/bam.h>
#include <attncnn/attention/batch_norm.h>
#include <attncnn/attention/cbam.h>
#include <attncnn/attention/common.h>
#include <attncnn/attention/coord.h>
#include <attncnn/attention/eca.h>
#include <attncnn/attention/gather_excite.h>
#include <attncnn/attention/global_context.h>
#include <attncnn/attention/non_local.h>
#include <attncnn/attention/registry.h>
#include <attncnn/attention/selective_kernel.h>
#include <attncnn/attention/simam.h>
#include <attncnn/attention/split_attn.h>
#include <attncnn/attention/squeeze_excite.h>
#include <attncnn/attention/triplet.h>
#include <attncnn/error.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

using namespace attncnn;
using torch::Tensor;

namespace {

// ---- plain-loop building blocks (double, contiguous) ----

Tensor D(const Tensor& t) { return t.detach().to(torch::kDouble).contiguous(); }

double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double hsig(double v) { return std::min(std::max(v + 3.0, 0.0), 6.0) / 6.0; }
double hswish(double v) { return v * hsig(v); }

// Elementwise map over a double tensor.
template <typename F>
Tensor map_ref(const Tensor& x, F f) {
  auto y = D(x).clone();
  double* p = y.data_ptr<double>();
  for (int64_t i = 0; i < y.numel(); ++i) p[i] = f(p[i]);
  return y;
}
Tensor relu_ref(const Tensor& x) { return map_ref(x, [](double v) { return std::max(v, 0.0); }); }
Tensor sig_ref(const Tensor& x) { return map_ref(x, sig); }

// 2-D convolution: out[n][o][i][j] = b[o] + Σ_{c in group, u, v} w[o][c][u][v] · x[n][g·cpg + c][i·s + u·d - p][j·s + v·d - p].
Tensor conv_ref(const Tensor& xin, const Tensor& win, const Tensor& bin, int64_t stride, int64_t pad, int64_t dil,
                int64_t groups) {
  auto x = D(xin), w = D(win);
  const int64_t N = x.size(0), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), CPG = w.size(1), KH = w.size(2), KW = w.size(3);
  const int64_t OPG = O / groups;
  const int64_t OH = (H + 2 * pad - dil * (KH - 1) - 1) / stride + 1;
  const int64_t OW = (W + 2 * pad - dil * (KW - 1) - 1) / stride + 1;
  auto y = torch::zeros({N, O, OH, OW}, torch::kDouble);
  auto X = x.accessor<double, 4>();
  auto Wt = w.accessor<double, 4>();
  auto Y = y.accessor<double, 4>();
  Tensor b = bin.defined() ? D(bin) : torch::zeros({O}, torch::kDouble);
  auto B = b.accessor<double, 1>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const int64_t g = o / OPG;
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          double acc = B[o];
          for (int64_t c = 0; c < CPG; ++c)
            for (int64_t u = 0; u < KH; ++u)
              for (int64_t v = 0; v < KW; ++v) {
                const int64_t hi = i * stride + u * dil - pad, wi = j * stride + v * dil - pad;
                if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                acc += Wt[o][c][u][v] * X[n][g * CPG + c][hi][wi];
              }
          Y[n][o][i][j] = acc;
        }
    }
  return y;
}
// A module's conv with the padding every zoo conv uses: ((stride - 1) + dilation·(k - 1)) / 2 (timm's get_padding).
Tensor conv_ref(const Tensor& x, const torch::nn::Conv2d& c) {
  const auto& o = c->options;
  const int64_t k = c->weight.size(-1), s = (*o.stride())[0], d = (*o.dilation())[0];
  return conv_ref(x, c->weight, o.bias() ? c->bias : Tensor(), s, ((s - 1) + d * (k - 1)) / 2, d, o.groups());
}

// BatchNorm in eval mode: (x - running_mean) / sqrt(running_var + eps) · weight + bias, per channel.
Tensor bn_ref(const Tensor& xin, const attncnn::BatchNorm2d& bn) {
  auto x = D(xin);
  auto y = x.clone();
  auto X = x.accessor<double, 4>();
  auto Y = y.accessor<double, 4>();
  auto rm = D(bn->running_mean), rv = D(bn->running_var), w = D(bn->weight), b = D(bn->bias);
  auto RM = rm.accessor<double, 1>(), RV = rv.accessor<double, 1>(), Wt = w.accessor<double, 1>(),
       B = b.accessor<double, 1>();
  const double eps = bn->options.eps();
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t c = 0; c < x.size(1); ++c)
      for (int64_t i = 0; i < x.size(2); ++i)
        for (int64_t j = 0; j < x.size(3); ++j)
          Y[n][c][i][j] = (X[n][c][i][j] - RM[c]) / std::sqrt(RV[c] + eps) * Wt[c] + B[c];
  return y;
}
Tensor cna_ref(const Tensor& x, const ConvNormAct& m) {
  auto y = bn_ref(conv_ref(x, m->conv), m->bn);
  return m->options.apply_act() ? relu_ref(y) : y;
}

// Mean (or max) over H and W: N×C×1×1.
Tensor pool_hw_ref(const Tensor& xin, bool max) {
  auto x = D(xin);
  auto X = x.accessor<double, 4>();
  auto y = torch::zeros({x.size(0), x.size(1), 1, 1}, torch::kDouble);
  auto Y = y.accessor<double, 4>();
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t c = 0; c < x.size(1); ++c) {
      double acc = max ? -1e300 : 0.0;
      for (int64_t i = 0; i < x.size(2); ++i)
        for (int64_t j = 0; j < x.size(3); ++j) acc = max ? std::max(acc, X[n][c][i][j]) : acc + X[n][c][i][j];
      Y[n][c][0][0] = max ? acc : acc / (x.size(2) * x.size(3));
    }
  return y;
}

// x ⊙ a with a broadcast over the singleton dimensions of a (a has x's rank).
Tensor mul_ref(const Tensor& xin, const Tensor& ain) {
  auto x = D(xin), a = D(ain);
  auto y = x.clone();
  auto X = x.accessor<double, 4>();
  auto A = a.accessor<double, 4>();
  auto Y = y.accessor<double, 4>();
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t c = 0; c < x.size(1); ++c)
      for (int64_t i = 0; i < x.size(2); ++i)
        for (int64_t j = 0; j < x.size(3); ++j)
          Y[n][c][i][j] = X[n][c][i][j] * A[a.size(0) == 1 ? 0 : n][a.size(1) == 1 ? 0 : c][a.size(2) == 1 ? 0 : i]
                                           [a.size(3) == 1 ? 0 : j];
  return y;
}

double max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e9;
  return (D(a) - D(b)).abs().max().item<double>();
}

// Random weights everywhere, BatchNorm running statistics included, so that eval mode is a real test.
void randomize(torch::nn::Module& m) {
  torch::NoGradGuard g;
  for (auto& p : m.named_parameters()) p.value().uniform_(-0.6, 0.6);
  for (auto& b : m.named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.3, 0.3);
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
  }
}

template <typename M>
void prepare(M& m) {
  randomize(*m);
  m->to(torch::kDouble);
  m->eval();
  m->set_record_maps(true);
}

Tensor randx(std::vector<int64_t> shape) { return torch::randn(shape, torch::kDouble); }

const Tensor& map_named(const AttentionImpl& m, const std::string& name) {
  for (const auto& mp : m.maps())
    if (mp.name == name) return mp.value;
  ADD_FAILURE() << "no map '" << name << "' in " << m.type_name();
  static Tensor none;
  return none;
}

int64_t count_params(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::set<std::string> state_keys(const torch::nn::Module& m) {
  std::set<std::string> k;
  for (const auto& p : m.named_parameters()) k.insert(p.key());
  for (const auto& b : m.named_buffers()) k.insert(b.key());
  return k;
}

constexpr double kTol = 1e-9;

}  // namespace

// ---- squeeze-excite family ----

TEST(Zoo, SqueezeExciteMatchesLoops) {
  for (bool maxpool : {false, true}) {
    SqueezeExcite m(SqueezeExciteOptions(8).rd_ratio(0.25).rd_divisor(1).add_maxpool(maxpool));
    prepare(m);
    auto x = randx({2, 8, 4, 3});
    auto y = m->forward(x);
    auto s = pool_hw_ref(x, false);
    if (maxpool) s = map_ref(s, [](double v) { return 0.5 * v; }) + map_ref(pool_hw_ref(x, true), [](double v) { return 0.5 * v; });
    auto a = sig_ref(conv_ref(relu_ref(conv_ref(s, m->fc1)), m->fc2));
    EXPECT_LT(max_diff(y, mul_ref(x, a)), kTol);
    EXPECT_LT(max_diff(map_named(*m, "channel"), a.view({2, 8})), kTol);
    EXPECT_EQ(m->fc1->weight.size(0), 2);
  }
}

TEST(Zoo, EffectiveSEUsesHardSigmoid) {
  EffectiveSE m(EffectiveSEOptions(6));
  prepare(m);
  auto x = randx({2, 6, 3, 5}) * 3;
  auto a = map_ref(conv_ref(pool_hw_ref(x, false), m->fc), hsig);
  EXPECT_LT(max_diff(m->forward(x), mul_ref(x, a)), kTol);
  EXPECT_EQ(map_named(*m, "channel").sizes(), (std::vector<int64_t>{2, 6}));
}

// ---- eca family ----

namespace {
// ECA along the channel signal s (N×C): z[c] = Σ_k w[k] s[c + k - pad], zero or circular outside [0, C).
Tensor eca_ref(const Tensor& x, EcaImpl& m) {
  auto s = pool_hw_ref(x, false);
  const int64_t N = x.size(0), C = x.size(1), K = m.kernel_size, pad = (K - 1) / 2;
  auto S = s.accessor<double, 4>();
  auto a = torch::zeros({N, C, 1, 1}, torch::kDouble);
  auto A = a.accessor<double, 4>();
  auto sig_at = [&](int64_t n, int64_t c) -> double {
    if (m.options.circular()) return S[n][((c % C) + C) % C][0][0];
    return (c < 0 || c >= C) ? 0.0 : S[n][c][0][0];
  };
  if (m.conv2) {
    auto w1 = D(m.conv->weight), b1 = D(m.conv->bias), w2 = D(m.conv2->weight), b2 = D(m.conv2->bias);
    const int64_t R = w1.size(0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        double z = b2[0].item<double>();
        for (int64_t r = 0; r < R; ++r)
          for (int64_t k = 0; k < K; ++k) {
            const int64_t cc = c + k - pad;
            if (cc < 0 || cc >= C) continue;  // conv2 zero-pads the hidden signal
            const double hidden = std::max(0.0, w1[r][0][0].item<double>() * S[n][cc][0][0] + b1[r].item<double>());
            z += w2[0][r][k].item<double>() * hidden;
          }
        A[n][c][0][0] = sig(z);
      }
    return a;
  }
  auto w = D(m.conv->weight);
  auto Wt = w.accessor<double, 3>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      double z = 0;
      for (int64_t k = 0; k < K; ++k) z += Wt[0][0][k] * sig_at(n, c + k - pad);
      A[n][c][0][0] = sig(z);
    }
  return a;
}
}  // namespace

TEST(Zoo, EcaCecaEcamMatchLoops) {
  EXPECT_EQ(eca_kernel_size(16, 2, 1), 3);
  EXPECT_EQ(eca_kernel_size(64, 2, 1), 3);   // t = int(7 / 2) = 3
  EXPECT_EQ(eca_kernel_size(256, 2, 1), 5);  // t = 4, even, so 5
  EXPECT_EQ(eca_kernel_size(1024, 2, 1), 5);
  for (int variant = 0; variant < 3; ++variant) {
    EcaOptions o(7);
    o.kernel_size(5).circular(variant == 1).use_mlp(variant == 2).rd_channels(3);
    Eca m(o);
    prepare(m);
    auto x = randx({2, 7, 3, 3});
    auto a = eca_ref(x, *m);
    EXPECT_LT(max_diff(m->forward(x), mul_ref(x, a)), kTol) << "variant " << variant;
    EXPECT_LT(max_diff(map_named(*m, "channel"), a.view({2, 7})), kTol);
  }
}

TEST(Zoo, CecaWrapsAroundButEcaDoesNot) {
  // A one-hot weight on the left neighbour: eca gives channel 0 a zero input, ceca gives it the last channel's.
  for (bool circular : {false, true}) {
    Eca m(EcaOptions(4).kernel_size(3).circular(circular));
    torch::NoGradGuard g;
    m->conv->weight.zero_();
    m->conv->weight[0][0][0] = 1.0;
    auto x = torch::ones({1, 4, 2, 2});
    x[0][3] *= 5;
    m->set_record_maps(true);
    m->forward(x);
    const double a0 = map_named(*m, "channel")[0][0].item<double>();
    EXPECT_NEAR(a0, circular ? sig(5.0) : 0.5, 1e-6);
  }
}

// ---- gather-excite ----

namespace {
Tensor mlp_ref(const Tensor& s, ConvMlpImpl& mlp);

Tensor ge_ref(const Tensor& x, GatherExciteImpl& m) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor g;
  if (m.gather) {
    g = D(x);
    for (const auto& item : m.gather->named_children()) {
      const auto& name = item.key();
      if (name.rfind("conv", 0) == 0) {
        auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(item.value());
        g = conv_ref(g, torch::nn::Conv2d(conv));
      } else if (name.rfind("norm", 0) == 0) {
        g = bn_ref(g, attncnn::BatchNorm2d(std::dynamic_pointer_cast<attncnn::BatchNorm2dImpl>(item.value())));
      } else {
        g = relu_ref(g);
      }
    }
  } else if (m.options.extent() == 0) {
    g = pool_hw_ref(x, false);
  } else {
    // Average pool, kernel 2e-1, stride e, padding e-1, averaging only the positions inside the image.
    const int64_t e = m.options.extent(), k = 2 * e - 1, p = k / 2;
    const int64_t OH = (H + 2 * p - k) / e + 1, OW = (W + 2 * p - k) / e + 1;
    auto X = D(x);
    auto XA = X.accessor<double, 4>();
    g = torch::zeros({N, C, OH, OW}, torch::kDouble);
    auto G = g.accessor<double, 4>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < OH; ++i)
          for (int64_t j = 0; j < OW; ++j) {
            double acc = 0;
            int64_t cnt = 0;
            for (int64_t u = 0; u < k; ++u)
              for (int64_t v = 0; v < k; ++v) {
                const int64_t hi = i * e + u - p, wi = j * e + v - p;
                if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                acc += XA[n][c][hi][wi];
                ++cnt;
              }
            G[n][c][i][j] = acc / cnt;
          }
  }
  if (m.mlp) g = mlp_ref(g, *m.mlp);
  g = sig_ref(g);
  if (g.size(2) == 1 && g.size(3) == 1) return g;
  // Nearest upsampling: output row i reads input row floor(i · in / out).
  auto up = torch::zeros({N, C, H, W}, torch::kDouble);
  auto U = up.accessor<double, 4>();
  auto G = g.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) U[n][c][i][j] = G[n][c][i * g.size(2) / H][j * g.size(3) / W];
  return up;
}

// timm's ConvMlp: fc1, optional LayerNorm2d over channels (eps 1e-6), ReLU, fc2.
Tensor mlp_ref(const Tensor& s, ConvMlpImpl& mlp) {
  auto h = conv_ref(s, mlp.fc1);
  if (mlp.norm) {
    auto H = h.accessor<double, 4>();
    auto w = D(mlp.norm->weight), b = D(mlp.norm->bias);
    auto out = h.clone();
    auto O = out.accessor<double, 4>();
    const int64_t C = h.size(1);
    for (int64_t n = 0; n < h.size(0); ++n)
      for (int64_t i = 0; i < h.size(2); ++i)
        for (int64_t j = 0; j < h.size(3); ++j) {
          double mean = 0, var = 0;
          for (int64_t c = 0; c < C; ++c) mean += H[n][c][i][j];
          mean /= C;
          for (int64_t c = 0; c < C; ++c) var += (H[n][c][i][j] - mean) * (H[n][c][i][j] - mean);
          var /= C;
          for (int64_t c = 0; c < C; ++c)
            O[n][c][i][j] = (H[n][c][i][j] - mean) / std::sqrt(var + 1e-6) * w[c].item<double>() + b[c].item<double>();
        }
    h = out;
  }
  return conv_ref(relu_ref(h), mlp.fc2);
}
}  // namespace

TEST(Zoo, GatherExciteVariantsMatchLoops) {
  struct Case {
    int64_t extent;
    bool extra;
    bool mlp;
  };
  for (const Case& k : {Case{0, false, true}, Case{2, false, true}, Case{4, false, false}, Case{2, true, true},
                        Case{4, true, true}}) {
    GatherExcite m(GatherExciteOptions(6).extent(k.extent).extra_params(k.extra).use_mlp(k.mlp).rd_ratio(0.5));
    prepare(m);
    auto x = randx({2, 6, 8, 8});
    auto a = ge_ref(x, *m);
    EXPECT_LT(max_diff(m->forward(x), mul_ref(x, a)), kTol) << "extent " << k.extent << " extra " << k.extra;
    if (k.extent == 0) EXPECT_EQ(map_named(*m, "channel").sizes(), (std::vector<int64_t>{2, 6}));
    else EXPECT_EQ(map_named(*m, "spatial").sizes(), (std::vector<int64_t>{2, 1, 8, 8}));
  }
  // extent 0 with extra params: a depthwise conv of the feature size (padding (k-1)/2 as timm), then BatchNorm.
  GatherExcite g(GatherExciteOptions(4).extra_params(true).feat_size(5).rd_ratio(0.5));
  prepare(g);
  auto x = randx({2, 4, 5, 5});
  EXPECT_LT(max_diff(g->forward(x), mul_ref(x, ge_ref(x, *g))), kTol);
}

// ---- global context ----

namespace {
Tensor gc_ref(const Tensor& xin, GlobalContextImpl& m, Tensor* alpha_out) {
  auto x = D(xin);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto logits = conv_ref(x, m.conv_attn);  // N×1×H×W
  auto L = logits.accessor<double, 4>();
  auto X = x.accessor<double, 4>();
  auto alpha = torch::zeros({N, 1, H, W}, torch::kDouble);
  auto A = alpha.accessor<double, 4>();
  auto ctx = torch::zeros({N, C, 1, 1}, torch::kDouble);
  auto Cx = ctx.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n) {
    double mx = -1e300, z = 0;
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) mx = std::max(mx, L[n][0][i][j]);
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) z += std::exp(L[n][0][i][j] - mx);
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) A[n][0][i][j] = std::exp(L[n][0][i][j] - mx) / z;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) Cx[n][c][0][0] += A[n][0][i][j] * X[n][c][i][j];
  }
  if (alpha_out) *alpha_out = alpha;
  auto y = x;
  if (m.mlp_scale) y = mul_ref(y, sig_ref(mlp_ref(ctx, *m.mlp_scale)));
  if (m.mlp_add) y = y + mul_ref(torch::ones_like(x), mlp_ref(ctx, *m.mlp_add));
  return y;
}
}  // namespace

TEST(Zoo, GlobalContextScaleAndAddMatchLoops) {
  for (bool add : {false, true}) {
    GlobalContext m(GlobalContextOptions(8).fuse_add(add).fuse_scale(!add).rd_ratio(0.5), add ? "gca" : "gc");
    prepare(m);
    auto x = randx({2, 8, 4, 5});
    Tensor alpha;
    auto ref = gc_ref(x, *m, &alpha);
    EXPECT_LT(max_diff(m->forward(x), ref), kTol);
    EXPECT_LT(max_diff(map_named(*m, "spatial"), alpha), kTol);
    EXPECT_EQ(m->type_name(), add ? "gca" : "gc");
  }
  // A fresh gca starts as the identity: timm zeroes mlp_add.fc2.weight, and the bias starts... as PyTorch's default.
  GlobalContext fresh(GlobalContextOptions(8).fuse_add(true).fuse_scale(false));
  EXPECT_EQ(fresh->mlp_add->fc2->weight.abs().sum().item<float>(), 0.0f);
}

// ---- cbam / lcbam ----

namespace {
Tensor cbam_ref(const Tensor& xin, CbamImpl& m, Tensor* ac_out, Tensor* as_out) {
  auto x = D(xin);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto avg = pool_hw_ref(x, false), mx = pool_hw_ref(x, true);
  auto& ch = *m.channel;
  Tensor ac;
  if (m.options.light()) {
    ac = sig_ref(conv_ref(relu_ref(conv_ref(avg * 0.5 + mx * 0.5, ch.fc1)), ch.fc2));
  } else {
    ac = sig_ref(conv_ref(relu_ref(conv_ref(avg, ch.fc1)), ch.fc2) + conv_ref(relu_ref(conv_ref(mx, ch.fc1)), ch.fc2));
  }
  auto xc = mul_ref(x, ac);
  auto X = xc.accessor<double, 4>();
  const int64_t in_maps = m.options.light() ? 1 : 2;
  auto z = torch::zeros({N, in_maps, H, W}, torch::kDouble);
  auto Z = z.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        double s = 0, best = -1e300;
        for (int64_t c = 0; c < C; ++c) {
          s += X[n][c][i][j];
          best = std::max(best, X[n][c][i][j]);
        }
        if (in_maps == 2) {
          Z[n][0][i][j] = s / C;  // timm: mean first, then max
          Z[n][1][i][j] = best;
        } else {
          Z[n][0][i][j] = 0.5 * s / C + 0.5 * best;
        }
      }
  auto as = sig_ref(cna_ref(z, m.spatial->conv));
  if (ac_out) *ac_out = ac.view({N, C});
  if (as_out) *as_out = as;
  return mul_ref(xc, as);
}
}  // namespace

TEST(Zoo, CbamAndLightCbamMatchLoops) {
  for (bool light : {false, true}) {
    Cbam m(CbamOptions(8).rd_ratio(0.25).spatial_kernel_size(3).light(light));
    prepare(m);
    auto x = randx({2, 8, 5, 4});
    Tensor ac, as;
    auto ref = cbam_ref(x, *m, &ac, &as);
    EXPECT_LT(max_diff(m->forward(x), ref), kTol) << (light ? "lcbam" : "cbam");
    EXPECT_LT(max_diff(map_named(*m, "channel"), ac), kTol);
    EXPECT_LT(max_diff(map_named(*m, "spatial"), as), kTol);
  }
}

// ---- bam ----

TEST(Zoo, BamMatchesLoops) {
  Bam m(BamOptions(8).rd_ratio(0.5).dilation(2));
  prepare(m);
  auto x = randx({2, 8, 5, 6});
  auto& c = *m->channel;
  auto mc = conv_ref(relu_ref(bn_ref(conv_ref(pool_hw_ref(x, false), c.fc1), c.bn)), c.fc2);  // N×C×1×1
  auto& s = *m->spatial;
  auto ms = bn_ref(conv_ref(cna_ref(cna_ref(cna_ref(x, s.reduce), s.conv1), s.conv2), s.proj), s.bn);  // N×1×H×W
  // a = σ(Mc + Ms) over N×C×H×W, y = x + x·a.
  auto a = torch::zeros_like(D(x));
  auto A = a.accessor<double, 4>();
  auto MC = mc.accessor<double, 4>();
  auto MS = ms.accessor<double, 4>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t ch = 0; ch < 8; ++ch)
      for (int64_t i = 0; i < 5; ++i)
        for (int64_t j = 0; j < 6; ++j) A[n][ch][i][j] = sig(MC[n][ch][0][0] + MS[n][0][i][j]);
  EXPECT_LT(max_diff(m->forward(x), D(x) + mul_ref(x, a)), kTol);
  EXPECT_LT(max_diff(map_named(*m, "spatial"), a.mean(1, true)), kTol);
  EXPECT_EQ(map_named(*m, "channel").sizes(), (std::vector<int64_t>{2, 8}));
}

// ---- coord ----

TEST(Zoo, CoordMatchesLoops) {
  Coord m(CoordOptions(8).rd_channels(4));
  prepare(m);
  const int64_t N = 2, C = 8, H = 3, W = 5;
  auto x = randx({N, C, H, W});
  auto X = x.accessor<double, 4>();
  // Strips: z[n][c][0..H) = mean over w, z[n][c][H..H+W) = mean over h, as one N×C×(H+W)×1 column.
  auto z = torch::zeros({N, C, H + W, 1}, torch::kDouble);
  auto Z = z.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t i = 0; i < H; ++i) {
        for (int64_t j = 0; j < W; ++j) Z[n][c][i][0] += X[n][c][i][j] / W;
      }
      for (int64_t j = 0; j < W; ++j) {
        for (int64_t i = 0; i < H; ++i) Z[n][c][H + j][0] += X[n][c][i][j] / H;
      }
    }
  auto f = map_ref(bn_ref(conv_ref(z, m->conv1), m->bn1), hswish);
  auto ah = sig_ref(conv_ref(f.slice(2, 0, H), m->conv_h));      // N×C×H×1
  auto aw = sig_ref(conv_ref(f.slice(2, H, H + W), m->conv_w));  // N×C×W×1
  auto y = torch::zeros({N, C, H, W}, torch::kDouble);
  auto Y = y.accessor<double, 4>();
  auto AH = ah.accessor<double, 4>();
  auto AW = aw.accessor<double, 4>();
  auto prod = torch::zeros({N, 1, H, W}, torch::kDouble);
  auto P = prod.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
          Y[n][c][i][j] = X[n][c][i][j] * AH[n][c][i][0] * AW[n][c][j][0];
          P[n][0][i][j] += AH[n][c][i][0] * AW[n][c][j][0] / C;
        }
  EXPECT_LT(max_diff(m->forward(x), y), kTol);
  EXPECT_LT(max_diff(map_named(*m, "spatial"), prod), kTol);
  // timm's width: make_divisible(C/16·2/3, 8) = 8 for 64 channels, 16 for 384.
  EXPECT_EQ(Coord(CoordOptions(64))->conv1->weight.size(0), 8);
  EXPECT_EQ(Coord(CoordOptions(384))->conv1->weight.size(0), 16);
}

// ---- simam ----

TEST(Zoo, SimAMMatchesLoopsAndHasNoParameters) {
  SimAM m;
  m->to(torch::kDouble);
  m->set_record_maps(true);
  const int64_t N = 2, C = 3, H = 4, W = 3;
  auto x = randx({N, C, H, W});
  auto X = x.accessor<double, 4>();
  auto y = torch::zeros_like(x);
  auto Y = y.accessor<double, 4>();
  auto avg = torch::zeros({N, 1, H, W}, torch::kDouble);
  auto AV = avg.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      double mean = 0;
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) mean += X[n][c][i][j] / (H * W);
      double var = 0;
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) var += (X[n][c][i][j] - mean) * (X[n][c][i][j] - mean);
      var /= (H * W - 1);
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
          const double d = (X[n][c][i][j] - mean) * (X[n][c][i][j] - mean);
          const double a = sig(d / (4 * (var + 1e-4)) + 0.5);
          Y[n][c][i][j] = X[n][c][i][j] * a;
          AV[n][0][i][j] += a / C;
        }
    }
  EXPECT_LT(max_diff(m->forward(x), y), kTol);
  EXPECT_LT(max_diff(map_named(*m, "spatial"), avg), kTol);
  EXPECT_EQ(count_params(*m), 0);
}

// ---- triplet ----

TEST(Zoo, TripletMatchesLoops) {
  Triplet m(TripletOptions().kernel_size(3));
  prepare(m);
  const int64_t N = 2, C = 4, H = 3, W = 5;
  auto x = randx({N, C, H, W});
  auto X = x.accessor<double, 4>();
  // Z-pool images for each branch: [max; mean] over the axis that plays the channel role.
  auto zcw = torch::zeros({N, 2, C, W}, torch::kDouble);  // over h
  auto zhc = torch::zeros({N, 2, H, C}, torch::kDouble);  // over w
  auto zhw = torch::zeros({N, 2, H, W}, torch::kDouble);  // over c
  auto ZCW = zcw.accessor<double, 4>(), ZHC = zhc.accessor<double, 4>(), ZHW = zhw.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c)
      for (int64_t j = 0; j < W; ++j) {
        double mx = -1e300, s = 0;
        for (int64_t i = 0; i < H; ++i) mx = std::max(mx, X[n][c][i][j]), s += X[n][c][i][j];
        ZCW[n][0][c][j] = mx;
        ZCW[n][1][c][j] = s / H;
      }
    for (int64_t i = 0; i < H; ++i)
      for (int64_t c = 0; c < C; ++c) {
        double mx = -1e300, s = 0;
        for (int64_t j = 0; j < W; ++j) mx = std::max(mx, X[n][c][i][j]), s += X[n][c][i][j];
        ZHC[n][0][i][c] = mx;
        ZHC[n][1][i][c] = s / W;
      }
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        double mx = -1e300, s = 0;
        for (int64_t c = 0; c < C; ++c) mx = std::max(mx, X[n][c][i][j]), s += X[n][c][i][j];
        ZHW[n][0][i][j] = mx;
        ZHW[n][1][i][j] = s / C;
      }
  }
  auto scw = sig_ref(cna_ref(zcw, m->cw->conv));  // N×1×C×W
  auto shc = sig_ref(cna_ref(zhc, m->hc->conv));  // N×1×H×C
  auto shw = sig_ref(cna_ref(zhw, m->hw->conv));  // N×1×H×W
  auto SCW = scw.accessor<double, 4>(), SHC = shc.accessor<double, 4>(), SHW = shw.accessor<double, 4>();
  auto y = torch::zeros_like(x);
  auto Y = y.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j)
          Y[n][c][i][j] = X[n][c][i][j] * (SCW[n][0][c][j] + SHC[n][0][i][c] + SHW[n][0][i][j]) / 3.0;
  EXPECT_LT(max_diff(m->forward(x), y), kTol);
  EXPECT_LT(max_diff(map_named(*m, "hw"), shw), kTol);
  for (const char* name : {"cw", "hc", "hw", "spatial"})
    EXPECT_EQ(map_named(*m, name).sizes(), (std::vector<int64_t>{N, 1, H, W})) << name;
  // The cw map at (h, w) is the cw gate averaged over channels: constant along h.
  auto mcw = map_named(*m, "cw");
  EXPECT_NEAR(mcw[1][0][0][2].item<double>(), scw[1][0].select(1, 2).mean().item<double>(), kTol);
  EXPECT_NEAR(mcw[1][0][2][2].item<double>(), mcw[1][0][0][2].item<double>(), kTol);
}

// ---- selective kernel ----

namespace {
Tensor sk_ref(const Tensor& xin, SelectiveKernelImpl& m, std::vector<Tensor>* weights) {
  auto x = D(xin);
  const int64_t P = static_cast<int64_t>(m.paths->size());
  const int64_t cin = x.size(1) / (m.options.split_input() ? P : 1);
  std::vector<Tensor> outs;
  for (int64_t p = 0; p < P; ++p) {
    auto in = m.options.split_input() ? x.slice(1, p * cin, (p + 1) * cin) : x;
    outs.push_back(cna_ref(in, ConvNormAct(std::dynamic_pointer_cast<ConvNormActImpl>(m.paths->ptr(p)))));
  }
  auto u = outs[0].clone();
  for (int64_t p = 1; p < P; ++p) u = u + outs[p];
  auto& at = *m.attn;
  auto z = conv_ref(relu_ref(bn_ref(conv_ref(pool_hw_ref(u, false), at.fc_reduce), at.bn)), at.fc_select);
  const int64_t N = x.size(0), O = outs[0].size(1);
  auto Z = z.accessor<double, 4>();
  auto y = torch::zeros_like(outs[0]);
  auto Y = y.accessor<double, 4>();
  weights->clear();
  for (int64_t p = 0; p < P; ++p) weights->push_back(torch::zeros({N, O}, torch::kDouble));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < O; ++c) {
      double mx = -1e300, s = 0;
      for (int64_t p = 0; p < P; ++p) mx = std::max(mx, Z[n][p * O + c][0][0]);
      for (int64_t p = 0; p < P; ++p) s += std::exp(Z[n][p * O + c][0][0] - mx);
      for (int64_t p = 0; p < P; ++p) {
        const double w = std::exp(Z[n][p * O + c][0][0] - mx) / s;
        (*weights)[p][n][c] = w;
        auto OP = outs[p].accessor<double, 4>();
        for (int64_t i = 0; i < y.size(2); ++i)
          for (int64_t j = 0; j < y.size(3); ++j) Y[n][c][i][j] += w * OP[n][c][i][j];
      }
    }
  return y;
}
}  // namespace

TEST(Zoo, SelectiveKernelMatchesLoops) {
  struct Case {
    int64_t stride;
    bool split;
    int64_t out;
  };
  for (const Case& k : {Case{1, true, 0}, Case{2, true, 6}, Case{1, false, 0}}) {
    SelectiveKernel m(SelectiveKernelOptions(4).stride(k.stride).split_input(k.split).out_channels(k.out).rd_channels(3));
    prepare(m);
    auto x = randx({2, 4, 5, 6});
    std::vector<Tensor> w;
    auto ref = sk_ref(x, *m, &w);
    auto y = m->forward(x);
    EXPECT_LT(max_diff(y, ref), kTol) << "stride " << k.stride << " split " << k.split;
    EXPECT_LT(max_diff(map_named(*m, "path0"), w[0]), kTol);
    EXPECT_LT(max_diff(map_named(*m, "path1"), w[1]), kTol);
  }
  // keep_3x3: the 5×5 path is a 3×3 conv with dilation 2.
  SelectiveKernel d(SelectiveKernelOptions(4));
  auto second = d->paths[1]->as<ConvNormActImpl>();
  EXPECT_EQ(second->conv->weight.size(-1), 3);
  EXPECT_EQ((*second->conv->options.dilation())[0], 2);
}

// ---- split attention ----

namespace {
Tensor splat_ref(const Tensor& xin, SplitAttnImpl& m, Tensor* weights) {
  auto x = D(xin);
  const int64_t R = m.options.radix(), G = m.options.groups(), O = m.out_channels;
  auto u = conv_ref(x, m.conv);
  if (m.bn0) u = bn_ref(u, m.bn0);
  u = relu_ref(u);
  const int64_t N = u.size(0), H = u.size(2), W = u.size(3);
  auto U = u.accessor<double, 4>();
  // s[c] = mean over positions of Σ_r u[r·O + c]
  auto s = torch::zeros({N, O, 1, 1}, torch::kDouble);
  auto S = s.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < O; ++c)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t i = 0; i < H; ++i)
          for (int64_t j = 0; j < W; ++j) S[n][c][0][0] += U[n][r * O + c][i][j] / (H * W);
  auto z = conv_ref(s, m.fc1);
  if (m.bn1) z = bn_ref(z, m.bn1);
  auto a = conv_ref(relu_ref(z), m.fc2);
  auto A = a.accessor<double, 4>();
  // fc2's channels are ordered (group g, split r, j); channel c = g·(O/G) + j of split r.
  const int64_t per = O / G;
  *weights = torch::zeros({N, R, O}, torch::kDouble);
  auto Wt = weights->accessor<double, 3>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t j = 0; j < per; ++j) {
        if (R == 1) {
          Wt[n][0][g * per + j] = sig(A[n][g * per + j][0][0]);
          continue;
        }
        double mx = -1e300, sum = 0;
        for (int64_t r = 0; r < R; ++r) mx = std::max(mx, A[n][g * R * per + r * per + j][0][0]);
        for (int64_t r = 0; r < R; ++r) sum += std::exp(A[n][g * R * per + r * per + j][0][0] - mx);
        for (int64_t r = 0; r < R; ++r)
          Wt[n][r][g * per + j] = std::exp(A[n][g * R * per + r * per + j][0][0] - mx) / sum;
      }
  auto y = torch::zeros({N, O, H, W}, torch::kDouble);
  auto Y = y.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < O; ++c)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t i = 0; i < H; ++i)
          for (int64_t j = 0; j < W; ++j) Y[n][c][i][j] += Wt[n][r][c] * U[n][r * O + c][i][j];
  return y;
}
}  // namespace

TEST(Zoo, SplitAttnMatchesLoops) {
  struct Case {
    int64_t radix, groups, stride, out;
    bool bn;
  };
  for (const Case& k : {Case{2, 1, 1, 0, false}, Case{2, 2, 1, 8, true}, Case{3, 1, 2, 6, false},
                        Case{1, 2, 1, 0, true}}) {
    SplitAttn m(SplitAttnOptions(12)
                    .radix(k.radix)
                    .groups(k.groups)
                    .stride(k.stride)
                    .out_channels(k.out)
                    .use_bn(k.bn)
                    .rd_channels(4));
    prepare(m);
    auto x = randx({2, 12, 5, 4});
    Tensor w;
    auto ref = splat_ref(x, *m, &w);
    EXPECT_LT(max_diff(m->forward(x), ref), kTol) << "radix " << k.radix << " groups " << k.groups;
    if (k.radix > 1) {
      for (int64_t r = 0; r < k.radix; ++r) EXPECT_LT(max_diff(map_named(*m, "radix" + std::to_string(r)), w.select(1, r)), kTol);
    } else {
      EXPECT_LT(max_diff(map_named(*m, "channel"), w.select(1, 0)), kTol);
    }
  }
}

// ---- non-local ----

TEST(Zoo, NonLocalMatchesLoops) {
  NonLocal m(NonLocalOptions(6).rd_channels(4));
  prepare(m);
  const int64_t N = 2, C = 6, H = 4, W = 5, HW = H * W, R = 4;
  auto x = randx({N, C, H, W});
  auto th = conv_ref(x, m->t), ph = conv_ref(x, m->p), gv = conv_ref(x, m->g);
  auto TH = th.accessor<double, 4>(), PH = ph.accessor<double, 4>(), GV = gv.accessor<double, 4>();
  auto att = torch::zeros({N, HW, HW}, torch::kDouble);
  auto AT = att.accessor<double, 3>();
  auto mix = torch::zeros({N, R, H, W}, torch::kDouble);
  auto MX = mix.accessor<double, 4>();
  const double scale = 1.0 / std::sqrt(6.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t q = 0; q < HW; ++q) {
      std::vector<double> s(HW);
      double mx = -1e300, z = 0;
      for (int64_t k = 0; k < HW; ++k) {
        double dot = 0;
        for (int64_t r = 0; r < R; ++r) dot += TH[n][r][q / W][q % W] * PH[n][r][k / W][k % W];
        s[k] = dot * scale;
        mx = std::max(mx, s[k]);
      }
      for (int64_t k = 0; k < HW; ++k) z += std::exp(s[k] - mx);
      for (int64_t k = 0; k < HW; ++k) AT[n][q][k] = std::exp(s[k] - mx) / z;
      for (int64_t r = 0; r < R; ++r)
        for (int64_t k = 0; k < HW; ++k) MX[n][r][q / W][q % W] += AT[n][q][k] * GV[n][r][k / W][k % W];
    }
  auto y = bn_ref(conv_ref(mix, m->z), m->norm) + D(x);
  EXPECT_LT(max_diff(m->forward(x), y), kTol);
  // The centre query is row 2, column 2 of the 4×5 map.
  auto centre = att.select(1, 2 * W + 2).reshape({N, 1, H, W});
  EXPECT_LT(max_diff(map_named(*m, "spatial"), centre), kTol);
  EXPECT_EQ(map_named(*m, "queries").sizes(), (std::vector<int64_t>{N, 5, H, W}));
  // timm initialisation: a fresh block is the identity.
  NonLocal fresh(NonLocalOptions(6));
  fresh->eval();
  auto x2 = torch::randn({1, 6, 3, 3});
  EXPECT_TRUE(torch::allclose(fresh->forward(x2), x2));
}

// ---- every zoo entry: shapes on two sizes, maps, backward, parameter counts ----

namespace {
const std::vector<std::string> kZoo = {"se",    "ese",   "eca",     "ecam", "ceca", "ge",    "gc",   "gca", "cbam",
                                       "lcbam", "bam",   "coord",   "simam", "triplet", "sk", "splat", "nl"};
}

TEST(Zoo, ShapesMapsAndBackwardOnTwoSizes) {
  for (const auto& name : kZoo) {
    for (auto hw : std::vector<std::pair<int64_t, int64_t>>{{6, 6}, {5, 7}}) {
      auto m = create_attention(name, 16);
      ASSERT_TRUE(m) << name;
      EXPECT_EQ(m->type_name(), name);
      auto x = torch::randn({2, 16, hw.first, hw.second}, torch::requires_grad());
      m->forward(x);
      EXPECT_TRUE(m->maps().empty()) << name << ": maps kept while recording is off";
      m->set_record_maps(true);
      auto y = m->forward(x);
      EXPECT_EQ(y.sizes(), x.sizes()) << name;
      ASSERT_FALSE(m->maps().empty()) << name;
      for (const auto& mp : m->maps()) {
        if (mp.kind == MapKind::Channel) {
          EXPECT_EQ(mp.value.sizes(), (std::vector<int64_t>{2, 16})) << name << "." << mp.name;
        } else {
          ASSERT_EQ(mp.value.dim(), 4) << name << "." << mp.name;
          EXPECT_EQ(mp.value.size(0), 2) << name << "." << mp.name;
          EXPECT_EQ(mp.value.size(2), hw.first) << name << "." << mp.name;
          EXPECT_EQ(mp.value.size(3), hw.second) << name << "." << mp.name;
        }
        EXPECT_FALSE(mp.value.requires_grad()) << name << "." << mp.name;
      }
      (y * torch::randn_like(y)).sum().backward();
      ASSERT_TRUE(x.grad().defined()) << name;
      EXPECT_GT(x.grad().abs().sum().item<float>(), 0.0f) << name;
      for (const auto& p : m->named_parameters())
        EXPECT_TRUE(p.value().grad().defined()) << name << "." << p.key() << " got no gradient";
    }
  }
}

TEST(Zoo, ConvReplacementsChangeWidthAndStride) {
  auto sk = create_attention("sk", 16, Params::parse("stride=2,out_channels=32"));
  EXPECT_EQ(sk->forward(torch::randn({2, 16, 6, 7})).sizes(), (std::vector<int64_t>{2, 32, 3, 4}));
  auto splat = create_attention("splat", 16, Params::parse("stride=2,out_channels=24,radix=2"));
  EXPECT_EQ(splat->forward(torch::randn({2, 16, 6, 7})).sizes(), (std::vector<int64_t>{2, 24, 3, 4}));
  auto sk3 = create_attention("sk", 12, Params::parse("kernel_size=3:5:7"));
  EXPECT_EQ(sk3->forward(torch::randn({2, 12, 5, 5})).sizes(), (std::vector<int64_t>{2, 12, 5, 5}));
}

TEST(Zoo, ParameterCountsAtSixteenChannels) {
  // Hand counts for C = 16 with every default (weights + biases + norm affines):
  //   se:    rd = make_divisible(1, 8) = 8: fc1 16·8+8, fc2 8·16+16                          = 280
  //   ese:   fc 16·16+16                                                                      = 272
  //   eca, ceca: k = 3, no bias                                                               = 3
  //   ecam:  rd 8: conv 8+8, conv2 8·3+1                                                      = 41
  //   ge:    rd 1: fc1 16+1, fc2 16+16                                                        = 49
  //   gc, gca: conv_attn 16+1; rd 2: fc1 32+2, LayerNorm 2+2, fc2 32+16                       = 103
  //   cbam:  rd 1: fc1 16, fc2 16; 7×7 conv 2·49 + BN 2                                       = 132
  //   lcbam: 32 + 49 + 2                                                                      = 83
  //   bam:   rd 1: fc1 17, bn 2, fc2 32; reduce 16+2, conv1 9+2, conv2 9+2, proj 2, bn 2      = 95
  //   coord: rd 8: conv1 128, bn1 16, conv_h 128, conv_w 128                                  = 400
  //   simam: 0;  triplet: 3 · (2·49 + 2) = 300
  //   sk:    paths 2 · (8·16·9 + 32); rd 8: fc_reduce 128, bn 16, fc_select 8·32             = 2768
  //   splat: conv 32·8·9; attn 32: fc1 16·32+32, fc2 32·32+32                                 = 3904
  //   nl:    rd 8: t, p, g 3·(16·8+8), z 8·16+16, norm 32                                     = 584
  const std::map<std::string, int64_t> expected = {
      {"se", 280},   {"ese", 272},   {"eca", 3},    {"ceca", 3},     {"ecam", 41},    {"ge", 49},
      {"gc", 103},   {"gca", 103},   {"cbam", 132}, {"lcbam", 83},   {"bam", 95},     {"coord", 400},
      {"simam", 0},  {"triplet", 300}, {"sk", 2768}, {"splat", 3904}, {"nl", 584}};
  for (const auto& kv : expected) EXPECT_EQ(count_params(*create_attention(kv.first, 16)), kv.second) << kv.first;
  // Non-default structure: ge with extent 4 and extra params adds two depthwise 3×3 convs + BatchNorms.
  EXPECT_EQ(count_params(*create_attention("ge", 16, Params::parse("extent=4,extra_params=true"))),
            49 + 2 * (16 * 9 + 32));
  EXPECT_EQ(count_params(*create_attention("splat", 16, Params::parse("norm_layer=batchnorm"))), 3904 + 64 + 64);
}

TEST(Zoo, StateDictKeysFollowTimm) {
  // Names as timm's modules produce them (CbamModule, SelectiveKernel, GlobalContext, SplitAttn, GatherExcite).
  EXPECT_EQ(state_keys(*create_attention("cbam", 16)),
            (std::set<std::string>{"channel.fc1.weight", "channel.fc2.weight", "spatial.conv.conv.weight",
                                   "spatial.conv.bn.weight", "spatial.conv.bn.bias", "spatial.conv.bn.running_mean",
                                   "spatial.conv.bn.running_var", "spatial.conv.bn.num_batches_tracked"}));
  EXPECT_EQ(state_keys(*create_attention("gc", 16)),
            (std::set<std::string>{"conv_attn.weight", "conv_attn.bias", "mlp_scale.fc1.weight", "mlp_scale.fc1.bias",
                                   "mlp_scale.norm.weight", "mlp_scale.norm.bias", "mlp_scale.fc2.weight",
                                   "mlp_scale.fc2.bias"}));
  std::set<std::string> sk;
  for (const char* p : {"paths.0", "paths.1"}) {
    for (const char* s : {".conv.weight", ".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var",
                          ".bn.num_batches_tracked"})
      sk.insert(std::string(p) + s);
  }
  for (const char* s : {"attn.fc_reduce.weight", "attn.bn.weight", "attn.bn.bias", "attn.bn.running_mean",
                        "attn.bn.running_var", "attn.bn.num_batches_tracked", "attn.fc_select.weight"})
    sk.insert(s);
  EXPECT_EQ(state_keys(*create_attention("sk", 16)), sk);
  EXPECT_EQ(state_keys(*create_attention("splat", 16)),
            (std::set<std::string>{"conv.weight", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  auto ge = state_keys(*create_attention("ge", 16, Params::parse("extent=4,extra_params=true")));
  for (const char* k : {"gather.conv1.weight", "gather.norm1.weight", "gather.conv2.weight", "gather.norm2.running_var",
                        "mlp.fc1.weight", "mlp.fc2.bias"})
    EXPECT_EQ(ge.count(k), 1u) << k;
  EXPECT_EQ(state_keys(*create_attention("eca", 16)), (std::set<std::string>{"conv.weight"}));
  EXPECT_EQ(state_keys(*create_attention("nl", 16)).count("norm.num_batches_tracked"), 1u);
}

TEST(Zoo, BadOptionsAreInputErrors) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"se", "rd_ratio=0"},          {"se", "gate_layer=tanh"},   {"eca", "kernel_size=4"},
      {"ge", "extent=3"},            {"ge", "extra_params=true"}, {"gc", "fuse_scale=false"},
      {"cbam", "spatial_kernel_size=6"}, {"sk", "kernel_size=3,5"}, {"sk", "kernel_size=4:6"},
      {"splat", "radix=0"},          {"splat", "norm_layer=ln"},  {"simam", "lambda=-1"},
      {"triplet", "kernel_size=4"},  {"bam", "dilation=0"},       {"coord", "se_factor=0"}};
  for (const auto& b : bad) {
    try {
      create_attention(b.first, 16, Params::parse(b.second));
      ADD_FAILURE() << b.first << " accepted " << b.second;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << b.first << " " << b.second << ": " << e.what();
      // The message names the offending option, not merely the module.
      const std::string key = b.second.substr(0, b.second.find('='));
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("unknown attention module"), std::string::npos) << e.what();
    }
  }
}
