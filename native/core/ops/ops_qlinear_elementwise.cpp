// com.microsoft QLinearAdd and QLinearMul with broadcasting. QLinearAdd also takes 16-bit inputs
// and outputs (w8a16): a plain loop on the CPU, the shared elementwise kernel on a device.
#include <algorithm>

#include "../../cpu/elementwise_avx2.h"
#include "../device.h"
#include "../qparams.h"
#include "broadcast.h"
#include "ops_common.h"

namespace bx {
namespace {

struct BinaryQuant {
  QuantParams a, b, y;
};

BinaryQuant readBinaryQuant(BuildContext& ctx, bool allowWide) {
  ctx.requireInputs(7, 8);
  const auto read = allowWide ? readPerTensorParams : readPerTensorByteParams;
  return BinaryQuant{read(ctx, 1, 2, "input A"), read(ctx, 4, 5, "input B"), read(ctx, 6, 7, "output")};
}

bool isWide(const BinaryQuant& q) {
  return isWideQuantizedType(q.a.dtype) || isWideQuantizedType(q.b.dtype) || isWideQuantizedType(q.y.dtype);
}

void checkInputTypes(DType a, DType b, const BinaryQuant& q, const std::string& where) {
  if (a != q.a.dtype || b != q.b.dtype) {
    fail(ErrorCode::Input, where + ": input types " + dtypeName(a) + "/" + dtypeName(b) + " do not match their zero points");
  }
}

// The run-time skeleton shared by both ops; `combine` maps centred (a - za, b - zb) to the
// rounded, not yet offset, output value.
template <typename Combine>
void runBinary(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out, const BinaryQuant& q,
               const std::string& where, Combine combine) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[3];
  checkInputTypes(a.dtype, b.dtype, q, where);
  const BroadcastPlan plan = planBroadcast(a.shape, b.shape, where);
  Tensor y = ctx.allocateForOverwrite(q.y.dtype, plan.output);
  const int32_t za = q.a.zeroPoints[0], zb = q.b.zeroPoints[0], zy = q.y.zeroPoints[0];
  const QRange range = q.y.range();
  uint8_t* dst = y.buffer->data();
  if (isWide(q)) {
    // 16-bit elements (w8a16): read and written by type, the low two bytes encoding both signs
    const bool wideOut = isWideQuantizedType(q.y.dtype);
    parallelRange(ctx.pool, y.size(), 1 << 13, [&](int64_t begin, int64_t end) {
      forEachBroadcast(plan, begin, end, [&](int64_t i, int64_t ia, int64_t ib) {
        const int32_t v = saturate(combine(quantizedAt(a.bytes(), a.dtype, ia) - za, quantizedAt(b.bytes(), b.dtype, ib) - zb) + zy, range.lo, range.hi);
        if (wideOut) reinterpret_cast<uint16_t*>(dst)[i] = uint16_t(v);
        else dst[i] = uint8_t(v);
      });
    });
    out[0] = std::move(y);
    return;
  }
  const bool sa = a.dtype == DType::Int8, sb = b.dtype == DType::Int8;
  // int8 and uint8 bytes both map to their integer through a 256-entry table: no branch per element.
  int32_t centredA[256], centredB[256];
  for (int32_t byte = 0; byte < 256; ++byte) {
    centredA[byte] = (sa ? int32_t(int8_t(byte)) : byte) - za;
    centredB[byte] = (sb ? int32_t(int8_t(byte)) : byte) - zb;
  }
  const uint8_t* aBytes = a.bytes();
  const uint8_t* bBytes = b.bytes();
  const auto element = [&](int64_t i, int64_t ia, int64_t ib) {
    const int64_t v = combine(centredA[aBytes[ia]], centredB[bBytes[ib]]);
    dst[i] = uint8_t(saturate(v + zy, range.lo, range.hi));  // the low byte encodes int8 and uint8 alike
  };
  const bool sameShapes = a.shape == plan.output && b.shape == plan.output;
  parallelRange(ctx.pool, y.size(), 1 << 13, [&](int64_t begin, int64_t end) {
    if (sameShapes) {
      for (int64_t i = begin; i < end; ++i) element(i, i, i);
    } else {
      forEachBroadcast(plan, begin, end, element);
    }
  });
  out[0] = std::move(y);
}

// The device form of both ops: false (host fallback) beyond BinaryDeviceArgs::kMaxRank dims.
bool binaryDeviceArgs(const std::vector<const DeviceTensor*>& in, const BinaryQuant& q, const std::string& where,
                      BinaryDeviceArgs* args, Shape* outShape) {
  const DeviceTensor& a = *in[0];
  const DeviceTensor& b = *in[3];
  checkInputTypes(a.dtype, b.dtype, q, where);
  const BroadcastPlan plan = planBroadcast(a.shape, b.shape, where);
  if (plan.output.size() > size_t(BinaryDeviceArgs::kMaxRank)) return false;
  args->rank = int(plan.output.size());
  for (size_t d = 0; d < plan.output.size(); ++d) {
    args->dims[d] = plan.output[d];
    args->stridesA[d] = plan.stridesA[d];
    args->stridesB[d] = plan.stridesB[d];
  }
  args->count = elementCount(plan.output);
  args->typeA = a.dtype;
  args->typeB = b.dtype;
  args->wideOutput = isWideQuantizedType(q.y.dtype);
  args->zeroA = q.a.zeroPoints[0];
  args->zeroB = q.b.zeroPoints[0];
  args->zeroY = q.y.zeroPoints[0];
  args->range = q.y.range();
  args->a = a.data();
  args->b = b.data();
  *outShape = plan.output;
  return true;
}

bool runBinaryOnDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out,
                       const BinaryQuant& q, const std::string& where, BinaryDeviceArgs args) {
  Shape shape;
  if (!binaryDeviceArgs(in, q, where, &args, &shape)) return false;
  DeviceTensor y = ctx.allocate(q.y.dtype, shape);
  args.output = y.data();
  ctx.binary(args);
  out[0] = std::move(y);
  return true;
}

class QLinearAddOp : public Op {
 public:
  QLinearAddOp(BinaryQuant q, MultiplierPair m, std::string where) : q_(std::move(q)), m_(m), where_(std::move(where)) {
    // The two products of applyMultiplierPair, tabulated for every centred input value.
    for (int32_t v = -255; v <= 255; ++v) {
      scaledA_[v + 255] = int64_t(v) * m_.a;
      scaledB_[v + 255] = int64_t(v) * m_.b;
    }
  }
  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& a = *in[0];
    const Tensor& b = *in[3];
    if (isWide(q_)) {
      // |centred| <= 65535 and multipliers < 2^32: the sum stays below 2^50
      runBinary(ctx, in, out, q_, where_, [this](int32_t x, int32_t y) {
        return roundShiftRightEven(int64_t(x) * m_.a + int64_t(y) * m_.b, m_.shift);
      });
      return;
    }
    if (a.shape == b.shape && a.dtype == q_.a.dtype && b.dtype == q_.b.dtype) {
      runSameShape(ctx, a, b, out);
      return;
    }
    runBinary(ctx, in, out, q_, where_, [this](int32_t x, int32_t y) {
      return roundShiftRightEven(scaledA_[x + 255] + scaledB_[y + 255], m_.shift);
    });
  }

  bool hasDeviceKernel() const override { return true; }
  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    BinaryDeviceArgs args;
    args.pair = m_;
    return runBinaryOnDevice(ctx, in, out, q_, where_, args);
  }

 private:
  void runSameShape(ExecContext& ctx, const Tensor& a, const Tensor& b, std::vector<Tensor>& out) const;

  BinaryQuant q_;
  MultiplierPair m_;
  int64_t scaledA_[511], scaledB_[511];
  std::string where_;
};

// The common residual-add case without broadcasting: per-byte tables of the two scaled terms and
// a loop over locals only (stores through a byte pointer would otherwise force reloads).
void QLinearAddOp::runSameShape(ExecContext& ctx, const Tensor& a, const Tensor& b, std::vector<Tensor>& out) const {
  Tensor y = ctx.allocateForOverwrite(q_.y.dtype, a.shape);
  // Every vector ISA here implies AVX2; its 32x32-bit products need both multipliers below 2^31
  // (llround can reach exactly 2^31 for the larger one).
  if (ctx.isa != cpu::Isa::Scalar && m_.a < (int64_t(1) << 31) && m_.b < (int64_t(1) << 31)) {
    const bool sa = a.dtype == DType::Int8, sb = b.dtype == DType::Int8;
    const uint8_t* pa = a.bytes();
    const uint8_t* pb = b.bytes();
    uint8_t* py = y.buffer->data();
    parallelRange(ctx.pool, a.size(), 1 << 15, [&](int64_t begin, int64_t end) {
      cpu::qlinearAddBytesAvx2(pa + begin, sa, q_.a.zeroPoints[0], pb + begin, sb, q_.b.zeroPoints[0], m_, q_.y.zeroPoints[0],
                               q_.y.range(), py + begin, end - begin);
    });
    out[0] = std::move(y);
    return;
  }
  int64_t termA[256], termB[256];
  const bool sa = a.dtype == DType::Int8, sb = b.dtype == DType::Int8;
  for (int32_t byte = 0; byte < 256; ++byte) {
    termA[byte] = scaledA_[(sa ? int32_t(int8_t(byte)) : byte) - q_.a.zeroPoints[0] + 255];
    termB[byte] = scaledB_[(sb ? int32_t(int8_t(byte)) : byte) - q_.b.zeroPoints[0] + 255];
  }
  const int shift = m_.shift;
  const int32_t zy = q_.y.zeroPoints[0];
  const QRange range = q_.y.range();
  const uint8_t* pa = a.bytes();
  const uint8_t* pb = b.bytes();
  uint8_t* py = y.buffer->data();
  parallelRange(ctx.pool, a.size(), 1 << 14, [&](int64_t begin, int64_t end) {
    const int64_t* ta = termA;
    const int64_t* tb = termB;
    const uint8_t* __restrict xa = pa;
    const uint8_t* __restrict xb = pb;
    uint8_t* __restrict dst = py;
    const int32_t lo = range.lo, hi = range.hi, zero = zy;
    for (int64_t i = begin; i < end; ++i) {
      dst[i] = uint8_t(saturate(roundShiftRightEven(ta[xa[i]] + tb[xb[i]], shift) + zero, lo, hi));
    }
  });
  out[0] = std::move(y);
}

class QLinearMulOp : public Op {
 public:
  QLinearMulOp(BinaryQuant q, Multiplier m, std::string where) : q_(std::move(q)), m_(m), where_(std::move(where)) {}
  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    // |a - za| * |b - zb| <= 255 * 255: far inside int32.
    if (ctx.isa != cpu::Isa::Scalar && !isWide(q_)) {
      runVector(ctx, in, out);
      return;
    }
    runBinary(ctx, in, out, q_, where_, [this](int32_t a, int32_t b) { return applyMultiplier(a * b, m_); });
  }
  bool hasDeviceKernel() const override { return true; }
  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    BinaryDeviceArgs args;
    args.multiply = true;
    args.single = m_;
    return runBinaryOnDevice(ctx, in, out, q_, where_, args);
  }

 private:
  // Every vector ISA here implies AVX2: runs along the coalesced innermost dim (a squeeze-and-
  // excitation scale [N, C, 1, 1] against [N, C, H, W] gives runs of H * W with one broadcast
  // element) through the vector kernel; the scalar ISA keeps the element loop as the reference.
  void runVector(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const {
    const Tensor& a = *in[0];
    const Tensor& b = *in[3];
    checkInputTypes(a.dtype, b.dtype, q_, where_);
    const BroadcastPlan full = planBroadcast(a.shape, b.shape, where_);
    const BroadcastPlan plan = coalesceBroadcast(full);
    Tensor y = ctx.allocateForOverwrite(q_.y.dtype, full.output);
    const bool sa = a.dtype == DType::Int8, sb = b.dtype == DType::Int8;
    uint8_t* dst = y.buffer->data();
    parallelRange(ctx.pool, y.size(), 1 << 14, [&](int64_t begin, int64_t end) {
      // The products of up to kSpan outputs, over as many runs as they cover, then one
      // requantising pass: its set-up is then not paid per run of 49.
      constexpr int64_t kSpan = 4096;
      int32_t products[kSpan];
      for (int64_t spanBegin = begin; spanBegin < end; spanBegin += kSpan) {
        const int64_t spanEnd = std::min(end, spanBegin + kSpan);
        forEachBroadcastRun(plan, spanBegin, spanEnd, [&](int64_t i, int64_t ia, int64_t ib, int64_t count, int64_t strideA, int64_t strideB) {
          cpu::qlinearMulProductsAvx2(a.bytes() + ia, strideA, sa, q_.a.zeroPoints[0], b.bytes() + ib, strideB, sb, q_.b.zeroPoints[0],
                                      products + (i - spanBegin), count);
        });
        cpu::qlinearMulRequantizeAvx2(products, spanEnd - spanBegin, m_, q_.y.zeroPoints[0], q_.y.range(), dst + spanBegin);
      }
    });
    out[0] = std::move(y);
  }

  BinaryQuant q_;
  Multiplier m_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> createQLinearAdd(BuildContext& ctx) {
  BinaryQuant q = readBinaryQuant(ctx, true);
  MultiplierPair m;
  const double ma = double(q.a.scales[0]) / double(q.y.scales[0]);
  const double mb = double(q.b.scales[0]) / double(q.y.scales[0]);
  if (!deriveMultiplierPair(ma, mb, &m)) ctx.invalid("input/output scale ratio cannot be represented");
  return std::make_unique<QLinearAddOp>(std::move(q), m, ctx.where());
}

std::unique_ptr<Op> createQLinearMul(BuildContext& ctx) {
  BinaryQuant q = readBinaryQuant(ctx, false);  // 16-bit products would leave the int32 of §1.2
  Multiplier m;
  if (!deriveMultiplier(double(q.a.scales[0]) * double(q.b.scales[0]) / double(q.y.scales[0]), &m)) {
    ctx.invalid("input/output scale ratio cannot be represented");
  }
  return std::make_unique<QLinearMulOp>(std::move(q), m, ctx.where());
}

}  // namespace bx
