// QLinearMatMul and MatMulInteger whose B is computed at run time (attention: Q·Kᵀ, P·V):
// per-tensor zero points and scales, numpy-style batch broadcasting. Every output is the exact
// integer sum acc = sum_k (a - za)(b - zb), proven below int32 for the run's K, then requantised
// (QLinearMatMul) or stored (MatMulInteger) as docs/determinism.md §1.1 states.
#include <algorithm>
#include <memory>

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

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& a = *in[0];
    const Tensor& b = *in[requantize_ ? 3 : 1];
    const DType bType = bType_ == kTypeOfInput ? b.dtype : bType_;
    if (a.dtype != aType_ || b.dtype != bType || (bType != DType::UInt8 && bType != DType::Int8)) {
      fail(ErrorCode::Input, where_ + ": inputs are " + dtypeName(a.dtype) + " x " + dtypeName(b.dtype) + ", expected " +
                                 dtypeName(aType_) + " x " + (bType_ == kTypeOfInput ? "uint8 or int8" : dtypeName(bType_)));
    }
    if (a.shape.size() < 2 || b.shape.size() < 2) {
      fail(ErrorCode::Input, where_ + ": both inputs need rank >= 2 (got " + shapeToString(a.shape) + " and " + shapeToString(b.shape) + ")");
    }
    const int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back(), n = b.shape.back();
    if (b.shape[b.shape.size() - 2] != k) {
      fail(ErrorCode::Input, where_ + ": " + shapeToString(a.shape) + " x " + shapeToString(b.shape) + ": inner dimensions differ");
    }
    // Contract rule 4 for a K known only now: every term is at most max|a - za| * max|b - zb|.
    const int64_t bound = k * maxCenteredMagnitude(rangeOf(aType_), za_) * maxCenteredMagnitude(rangeOf(bType), zb_);
    if (bound > kInt32Max) {
      fail(ErrorCode::OverflowBound, where_ + ": K = " + std::to_string(k) + " could reach |acc| = " + std::to_string(bound) +
                                         " > 2^31-1; bitexact refuses products that could overflow int32");
    }
    const Shape aBatch(a.shape.begin(), a.shape.end() - 2), bBatch(b.shape.begin(), b.shape.end() - 2);
    const BroadcastPlan batches = planBroadcast(aBatch, bBatch, where_);
    Shape outShape = batches.output;
    outShape.push_back(m);
    outShape.push_back(n);
    Tensor y = ctx.allocate(requantize_ ? yType_ : DType::Int32, outShape);
    const int64_t batchCount = elementCount(batches.output);
    std::vector<int64_t> aIndex(static_cast<size_t>(batchCount)), bIndex(static_cast<size_t>(batchCount));
    forEachBroadcast(batches, 0, batchCount, [&](int64_t i, int64_t ia, int64_t ib) {
      aIndex[size_t(i)] = ia;
      bIndex[size_t(i)] = ib;
    });
    const bool aSigned = aType_ == DType::Int8, bSigned = bType == DType::Int8;
    const QRange range = rangeOf(yType_);
    // One task per (batch, output row): centre the row of A, then dot it with every column of a
    // centred, transposed copy of B (made once per batch of B, on the task that first needs it
    // would race; so up front, per distinct B batch).
    const int64_t bBatches = elementCount(bBatch);
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
