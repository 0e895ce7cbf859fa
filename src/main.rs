//! The `bytegate` binary: a thin shell over [`bytegate::cli`].

fn main() -> std::process::ExitCode {
    allocator::tune();
    bytegate::cli::main()
}

/// glibc malloc kept from hoarding webhook bodies (figures in BENCHMARKS.md,
/// "Overload").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod allocator {
    use std::ffi::c_int;

    /// `M_MMAP_THRESHOLD` of glibc's <malloc.h>.
    const M_MMAP_THRESHOLD: c_int = -3;

    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }

    /// glibc raises its mmap threshold to the largest block freed (up to
    /// 32 MB): after one 24 MB body every later large body is carved from an
    /// arena, and each of up to 16 arenas keeps what it held (RSS stayed at
    /// 128 MiB after bursts). Set explicitly, the threshold stays at glibc's
    /// own default of 128 KiB: blocks that large get their own mapping and go
    /// back to the kernel when freed.
    pub fn tune() {
        // SAFETY: mallopt only sets an allocator parameter; this runs before
        // any other thread exists, and a refusal leaves the default.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod allocator {
    /// Nothing to tune outside glibc.
    pub fn tune() {}
}
