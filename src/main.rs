//! The `bareme-mel` command: parses the command line and dispatches.

use std::process::ExitCode;

/// mimalloc: reading a mail (mail-parser, lopdf) allocates and frees many
/// small blocks from the blocking threads; glibc's malloc spent a fifth of
/// their time there (perf, intake batch of 64: 1,010 → 1,160 msgs/s with
/// mimalloc, same run). SQLite keeps glibc's (C code calls `malloc`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// mimalloc 3's options by number (`mi_option_t` in its `mimalloc.h`).
const MI_OPTION_ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Freed memory goes back to the system at once (mimalloc 3 waits 1 s by
/// default), arenas are committed as used: peak RSS of `ingest` of a 25 MB
/// mail 178 → 113 MiB (target 150; glibc: 102), the object-stream bomb
/// 157 → 95 MiB (`scripts/bench/ingest-rss.sh`). Run as a constructor,
/// before Rust's runtime allocates: the first allocation creates the arena,
/// committed or not (set from `main`, the 25 MB mail peaked at 135 MiB).
extern "C" fn return_freed_memory() {
    // SAFETY: sets two integer options of the allocator, which reads them
    // when it creates an arena or purges.
    unsafe {
        mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static RETURN_FREED_MEMORY: extern "C" fn() = return_freed_memory;

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
/// Measured before mimalloc took Rust's allocations; it now holds for what
/// still goes through glibc: SQLite's own (the record of the raw mail).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_blocks_mapped() {
    // SAFETY: sets one malloc parameter, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_blocks_mapped() {}
