//! Image attachments are bounded in memory like PDFs: a decompression bomb
//! (a small PNG that declares tens of millions of pixels) is refused before
//! it is decoded, and absurd declared dimensions are refused from the
//! header. One test binary of its own, so that its peak RSS is its own.

#[path = "../../tests/it/jpeg_bomb.rs"]
mod jpeg_bomb;

#[path = "support/rss.rs"]
mod rss;

use bareme_forms::{ScanConfig, ScanLimits, ScanOutcome, read_scan};
use jpeg_bomb::flat_jpeg;
use rss::peak_rss_kib;
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

#[test]
fn a_small_flat_jpeg_is_decoded() {
    // The builder's JPEGs are valid: a small one reads (as no form).
    for progressive in [false, true] {
        let jpeg = flat_jpeg(64, 48, 3, progressive, None);
        let outcome = read_scan(&jpeg, &ScanConfig::default(), &ScanLimits::default());
        let ScanOutcome::NotAForm { reason } = outcome else {
            panic!("read as a form");
        };
        assert!(reason.starts_with("aucun formulaire reconnu"), "{reason}");
    }
}

#[test]
fn jpeg_bombs_are_refused_before_they_are_decoded() {
    // Declares 65,000 × 65,000 pixels, carries a few kilobytes.
    let huge_declared = flat_jpeg(65_000, 65_000, 3, false, Some(20_000));
    assert!(
        huge_declared.len() < 8 * 1024,
        "{} bytes",
        huge_declared.len()
    );
    // Progressive, 11,000 × 3,600 colour: under the side and pixel caps and
    // 119 MB once decoded, but a progressive decoder first keeps every DCT
    // coefficient of the image (2 bytes a sample: 238 MB more), from 0.23 MB.
    let progressive = flat_jpeg(11_000, 3_600, 3, true, None);
    assert!(progressive.len() < 300_000, "{} bytes", progressive.len());
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    let cases = [
        (
            "huge",
            &huge_declared,
            "image refusée : trop grande (65000 × 65000 pixels)",
        ),
        (
            "progressive",
            &progressive,
            "image refusée : trop grande (11000 × 3600 pixels, ",
        ),
    ];
    let reasons: Vec<String> = cases
        .iter()
        .map(|(name, jpeg, _)| {
            match read_scan(jpeg, &ScanConfig::default(), &ScanLimits::default()) {
                ScanOutcome::NotAForm { reason } => reason,
                ScanOutcome::Form(_) => panic!("{name}: read as a form"),
            }
        })
        .collect();
    let grown = peak_rss_kib().saturating_sub(before);
    eprintln!(
        "JPEG bombs: peak RSS grew by {grown} KiB in {:?}",
        started.elapsed()
    );
    for ((name, _, expected), reason) in cases.iter().zip(&reasons) {
        eprintln!("{name}: {reason}");
        assert!(reason.starts_with(expected), "{name}: {reason}");
    }
    assert!(
        grown < 100 * 1024,
        "peak RSS grew by {grown} KiB reading the JPEG bombs"
    );
}
