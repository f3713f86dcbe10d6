//! Finds the form on a grey page: the QR code (rqrr) says it is our form and
//! gives a first page → image map from its four corners; the registration
//! marks, searched near where that map puts them, give the exact map
//! (rotation, scale and perspective) from four points far apart.

use image::GrayImage;

use super::geometry::Homography;
use crate::marks::{self, MARK_SIDE, MARKS, QR_ORIGIN, QrContent};

/// Our form found on a page.
pub(crate) struct Located {
    pub qr: QrContent,
    /// Page points → image pixels.
    pub to_image: Homography,
    /// How many registration marks were found (4: exact map).
    pub marks_found: usize,
}

/// Largest side handed to the QR detector; larger pages are reduced first.
const DETECT_SIDE: u32 = 3600;

/// Looks for our QR code, then the marks. `None`: not our form (or its QR
/// code is illegible).
pub(crate) fn locate(page: &GrayImage) -> Option<Located> {
    let (qr, corners) = find_qr(page)?;
    let side = f64::from(marks::qr_side());
    let (x0, y0) = (f64::from(QR_ORIGIN.0), f64::from(QR_ORIGIN.1));
    let qr_page = [
        (x0, y0 + side),
        (x0 + side, y0 + side),
        (x0 + side, y0),
        (x0, y0),
    ];
    let rough = Homography::fit_affine(&qr_page, &corners)?;
    let threshold = otsu(page);
    let found: Vec<Option<(f64, f64)>> = MARKS
        .iter()
        .map(|&(x, y)| find_mark(page, &rough, f64::from(x), f64::from(y), threshold))
        .collect();
    let marks_found = found.iter().flatten().count();
    let page_points = MARKS.map(|(x, y)| (f64::from(x), f64::from(y)));
    let to_image = match found.as_slice() {
        [Some(a), Some(b), Some(c), Some(d)] => Homography::fit(&page_points, &[*a, *b, *c, *d]),
        _ if marks_found == 3 => {
            // Complete the parallelogram: good for a flat scan.
            let missing = found.iter().position(Option::is_none)?;
            let at = |i: usize| found[(missing + i) % 4].unwrap_or_default();
            let (a, b, c) = (at(1), at(2), at(3));
            let mut image_points = [(0.0, 0.0); 4];
            image_points[missing] = (a.0 + c.0 - b.0, a.1 + c.1 - b.1);
            for i in 1..4 {
                image_points[(missing + i) % 4] = at(i);
            }
            Homography::fit(&page_points, &image_points)
        }
        _ => None,
    }
    .unwrap_or(rough);
    Some(Located {
        qr,
        to_image,
        marks_found,
    })
}

/// Our QR code on the page and its corners in image pixels (top left, top
/// right, bottom right, bottom left, as printed).
fn find_qr(page: &GrayImage) -> Option<(QrContent, [(f64, f64); 4])> {
    let (w, h) = page.dimensions();
    if let Some(found) = find_qr_reduced(page) {
        return Some(found);
    }
    // A low-resolution page (150 dpi and less): modules of 4 pixels or
    // fewer defeat the detector; twice the size does not.
    if w.max(h) > DETECT_SIDE / 2 {
        return None;
    }
    let larger = image::imageops::resize(page, w * 2, h * 2, image::imageops::FilterType::Triangle);
    let (content, corners) = find_qr_reduced(&larger)?;
    Some((content, corners.map(|(x, y)| (x / 2.0, y / 2.0))))
}

fn find_qr_reduced(page: &GrayImage) -> Option<(QrContent, [(f64, f64); 4])> {
    let (w, h) = page.dimensions();
    let factor = w.max(h).div_ceil(DETECT_SIDE).max(1);
    let (sw, sh) = (w / factor, h / factor);
    let sample = |x: usize, y: usize| -> u8 {
        let (x0, y0) = (x as u32 * factor, y as u32 * factor);
        let mut sum = 0_u32;
        for dy in 0..factor {
            for dx in 0..factor {
                sum += u32::from(page.get_pixel(x0 + dx, y0 + dy).0[0]);
            }
        }
        (sum / (factor * factor)) as u8
    };
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(sw as usize, sh as usize, sample);
    for grid in prepared.detect_grids() {
        let decoded = grid.decode();
        let Ok((_, payload)) = decoded else {
            continue;
        };
        if let Some(content) = marks::parse_payload(&payload) {
            let f = f64::from(factor);
            let corners = grid
                .bounds
                .map(|p| (f64::from(p.x) * f + f / 2.0, f64::from(p.y) * f + f / 2.0));
            return Some((content, corners));
        }
    }
    None
}

/// Otsu's threshold of the page's grey levels.
pub(crate) fn otsu(page: &GrayImage) -> u8 {
    let mut histogram = [0_u64; 256];
    for p in page.pixels().step_by(3) {
        histogram[usize::from(p.0[0])] += 1;
    }
    let total: u64 = histogram.iter().sum();
    let sum: f64 = histogram
        .iter()
        .enumerate()
        .map(|(i, &n)| i as f64 * n as f64)
        .sum();
    let (mut weight_b, mut sum_b, mut best, mut threshold) = (0.0, 0.0, 0.0, 128_u8);
    for (i, &n) in histogram.iter().enumerate() {
        weight_b += n as f64;
        if weight_b == 0.0 {
            continue;
        }
        let weight_f = total as f64 - weight_b;
        if weight_f == 0.0 {
            break;
        }
        sum_b += i as f64 * n as f64;
        let (mean_b, mean_f) = (sum_b / weight_b, (sum - sum_b) / weight_f);
        let between = weight_b * weight_f * (mean_b - mean_f).powi(2);
        if between > best {
            best = between;
            threshold = i as u8;
        }
    }
    threshold
}

/// The centre of the registration mark expected at page point (`x`, `y`):
/// the dark, filled, square blob of the right size nearest to where the
/// rough map puts it.
fn find_mark(
    page: &GrayImage,
    rough: &Homography,
    x: f64,
    y: f64,
    threshold: u8,
) -> Option<(f64, f64)> {
    let (cx, cy) = rough.map(x, y);
    let scale = rough.scale_at(x, y);
    let expected = (f64::from(MARK_SIDE) * scale).powi(2);
    let reach = 36.0 * scale;
    let (w, h) = page.dimensions();
    let x0 = (cx - reach).max(0.0) as u32;
    let y0 = (cy - reach).max(0.0) as u32;
    let x1 = ((cx + reach).max(0.0) as u32).min(w);
    let y1 = ((cy + reach).max(0.0) as u32).min(h);
    if x1 <= x0 + 2 || y1 <= y0 + 2 {
        return None;
    }
    let (ww, wh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let dark: Vec<bool> = (0..wh)
        .flat_map(|r| (0..ww).map(move |c| (c, r)))
        .map(|(c, r)| page.get_pixel(x0 + c as u32, y0 + r as u32).0[0] <= threshold)
        .collect();
    let mut seen = vec![false; dark.len()];
    let mut best: Option<((f64, f64), f64)> = None;
    let mut stack = Vec::new();
    for start in 0..dark.len() {
        if !dark[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut n, mut sx, mut sy) = (0_usize, 0.0, 0.0);
        let (mut minx, mut maxx, mut miny, mut maxy) = (usize::MAX, 0, usize::MAX, 0);
        while let Some(i) = stack.pop() {
            let (c, r) = (i % ww, i / ww);
            n += 1;
            sx += c as f64;
            sy += r as f64;
            (minx, maxx, miny, maxy) = (minx.min(c), maxx.max(c), miny.min(r), maxy.max(r));
            let neighbours = [
                (c > 0).then(|| i - 1),
                (c + 1 < ww).then(|| i + 1),
                (r > 0).then(|| i - ww),
                (r + 1 < wh).then(|| i + ww),
            ];
            for j in neighbours.into_iter().flatten() {
                if dark[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        let area = n as f64;
        let (bw, bh) = ((maxx - minx + 1) as f64, (maxy - miny + 1) as f64);
        let squarish = (0.6..=1.6).contains(&(bw / bh));
        let filled = area / (bw * bh) >= 0.55;
        let sized = (0.45..=2.2).contains(&(area / expected));
        if !(squarish && filled && sized) {
            continue;
        }
        let centre = (
            f64::from(x0) + sx / area + 0.5,
            f64::from(y0) + sy / area + 0.5,
        );
        let distance = (centre.0 - cx).hypot(centre.1 - cy);
        if best.is_none_or(|(_, d)| distance < d) {
            best = Some((centre, distance));
        }
    }
    best.map(|(centre, _)| centre)
}
