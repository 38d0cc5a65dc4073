// The CUDA backend: device discovery, per-model constants (uploaded once), and the per-run
// context (one stream, stream-ordered allocations, pinned staging for transfers) that turns the
// ops' device arguments into kernel launches.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "cuda_backend.h"
#include "kernels.h"

namespace bx::cuda {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(ErrorCode::Backend, std::string(what) + ": " + cudaGetErrorString(e));
}

// A stream kept alive by the run and by every allocation freed on it in stream order.
struct StreamHolder {
  cudaStream_t stream = nullptr;
  int device = 0;
  explicit StreamHolder(int dev) : device(dev) {
    check(cudaSetDevice(dev), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~StreamHolder() {
    cudaSetDevice(device);
    cudaStreamSynchronize(stream);
    cudaStreamDestroy(stream);
  }
};

// Constants of one model on one device, keyed by the host address that holds them (owned by
// the model's ops, so stable for the model's life), a tag and the byte count.
class CudaConstants : public DeviceConstants {
 public:
  explicit CudaConstants(int device) : device_(device) {}
  ~CudaConstants() override {
    cudaSetDevice(device_);
    for (auto& entry : entries_) cudaFree(entry.second);
  }

  template <typename Fill>
  void* get(const void* key, char tag, size_t bytes, Fill fill) {
    std::lock_guard<std::mutex> lock(mutex_);
    const Key k{key, tag, bytes};
    const auto it = entries_.find(k);
    if (it != entries_.end()) return it->second;
    std::vector<uint8_t> host(std::max<size_t>(bytes, 1), 0);
    fill(host.data());
    void* device = nullptr;
    check(cudaMalloc(&device, host.size()), "cudaMalloc (model constants)");
    const cudaError_t copied = cudaMemcpy(device, host.data(), host.size(), cudaMemcpyHostToDevice);
    if (copied != cudaSuccess) {
      cudaFree(device);
      check(copied, "upload of model constants");
    }
    entries_[k] = device;
    return device;
  }

  template <typename T>
  const T* array(const T* host, char tag, size_t count) {
    return static_cast<const T*>(get(host, tag, count * sizeof(T), [&](uint8_t* dst) { std::memcpy(dst, host, count * sizeof(T)); }));
  }

 private:
  struct Key {
    const void* address;
    char tag;
    size_t bytes;
    bool operator<(const Key& o) const {
      if (address != o.address) return address < o.address;
      if (tag != o.tag) return tag < o.tag;
      return bytes < o.bytes;
    }
  };
  int device_;
  std::mutex mutex_;
  std::map<Key, void*> entries_;
};

class CudaBackend;

class CudaRunContext : public DeviceContext {
 public:
  CudaRunContext(CudaBackend& backend, CudaConstants& constants, int64_t cap, bool allowNonFinite);
  ~CudaRunContext() override;

  DeviceTensor allocate(DType dtype, const Shape& shape) override;
  DeviceTensor upload(const Tensor& host) override;
  Tensor download(const DeviceTensor& device) override;
  DeviceTensor constant(const Tensor& host) override;
  bool allowNonFinite() const override { return allowNonFinite_; }

  void linear(const LinearDeviceArgs& a) override;
  void depthwise(const DepthwiseDeviceArgs& a) override;
  void lut(const LutDeviceArgs& a) override;
  void binary(const BinaryDeviceArgs& a) override;
  void quantize(const QuantizeDeviceArgs& a, const std::string& where) override;
  void dequantize(const DequantizeDeviceArgs& a) override;
  void maxPool(const MaxPoolDeviceArgs& a) override;
  void mean(const MeanDeviceArgs& a) override;
  void axisGather(const AxisGatherDeviceArgs& a) override;
  void softmax(const SoftmaxDeviceArgs& a) override;
  void averagePool(const AveragePoolDeviceArgs& a) override;
  void dynamicMatMul(const DynamicMatMulDeviceArgs& a) override;
  void layerNorm(const LayerNormDeviceArgs& a) override;

 private:
  void launched(const char* what) { check(cudaGetLastError(), what); }
  void* pinned(size_t bytes);  // staging valid until the next synchronize()
  void releaseStaging();       // the stream must have finished with the staging buffers
  void synchronize();

  CudaBackend& backend_;
  CudaConstants& constants_;
  std::shared_ptr<StreamHolder> stream_;
  int64_t cap_;
  std::shared_ptr<std::atomic<int64_t>> live_;
  bool allowNonFinite_;
  std::vector<std::pair<void*, size_t>> staging_;
  // Host bytes of device memory this run uploaded or took from the model's constants, with the
  // allocation they belong to: the stream-ordered allocator hands a freed address out again, so
  // an entry counts only while its allocation (the same owner, not just the address) lives.
  struct HostCopy {
    std::weak_ptr<uint8_t> owner;
    Tensor host;
  };
  std::map<const uint8_t*, HostCopy> hostCopies_;
  void rememberHostCopy(const DeviceTensor& device, const Tensor& host);
};

class CudaBackend : public DeviceBackend, public std::enable_shared_from_this<CudaBackend> {
 public:
  explicit CudaBackend(const CudaDeviceInfo& info) : info_(info), gemmPath_(chooseGemmPath(info.major, info.minor)) {
    check(cudaSetDevice(info.index), "cudaSetDevice");
    // Keep freed stream-ordered memory in the pool: runs allocate the same sizes again and again.
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, info.index) == cudaSuccess) {
      uint64_t threshold = UINT64_MAX;
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
    }
  }

  std::string name() const override { return "cuda:" + std::to_string(info_.index) + " (" + info_.name + ")"; }
  int index() const override { return info_.index; }
  GemmPath gemmPath() const { return gemmPath_; }
  std::unique_ptr<DeviceConstants> newConstants() override { return std::make_unique<CudaConstants>(info_.index); }
  std::unique_ptr<DeviceContext> beginRun(DeviceConstants& constants, int64_t cap, bool allowNonFinite) override {
    return std::make_unique<CudaRunContext>(*this, static_cast<CudaConstants&>(constants), cap, allowNonFinite);
  }

  // Pinned host buffers, reused across runs.
  std::pair<void*, size_t> acquirePinned(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(pinnedMutex_);
      const auto it = pinned_.lower_bound(bytes);
      if (it != pinned_.end()) {
        const std::pair<void*, size_t> buffer{it->second, it->first};
        pinned_.erase(it);
        return buffer;
      }
    }
    size_t size = 4096;
    while (size < bytes) size *= 2;
    void* p = nullptr;
    check(cudaMallocHost(&p, size), "cudaMallocHost");
    return {p, size};
  }
  void releasePinned(std::pair<void*, size_t> buffer) {
    std::lock_guard<std::mutex> lock(pinnedMutex_);
    pinned_.emplace(buffer.second, buffer.first);
  }

 private:
  CudaDeviceInfo info_;
  GemmPath gemmPath_;
  std::mutex pinnedMutex_;
  std::multimap<size_t, void*> pinned_;
};

CudaRunContext::CudaRunContext(CudaBackend& backend, CudaConstants& constants, int64_t cap, bool allowNonFinite)
    : backend_(backend), constants_(constants), stream_(std::make_shared<StreamHolder>(backend.index())), cap_(cap),
      live_(std::make_shared<std::atomic<int64_t>>(0)), allowNonFinite_(allowNonFinite) {}

CudaRunContext::~CudaRunContext() {
  cudaStreamSynchronize(stream_->stream);
  releaseStaging();
}

void CudaRunContext::releaseStaging() {
  for (const auto& buffer : staging_) backend_.releasePinned(buffer);
  staging_.clear();
}

void CudaRunContext::synchronize() {
  check(cudaStreamSynchronize(stream_->stream), "a kernel failed");
  releaseStaging();
}

void* CudaRunContext::pinned(size_t bytes) {
  staging_.push_back(backend_.acquirePinned(bytes));
  return staging_.back().first;
}

DeviceTensor CudaRunContext::allocate(DType dtype, const Shape& shape) {
  DeviceTensor t;
  t.dtype = dtype;
  t.shape = shape;
  const int64_t bytes = int64_t(t.byteSize());
  if (live_->load() + bytes > cap_) {
    fail(ErrorCode::Resource, "the run would hold more than " + std::to_string(cap_) + " bytes of device memory");
  }
  void* p = nullptr;
  check(cudaMallocAsync(&p, size_t(std::max<int64_t>(bytes, 1)), stream_->stream), "cudaMallocAsync");
  *live_ += bytes;
  std::shared_ptr<StreamHolder> stream = stream_;
  std::shared_ptr<std::atomic<int64_t>> live = live_;
  t.memory = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [stream, live, bytes](uint8_t* q) {
    cudaFreeAsync(q, stream->stream);
    *live -= bytes;
  });
  return t;
}

DeviceTensor CudaRunContext::upload(const Tensor& host) {
  DeviceTensor t = allocate(host.dtype, host.shape);
  const size_t bytes = host.byteSize();
  if (bytes == 0) return t;
  void* staging = pinned(bytes);
  std::memcpy(staging, host.bytes(), bytes);
  check(cudaMemcpyAsync(t.data(), staging, bytes, cudaMemcpyHostToDevice, stream_->stream), "upload");
  rememberHostCopy(t, host);
  return t;
}

void CudaRunContext::rememberHostCopy(const DeviceTensor& device, const Tensor& host) {
  for (auto it = hostCopies_.begin(); it != hostCopies_.end();) it = it->second.owner.expired() ? hostCopies_.erase(it) : std::next(it);
  hostCopies_[device.data()] = HostCopy{device.memory, host};
}

Tensor CudaRunContext::download(const DeviceTensor& device) {
  // Device tensors are never written after they are produced, so an uploaded one still holds
  // its host bytes (views share them under another shape).
  const auto known = hostCopies_.find(device.data());
  if (known != hostCopies_.end()) {
    const HostCopy& copy = known->second;
    const bool sameAllocation = !copy.owner.expired() && !copy.owner.owner_before(device.memory) && !device.memory.owner_before(copy.owner);
    if (sameAllocation && copy.host.dtype == device.dtype && copy.host.byteSize() == device.byteSize()) {
      return reshapeView(copy.host, device.shape);
    }
  }
  Tensor t = makeTensor(device.dtype, device.shape);
  const size_t bytes = device.byteSize();
  if (bytes == 0) {
    synchronize();
    return t;
  }
  void* staging = pinned(bytes);
  check(cudaMemcpyAsync(staging, device.data(), bytes, cudaMemcpyDeviceToHost, stream_->stream), "download");
  check(cudaStreamSynchronize(stream_->stream), "a kernel failed");
  std::memcpy(t.buffer->data(), staging, bytes);  // before the staging goes back to the pool
  releaseStaging();
  return t;
}

DeviceTensor CudaRunContext::constant(const Tensor& host) {
  DeviceTensor t;
  t.dtype = host.dtype;
  t.shape = host.shape;
  uint8_t* p = static_cast<uint8_t*>(constants_.get(host.bytes(), 'T', host.byteSize(), [&](uint8_t* dst) {
    std::memcpy(dst, host.bytes(), host.byteSize());
  }));
  t.memory = std::shared_ptr<uint8_t>(p, [](uint8_t*) {});  // owned by the model's constants
  rememberHostCopy(t, host);
  return t;
}

void CudaRunContext::linear(const LinearDeviceArgs& a) {
  if (a.rows == 0 || a.columns == 0) return;
  if (a.wide) {
    launchWideLinear(a, constants_.array(a.hostWeights, 'w', size_t(a.rows * a.depth)),
                     constants_.array(a.hostZeroPoints, 'Z', size_t(a.rows)),
                     a.hostBias ? constants_.array(a.hostBias, 'B', size_t(a.rows)) : nullptr,
                     a.hostMultipliers ? constants_.array(a.hostMultipliers, 'M', size_t(a.rows)) : nullptr, stream_->stream);
    launched("16-bit linear kernel");
    return;
  }
  LinearConstants w;
  w.rowsPadded = roundUp(a.rows, kTileRows);
  w.depthPadded = roundUp(a.depth, kTileDepth);
  w.weights = static_cast<const int8_t*>(constants_.get(a.hostWeights, 'W', size_t(w.rowsPadded * w.depthPadded), [&](uint8_t* dst) {
    for (int64_t r = 0; r < a.rows; ++r) std::memcpy(dst + r * w.depthPadded, a.hostWeights + r * a.depth, size_t(a.depth));
  }));
  w.zeroPoints = constants_.array(a.hostZeroPoints, 'Z', size_t(a.rows));
  w.rowConstants = constants_.array(a.hostRowConstants, 'R', size_t(a.rows));
  w.multipliers = a.hostMultipliers ? constants_.array(a.hostMultipliers, 'M', size_t(a.rows)) : nullptr;
  const int64_t colsPadded = roundUp(a.columns, kTileCols);
  DeviceTensor packed = allocate(DType::UInt8, {colsPadded, w.depthPadded});
  DeviceTensor colSums = allocate(DType::Int32, {colsPadded});
  launchPackActivations(a, w.depthPadded, colsPadded, packed.data(), reinterpret_cast<int32_t*>(colSums.data()), stream_->stream);
  launched("activation packing kernel");
  launchGemm(a, w, packed.data(), reinterpret_cast<const int32_t*>(colSums.data()), colsPadded, backend_.gemmPath(),
             stream_->stream);
  launched("GEMM kernel");
}

void CudaRunContext::depthwise(const DepthwiseDeviceArgs& a) {
  const int64_t window = a.conv.kernelH * a.conv.kernelW;
  const int8_t* weights = constants_.array(a.hostWeights, 'W', size_t(a.channels * window));
  const int32_t* zeroPoints = constants_.array(a.hostZeroPoints, 'Z', size_t(a.channels));
  const int32_t* bias = a.hostBias ? constants_.array(a.hostBias, 'B', size_t(a.channels)) : nullptr;
  const Multiplier* multipliers = a.hostMultipliers ? constants_.array(a.hostMultipliers, 'M', size_t(a.channels)) : nullptr;
  launchDepthwise(a, weights, zeroPoints, bias, multipliers, stream_->stream);
  launched("depthwise convolution kernel");
}

void CudaRunContext::lut(const LutDeviceArgs& a) {
  launchLut(a, constants_.array(a.hostTable, 'L', size_t(a.channels * a.entries * a.outputBytes)), stream_->stream);
  launched("lookup-table kernel");
}

void CudaRunContext::binary(const BinaryDeviceArgs& a) {
  launchBinary(a, stream_->stream);
  launched("elementwise kernel");
}

void CudaRunContext::quantize(const QuantizeDeviceArgs& a, const std::string& where) {
  DeviceTensor flag = allocate(DType::Int64, {1});
  unsigned long long* first = reinterpret_cast<unsigned long long*>(flag.data());
  check(cudaMemsetAsync(first, 0xff, sizeof(unsigned long long), stream_->stream), "cudaMemsetAsync");
  launchQuantize(a, constants_.array(a.hostScales, 'S', size_t(a.channels)), constants_.array(a.hostZeroPoints, 'Z', size_t(a.channels)),
                 allowNonFinite_, first, stream_->stream);
  launched("quantize kernel");
  if (allowNonFinite_) return;
  const Tensor found = download(flag);
  const uint64_t index = found.data<uint64_t>()[0];
  if (index == UINT64_MAX) return;
  float value = 0;
  check(cudaMemcpy(&value, a.input + index, sizeof(float), cudaMemcpyDeviceToHost), "download");
  fail(ErrorCode::Input, where + ": input element " + std::to_string(index) + " is " + (std::isnan(value) ? "NaN" : "infinite") +
                             "; non-finite values are refused (option allowNonFinite)");
}

void CudaRunContext::dequantize(const DequantizeDeviceArgs& a) {
  launchDequantize(a, constants_.array(a.hostScales, 'S', size_t(a.channels)), constants_.array(a.hostZeroPoints, 'Z', size_t(a.channels)),
                   stream_->stream);
  launched("dequantize kernel");
}

void CudaRunContext::maxPool(const MaxPoolDeviceArgs& a) {
  launchMaxPool(a, stream_->stream);
  launched("max-pool kernel");
}

void CudaRunContext::mean(const MeanDeviceArgs& a) {
  launchMean(a, stream_->stream);
  launched("mean kernel");
}

void CudaRunContext::axisGather(const AxisGatherDeviceArgs& a) {
  if (a.count == 0) return;
  launchAxisGather(a, stream_->stream);
  launched("gather kernel");
}

void CudaRunContext::softmax(const SoftmaxDeviceArgs& a) {
  launchSoftmax(a, constants_.array(a.hostExps, 'E', size_t(a.expCount)), stream_->stream);
  launched("softmax kernel");
}

void CudaRunContext::averagePool(const AveragePoolDeviceArgs& a) {
  launchAveragePool(a, constants_.array(a.hostMultipliers, 'M', size_t(a.kernel[0] * a.kernel[1] + 1)), stream_->stream);
  launched("average-pool kernel");
}

void CudaRunContext::dynamicMatMul(const DynamicMatMulDeviceArgs& a) {
  if (a.batches * a.m * a.n == 0) return;
  launchDynamicMatMul(a, stream_->stream);
  launched("matmul kernel");
}

void CudaRunContext::layerNorm(const LayerNormDeviceArgs& a) {
  if (a.rows * a.n == 0) return;
  launchLayerNorm(a, constants_.array(a.hostGamma, 'G', size_t(a.n)), constants_.array(a.hostBeta, 'B', size_t(a.n)), stream_->stream);
  launched("layer-norm kernel");
}

CudaStatus probe() {
  CudaStatus s;
  s.compiled = true;
  cudaRuntimeGetVersion(&s.runtimeVersion);
  if (cudaDriverGetVersion(&s.driverVersion) != cudaSuccess || s.driverVersion == 0) {
    s.driverVersion = 0;
    s.reason = "no NVIDIA driver is installed (libcuda.so was not found)";
    return s;
  }
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    s.reason = std::string("the CUDA driver reports no usable device: ") + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return s;
  }
  std::string tooOld;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    CudaDeviceInfo d;
    d.index = i;
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.memoryBytes = int64_t(prop.totalGlobalMem);
    d.multiprocessors = prop.multiProcessorCount;
    if (prop.major * 10 + prop.minor < 75) {
      tooOld += (tooOld.empty() ? "" : ", ") + d.name + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
      continue;
    }
    s.devices.push_back(d);
  }
  if (s.devices.empty()) {
    s.reason = count == 0 ? "the driver found no CUDA device" : "no device of compute capability 7.5 or newer: " + tooOld;
  }
  return s;
}

}  // namespace

const CudaStatus& status() {
  static const CudaStatus s = probe();
  return s;
}

std::shared_ptr<DeviceBackend> openDevice(int index) {
  const CudaStatus& s = status();
  if (s.devices.empty()) fail(ErrorCode::Backend, "no usable CUDA device: " + s.reason);
  const auto it = std::find_if(s.devices.begin(), s.devices.end(), [&](const CudaDeviceInfo& d) { return d.index == index; });
  if (it == s.devices.end()) {
    fail(ErrorCode::Backend, "CUDA device " + std::to_string(index) + " is not usable (" + std::to_string(s.devices.size()) +
                                " usable device(s), from index " + std::to_string(s.devices.front().index) + ")");
  }
  static std::mutex mutex;
  static std::map<int, std::shared_ptr<CudaBackend>> backends;
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<CudaBackend>& backend = backends[index];
  if (!backend) backend = std::make_shared<CudaBackend>(*it);
  return backend;
}

}  // namespace bx::cuda
