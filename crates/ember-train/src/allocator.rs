//! Keeping freed memory in the process.
//!
//! A training step allocates and frees the same large buffers (a convolution's unfolded input
//! is 22 MB for the lab's CNN) every step. glibc returns such blocks to the kernel when they
//! are freed (`mmap`/`munmap` above its threshold, trimming the heap's top), so the next step
//! faults every page in again: on a 2-core machine that was 25 % of a CNN epoch's CPU time,
//! spent in the kernel. [`keep_freed_memory`] raises both thresholds once, at start-up, so
//! freed blocks are reused instead.

/// Tells glibc's allocator to keep freed blocks of up to 1 GiB for reuse instead of returning
/// them to the kernel. Process-wide; the trainer's binaries call it first thing. Does nothing
/// on other C libraries.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
