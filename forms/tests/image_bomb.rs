//! Image attachments are bounded in memory like PDFs: a decompression bomb
//! (a small PNG that declares tens of millions of pixels) is refused before
//! it is decoded, and absurd declared dimensions are refused from the
//! header. One test binary of its own, so that its peak RSS is its own.

use bareme_forms::{ScanConfig, ScanLimits, ScanOutcome, read_scan};
use std::io::Write;

/// A PNG that declares `w × h` pixels, colour type 6 (RGBA, 8 bits), with
/// `rows` black rows of data, built row by row: a few hundred kilobytes
/// that decode to `4 × w × h` bytes.
fn png_bomb(w: u32, h: u32, rows: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let row = vec![0u8; 1 + 4 * w as usize];
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..rows {
        z.write_all(&row).unwrap();
    }
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn image_bombs_are_refused_before_they_are_decoded() {
    // 6,000 × 5,800 RGBA: 34.8 Mpx (under the pixel cap), 139 MB decoded,
    // from a PNG of a few hundred kilobytes.
    let bomb = png_bomb(6_000, 5_800, 5_800);
    assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
    // Absurd declared dimensions: refused from the header.
    let huge_declared = png_bomb(1_000_000, 1_000_000, 1);
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    for (name, png) in [("bomb", &bomb), ("huge", &huge_declared)] {
        let outcome = read_scan(png, &ScanConfig::default(), &ScanLimits::default());
        let ScanOutcome::NotAForm { reason } = outcome else {
            panic!("{name}: read as a form");
        };
        eprintln!("{name}: {reason}");
        assert!(reason.starts_with("image refusée"), "{name}: {reason}");
    }
    let grown = peak_rss_kib().saturating_sub(before);
    eprintln!(
        "image bombs: peak RSS grew by {grown} KiB in {:?}",
        started.elapsed()
    );
    assert!(
        grown < 100 * 1024,
        "peak RSS grew by {grown} KiB reading the image bombs"
    );
}
