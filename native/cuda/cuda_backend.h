// The CUDA backend as the addon and the native tools see it. Without the CUDA toolkit at build
// time, cuda_absent.cpp implements this header: status() says CUDA was not compiled in and
// openDevice() fails with ERR_BITEXACT_BACKEND.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../core/device.h"

namespace bx::cuda {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int64_t memoryBytes = 0;
  int multiprocessors = 0;
};

struct CudaStatus {
  bool compiled = false;        // built with the CUDA toolkit
  int runtimeVersion = 0;       // e.g. 13000 (statically linked runtime)
  int driverVersion = 0;        // 0 when no driver is installed
  std::vector<CudaDeviceInfo> devices;  // usable devices (compute capability 7.5 or newer)
  std::string reason;           // why there are none, when there are none
};

// Probes once per process (cheap afterwards).
const CudaStatus& status();

// The backend of device `index`, shared by every model that runs there. Throws
// ERR_BITEXACT_BACKEND naming the reason when that device is not usable.
std::shared_ptr<DeviceBackend> openDevice(int index);

}  // namespace bx::cuda
