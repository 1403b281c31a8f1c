//! Allocator tuning for a process that mostly sleeps between scrapes:
//! glibc's malloc keeps freed memory resident by default, which for an
//! exporter is most of its heap.

/// Limits malloc to one arena. glibc gives every thread that allocates
/// its own arena; for an exporter that mostly sleeps that is megabytes of
/// RSS for nothing. Call before any other thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_allocator() {
    const ARENAS_MAX: libc::c_int = 1;
    // SAFETY: mallopt only adjusts allocator tuning; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS_MAX);
    }
}

/// Hands memory that is free inside the heap back to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's free lists; it is
    // thread-safe and takes the arena locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator() {}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
