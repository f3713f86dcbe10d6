//! Size limit before full buffering: a source is read in chunks; beyond
//! `intake.max_message_bytes` only the beginning (headers) is kept while
//! the rest is counted and hashed, so a huge message never sits in memory.

use super::{Incoming, Origin};
use sha2::{Digest, Sha256};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;

/// Bytes of an oversize message that are kept (its headers, in practice).
pub const OVERSIZE_KEEP: usize = 64 * 1024;

/// Reads `reader` to the end within `max` bytes.
pub async fn read_limited<R: AsyncRead + Unpin>(
    mut reader: R,
    max: u64,
    origin: Origin,
) -> std::io::Result<Incoming> {
    let mut kept = Limited::new(max);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        kept.push(&chunk[..n]);
    }
    Ok(kept.finish(origin))
}

/// What a message read in chunks keeps: all of it within `max` bytes,
/// otherwise its beginning; its size and hash always whole.
struct Limited {
    hasher: Sha256,
    bytes: Vec<u8>,
    size: u64,
    max: u64,
}

impl Limited {
    fn new(max: u64) -> Self {
        Self {
            hasher: Sha256::new(),
            bytes: Vec::new(),
            size: 0,
            max,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        if self.size <= self.max {
            self.bytes.extend_from_slice(chunk);
        } else if self.bytes.len() > OVERSIZE_KEEP {
            self.bytes.truncate(OVERSIZE_KEEP);
            self.bytes.shrink_to_fit();
        } else if self.bytes.len() < OVERSIZE_KEEP {
            let room = OVERSIZE_KEEP - self.bytes.len();
            self.bytes
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }

    fn finish(self, origin: Origin) -> Incoming {
        Incoming {
            bytes: self.bytes,
            size: self.size,
            content_hash: hex::encode(self.hasher.finalize()),
            oversize: self.size > self.max,
            origin,
        }
    }
}

/// Why a file could not be read.
#[derive(Debug)]
pub enum FileError {
    /// It could not be opened (gone, not allowed).
    Open(std::io::Error),
    /// It was opened, then reading failed.
    Read(std::io::Error),
}

/// Reads a file within `max` bytes, as [`read_limited`] does, with blocking
/// calls: on a blocking thread ([`read_ahead`]). A file within `max` (its
/// size known beforehand) is read in one go and hashed once.
pub fn read_file(path: &Path, max: u64, origin: Origin) -> Result<Incoming, FileError> {
    let mut file = std::fs::File::open(path).map_err(FileError::Open)?;
    let len = file.metadata().map_err(FileError::Read)?.len();
    let mut kept = Limited::new(max);
    if len <= max {
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
        file.read_to_end(&mut bytes).map_err(FileError::Read)?;
        if bytes.len() as u64 <= max {
            return Ok(Incoming::whole(bytes, origin));
        }
        // It grew past `max` since its size was read.
        kept.push(&bytes);
    }
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut chunk).map_err(FileError::Read)?;
        if n == 0 {
            break;
        }
        kept.push(&chunk[..n]);
    }
    Ok(kept.finish(origin))
}

/// How much of the files read ahead may wait in memory, whatever their count.
pub const AHEAD_BYTES: usize = 32 * 1024 * 1024;

/// A file read ahead: its path, what was read, and its place in the
/// [`AHEAD_BYTES`] allowance (given back when dropped, once the message is
/// in its batch).
pub type ReadAhead = (
    PathBuf,
    Result<Incoming, FileError>,
    tokio::sync::OwnedSemaphorePermit,
);

/// Reads `paths` in order on a blocking thread, one at a time, while the
/// caller handles the ones before: the files of the next batch are read
/// (and hashed) while the batch before is counted, read and written, not
/// after it on the async thread. At most `ahead` files and about
/// [`AHEAD_BYTES`] wait in the channel; it ends after the last path, or
/// when the receiver is dropped.
pub fn read_ahead(
    paths: Vec<PathBuf>,
    max: u64,
    ahead: usize,
    origin: impl Fn(&Path) -> Origin + Send + 'static,
) -> tokio::sync::mpsc::Receiver<ReadAhead> {
    const KIB: usize = 1024;
    let (tx, rx) = tokio::sync::mpsc::channel(ahead.max(1));
    let allowance = Arc::new(Semaphore::new(AHEAD_BYTES / KIB));
    tokio::spawn(async move {
        for path in paths {
            let origin = origin(&path);
            let read = {
                let path = path.clone();
                tokio::task::spawn_blocking(move || read_file(&path, max, origin)).await
            };
            let read = read.unwrap_or_else(|e| Err(FileError::Read(std::io::Error::other(e))));
            let kib = read.as_ref().map_or(0, |m| m.bytes.len() / KIB);
            let kib = u32::try_from(kib.clamp(1, AHEAD_BYTES / KIB)).unwrap_or(1);
            let Ok(permit) = Arc::clone(&allowance).acquire_many_owned(kib).await else {
                return;
            };
            if tx.send((path, read, permit)).await.is_err() {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn oversize_input_keeps_only_its_beginning() {
        let data = vec![b'a'; 300_000];
        let got = read_limited(&data[..], 100_000, Origin::new("stdin", None))
            .await
            .unwrap();
        assert!(got.oversize);
        assert_eq!(got.size, 300_000);
        assert_eq!(got.bytes.len(), OVERSIZE_KEEP);
        assert_eq!(got.content_hash, crate::security::sha256_hex(&data));
        let small = read_limited(&b"abc"[..], 100, Origin::new("stdin", None))
            .await
            .unwrap();
        assert!(!small.oversize);
        assert_eq!(small.bytes, b"abc");
    }

    #[test]
    fn a_file_is_kept_whole_within_max_and_by_its_beginning_beyond() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.eml");
        let data = vec![b'b'; 300_000];
        std::fs::write(&path, &data).unwrap();
        let whole = read_file(&path, 300_000, Origin::new("file", None)).unwrap();
        assert!(!whole.oversize);
        assert_eq!(whole.bytes, data);
        assert_eq!(whole.content_hash, crate::security::sha256_hex(&data));
        let over = read_file(&path, 100_000, Origin::new("file", None)).unwrap();
        assert!(over.oversize);
        assert_eq!(over.size, 300_000);
        assert_eq!(over.bytes.len(), OVERSIZE_KEEP);
        assert_eq!(over.content_hash, whole.content_hash);
        assert!(matches!(
            read_file(&dir.path().join("gone"), 100, Origin::new("file", None)),
            Err(FileError::Open(e)) if e.kind() == std::io::ErrorKind::NotFound
        ));
    }

    #[tokio::test]
    async fn files_read_ahead_come_in_order_with_their_errors_and_stop_at_the_allowance() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..6 {
            let path = dir.path().join(format!("{i}.eml"));
            if i != 3 {
                // 9 MiB each: four waiting would pass 32 MiB.
                std::fs::write(&path, vec![b'0' + i as u8; 9 * 1024 * 1024]).unwrap();
            }
            paths.push(path);
        }
        let mut rx = read_ahead(paths.clone(), 10 * 1024 * 1024, 64, |p| {
            Origin::new("file", Some(p.display().to_string()))
        });
        // Nothing taken yet: the reader stops once the allowance is used.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(rx.len() <= 4, "{} files waiting, 36 MiB and more", rx.len());
        for (i, path) in paths.iter().enumerate() {
            let (got, read, _allowance) = rx.recv().await.unwrap();
            assert_eq!(&got, path);
            match read {
                Ok(m) => {
                    assert_ne!(i, 3);
                    assert_eq!(m.bytes[0], b'0' + i as u8);
                    assert_eq!(
                        m.origin.position.as_deref(),
                        Some(&*path.display().to_string())
                    );
                }
                Err(FileError::Open(e)) => {
                    assert_eq!(i, 3);
                    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
                }
                Err(FileError::Read(e)) => panic!("{e}"),
            }
        }
        assert!(rx.recv().await.is_none(), "ends after the last path");
    }
}
