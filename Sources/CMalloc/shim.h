// glibc malloc tuning (mallopt), used by P2PCore/Support/AllocatorTuning.swift.
#if defined(__linux__)
#include <malloc.h>
#endif
