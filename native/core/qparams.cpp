#include "qparams.h"

#include <cmath>

namespace bx {

bool isQuantizedType(DType dtype) {
  return dtype == DType::UInt8 || dtype == DType::Int8 || dtype == DType::UInt16 || dtype == DType::Int16;
}

QRange rangeOf(DType dtype) {
  switch (dtype) {
    case DType::Int8: return kRangeS8;
    case DType::UInt16: return kRangeU16;
    case DType::Int16: return kRangeS16;
    default: return kRangeU8;
  }
}

QuantParams readQuantParams(const BuildContext& ctx, size_t scaleIndex, size_t zeroPointIndex, DType defaultType,
                            const char* role) {
  QuantParams q;
  const Tensor& scale = ctx.requireConstant(scaleIndex, (std::string(role) + " scale").c_str());
  if (scale.dtype != DType::Float32) ctx.unsupported(std::string(role) + " scale must be float32");
  if (scale.size() < 1) ctx.invalid(std::string(role) + " scale is empty");
  for (int64_t i = 0; i < scale.size(); ++i) {
    const float s = scale.floatAt(i);
    if (!(s > 0.0f) || !std::isfinite(s)) {
      ctx.invalid(std::string(role) + " scale must be positive and finite, found " + std::to_string(s));
    }
    q.scales.push_back(s);
  }
  q.dtype = defaultType;
  if (ctx.hasInput(zeroPointIndex)) {
    const Tensor& zp = ctx.requireConstant(zeroPointIndex, (std::string(role) + " zero point").c_str());
    if (!isQuantizedType(zp.dtype) && zp.dtype != DType::Int32) {
      ctx.unsupported(std::string(role) + " zero point has type " + dtypeName(zp.dtype));
    }
    if (zp.size() != scale.size()) ctx.invalid(std::string(role) + " zero point and scale differ in length");
    q.dtype = zp.dtype;
    for (int64_t i = 0; i < zp.size(); ++i) q.zeroPoints.push_back(int32_t(zp.intAt(i)));
  } else {
    q.zeroPoints.assign(q.scales.size(), 0);
  }
  return q;
}

QuantParams readPerTensorParams(const BuildContext& ctx, size_t scaleIndex, size_t zeroPointIndex, const char* role) {
  QuantParams q = readQuantParams(ctx, scaleIndex, zeroPointIndex, DType::UInt8, role);
  if (!q.perTensor()) ctx.unsupported(std::string("per-channel ") + role + " quantisation");
  if (!isQuantizedType(q.dtype)) ctx.unsupported(std::string(role) + " type " + dtypeName(q.dtype));
  return q;
}

QuantParams readPerTensorByteParams(const BuildContext& ctx, size_t scaleIndex, size_t zeroPointIndex, const char* role) {
  QuantParams q = readQuantParams(ctx, scaleIndex, zeroPointIndex, DType::UInt8, role);
  if (!q.perTensor()) ctx.unsupported(std::string("per-channel ") + role + " quantisation");
  if (q.dtype != DType::UInt8 && q.dtype != DType::Int8) ctx.unsupported(std::string(role) + " type " + dtypeName(q.dtype));
  return q;
}

}  // namespace bx
