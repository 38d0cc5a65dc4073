{
  # CPU-only fallback build (node-gyp). Builds the same sources as CMakeLists.txt; each ISA
  # translation unit is its own static library so it gets its own instruction-set flags.
  "variables": {
    "bx_flags": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-fast-math", "-fno-finite-math-only", "-fexceptions"]
  },
  "targets": [
    {
      "target_name": "bitexact_avx2",
      "type": "static_library",
      "sources": ["native/cpu/qgemm_avx2.cpp", "native/cpu/depthwise_avx2.cpp", "native/cpu/depthwise_block_avx2.cpp", "native/cpu/quantize_avx2.cpp", "native/cpu/elementwise_avx2.cpp", "native/cpu/wide_accumulate_avx2.cpp", "native/cpu/peak_avx2.cpp", "native/core/keccak_x4_avx2.cpp"],
      "cflags_cc": ["<@(bx_flags)", "-mavx2"],
      "cflags_cc!": ["-fno-exceptions"],
      "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["<@(bx_flags)", "-mavx2"]}
    },
    {
      "target_name": "bitexact_avx512",
      "type": "static_library",
      "sources": ["native/cpu/qgemm_avx512vnni.cpp", "native/cpu/peak_avx512vnni.cpp"],
      "cflags_cc": ["<@(bx_flags)", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni"],
      "cflags_cc!": ["-fno-exceptions"]
    },
    {
      "target_name": "bitexact_bmi2",
      "type": "static_library",
      "sources": ["native/core/keccak_permute_bmi2.cpp"],
      "cflags_cc": ["<@(bx_flags)", "-mbmi", "-mbmi2"],
      "cflags_cc!": ["-fno-exceptions"]
    },
    {
      "target_name": "bitexact",
      "dependencies": ["bitexact_avx2", "bitexact_avx512", "bitexact_bmi2"],
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native/core').filter(f=>f.endsWith('.cpp')&&!f.endsWith('_bmi2.cpp')&&!f.endsWith('_avx2.cpp')).map(f=>'native/core/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/core/ops').filter(f=>f.endsWith('.cpp')).map(f=>'native/core/ops/'+f).join(' ')\")",
        "native/cpu/isa.cpp",
        "native/cpu/thread_pool.cpp",
        "native/cpu/qgemm.cpp", "native/cpu/depthwise_block.cpp",
        "native/cpu/peak.cpp",
        "native/cpu/wide_accumulate.cpp",
        "native/cuda/cuda_absent.cpp",
        "<!@(node -p \"require('fs').readdirSync('native/addon').filter(f=>f.endsWith('.cpp')).map(f=>'native/addon/'+f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["<@(bx_flags)"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"]
    }
  ]
}
