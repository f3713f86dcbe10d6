//! Turns a scan into grey pages: JPEG and PNG are decoded in process under
//! pixel and allocation limits; a PDF is rasterised by poppler's `pdftoppm`
//! as a child process (it reads every image filter a scanner writes: DCT,
//! Flate, CCITT fax, JBIG2), one grey PGM per page on its stdout.

use std::io::Cursor;

use image::{GrayImage, ImageFormat, ImageReader};

use super::child::{self, ChildLimits};
use super::{ScanConfig, ScanLimits};

/// The kind of file, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    Pdf,
    Jpeg,
    Png,
}

/// The container of `bytes`, if it is one the reader takes.
pub(crate) fn sniff(bytes: &[u8]) -> Option<Container> {
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        Some(Container::Pdf)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Container::Jpeg)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Container::Png)
    } else {
        None
    }
}

/// The grey pages of the scan (at most `limits.max_pages`).
pub(crate) fn pages(
    bytes: &[u8],
    config: &ScanConfig,
    limits: &ScanLimits,
) -> Result<Vec<GrayImage>, String> {
    if bytes.len() > limits.max_input_bytes {
        return Err(format!("fichier trop volumineux ({} octets)", bytes.len()));
    }
    match sniff(bytes) {
        Some(Container::Pdf) => pdf_pages(bytes, config, limits),
        Some(Container::Jpeg) => decode(bytes, ImageFormat::Jpeg, limits).map(|p| vec![p]),
        Some(Container::Png) => decode(bytes, ImageFormat::Png, limits).map(|p| vec![p]),
        None => Err("ni PDF, ni JPEG, ni PNG".into()),
    }
}

/// Decodes a JPEG or PNG to grey. Its header is read first: an image wider or
/// taller than `max_side_pixels`, with more than `max_pixels`, or whose
/// decoded samples (16-bit and alpha included) exceed `max_decoded_bytes` is
/// refused before anything is inflated, with a reason staff read in French.
fn decode(bytes: &[u8], format: ImageFormat, limits: &ScanLimits) -> Result<GrayImage, String> {
    use image::ImageDecoder;
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_decoded_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.no_limits();
    let decoder = reader.into_decoder().map_err(decode_error)?;
    let (w, h) = decoder.dimensions();
    let side = limits.max_side_pixels;
    if w > side || h > side || u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(format!("image refusée : trop grande ({w} × {h} pixels)"));
    }
    // A progressive JPEG is decoded from every DCT coefficient of the image,
    // kept until the last scan: 2 bytes a sample, on top of the pixels.
    let coefficients = match format {
        ImageFormat::Jpeg => progressive_coefficient_bytes(bytes),
        _ => 0,
    };
    let decoded = decoder.total_bytes().saturating_add(coefficients);
    if decoded > limits.max_decoded_bytes {
        return Err(format!(
            "image refusée : trop grande ({w} × {h} pixels, {} Mo une fois décodée)",
            decoded.div_ceil(1_000_000)
        ));
    }
    drop(decoder);
    image_limits.max_image_width = Some(side);
    image_limits.max_image_height = Some(side);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(image_limits);
    let image = reader.decode().map_err(decode_error)?;
    Ok(image.into_luma8())
}

/// The bytes a progressive JPEG decoder holds in DCT coefficients for the
/// whole image (zune-jpeg: one `i16` per coefficient, 64 per block, every
/// component's blocks padded to whole MCUs), from the frame header; 0 for
/// a baseline JPEG or when no frame header is found.
fn progressive_coefficient_bytes(bytes: &[u8]) -> u64 {
    let mut at = 2; // after SOI
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return 0;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let segment = &bytes[at + 4..bytes.len().min(at + 2 + length)];
        match marker {
            // Progressive frames: SOF2 (Huffman), SOF6, SOF10, SOF14.
            0xC2 | 0xC6 | 0xCA | 0xCE => return coefficient_bytes(segment),
            // Any other frame header: not progressive.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => return 0,
            // Start of scan or end of image before any frame header.
            0xDA | 0xD9 => return 0,
            _ => at += 2 + length,
        }
    }
    0
}

/// Coefficient bytes of a frame header (`P Y X Nf`, then `Ci HiVi Tqi`).
fn coefficient_bytes(frame: &[u8]) -> u64 {
    let Some(&[_, h1, h0, w1, w0, count]) = frame.get(..6) else {
        return 0;
    };
    let (height, width) = (
        u64::from(u16::from_be_bytes([h1, h0])),
        u64::from(u16::from_be_bytes([w1, w0])),
    );
    let components: Vec<(u64, u64)> = frame[6..]
        .chunks_exact(3)
        .take(usize::from(count))
        .map(|c| (u64::from(c[1] >> 4).max(1), u64::from(c[1] & 15).max(1)))
        .collect();
    let h_max = components.iter().map(|c| c.0).max().unwrap_or(1);
    let v_max = components.iter().map(|c| c.1).max().unwrap_or(1);
    let mcus = width.div_ceil(8 * h_max) * height.div_ceil(8 * v_max);
    components.iter().map(|(h, v)| mcus * h * v * 64 * 2).sum()
}

/// Why an image was not decoded, in French: over the limits (a
/// decompression bomb, absurd dimensions) or unreadable.
fn decode_error(e: image::ImageError) -> String {
    match e {
        image::ImageError::Limits(_) => {
            "image refusée : sa taille décodée dépasse ce qui est admis pour une numérisation"
                .into()
        }
        e => format!("image illisible : {e}"),
    }
}

fn pdf_pages(
    bytes: &[u8],
    config: &ScanConfig,
    limits: &ScanLimits,
) -> Result<Vec<GrayImage>, String> {
    let side = limits.pdf_render_side.to_string();
    let last = limits.max_pages.to_string();
    let per_page = (limits.pdf_render_side as usize).pow(2) + 64;
    let out = child::run(
        &config.pdftoppm,
        &["-gray", "-scale-to", &side, "-f", "1", "-l", &last, "-"],
        bytes,
        ChildLimits {
            wall: limits.child_time,
            memory_bytes: limits.child_memory_bytes,
            max_output_bytes: per_page * limits.max_pages as usize,
        },
    )
    .map_err(|e| format!("PDF non rasterisé : {e}"))?;
    let pages = parse_pgm_stream(&out);
    if pages.is_empty() {
        return Err("PDF sans page lisible".into());
    }
    Ok(pages)
}

/// Splits concatenated binary PGM files (`P5`, 8 bits).
fn parse_pgm_stream(mut data: &[u8]) -> Vec<GrayImage> {
    let mut pages = Vec::new();
    while let Some((image, rest)) = parse_pgm(data) {
        pages.push(image);
        data = rest;
    }
    pages
}

fn parse_pgm(data: &[u8]) -> Option<(GrayImage, &[u8])> {
    let data = data.strip_prefix(b"P5")?;
    let mut fields = [0_usize; 3];
    let mut pos = 0;
    for field in &mut fields {
        while data.get(pos)?.is_ascii_whitespace() {
            pos += 1;
        }
        let start = pos;
        while data.get(pos)?.is_ascii_digit() {
            pos += 1;
        }
        *field = std::str::from_utf8(&data[start..pos]).ok()?.parse().ok()?;
    }
    let [w, h, max] = fields;
    if max != 255 || w == 0 || h == 0 {
        return None;
    }
    let start = pos + 1;
    let end = start.checked_add(w.checked_mul(h)?)?;
    let pixels = data.get(start..end)?.to_vec();
    let image = GrayImage::from_raw(u32::try_from(w).ok()?, u32::try_from(h).ok()?, pixels)?;
    Some((image, &data[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_pgm_pages_are_split() {
        let mut stream = b"P5\n3 2\n255\n".to_vec();
        stream.extend_from_slice(&[0, 1, 2, 3, 4, 5]);
        stream.extend_from_slice(b"P5 1 1 255\n");
        stream.push(9);
        let pages = parse_pgm_stream(&stream);
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].get_pixel(2, 1).0[0], 5);
        assert_eq!(pages[1].get_pixel(0, 0).0[0], 9);
        assert!(parse_pgm_stream(b"P5\n3 2\n255\n\0\0").is_empty());
    }
}
