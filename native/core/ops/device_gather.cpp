#include "device_gather.h"

#include <cstring>

namespace bx {

std::vector<int64_t> contiguousStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

bool deviceAxisGather(DeviceContext& ctx, const DeviceTensor& x, uint8_t* out, const Shape& dims,
                      const std::vector<std::vector<int64_t>>& offsets, std::vector<int64_t> outStrides, const uint8_t* fill) {
  if (dims.size() > size_t(AxisGatherDeviceArgs::kMaxRank)) return false;
  if (outStrides.empty()) outStrides = contiguousStrides(dims);
  AxisGatherDeviceArgs a;
  a.rank = int(dims.size());
  int64_t entries = 0;
  for (size_t d = 0; d < dims.size(); ++d) {
    a.dims[d] = dims[d];
    a.tableStart[d] = entries;
    a.outStrides[d] = outStrides[d];
    entries += dims[d];
  }
  a.count = elementCount(dims);
  if (a.count == 0) return true;
  Tensor table = makeTensor(DType::Int64, {entries});
  int64_t* t = table.mutableData<int64_t>();
  for (size_t d = 0; d < dims.size(); ++d) {
    std::memcpy(t + a.tableStart[d], offsets[d].data(), size_t(dims[d]) * sizeof(int64_t));
  }
  const DeviceTensor deviceTable = ctx.upload(table);  // freed in stream order after the kernel
  a.table = reinterpret_cast<const int64_t*>(deviceTable.data());
  a.elementSize = int(dtypeSize(x.dtype));
  if (fill) std::memcpy(a.fill, fill, size_t(a.elementSize));
  a.input = x.data();
  a.output = out;
  ctx.axisGather(a);
  return true;
}

bool deviceConcat(DeviceContext& ctx, const std::vector<const DeviceTensor*>& parts, const ConcatLayout& l, DeviceTensor& y) {
  const size_t element = dtypeSize(y.dtype);
  const int64_t outRow = l.shape[size_t(l.axis)] * l.inner;
  int64_t at = 0;
  for (const DeviceTensor* part : parts) {
    const int64_t row = part->shape[size_t(l.axis)] * l.inner;
    std::vector<std::vector<int64_t>> offsets(2);
    for (int64_t o = 0; o < l.outer; ++o) offsets[0].push_back(o * row);
    for (int64_t j = 0; j < row; ++j) offsets[1].push_back(j);
    if (!deviceAxisGather(ctx, *part, y.data() + size_t(at) * element, {l.outer, row}, offsets, {outRow, 1})) return false;
    at += row;
  }
  return true;
}

}  // namespace bx
