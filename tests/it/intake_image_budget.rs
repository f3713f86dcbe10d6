//! Image attachments under the scan budget (issue 12), through the real
//! `bareme-mel ingest`: a decompression-bomb PNG (a few hundred KB that
//! inflate to hundreds of MB) stays within the 300 MB of the PDF budget, and
//! an image declaring huge dimensions is refused before decoding with a
//! reason staff can read, in French. The mail ends with a disposition.

use crate::intake_hostile::{ingest_file, run_measured};
use bareme_mel::{
    config::{Database, Secret},
    store::{Db, entities::inbound_message},
};
use flate2::{Compression, Crc, write::ZlibEncoder};
use sea_orm::EntityTrait;
use std::io::Write;

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let mut crc = Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// A white PNG of `width` × `height`, `bit_depth` bits per RGB sample, with
/// `rows` rows of pixel data actually written (all of them for a bomb).
fn png(width: u32, height: u32, bit_depth: u8, rows: u32) -> Vec<u8> {
    let row = [
        vec![0u8],
        vec![0xff; width as usize * 3 * usize::from(bit_depth / 8)],
    ]
    .concat();
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    for _ in 0..rows {
        z.write_all(&row).unwrap();
    }
    let idat = z.finish().unwrap();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bit_depth, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", b"");
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() / 3 * 4 + 4);
    for group in data.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Outlook's `winmail.dat` holding `files` (name, bytes).
fn tnef(files: &[(&str, &[u8])]) -> Vec<u8> {
    fn attribute(out: &mut Vec<u8>, id: u32, data: &[u8]) {
        out.push(2); // attachment level
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
        out.extend_from_slice(data);
        let sum = data.iter().fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
        out.extend_from_slice(&sum.to_le_bytes());
    }
    let mut out = 0x223E_9F78u32.to_le_bytes().to_vec();
    out.extend_from_slice(&1u16.to_le_bytes());
    for (name, data) in files {
        attribute(
            &mut out,
            0x0006_9002,
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        attribute(&mut out, 0x0001_8010, format!("{name}\0").as_bytes());
        attribute(&mut out, 0x0006_800F, data);
    }
    out
}

fn mail_with_png(png: &[u8]) -> Vec<u8> {
    mail_with("image/png", "scan.png", png)
}

fn mail_with(content_type: &str, name: &str, png: &[u8]) -> Vec<u8> {
    let b64 = base64(png);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: {}\r\nTo: bareme@ac-montpellier.fr\r\nSubject: Formulaire\r\n\
         Message-ID: <{}@test>\r\nDate: Tue, 1 Dec 2026 08:00:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour, voici mon formulaire.\r\n--B\r\n\
         Content-Type: {content_type}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--B--\r\n",
        crate::intake_support::SENDER,
        uuid::Uuid::new_v4().simple(),
        lines.join("\r\n")
    )
    .into_bytes()
}

/// Ingests the mail; its stdout, peak RSS (MiB) and the reason recorded.
async fn ingest(png: &[u8]) -> Option<(String, i64, Option<String>)> {
    ingest_mail(&mail_with_png(png)).await
}

async fn ingest_mail(mail: &[u8]) -> Option<(String, i64, Option<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.eml");
    std::fs::write(&path, mail).unwrap();
    let c = ingest_file(dir.path(), &path)?;
    let (code, peak_kib) = run_measured(c, dir.path());
    let stdout = std::fs::read_to_string(dir.path().join("stdout.txt")).unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    let db = Db::connect(&Database {
        url: Secret(format!(
            "sqlite://{}/db.sqlite?mode=rw",
            dir.path().display()
        )),
        max_connections: 1,
    })
    .await
    .unwrap();
    let rows = inbound_message::Entity::find()
        .all(db.conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one disposition");
    Some((stdout, peak_kib / 1024, rows[0].reason.clone()))
}

#[tokio::test]
async fn a_16_bit_png_bomb_is_refused_within_300_mb() {
    // 12,000 × 3,300 pixels of 48 bits: 237 MB once decoded, 0.24 MB sent.
    let bomb = png(12_000, 3_300, 16, 3_300);
    assert!(bomb.len() < 400_000, "{} bytes", bomb.len());
    let Some((stdout, peak_mib, reason)) = ingest(&bomb).await else {
        return;
    };
    eprintln!("16-bit PNG bomb: peak RSS {peak_mib} MiB, {stdout:?}, {reason:?}");
    assert!(stdout.starts_with("request_created "), "{stdout}");
    assert!(peak_mib <= 300, "peak RSS {peak_mib} MiB");
    let reason = reason.unwrap_or_default();
    assert!(
        reason.starts_with("image refusée : trop grande"),
        "staff are told why: {reason}"
    );
}

#[tokio::test]
async fn an_image_declaring_huge_dimensions_is_refused_in_french() {
    let huge = png(100_000, 100_000, 8, 1);
    let Some((stdout, peak_mib, reason)) = ingest(&huge).await else {
        return;
    };
    eprintln!("100,000 × 100,000 PNG: peak RSS {peak_mib} MiB, {reason:?}");
    assert!(stdout.starts_with("request_created "), "{stdout}");
    assert!(peak_mib <= 300, "peak RSS {peak_mib} MiB");
    assert_eq!(
        reason.as_deref(),
        Some("image refusée : trop grande (100000 × 100000 pixels)")
    );
}

#[tokio::test]
async fn png_bombs_inside_a_winmail_dat_are_refused_within_300_mb() {
    let bomb = png(12_000, 3_300, 16, 3_300);
    let files: Vec<(&str, &[u8])> = vec![
        ("scan1.png", &bomb),
        ("scan2.png", &bomb),
        ("scan3.png", &bomb),
    ];
    let mail = mail_with("application/ms-tnef", "winmail.dat", &tnef(&files));
    let Some((stdout, peak_mib, reason)) = ingest_mail(&mail).await else {
        return;
    };
    eprintln!("winmail.dat of three 16-bit PNG bombs: peak RSS {peak_mib} MiB, {reason:?}");
    assert!(stdout.starts_with("request_created "), "{stdout}");
    assert!(peak_mib <= 300, "peak RSS {peak_mib} MiB");
    assert!(
        reason
            .unwrap_or_default()
            .starts_with("image refusée : trop grande"),
        "the files inside are read under the image budget"
    );
}

#[tokio::test]
async fn jpeg_bombs_are_refused_in_french_within_300_mb() {
    use crate::jpeg_bomb::flat_jpeg;
    // Declares 65,000 × 65,000 pixels, carries a few kilobytes.
    let huge = flat_jpeg(65_000, 65_000, 3, false, Some(20_000));
    // Progressive colour, within the side and pixel caps: 0.23 MB that a
    // decoder holds as 238 MB of coefficients plus 119 MB of pixels.
    let progressive = flat_jpeg(11_000, 3_600, 3, true, None);
    for (name, jpeg, expected) in [
        (
            "huge",
            &huge,
            "image refusée : trop grande (65000 × 65000 pixels)",
        ),
        (
            "progressive",
            &progressive,
            "image refusée : trop grande (11000 × 3600 pixels, 357 Mo une fois décodée)",
        ),
    ] {
        let Some((stdout, peak_mib, reason)) =
            ingest_mail(&mail_with("image/jpeg", "scan.jpg", jpeg)).await
        else {
            return;
        };
        eprintln!("{name} JPEG: peak RSS {peak_mib} MiB, {stdout:?}, {reason:?}");
        assert!(stdout.starts_with("request_created "), "{name}: {stdout}");
        assert!(peak_mib <= 300, "{name}: peak RSS {peak_mib} MiB");
        assert_eq!(reason.as_deref(), Some(expected), "{name}");
    }
}

/// A PDF whose only page shows `jpeg` (`/DCTDecode`) full page, as a
/// scanner writes it.
fn pdf_with_jpeg(jpeg: &[u8], w: u32, h: u32) -> Vec<u8> {
    let content = b"q 595 0 0 842 0 0 cm /Im0 Do Q";
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /XObject << /Im0 5 0 R >> >> >>".to_vec(),
        [
            format!("<< /Length {} >>\nstream\n", content.len()).as_bytes(),
            content,
            b"\nendstream",
        ]
        .concat(),
    ];
    objects.push(
        [
            format!(
                "<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
                jpeg.len()
            )
            .as_bytes(),
            jpeg,
            b"\nendstream",
        ]
        .concat(),
    );
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for at in offsets {
        pdf.extend_from_slice(format!("{at:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[tokio::test]
async fn a_jpeg_bomb_inside_a_pdf_scan_is_recorded_within_300_mb() {
    use crate::jpeg_bomb::flat_jpeg;
    let jpeg = flat_jpeg(65_000, 65_000, 3, false, Some(20_000));
    let pdf = pdf_with_jpeg(&jpeg, 65_000, 65_000);
    let started = std::time::Instant::now();
    let Some((stdout, peak_mib, reason)) =
        ingest_mail(&mail_with("application/pdf", "scan.pdf", &pdf)).await
    else {
        return;
    };
    let took = started.elapsed();
    eprintln!(
        "65,000 × 65,000 JPEG in a PDF: {took:?}, peak RSS {peak_mib} MiB, {stdout:?}, {reason:?}"
    );
    assert!(stdout.starts_with("request_created "), "{stdout}");
    assert!(peak_mib <= 300, "peak RSS {peak_mib} MiB");
    // pdftoppm runs as a child under its own limits (20 s, 1 GiB).
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
    let reason = reason.unwrap_or_default();
    assert!(!reason.is_empty(), "staff are told why nothing was read");
}
