//===- CudaTestUtil.h - Helpers for the cuda driver tests -------*- C++ -*-===//
//
// Hand-written PTX kernels (validated with ptxas for sm_80 and sm_90), a
// small harness that loads a plan and runs it through the HAL, and CPU
// references.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_TEST_CUDA_RUNTIME_CUDATESTUTIL_H
#define GAON_TEST_CUDA_RUNTIME_CUDATESTUTIL_H

#include "gaon/cuda_runtime/Driver.h"
#include "gaon/cuda_runtime/Plan.h"
#include "gaon/runtime/hal.h"
#include "gaon/runtime/registry.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace gaon::cuda::test {

/// Skips the test when there is no CUDA driver or GPU, giving the reason.
#define GAON_REQUIRE_GPU()                                                     \
  do {                                                                         \
    ::gaon::rt::Status gpu_ = ::gaon::cuda::cudaAvailable();                   \
    if (!gpu_.isOk())                                                          \
      GTEST_SKIP() << "no GPU: " << gpu_.message();                            \
  } while (0)

/// out[i] = a[i] + alpha * b[i] for i < n; params (ptr a, ptr b, ptr out,
/// u32 n, f32 alpha).
inline const char *kAddPtx = R"(.version 8.0
.target sm_80
.address_size 64

.visible .entry add_f32(
    .param .u64 add_f32_a,
    .param .u64 add_f32_b,
    .param .u64 add_f32_out,
    .param .u32 add_f32_n,
    .param .f32 add_f32_alpha
)
{
    .reg .pred %p<2>;
    .reg .b32 %r<6>;
    .reg .f32 %f<5>;
    .reg .b64 %rd<11>;

    ld.param.u64 %rd1, [add_f32_a];
    ld.param.u64 %rd2, [add_f32_b];
    ld.param.u64 %rd3, [add_f32_out];
    ld.param.u32 %r1, [add_f32_n];
    ld.param.f32 %f1, [add_f32_alpha];
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %ntid.x;
    mov.u32 %r4, %tid.x;
    mad.lo.s32 %r5, %r2, %r3, %r4;
    setp.ge.u32 %p1, %r5, %r1;
    @%p1 bra DONE;
    cvta.to.global.u64 %rd4, %rd1;
    cvta.to.global.u64 %rd5, %rd2;
    cvta.to.global.u64 %rd6, %rd3;
    mul.wide.u32 %rd7, %r5, 4;
    add.s64 %rd8, %rd4, %rd7;
    add.s64 %rd9, %rd5, %rd7;
    add.s64 %rd10, %rd6, %rd7;
    ld.global.f32 %f2, [%rd8];
    ld.global.f32 %f3, [%rd9];
    fma.rn.f32 %f4, %f1, %f3, %f2;
    st.global.f32 [%rd10], %f4;
DONE:
    ret;
}
)";

/// out[i] = in[i] * s for i < n; params (ptr in, ptr out, u64 n, f32 s).
inline const char *kScalePtx = R"(.version 8.0
.target sm_80
.address_size 64

.visible .entry scale_f32(
    .param .u64 scale_f32_in,
    .param .u64 scale_f32_out,
    .param .u64 scale_f32_n,
    .param .f32 scale_f32_s
)
{
    .reg .pred %p<2>;
    .reg .b32 %r<4>;
    .reg .f32 %f<3>;
    .reg .b64 %rd<10>;

    ld.param.u64 %rd1, [scale_f32_in];
    ld.param.u64 %rd2, [scale_f32_out];
    ld.param.u64 %rd3, [scale_f32_n];
    ld.param.f32 %f1, [scale_f32_s];
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %ntid.x;
    mov.u32 %r3, %tid.x;
    mul.wide.u32 %rd4, %r1, %r2;
    cvt.u64.u32 %rd5, %r3;
    add.s64 %rd6, %rd4, %rd5;
    setp.ge.u64 %p1, %rd6, %rd3;
    @%p1 bra DONE;
    cvta.to.global.u64 %rd7, %rd1;
    cvta.to.global.u64 %rd8, %rd2;
    shl.b64 %rd9, %rd6, 2;
    add.s64 %rd7, %rd7, %rd9;
    add.s64 %rd8, %rd8, %rd9;
    ld.global.f32 %f2, [%rd7];
    mul.rn.f32 %f2, %f2, %f1;
    st.global.f32 [%rd8], %f2;
DONE:
    ret;
}
)";

/// One binding of a dispatch: a buffer range.
struct Bound {
  rt::Buffer *buffer = nullptr;
  uint64_t offset = 0;
  uint64_t length = 0; ///< 0: to the end of the buffer
};

/// A device, a queue, and a loaded plan, run through the HAL as the
/// scheduler would (one dispatch per submission, a fresh fence each).
class PlanHarness {
public:
  rt::Status createDevice(const rt::DeviceOptions &options = {}) {
    GAON_RETURN_IF_ERROR(registerCudaDriver(registry_));
    GAON_ASSIGN_OR_RETURN(device_,
                          registry_.createDevice(kCudaDriverName, 0, options));
    GAON_ASSIGN_OR_RETURN(queue_, device_->createQueue(0));
    return rt::Status::ok();
  }

  rt::Status load(const Plan &plan, const std::string &target = "cuda") {
    bytes_ = encodePlan(plan);
    rt::ExecutableSpec spec;
    spec.target = target;
    spec.format = kPlanFormat;
    spec.data = bytes_.data();
    spec.size = bytes_.size();
    spec.entryNames = {"forward"};
    GAON_ASSIGN_OR_RETURN(executable_, device_->loadExecutable(spec));
    return rt::Status::ok();
  }

  rt::Result<std::unique_ptr<rt::Buffer>> buffer(uint64_t bytes) {
    return device_->allocator().allocate(bytes);
  }

  /// Submits one dispatch and waits for it.
  rt::Status run(const std::vector<Bound> &bindings) {
    std::vector<gaon_binding_t> raw;
    for (const Bound &b : bindings)
      raw.push_back({b.buffer->handle(), b.offset,
                     b.length ? b.length : b.buffer->size() - b.offset});
    gaon_dispatch_t dispatch = {};
    dispatch.executable = executable_->handle();
    dispatch.bindings = raw.data();
    dispatch.binding_count = static_cast<uint32_t>(raw.size());
    GAON_ASSIGN_OR_RETURN(auto fence, device_->createFence(0));
    rt::Submission submission;
    submission.dispatches = {dispatch};
    submission.signals = {{fence.get(), 1}};
    GAON_RETURN_IF_ERROR(queue_->submit(submission));
    return fence->wait(1);
  }

  CudaDeviceStats stats() const {
    CudaDeviceStats stats;
    EXPECT_TRUE(cudaDeviceStats(*device_, &stats));
    return stats;
  }

  rt::Device &device() { return *device_; }
  std::shared_ptr<rt::Device> sharedDevice() { return device_; }
  rt::Queue &queue() { return *queue_; }

private:
  rt::DriverRegistry registry_;
  std::shared_ptr<rt::Device> device_;
  std::unique_ptr<rt::Queue> queue_;
  std::vector<uint8_t> bytes_;
  std::unique_ptr<rt::Executable> executable_;
};

inline std::vector<float> randomFloats(size_t n, uint32_t seed,
                                       float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

} // namespace gaon::cuda::test

#endif // GAON_TEST_CUDA_RUNTIME_CUDATESTUTIL_H
