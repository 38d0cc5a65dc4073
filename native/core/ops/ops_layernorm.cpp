// bitexact::QLinearLayerNorm, produced by the QDQ rewrite from DQ -> LayerNormalization -> Q:
// integer mean, variance and square root (docs/determinism.md §2.4). Per row of N centred inputs
// c_i = x_i - zx, with S1 = sum c and S2 = sum c^2:
//   V  = (N S2 - S1^2) 2^32 + N^2 floor(eps / sx^2 * 2^32)          (Q32, exact in 128 bits)
//   R  = isqrt(V)                                                    (sqrt of the Q32 value, Q16)
//   q_i = zy + RHE((G_i (N c_i - S1) 2^16 + B_i R) / (R 2^24))
// with G_i = round(gamma_i / sy * 2^24) and B_i = round(beta_i / sy * 2^24). Since
// x_i - mean = sx (N c_i - S1) / N and var + eps = (sx / N)^2 (N S2 - S1^2 + N^2 eps / sx^2),
// (N c_i - S1) 2^16 / R is (x_i - mean) / sqrt(var + eps): q_i is
// gamma_i (x_i - mean) / sqrt(var + eps) + beta_i quantised to the output scale, computed without
// a float operation at run time.
#include <cmath>
#include <memory>

#include "../device.h"
#include "../qparams.h"
#include "ops_common.h"

namespace bx {
namespace {

constexpr int64_t kMaxRow = int64_t(1) << 20;  // keeps every intermediate inside 128 bits

class QLinearLayerNormOp : public Op {
 public:
  QLinearLayerNormOp(QuantParams x, QuantParams y, std::vector<int64_t> gamma, std::vector<int64_t> beta, uint64_t epsQ32,
                     int64_t axis, std::string where)
      : x_(std::move(x)), y_(std::move(y)), gamma_(std::move(gamma)), beta_(std::move(beta)), epsQ32_(epsQ32), axis_(axis),
        where_(std::move(where)) {}

  // Checks the input; its rows and their length.
  void rowsOf(DType dtype, const Shape& shape, int64_t* rows, int64_t* n) const {
    if (dtype != x_.dtype) fail(ErrorCode::Input, where_ + ": input is " + dtypeName(dtype) + ", expected " + dtypeName(x_.dtype));
    const int64_t rank = int64_t(shape.size());
    const int64_t axis = normalizeAxis(axis_, rank, "LayerNormalization");
    *rows = 1;
    *n = 1;
    for (int64_t d = 0; d < rank; ++d) (d < axis ? *rows : *n) *= shape[size_t(d)];
    if (*n != int64_t(gamma_.size())) {
      fail(ErrorCode::Input, where_ + ": normalises " + std::to_string(*n) + " elements per row but the scale has " +
                                 std::to_string(gamma_.size()));
    }
    if (*n > kMaxRow) fail(ErrorCode::OverflowBound, where_ + ": rows longer than 2^20 elements");
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    int64_t rows, n;
    rowsOf(x.dtype, x.shape, &rows, &n);
    Tensor y = ctx.allocate(y_.dtype, x.shape);
    const bool isSigned = x.dtype == DType::Int8;
    const int32_t zx = x_.zeroPoints[0], zy = y_.zeroPoints[0];
    const QRange range = y_.range();
    parallelRange(ctx.pool, rows, std::max<int64_t>(1, 2048 / std::max<int64_t>(n, 1)), [&](int64_t begin, int64_t end) {
      std::vector<int32_t> c(static_cast<size_t>(n));
      for (int64_t r = begin; r < end; ++r) {
        const uint8_t* src = x.bytes() + r * n;
        int64_t s1 = 0, s2 = 0;
        for (int64_t i = 0; i < n; ++i) {
          c[size_t(i)] = quantizedAt(src, isSigned, i) - zx;
          s1 += c[size_t(i)];
          s2 += int64_t(c[size_t(i)]) * c[size_t(i)];
        }
        const int64_t spread = n * s2 - s1 * s1;  // N^2 var / sx^2 >= 0, < 2^57
        const unsigned __int128 v = ((unsigned __int128)uint64_t(spread) << 32) + (unsigned __int128)(uint64_t(n) * uint64_t(n)) * epsQ32_;
        const uint64_t root = isqrt128(v);
        uint8_t* dst = y.buffer->data() + r * n;
        for (int64_t i = 0; i < n; ++i) {
          __int128 q;
          if (root == 0) {
            // A constant row with eps = 0: the normalised value is taken as 0, leaving beta.
            q = roundDivideEvenSigned(beta_[size_t(i)], (unsigned __int128)1 << 24);
          } else {
            const __int128 centred = __int128(n) * c[size_t(i)] - s1;
            const __int128 numerator = __int128(gamma_[size_t(i)]) * centred * 65536 + __int128(beta_[size_t(i)]) * root;
            q = roundDivideEvenSigned(numerator, (unsigned __int128)root << 24);
          }
          const __int128 shifted = q + zy;
          const int32_t value = shifted < range.lo ? range.lo : (shifted > range.hi ? range.hi : int32_t(shifted));
          dst[i] = uint8_t(value);  // the low byte encodes int8 and uint8 alike
        }
      }
    });
    out[0] = std::move(y);
  }

 bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    LayerNormDeviceArgs a;
    rowsOf(x.dtype, x.shape, &a.rows, &a.n);
    DeviceTensor y = ctx.allocate(y_.dtype, x.shape);
    a.hostGamma = gamma_.data();
    a.hostBeta = beta_.data();
    a.epsQ32 = epsQ32_;
    a.inputSigned = x.dtype == DType::Int8;
    a.zx = x_.zeroPoints[0];
    a.zy = y_.zeroPoints[0];
    a.range = y_.range();
    a.input = x.data();
    a.output = y.data();
    ctx.layerNorm(a);
    out[0] = std::move(y);
    return true;
  }

 private:
  QuantParams x_, y_;
  std::vector<int64_t> gamma_, beta_;  // Q24 multiples of the output scale
  uint64_t epsQ32_;
  int64_t axis_;
  std::string where_;
};

// round(v / scale * 2^24) of a float32 parameter, in float64 (exact inputs, one rounded division).
int64_t toOutputQ24(const BuildContext& ctx, float v, float scale, const char* role) {
  const double q = std::ldexp(double(v) / double(scale), 24);
  if (!std::isfinite(q) || std::fabs(q) >= std::ldexp(1.0, 54)) {
    ctx.unsupported(std::string(role) + " " + std::to_string(v) + " is too large for the output scale " + std::to_string(scale));
  }
  return std::llround(q);
}

}  // namespace

// Inputs: x, x_scale, x_zero_point, scale (float32, constant), y_scale, y_zero_point, bias
// (optional, float32 constant). Attributes: axis (default -1), epsilon (default 1e-5).
std::unique_ptr<Op> createQLinearLayerNorm(BuildContext& ctx) {
  ctx.requireInputs(6, 7);
  const QuantParams x = readPerTensorByteParams(ctx, 1, 2, "input");
  const QuantParams y = readPerTensorByteParams(ctx, 4, 5, "output");
  const Tensor& scale = ctx.requireConstant(3, "scale");
  if (scale.dtype != DType::Float32) ctx.unsupported("a LayerNormalization scale that is not float32");
  std::vector<int64_t> gamma, beta;
  for (int64_t i = 0; i < scale.size(); ++i) gamma.push_back(toOutputQ24(ctx, scale.floatAt(i), y.scales[0], "scale"));
  if (ctx.hasInput(6)) {
    const Tensor& bias = ctx.requireConstant(6, "bias");
    if (bias.dtype != DType::Float32 || bias.size() != scale.size()) ctx.unsupported("a LayerNormalization bias that is not float32 like the scale");
    for (int64_t i = 0; i < bias.size(); ++i) beta.push_back(toOutputQ24(ctx, bias.floatAt(i), y.scales[0], "bias"));
  } else {
    beta.assign(gamma.size(), 0);
  }
  const float epsilon = ctx.attrFloat("epsilon", 1e-5f);
  if (!(epsilon >= 0.0f)) ctx.invalid("epsilon must be >= 0");
  const double sx = double(x.scales[0]);
  const double eps = std::floor(std::ldexp(double(epsilon) / (sx * sx), 32));  // sx*sx is exact in float64
  if (!(eps < std::ldexp(1.0, 63))) ctx.unsupported("epsilon is too large against the input scale");
  return std::make_unique<QLinearLayerNormOp>(x, y, std::move(gamma), std::move(beta), uint64_t(eps), ctx.attrInt("axis", -1), ctx.where());
}

}  // namespace bx
