//! A SQLite VFS that writes a WAL in large pieces (issue 15).
//!
//! SQLite writes each frame of its WAL with two `pwrite` calls, the 24-byte
//! header, then the 4 KiB page: a frame straddles two pages of the file, so
//! each frame costs the kernel two system calls and three page-cache
//! updates. At batch 64 that was a fifth of the writing thread (`perf`:
//! `walWriteOneFrame` 23 % of its samples, 17 % in `pwrite`), on intake's
//! critical path. This VFS wraps the platform's one (`unix`) and changes
//! one thing: writes to a WAL file that follow each other in the file are
//! held in a buffer and written as one, up to [`HOLD`] bytes.
//!
//! What is held is written before anything can depend on it:
//! - after the page of a commit frame (a frame header whose « database size
//!   after commit » is not 0), in the same `xWrite`: SQLite publishes a
//!   transaction to readers (the WAL index's header) only after it wrote its
//!   commit frame, and an error writing it fails that commit as before;
//! - before any other operation on the file (read, sync, size, truncate,
//!   close, file control), and before a write elsewhere in it;
//! - when the connection gives the WAL's write lock back (`xShmLock` on its
//!   database file): frames written and then rolled back (pages spilled by a
//!   large transaction) are written while it still holds the lock, as they
//!   would have been without this VFS, never later over another connection's
//!   frames. Only the lock's holder writes the WAL, so at most one file per
//!   WAL holds writes at any time: [`WRITERS`] knows it.
//!
//! Everything else goes to the wrapped VFS unchanged. The database and its
//! WAL are in SQLite's own format: a database written through this VFS is
//! read by any SQLite, and the other way round.

use libsqlite3_sys as ffi;
use std::{
    collections::BTreeMap,
    ffi::{CStr, c_int, c_void},
    mem, ptr,
    sync::{Mutex, MutexGuard, OnceLock, PoisonError},
};

/// The name connections open their database with (`vfs=` in the URI).
pub const NAME: &str = "bareme-wal";
const NAME_C: &CStr = c"bareme-wal";

/// Consecutive writes to a WAL are held up to this many bytes (29 frames of
/// 4 KiB): unix's `xWrite` writes at most 128 KiB - 1 in one call (it masks
/// the length with `0x1ffff`), and fails a longer write as « disk full ».
const HOLD: usize = 120 * 1024;

/// A WAL frame's header, written by SQLite in an `xWrite` of its own.
const FRAME_HEADER: usize = 24;

/// Registers the VFS once (not as the default); its name, or the reason it
/// could not be.
pub fn register() -> Result<&'static str, String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| unsafe { register_once() })
        .clone()
        .map(|()| NAME)
}

unsafe fn register_once() -> Result<(), String> {
    unsafe {
        if ffi::sqlite3_initialize() != ffi::SQLITE_OK {
            return Err("SQLite could not be initialised".into());
        }
        let real = ffi::sqlite3_vfs_find(ptr::null());
        if real.is_null() {
            return Err("SQLite has no default VFS".into());
        }
        let mut vfs: ffi::sqlite3_vfs = ptr::read(real);
        vfs.szOsFile = c_int::try_from(real_offset() + (*real).szOsFile as usize)
            .map_err(|e| e.to_string())?;
        vfs.pNext = ptr::null_mut();
        vfs.zName = NAME_C.as_ptr();
        // unix's methods read nothing of their VFS but `pAppData` in
        // `xOpen`, which is ours and calls the real one with its own.
        vfs.pAppData = real.cast();
        vfs.xOpen = Some(open);
        let vfs = Box::leak(Box::new(vfs));
        match ffi::sqlite3_vfs_register(vfs, 0) {
            ffi::SQLITE_OK => Ok(()),
            rc => Err(format!("sqlite3_vfs_register: {rc}")),
        }
    }
}

/// What this VFS keeps of an open file, the wrapped file after it.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// The WAL's path: its own for a WAL, its database's WAL for a main
    /// database file (to find what that WAL holds when the lock goes).
    wal: Option<Box<[u8]>>,
    held: Vec<u8>,
    /// Where `held` goes in the file.
    held_at: i64,
    /// The frame header just held is a commit frame's.
    commit_frame: bool,
    /// This file is [`WRITERS`]' entry for its WAL (it holds writes).
    listed: bool,
}

/// Where the wrapped file starts in the memory SQLite gives to `xOpen`.
const fn real_offset() -> usize {
    mem::size_of::<File>().next_multiple_of(16)
}

/// For each WAL path, the file (address) that holds writes to it, if any.
static WRITERS: Mutex<BTreeMap<Box<[u8]>, usize>> = Mutex::new(BTreeMap::new());

fn writers() -> MutexGuard<'static, BTreeMap<Box<[u8]>, usize>> {
    WRITERS.lock().unwrap_or_else(PoisonError::into_inner)
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    unsafe {
        let real_vfs: *mut ffi::sqlite3_vfs = (*vfs).pAppData.cast();
        let real: *mut ffi::sqlite3_file = file.cast::<u8>().add(real_offset()).cast();
        let Some(real_open) = (*real_vfs).xOpen else {
            return ffi::SQLITE_ERROR;
        };
        let rc = real_open(real_vfs, name, real, flags, out_flags);
        if rc != ffi::SQLITE_OK || (*real).pMethods.is_null() {
            // SQLite calls no method of a file whose open failed.
            (*file).pMethods = ptr::null();
            return rc;
        }
        let path = (!name.is_null()).then(|| CStr::from_ptr(name).to_bytes());
        let wal = match path {
            Some(p) if flags & ffi::SQLITE_OPEN_WAL != 0 => Some(p.into()),
            Some(p) if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 => Some([p, b"-wal"].concat().into()),
            _ => None,
        };
        ptr::write(
            file.cast::<File>(),
            File {
                base: ffi::sqlite3_file {
                    pMethods: if flags & ffi::SQLITE_OPEN_WAL != 0 {
                        &WAL_METHODS
                    } else {
                        &METHODS
                    },
                },
                real,
                wal,
                held: Vec::new(),
                held_at: 0,
                commit_frame: false,
                listed: false,
            },
        );
        rc
    }
}

unsafe fn this<'a>(file: *mut ffi::sqlite3_file) -> &'a mut File {
    unsafe { &mut *file.cast::<File>() }
}

unsafe fn methods<'a>(file: &File) -> &'a ffi::sqlite3_io_methods {
    unsafe { &*(*file.real).pMethods }
}

impl File {
    /// Writes what is held (an error is the write's: SQLite fails the
    /// operation that needed it).
    unsafe fn flush(&mut self) -> c_int {
        if self.listed {
            let me = self as *const File as usize;
            if let Some(wal) = &self.wal {
                let mut writers = writers();
                if writers.get(wal) == Some(&me) {
                    writers.remove(wal);
                }
            }
            self.listed = false;
        }
        self.commit_frame = false;
        if self.held.is_empty() {
            return ffi::SQLITE_OK;
        }
        let rc = unsafe { self.write_through(&self.held, self.held_at) };
        // The buffer is kept for the next writes.
        self.held.clear();
        rc
    }

    /// Writes `bytes` at `at` with the wrapped file's `xWrite`.
    unsafe fn write_through(&self, bytes: &[u8], at: i64) -> c_int {
        unsafe {
            match methods(self).xWrite {
                Some(write) => write(self.real, bytes.as_ptr().cast(), bytes.len() as c_int, at),
                None => ffi::SQLITE_IOERR_WRITE,
            }
        }
    }

    /// Holds a write that follows what is held, writes it at once when it
    /// cannot be held.
    unsafe fn write(&mut self, bytes: &[u8], at: i64) -> c_int {
        // The page after a commit frame's header: written at once.
        let ends_commit = self.commit_frame && bytes.len() > FRAME_HEADER;
        unsafe {
            if !self.held.is_empty() && at != self.held_at + self.held.len() as i64 {
                let rc = self.flush();
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
            }
            if self.held.len() + bytes.len() > HOLD {
                let rc = self.flush();
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                if bytes.len() > HOLD {
                    return self.write_through(bytes, at);
                }
            }
            if self.held.is_empty() {
                self.held_at = at;
                if self.held.capacity() == 0 {
                    self.held.reserve_exact(HOLD);
                }
                if !self.listed
                    && let Some(wal) = &self.wal
                {
                    writers().insert(wal.clone(), self as *const File as usize);
                    self.listed = true;
                }
            }
            self.held.extend_from_slice(bytes);
            // A frame header: its second field is the database's size after
            // a commit, 0 in every other frame.
            self.commit_frame = bytes.len() == FRAME_HEADER && bytes[4..8] != [0, 0, 0, 0];
            if ends_commit {
                return self.flush();
            }
            ffi::SQLITE_OK
        }
    }
}

/// Writes what the WAL of `file` (a main database file) holds, if anything:
/// its connection is giving the WAL's write lock back.
unsafe fn flush_wal_of(file: &File) -> c_int {
    let Some(wal) = &file.wal else {
        return ffi::SQLITE_OK;
    };
    let Some(writer) = writers().get(wal).copied() else {
        return ffi::SQLITE_OK;
    };
    // Listed only while it holds writes, taken off before it is closed; and
    // only the lock's holder, this connection, writes its WAL.
    unsafe { (*(writer as *mut File)).flush() }
}

// The methods: every one goes to the wrapped file; a WAL's hold writes
// (`wal_write`) and write what they hold before anything else.

/// A method that calls the wrapped file's (`or` when it has none), after
/// writing what the file holds when marked `flushed`.
macro_rules! forward {
    (flushed fn $($rest:tt)*) => { forward!(@method true, $($rest)*); };
    (fn $($rest:tt)*) => { forward!(@method false, $($rest)*); };
    (@method $flushed:literal, $name:ident => $method:ident ($($arg:ident: $ty:ty),*)
        or $none:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            unsafe {
                if $flushed {
                    forward!(@flushed file);
                }
                let f = this(file);
                match methods(f).$method {
                    Some(method) => method(f.real $(, $arg)*),
                    None => $none,
                }
            }
        }
    };
    (@flushed $file:ident) => {{
        let rc = this($file).flush();
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }};
}

forward!(fn read => xRead(buf: *mut c_void, amount: c_int, offset: ffi::sqlite3_int64)
    or ffi::SQLITE_IOERR_READ);
forward!(fn write => xWrite(buf: *const c_void, amount: c_int, offset: ffi::sqlite3_int64)
    or ffi::SQLITE_IOERR_WRITE);
forward!(flushed fn truncate => xTruncate(size: ffi::sqlite3_int64) or ffi::SQLITE_IOERR_TRUNCATE);
forward!(flushed fn sync => xSync(flags: c_int) or ffi::SQLITE_IOERR_FSYNC);
forward!(flushed fn file_size => xFileSize(size: *mut ffi::sqlite3_int64)
    or ffi::SQLITE_IOERR_FSTAT);
forward!(flushed fn lock => xLock(level: c_int) or ffi::SQLITE_OK);
forward!(flushed fn unlock => xUnlock(level: c_int) or ffi::SQLITE_OK);
forward!(fn check_reserved_lock => xCheckReservedLock(out: *mut c_int) or {
    *out = 0;
    ffi::SQLITE_OK
});
forward!(flushed fn file_control => xFileControl(op: c_int, arg: *mut c_void)
    or ffi::SQLITE_NOTFOUND);
forward!(fn shm_map => xShmMap(region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void)
    or ffi::SQLITE_IOERR_SHMMAP);
forward!(fn shm_unmap => xShmUnmap(delete: c_int) or ffi::SQLITE_OK);
forward!(fn fetch => xFetch(offset: ffi::sqlite3_int64, amount: c_int, out: *mut *mut c_void) or {
    *out = ptr::null_mut();
    ffi::SQLITE_OK
});
forward!(fn unfetch => xUnfetch(offset: ffi::sqlite3_int64, page: *mut c_void) or ffi::SQLITE_OK);

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let f = this(file);
        let flushed = f.flush();
        let rc = match methods(f).xClose {
            Some(close) => close(f.real),
            None => ffi::SQLITE_OK,
        };
        ptr::drop_in_place(file.cast::<File>());
        (*file).pMethods = ptr::null();
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            rc
        }
    }
}

unsafe extern "C" fn wal_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        forward!(@flushed file);
        read(file, buf, amount, offset)
    }
}

unsafe extern "C" fn wal_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        if buf.is_null() || amount <= 0 {
            return write(file, buf, amount, offset);
        }
        let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), amount as usize);
        this(file).write(bytes, offset)
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let f = this(file);
        methods(f).xSectorSize.map_or(4096, |size| size(f.real))
    }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let f = this(file);
        methods(f)
            .xDeviceCharacteristics
            .map_or(0, |characteristics| characteristics(f.real))
    }
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    unsafe {
        let f = this(file);
        // The WAL's write lock (slot 0) given back: what its WAL holds is
        // written first, under the lock.
        if flags & ffi::SQLITE_SHM_UNLOCK != 0 && offset == 0 {
            let rc = flush_wal_of(f);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        match methods(f).xShmLock {
            Some(lock) => lock(f.real, offset, n, flags),
            None => ffi::SQLITE_IOERR_SHMLOCK,
        }
    }
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    unsafe {
        let f = this(file);
        if let Some(barrier) = methods(f).xShmBarrier {
            barrier(f.real);
        }
    }
}

const fn io_methods(wal: bool) -> ffi::sqlite3_io_methods {
    ffi::sqlite3_io_methods {
        iVersion: 3,
        xClose: Some(close),
        xRead: Some(if wal { wal_read } else { read }),
        xWrite: Some(if wal { wal_write } else { write }),
        xTruncate: Some(truncate),
        xSync: Some(sync),
        xFileSize: Some(file_size),
        xLock: Some(lock),
        xUnlock: Some(unlock),
        xCheckReservedLock: Some(check_reserved_lock),
        xFileControl: Some(file_control),
        xSectorSize: Some(sector_size),
        xDeviceCharacteristics: Some(device_characteristics),
        xShmMap: Some(shm_map),
        xShmLock: Some(shm_lock),
        xShmBarrier: Some(shm_barrier),
        xShmUnmap: Some(shm_unmap),
        xFetch: Some(fetch),
        xUnfetch: Some(unfetch),
    }
}

static METHODS: ffi::sqlite3_io_methods = io_methods(false);
static WAL_METHODS: ffi::sqlite3_io_methods = io_methods(true);
