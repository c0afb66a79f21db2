//! Allocator settings for a process that allocates and frees tensors of hundreds of MB every
//! step. glibc's malloc serves such blocks with fresh `mmap`s and unmaps them on free, so every
//! training step pays for page faults that zero the whole block again (half of a squeezenet1_1
//! training step's time went to the kernel). Keeping freed memory in the heap for reuse
//! removes that cost at the price of a resident size that stays at its peak.

/// Makes glibc malloc reuse freed large blocks instead of returning them to the system. Returns
/// whether every setting was accepted; a no-op (returning `false`) on other C libraries.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes malloc's tuning parameters; it is called before any
        // thread of ours exists and takes plain integers.
        unsafe {
            // Blocks of any size come from the heap, not from their own mmap.
            let mmap = libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX);
            // Never give the top of the heap back, and grow it in 256 MiB steps.
            let trim = libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            let pad = libc::mallopt(libc::M_TOP_PAD, 256 << 20);
            mmap == 1 && trim == 1 && pad == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
