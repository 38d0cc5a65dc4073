// Reading quantisation parameters (scale and zero point inputs) of QOperator/QDQ nodes.
#pragma once

#include <vector>

#include "numerics.h"
#include "op.h"

namespace bx {

bool isQuantizedType(DType dtype);  // uint8, int8, uint16, int16
QRange rangeOf(DType dtype);

struct QuantParams {
  DType dtype = DType::UInt8;       // element type of the quantized tensor
  std::vector<float> scales;        // 1 (per tensor) or one per channel
  std::vector<int32_t> zeroPoints;  // same length as scales
  bool perTensor() const { return scales.size() == 1; }
  QRange range() const { return rangeOf(dtype); }
};

// Reads scale input `scaleIndex` and optional zero point `zeroPointIndex` as load-time constants.
// Without a zero point the type is `defaultType` and the zero point 0. Scales must be positive and
// finite; the zero point must have the same length as the scale.
QuantParams readQuantParams(const BuildContext& ctx, size_t scaleIndex, size_t zeroPointIndex, DType defaultType,
                            const char* role);

// readQuantParams restricted to what the QLinear elementwise/pool/LUT ops handle: one scale and
// zero point of type uint8 or int8; anything else is ERR_BITEXACT_UNSUPPORTED_OP naming the role.
QuantParams readPerTensorByteParams(const BuildContext& ctx, size_t scaleIndex, size_t zeroPointIndex, const char* role);
// The same for ops that also take 16-bit tensors (w8a16): uint8, int8, uint16 or int16.
QuantParams readPerTensorParams(const BuildContext& ctx, size_t scaleIndex, size_t zeroPointIndex, const char* role);

// A per-tensor (one value) or per-channel list, as one value per channel; the node is named when
// the length fits neither.
template <typename T>
std::vector<T> expandPerChannel(const BuildContext& ctx, const std::vector<T>& values, int64_t channels, const char* role) {
  if (int64_t(values.size()) == channels) return values;
  if (values.size() == 1) return std::vector<T>(size_t(channels), values[0]);
  ctx.invalid(std::string(role) + " has " + std::to_string(values.size()) + " entries for " + std::to_string(channels) +
              " channels");
}

// Raw bytes of a u8/s8 tensor element i as the integer it encodes.
inline int32_t quantizedAt(const uint8_t* data, bool isSigned, int64_t i) {
  return isSigned ? int32_t(int8_t(data[i])) : int32_t(data[i]);
}

// Element i of a quantized tensor of any of the four quantized types.
inline int32_t quantizedAt(const uint8_t* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::Int8: return int32_t(int8_t(data[i]));
    case DType::UInt16: return int32_t(reinterpret_cast<const uint16_t*>(data)[i]);
    case DType::Int16: return int32_t(reinterpret_cast<const int16_t*>(data)[i]);
    default: return int32_t(data[i]);
  }
}

inline bool isWideQuantizedType(DType dtype) { return dtype == DType::UInt16 || dtype == DType::Int16; }

}  // namespace bx
