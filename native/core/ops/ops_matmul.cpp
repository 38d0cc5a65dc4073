// QLinearMatMul, MatMulInteger and com.microsoft QGemm with constant 2-D weights B [K, N]:
// activations A [..., M, K] run through the packed GEMM as K x (batch*M) columns.
#include <memory>

#include "linear_layer.h"
#include "ops_common.h"

namespace bx {
namespace {

class MatMulOp : public Op {
 public:
  MatMulOp(std::unique_ptr<LinearLayer> layer, bool transposeA, std::string where)
      : layer_(std::move(layer)), transposeA_(transposeA), where_(std::move(where)) {}

  // The GEMMs of one run: `outer * groups` of them, each `rows` activation rows by N outputs.
  struct Plan {
    Shape outShape;
    int64_t rows = 0;
    int64_t outer = 1;  // batch dims of A in front of B's batch dim
  };

  Plan plan(DType dtype, const Shape& shape) const {
    if (dtype != layer_->inputType()) {
      fail(ErrorCode::Input, where_ + ": input is " + dtypeName(dtype) + ", expected " + dtypeName(layer_->inputType()));
    }
    const int64_t depth = layer_->depth();
    const int64_t n = layer_->rowsPerGroup();
    const int64_t groups = layer_->groups();  // > 1 when B is batched: [groups, K, N]
    if (shape.empty()) fail(ErrorCode::Input, where_ + ": input must have rank >= 1");
    Plan p;
    p.outShape = shape;
    if (transposeA_) {
      if (shape.size() != 2 || shape[0] != depth) fail(ErrorCode::Input, where_ + ": input shape " + shapeToString(shape) + " does not fit transA");
      p.rows = shape[1];
      p.outShape = {p.rows, n};
    } else {
      if (shape.back() != depth) {
        fail(ErrorCode::Input, where_ + ": input shape " + shapeToString(shape) + " has inner dimension " +
                                   std::to_string(shape.back()) + ", expected " + std::to_string(depth));
      }
      if (groups > 1) {
        if (shape.size() < 3 || shape[shape.size() - 3] != groups) {
          fail(ErrorCode::Input, where_ + ": input shape " + shapeToString(shape) + " does not match B's batch of " + std::to_string(groups));
        }
        p.rows = shape[shape.size() - 2];
        p.outer = elementCount(Shape(shape.begin(), shape.end() - 3));
      } else {
        p.rows = elementCount(Shape(shape.begin(), shape.end() - 1));
      }
      p.outShape.back() = n;
    }
    return p;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& a = *in[0];
    const Plan p = plan(a.dtype, a.shape);
    const Shape& outShape = p.outShape;
    const int64_t rows = p.rows, outer = p.outer;
    const int64_t depth = layer_->depth();
    const int64_t n = layer_->rowsPerGroup();
    const int64_t groups = layer_->groups();
    Tensor y = ctx.allocateForOverwrite(layer_->outputType(), outShape);
    const size_t inElement = dtypeSize(a.dtype), outElement = dtypeSize(y.dtype);
    for (int64_t batch = 0; batch < outer * groups; ++batch) {
      const int64_t group = batch % groups;
      const uint8_t* aData = a.bytes() + size_t(batch * rows * depth) * inElement;
      // Output row m, column j at y[m*n + j]; in the GEMM, weight row j and activation column m.
      const cpu::GemmEpilogue e = layer_->epilogue(group, y.buffer->data() + size_t(batch * rows * n) * outElement, 1, n);
      if (ctx.isa == cpu::Isa::Scalar || layer_->wide()) {
        const DType inputType = layer_->inputType();
        const int32_t zx = layer_->inputZeroPoint();
        parallelRange(ctx.pool, rows, 1, [&](int64_t begin, int64_t end) {
          std::vector<int32_t> centred(static_cast<size_t>(depth));
          for (int64_t m = begin; m < end; ++m) {
            for (int64_t k = 0; k < depth; ++k) {
              const int64_t index = transposeA_ ? k * rows + m : m * depth + k;
              centred[size_t(k)] = quantizedAt(aData, inputType, index) - zx;
            }
            for (int64_t j = 0; j < n; ++j) cpu::storeAccumulator(e, j, m, layer_->referenceDot(group, j, centred.data()));
          }
        });
      } else {
        cpu::MatrixSource src(aData, layer_->inputSigned(), depth, transposeA_ ? rows : 1, transposeA_ ? 1 : depth);
        cpu::runPackedGemm(ctx.pool, layer_->weights(group), src, rows, e);
      }
    }
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& a = *in[0];
    const Plan p = plan(a.dtype, a.shape);
    DeviceTensor y = ctx.allocate(layer_->outputType(), p.outShape);
    const int64_t depth = layer_->depth(), n = layer_->rowsPerGroup(), groups = layer_->groups();
    const size_t outElement = dtypeSize(y.dtype);
    for (int64_t batch = 0; batch < p.outer * groups; ++batch) {
      LinearDeviceArgs args = layer_->deviceArgs(batch % groups);
      args.input = a.data() + size_t(batch * p.rows * depth) * dtypeSize(a.dtype);
      args.columns = p.rows;
      args.strideK = transposeA_ ? p.rows : 1;
      args.strideCol = transposeA_ ? 1 : depth;
      args.output = y.data() + size_t(batch * p.rows * n) * outElement;
      args.colsPerImage = p.rows;
      args.imageOutStride = 0;
      args.rowStride = 1;
      args.colStride = n;
      ctx.linear(args);
    }
    out[0] = std::move(y);
    return true;
  }

 private:
  std::unique_ptr<LinearLayer> layer_;
  bool transposeA_;
  std::string where_;
};

// Weights B [K, N] (or [N, K] when transposed), optionally batched [G, K, N], as rows [G*N][K].
std::vector<uint8_t> weightRows(const BuildContext& ctx, const Tensor& b, bool transposed, int64_t* depth, int64_t* n,
                                int64_t* groups) {
  if (b.dtype != DType::Int8 && b.dtype != DType::UInt8) ctx.unsupported(std::string("weights of type ") + dtypeName(b.dtype));
  if (b.shape.size() != 2 && !(b.shape.size() == 3 && !transposed)) {
    ctx.unsupported("constant weights must be 2-D (or 3-D batched) but B has shape " + shapeToString(b.shape));
  }
  const size_t r = b.shape.size();
  *groups = r == 3 ? b.shape[0] : 1;
  *depth = transposed ? b.shape[r - 1] : b.shape[r - 2];
  *n = transposed ? b.shape[r - 2] : b.shape[r - 1];
  const int64_t plane = *depth * *n;
  std::vector<uint8_t> rows(size_t(*groups * plane));
  for (int64_t g = 0; g < *groups; ++g) {
    const uint8_t* src = b.bytes() + g * plane;
    for (int64_t j = 0; j < *n; ++j) {
      for (int64_t k = 0; k < *depth; ++k) {
        rows[size_t(g * plane + j * *depth + k)] = transposed ? src[j * *depth + k] : src[k * *n + j];
      }
    }
  }
  return rows;
}

std::unique_ptr<Op> buildMatMul(BuildContext& ctx, const std::vector<uint8_t>& rows, bool weightsSigned, int64_t groups,
                                int64_t depth, int64_t n, DType inputType, int32_t inputZeroPoint, std::vector<int32_t> weightZeroPoints,
                                std::vector<int32_t> bias, bool requantize, std::vector<double> multipliers,
                                DType outputType, int32_t outputZeroPoint, bool transposeA) {
  LinearLayerSpec spec;
  spec.weights = rows.data();
  spec.weightsSigned = weightsSigned;
  spec.groups = groups;
  spec.rowsPerGroup = n;
  spec.depth = depth;
  // Per-column parameters repeat for every batch of B.
  for (int64_t g = 1; g < groups; ++g) {
    weightZeroPoints.insert(weightZeroPoints.end(), weightZeroPoints.begin(), weightZeroPoints.begin() + n);
    multipliers.insert(multipliers.end(), multipliers.begin(), multipliers.begin() + n);
  }
  spec.weightZeroPoints = std::move(weightZeroPoints);
  spec.bias = std::move(bias);
  spec.inputType = inputType;
  spec.inputZeroPoint = inputZeroPoint;
  spec.allowWide = true;
  spec.requantize = requantize;
  spec.realMultipliers = std::move(multipliers);
  spec.outputType = outputType;
  spec.outputZeroPoint = outputZeroPoint;
  return std::make_unique<MatMulOp>(std::make_unique<LinearLayer>(ctx, spec), transposeA, ctx.where());
}

}  // namespace

std::unique_ptr<Op> createDynamicQLinearMatMul(BuildContext& ctx);
std::unique_ptr<Op> createDynamicMatMulInteger(BuildContext& ctx, DType aType, int32_t za);

std::unique_ptr<Op> createQLinearMatMul(BuildContext& ctx) {
  ctx.requireInputs(8, 8);
  if (!ctx.constant(3)) return createDynamicQLinearMatMul(ctx);  // activation x activation
  const QuantParams a = readQuantParams(ctx, 1, 2, DType::UInt8, "input A");
  const Tensor& b = ctx.requireConstant(3, "B");
  const QuantParams bq = readQuantParams(ctx, 4, 5, b.dtype, "B");
  const QuantParams y = readQuantParams(ctx, 6, 7, DType::UInt8, "output");
  if (!a.perTensor() || !y.perTensor()) ctx.unsupported("per-channel input or output quantisation");
  int64_t depth, n, groups;
  const std::vector<uint8_t> rows = weightRows(ctx, b, false, &depth, &n, &groups);
  const std::vector<float> scales = expandPerChannel(ctx, bq.scales, n, "B scale");
  std::vector<double> multipliers;
  for (int64_t j = 0; j < n; ++j) multipliers.push_back(double(a.scales[0]) * double(scales[size_t(j)]) / double(y.scales[0]));
  return buildMatMul(ctx, rows, b.dtype == DType::Int8, groups, depth, n, a.dtype, a.zeroPoints[0],
                     expandPerChannel(ctx, bq.zeroPoints, n, "B zero point"), {}, true, multipliers, y.dtype, y.zeroPoints[0], false);
}

std::unique_ptr<Op> createMatMulInteger(BuildContext& ctx) {
  ctx.requireInputs(2, 4);
  const IntegerInputZeroPoint azp = readIntegerInputZeroPoint(ctx, 2, "A zero point");
  if (!ctx.constant(1)) return createDynamicMatMulInteger(ctx, azp.type, azp.value);  // activation x activation
  const Tensor& b = ctx.requireConstant(1, "B");
  int64_t depth, n, groups;
  const std::vector<uint8_t> rows = weightRows(ctx, b, false, &depth, &n, &groups);
  std::vector<int32_t> bzp(1, 0);
  if (ctx.hasInput(3)) {
    const Tensor& z = ctx.requireConstant(3, "B zero point");
    bzp.clear();
    for (int64_t i = 0; i < z.size(); ++i) bzp.push_back(int32_t(z.intAt(i)));
  }
  return buildMatMul(ctx, rows, b.dtype == DType::Int8, groups, depth, n, azp.type, azp.value, expandPerChannel(ctx, bzp, n, "B zero point"),
                     {}, false, {}, DType::Int32, 0, false);
}

std::unique_ptr<Op> createQGemm(BuildContext& ctx) {
  ctx.requireInputs(6, 9);
  if (!ctx.hasInput(7)) ctx.unsupported("QGemm with a float output (no y_scale) is not supported");
  const QuantParams a = readQuantParams(ctx, 1, 2, DType::UInt8, "input A");
  const Tensor& b = ctx.requireConstant(3, "B");
  const QuantParams bq = readQuantParams(ctx, 4, 5, b.dtype, "B");
  const QuantParams y = readQuantParams(ctx, 7, 8, DType::UInt8, "output");
  if (!a.perTensor() || !y.perTensor()) ctx.unsupported("per-channel input or output quantisation");
  const float alpha = ctx.attrFloat("alpha", 1.0f);
  if (!(alpha > 0.0f)) ctx.unsupported("alpha must be positive");
  const bool transA = ctx.attrInt("transA", 0) != 0;
  const bool transB = ctx.attrInt("transB", 0) != 0;
  int64_t depth, n, groups;
  const std::vector<uint8_t> rows = weightRows(ctx, b, transB, &depth, &n, &groups);
  if (groups != 1) ctx.unsupported("QGemm with batched B");
  std::vector<int32_t> bias;
  if (ctx.hasInput(6)) {
    const Tensor& c = ctx.requireConstant(6, "C");
    if (c.dtype != DType::Int32) ctx.unsupported("C must be int32");
    if (c.size() == n) bias.assign(c.data<int32_t>(), c.data<int32_t>() + n);
    else if (c.size() == 1) bias.assign(size_t(n), c.data<int32_t>()[0]);
    else ctx.unsupported("C must broadcast along the output columns (shape [N] or [1, N])");
  }
  const std::vector<float> scales = expandPerChannel(ctx, bq.scales, n, "B scale");
  std::vector<double> multipliers;
  for (int64_t j = 0; j < n; ++j) {
    multipliers.push_back(double(alpha) * double(a.scales[0]) * double(scales[size_t(j)]) / double(y.scales[0]));
  }
  return buildMatMul(ctx, rows, b.dtype == DType::Int8, 1, depth, n, a.dtype, a.zeroPoints[0],
                     expandPerChannel(ctx, bq.zeroPoints, n, "B zero point"), std::move(bias), true, multipliers, y.dtype,
                     y.zeroPoints[0], transA);
}

}  // namespace bx
