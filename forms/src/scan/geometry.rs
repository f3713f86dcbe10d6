//! Plane geometry for scans: a homography (page points → image pixels)
//! fitted on four point pairs, and resampling of a page rectangle into an
//! upright image at a chosen scale.

use image::GrayImage;

/// A projective map of the plane, `h[8]` normalised to 1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Homography([f64; 9]);

impl Homography {
    /// The map sending each `from[i]` to `to[i]`; `None` when the points are
    /// degenerate (three on a line).
    pub(crate) fn fit(from: &[(f64, f64); 4], to: &[(f64, f64); 4]) -> Option<Self> {
        // Eight equations in h0..h7 (h8 = 1).
        let mut a = [[0.0_f64; 9]; 8];
        for i in 0..4 {
            let (x, y) = from[i];
            let (u, v) = to[i];
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        let h = solve8(a)?;
        let homography = Self([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0]);
        homography
            .0
            .iter()
            .all(|v| v.is_finite())
            .then_some(homography)
    }

    /// The affine map closest (least squares) to sending each `from[i]` to
    /// `to[i]`: steadier than [`Homography::fit`] when the points are close
    /// together and the map is used far from them.
    pub(crate) fn fit_affine(from: &[(f64, f64); 4], to: &[(f64, f64); 4]) -> Option<Self> {
        let n = from.len() as f64;
        let mean = |p: &[(f64, f64); 4]| {
            let (sx, sy) = p.iter().fold((0.0, 0.0), |(a, b), q| (a + q.0, b + q.1));
            (sx / n, sy / n)
        };
        let (fx, fy) = mean(from);
        let (tx, ty) = mean(to);
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        let (mut sux, mut suy, mut svx, mut svy) = (0.0, 0.0, 0.0, 0.0);
        for (f, t) in from.iter().zip(to.iter()) {
            let (x, y, u, v) = (f.0 - fx, f.1 - fy, t.0 - tx, t.1 - ty);
            sxx += x * x;
            sxy += x * y;
            syy += y * y;
            sux += u * x;
            suy += u * y;
            svx += v * x;
            svy += v * y;
        }
        let det = sxx * syy - sxy * sxy;
        if det.abs() < 1e-9 {
            return None;
        }
        let a = (sux * syy - suy * sxy) / det;
        let b = (suy * sxx - sux * sxy) / det;
        let d = (svx * syy - svy * sxy) / det;
        let e = (svy * sxx - svx * sxy) / det;
        let c = tx - a * fx - b * fy;
        let f = ty - d * fx - e * fy;
        Some(Self([a, b, c, d, e, f, 0.0, 0.0, 1.0]))
    }

    /// Where `(x, y)` goes.
    pub(crate) fn map(&self, x: f64, y: f64) -> (f64, f64) {
        let h = &self.0;
        let w = h[6] * x + h[7] * y + h[8];
        (
            (h[0] * x + h[1] * y + h[2]) / w,
            (h[3] * x + h[4] * y + h[5]) / w,
        )
    }

    /// Image pixels per page point around `(x, y)` (mean of both axes).
    pub(crate) fn scale_at(&self, x: f64, y: f64) -> f64 {
        let (x0, y0) = self.map(x, y);
        let (x1, y1) = self.map(x + 1.0, y);
        let (x2, y2) = self.map(x, y + 1.0);
        (((x1 - x0).hypot(y1 - y0)) + ((x2 - x0).hypot(y2 - y0))) / 2.0
    }
}

/// Gauss–Jordan elimination with partial pivoting on an 8×9 augmented matrix.
fn solve8(mut a: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let p = a[col][col];
        for v in a[col].iter_mut() {
            *v /= p;
        }
        for row in 0..8 {
            if row != col {
                let factor = a[row][col];
                if factor != 0.0 {
                    let pivot_row = a[col];
                    for (v, pv) in a[row].iter_mut().zip(pivot_row.iter()) {
                        *v -= factor * pv;
                    }
                }
            }
        }
    }
    let mut x = [0.0; 8];
    for (i, v) in x.iter_mut().enumerate() {
        *v = a[i][8];
    }
    Some(x)
}

/// Resamples the page rectangle `rect` (`[x0, y0, x1, y1]` in points, y up)
/// into an upright image of `scale` pixels per point, bilinear; outside the
/// source is white.
pub(crate) fn cut(
    source: &GrayImage,
    to_image: &Homography,
    rect: [f32; 4],
    scale: f64,
) -> GrayImage {
    let [x0, y0, x1, y1] = rect.map(f64::from);
    let width = (((x1 - x0) * scale).round() as u32).clamp(1, 4096);
    let height = (((y1 - y0) * scale).round() as u32).clamp(1, 4096);
    let mut out = GrayImage::new(width, height);
    for (col, row, pixel) in out.enumerate_pixels_mut() {
        let px = x0 + (f64::from(col) + 0.5) / scale;
        let py = y1 - (f64::from(row) + 0.5) / scale;
        let (u, v) = to_image.map(px, py);
        pixel.0[0] = bilinear(source, u - 0.5, v - 0.5);
    }
    out
}

fn bilinear(source: &GrayImage, u: f64, v: f64) -> u8 {
    let (w, h) = source.dimensions();
    if !(u >= 0.0 && v >= 0.0 && u < f64::from(w - 1) && v < f64::from(h - 1)) {
        return 255;
    }
    let (x, y) = (u.floor(), v.floor());
    let (fx, fy) = (u - x, v - y);
    let (x, y) = (x as u32, y as u32);
    let p = |dx, dy| f64::from(source.get_pixel(x + dx, y + dy).0[0]);
    let top = p(0, 0) * (1.0 - fx) + p(1, 0) * fx;
    let bottom = p(0, 1) * (1.0 - fx) + p(1, 1) * fx;
    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fitted_homography_sends_the_points_where_asked() {
        let from = [(0.0, 0.0), (100.0, 0.0), (100.0, 50.0), (0.0, 50.0)];
        let to = [(10.0, 20.0), (215.0, 25.0), (210.0, 130.0), (8.0, 118.0)];
        let h = Homography::fit(&from, &to).unwrap();
        for (f, t) in from.iter().zip(to.iter()) {
            let (u, v) = h.map(f.0, f.1);
            assert!((u - t.0).abs() < 1e-6 && (v - t.1).abs() < 1e-6);
        }
        assert!(Homography::fit(&from, &[(0.0, 0.0); 4]).is_none());
        let turned = from.map(|(x, y)| (2.0 * y + 7.0, -2.0 * x + 300.0));
        let affine = Homography::fit_affine(&from, &turned).unwrap();
        let (u, v) = affine.map(1000.0, -400.0);
        assert!((u - -793.0).abs() < 1e-6 && (v - -1700.0).abs() < 1e-6);
    }
}
