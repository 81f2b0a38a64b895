#if canImport(Glibc)
import CMalloc
import Glibc
#endif

/// glibc malloc settings for a process that moves 100 KB blocks around: every gossip message
/// is copied, decompressed and hashed through several buffers of that size. With glibc's defaults
/// the heap top is trimmed back to the kernel as soon as 128 KiB is free, and buffers above the
/// (dynamic) mmap threshold get their own mapping, so each block pays fresh page faults — on
/// this KVM machine ≈ 0.2–0.3 ms per block on the one-hop path (BENCHMARKS.md, "Block gossip":
/// one hop median 1.35–1.42 → 1.10 ms with these settings).
///
/// Settings: buffers up to 32 MiB come from the heap (the 64-bit maximum of glibc's threshold; it
/// also stops the threshold from moving), the heap keeps up to 128 MiB free before trimming, and
/// grows 16 MiB at a time. Resident memory can therefore sit up to ≈ 128 MiB above what is in
/// use after a burst. Operators can still override each through glibc's `MALLOC_*_` environment
/// variables: settings already given there are left alone.
public enum AllocatorTuning {
    public static func apply() {
        #if canImport(Glibc)
        let env = { (name: String) in getenv(name) != nil }
        if !env("MALLOC_MMAP_THRESHOLD_") { _ = mallopt(M_MMAP_THRESHOLD, 32 << 20) }
        if !env("MALLOC_TRIM_THRESHOLD_") { _ = mallopt(M_TRIM_THRESHOLD, 128 << 20) }
        if !env("MALLOC_TOP_PAD_") { _ = mallopt(M_TOP_PAD, 16 << 20) }
        #endif
    }
}
