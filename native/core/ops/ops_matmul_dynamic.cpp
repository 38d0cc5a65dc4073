// QLinearMatMul and MatMulInteger whose B is computed at run time (attention: Q·Kᵀ, P·V):
// per-tensor zero points and scales, numpy-style batch broadcasting. Every output is the exact
// integer sum acc = sum_k (a - za)(b - zb), proven below int32 for the run's K, then requantised
// (QLinearMatMul) or stored (MatMulInteger) as docs/determinism.md §1.1 states.
#include <algorithm>
#include <memory>

#include "../device.h"
#include "../qparams.h"
#include "broadcast.h"
#include "ops_common.h"

namespace bx {
namespace {

class DynamicMatMulOp : public Op {
 public:
  // requantize: QLinearMatMul (y type/zero point/multiplier); else MatMulInteger (int32 out).
  // bType: B's element type, or Float32 to take B's own type (uint8 or int8) at run time.
  DynamicMatMulOp(DType aType, int32_t za, DType bType, int32_t zb, bool requantize, Multiplier m, DType yType, int32_t zy,
                  std::string where)
      : aType_(aType), bType_(bType), za_(za), zb_(zb), requantize_(requantize), m_(m), yType_(yType), zy_(zy),
        where_(std::move(where)) {}

  static constexpr DType kTypeOfInput = DType::Float32;

  // Checks types, shapes and the overflow bound; the output shape, the GEMM sizes and, per
  // output batch, the batch of A and of B it reads.
  struct Plan {
    DType bType;
    Shape outShape;
    int64_t m = 0, k = 0, n = 0, batches = 0, bBatches = 0;
    std::vector<int64_t> aIndex, bIndex;
  };

  Plan plan(DType aDtype, const Shape& aShape, DType bDtype, const Shape& bShape) const {
    Plan p;
    p.bType = bType_ == kTypeOfInput ? bDtype : bType_;
    if (aDtype != aType_ || bDtype != p.bType || (p.bType != DType::UInt8 && p.bType != DType::Int8)) {
      fail(ErrorCode::Input, where_ + ": inputs are " + dtypeName(aDtype) + " x " + dtypeName(bDtype) + ", expected " +
                                 dtypeName(aType_) + " x " + (bType_ == kTypeOfInput ? "uint8 or int8" : dtypeName(bType_)));
    }
    if (aShape.size() < 2 || bShape.size() < 2) {
      fail(ErrorCode::Input, where_ + ": both inputs need rank >= 2 (got " + shapeToString(aShape) + " and " + shapeToString(bShape) + ")");
    }
    p.m = aShape[aShape.size() - 2];
    p.k = aShape.back();
    p.n = bShape.back();
    if (bShape[bShape.size() - 2] != p.k) {
      fail(ErrorCode::Input, where_ + ": " + shapeToString(aShape) + " x " + shapeToString(bShape) + ": inner dimensions differ");
    }
    // Contract rule 4 for a K known only now: every term is at most max|a - za| * max|b - zb|.
    const int64_t bound = p.k * maxCenteredMagnitude(rangeOf(aType_), za_) * maxCenteredMagnitude(rangeOf(p.bType), zb_);
    if (bound > kInt32Max) {
      fail(ErrorCode::OverflowBound, where_ + ": K = " + std::to_string(p.k) + " could reach |acc| = " + std::to_string(bound) +
                                         " > 2^31-1; bitexact refuses products that could overflow int32");
    }
    const Shape aBatch(aShape.begin(), aShape.end() - 2), bBatch(bShape.begin(), bShape.end() - 2);
    const BroadcastPlan batches = planBroadcast(aBatch, bBatch, where_);
    p.outShape = batches.output;
    p.outShape.push_back(p.m);
    p.outShape.push_back(p.n);
    p.batches = elementCount(batches.output);
    p.bBatches = elementCount(bBatch);
    p.aIndex.resize(size_t(p.batches));
    p.bIndex.resize(size_t(p.batches));
    forEachBroadcast(batches, 0, p.batches, [&](int64_t i, int64_t ia, int64_t ib) {
      p.aIndex[size_t(i)] = ia;
      p.bIndex[size_t(i)] = ib;
    });
    return p;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& a = *in[0];
    const Tensor& b = *in[requantize_ ? 3 : 1];
    const Plan p = plan(a.dtype, a.shape, b.dtype, b.shape);
    const DType bType = p.bType;
    const int64_t m = p.m, k = p.k, n = p.n, batchCount = p.batches, bBatches = p.bBatches;
    const std::vector<int64_t>& aIndex = p.aIndex;
    const std::vector<int64_t>& bIndex = p.bIndex;
    Tensor y = ctx.allocate(requantize_ ? yType_ : DType::Int32, p.outShape);
    const bool aSigned = aType_ == DType::Int8, bSigned = bType == DType::Int8;
    const QRange range = rangeOf(yType_);
    // One task per (batch, output row): centre the row of A, then dot it with every column of a
    // centred, transposed copy of B, made up front once per distinct batch of B.
    std::vector<int16_t> bT(size_t(bBatches * n * k));
    parallelRange(ctx.pool, bBatches, 1, [&](int64_t begin, int64_t end) {
      for (int64_t batch = begin; batch < end; ++batch) {
        const uint8_t* src = b.bytes() + batch * k * n;
        int16_t* dst = bT.data() + batch * n * k;
        for (int64_t t = 0; t < k; ++t) {
          for (int64_t j = 0; j < n; ++j) dst[j * k + t] = int16_t(quantizedAt(src, bSigned, t * n + j) - zb_);
        }
      }
    });
    parallelRange(ctx.pool, batchCount * m, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n * k)), [&](int64_t begin, int64_t end) {
      std::vector<int16_t> row(static_cast<size_t>(k));
      for (int64_t task = begin; task < end; ++task) {
        const int64_t batch = task / m, i = task % m;
        const uint8_t* aRow = a.bytes() + (aIndex[size_t(batch)] * m + i) * k;
        for (int64_t t = 0; t < k; ++t) row[size_t(t)] = int16_t(quantizedAt(aRow, aSigned, t) - za_);
        const int16_t* bBase = bT.data() + bIndex[size_t(batch)] * n * k;
        for (int64_t j = 0; j < n; ++j) {
          const int16_t* col = bBase + j * k;
          int32_t acc = 0;  // exact: bounded above
          for (int64_t t = 0; t < k; ++t) acc += int32_t(row[size_t(t)]) * int32_t(col[t]);
          const int64_t o = task * n + j;
          if (requantize_) y.buffer->data()[o] = uint8_t(requantize(acc, m_, zy_, range.lo, range.hi));  // low byte: int8 or uint8
          else y.mutableData<int32_t>()[o] = acc;
        }
      }
    });
    out[0] = std::move(y);
  }

 bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& a = *in[0];
    const DeviceTensor& b = *in[requantize_ ? 3 : 1];
    const Plan p = plan(a.dtype, a.shape, b.dtype, b.shape);
    DeviceTensor y = ctx.allocate(requantize_ ? yType_ : DType::Int32, p.outShape);
    Tensor offsets = makeTensor(DType::Int64, {2, p.batches});
    for (int64_t i = 0; i < p.batches; ++i) {
      offsets.mutableData<int64_t>()[i] = p.aIndex[size_t(i)] * p.m * p.k;
      offsets.mutableData<int64_t>()[p.batches + i] = p.bIndex[size_t(i)] * p.k * p.n;
    }
    const DeviceTensor deviceOffsets = ctx.upload(offsets);
    DynamicMatMulDeviceArgs args;
    args.batches = p.batches;
    args.m = p.m;
    args.k = p.k;
    args.n = p.n;
    args.aOffsets = reinterpret_cast<const int64_t*>(deviceOffsets.data());
    args.bOffsets = args.aOffsets + p.batches;
    args.aSigned = aType_ == DType::Int8;
    args.bSigned = p.bType == DType::Int8;
    args.za = za_;
    args.zb = zb_;
    args.requantize = requantize_;
    args.multiplier = m_;
    args.zy = zy_;
    args.range = rangeOf(yType_);
    args.a = a.data();
    args.b = b.data();
    args.output = y.data();
    ctx.dynamicMatMul(args);
    out[0] = std::move(y);
    return true;
  }

 private:
  DType aType_, bType_;
  int32_t za_, zb_;
  bool requantize_;
  Multiplier m_;
  DType yType_;
  int32_t zy_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> createDynamicQLinearMatMul(BuildContext& ctx) {
  const QuantParams a = readQuantParams(ctx, 1, 2, DType::UInt8, "input A");
  const QuantParams b = readQuantParams(ctx, 4, 5, DType::UInt8, "input B");
  const QuantParams y = readQuantParams(ctx, 6, 7, DType::UInt8, "output");
  if (!a.perTensor() || !b.perTensor() || !y.perTensor()) ctx.unsupported("per-channel quantisation of a run-time B");
  for (const QuantParams* q : {&a, &b, &y}) {
    if (q->dtype != DType::UInt8 && q->dtype != DType::Int8) ctx.unsupported(std::string("type ") + dtypeName(q->dtype) + " (uint8 or int8)");
  }
  Multiplier m;
  if (!deriveMultiplier(double(a.scales[0]) * double(b.scales[0]) / double(y.scales[0]), &m)) {
    ctx.invalid("scale ratio a_scale * b_scale / y_scale cannot be represented");
  }
  return std::make_unique<DynamicMatMulOp>(a.dtype, a.zeroPoints[0], b.dtype, b.zeroPoints[0], true, m, y.dtype, y.zeroPoints[0], ctx.where());
}

std::unique_ptr<Op> createDynamicMatMulInteger(BuildContext& ctx, DType aType, int32_t za) {
  DType bType = DynamicMatMulOp::kTypeOfInput;
  int32_t zb = 0;
  if (ctx.hasInput(3)) {
    const Tensor& z = ctx.requireConstant(3, "B zero point");
    if (z.size() != 1) ctx.unsupported("a per-column zero point for a run-time B");
    bType = z.dtype;
    zb = int32_t(z.intAt(0));
  }
  // Without a zero point B's type is known only at run time (uint8 or int8).
  return std::make_unique<DynamicMatMulOp>(aType, za, bType, zb, false, Multiplier{}, DType::Int32, 0, ctx.where());
}

}  // namespace bx
