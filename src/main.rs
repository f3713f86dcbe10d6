//! The `bareme-mel` command: parses the command line and dispatches.

use std::process::ExitCode;

fn main() -> ExitCode {
    keep_large_blocks_mapped();
    bareme_mel::cli::main()
}

/// After a large block is freed, glibc raises its mmap threshold to that
/// block's size (up to 32 MiB), so the next large blocks — the second
/// attachment, SQLite's record of the raw mail — come from the heap and stay
/// resident once freed. A fixed threshold keeps each block over 256 KiB
/// mapped on its own and given back when freed: peak RSS of `ingest` of a
/// 25 MB mail 129 → 120 MiB (debug build; `scripts/bench/ingest-rss.sh`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_blocks_mapped() {
    // SAFETY: sets one malloc parameter, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_blocks_mapped() {}
