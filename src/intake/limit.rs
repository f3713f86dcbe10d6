//! Size limit before full buffering: a source is read in chunks; beyond
//! `intake.max_message_bytes` only the beginning (headers) is kept while
//! the rest is counted and hashed, so a huge message never sits in memory.

use super::{Incoming, Origin};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of an oversize message that are kept (its headers, in practice).
pub const OVERSIZE_KEEP: usize = 64 * 1024;

/// Reads `reader` to the end within `max` bytes.
pub async fn read_limited<R: AsyncRead + Unpin>(
    mut reader: R,
    max: u64,
    origin: Origin,
) -> std::io::Result<Incoming> {
    let mut hasher = Sha256::new();
    let mut bytes = Vec::new();
    let mut size: u64 = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        hasher.update(&chunk[..n]);
        size += n as u64;
        if size <= max {
            bytes.extend_from_slice(&chunk[..n]);
        } else if bytes.len() > OVERSIZE_KEEP {
            bytes.truncate(OVERSIZE_KEEP);
            bytes.shrink_to_fit();
        } else if bytes.len() < OVERSIZE_KEEP {
            let room = OVERSIZE_KEEP - bytes.len();
            bytes.extend_from_slice(&chunk[..n.min(room)]);
        }
    }
    Ok(Incoming {
        bytes,
        size,
        content_hash: hex::encode(hasher.finalize()),
        oversize: size > max,
        origin,
    })
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
}
