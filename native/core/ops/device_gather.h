// The device form of every op that only moves elements (Transpose, Slice, Concat, Gather, Pad,
// Resize): per output dimension, a table of input element offsets (-1: the fill value).
#pragma once

#include <vector>

#include "../device.h"
#include "ops_common.h"

namespace bx {

// Row-major element strides of a shape.
std::vector<int64_t> contiguousStrides(const Shape& shape);

// out[sum c_d * outStrides[d]] = x[sum offsets[d][c_d]] (or *fill where an offset is negative)
// for every coordinate c of `dims`; outStrides empty: contiguous. False (nothing launched) beyond
// AxisGatherDeviceArgs::kMaxRank dims.
bool deviceAxisGather(DeviceContext& ctx, const DeviceTensor& x, uint8_t* out, const Shape& dims,
                      const std::vector<std::vector<int64_t>>& offsets, std::vector<int64_t> outStrides = {},
                      const uint8_t* fill = nullptr);

// Concat on the device: each part copied into its block of y (layout from planConcat).
bool deviceConcat(DeviceContext& ctx, const std::vector<const DeviceTensor*>& parts, const ConcatLayout& layout, DeviceTensor& y);

}  // namespace bx
