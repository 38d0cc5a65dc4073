// The CUDA backend of a build without the CUDA toolkit: it reports why it is absent.
#include "cuda_backend.h"

namespace bx::cuda {

const CudaStatus& status() {
  static const CudaStatus s = [] {
    CudaStatus st;
    st.reason = "bitexact was built without CUDA (nvcc was not found at build time)";
    return st;
  }();
  return s;
}

std::shared_ptr<DeviceBackend> openDevice(int) { fail(ErrorCode::Backend, "no usable CUDA device: " + status().reason); }

}  // namespace bx::cuda
