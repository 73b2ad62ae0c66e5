// simd.h: how the engine's hot loops get wide vectors in a portable build: XM_CLONES compiles a function for
// AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and the baseline, and the loader picks one for the CPU at hand (GCC
// target_clones, an ifunc); elsewhere it is empty. Put it on out-of-line functions whose loops vectorise.
// Not intrinsics, not a math library.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(XM_NO_CLONES)
#define XM_CLONES [[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]]
#else
#define XM_CLONES
#endif
