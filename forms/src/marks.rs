//! What the printed form carries for a scanner (SPEC §4, scanned form): a QR
//! code holding the form version and the pre-filled subscriber number, and
//! four registration marks near the corners of the page. The QR code says
//! "this page is our form" and where it is roughly; the marks, far apart,
//! give the exact position of every box even on a tilted or photographed
//! page.

use qrcode::{EcLevel, QrCode, Version};

use crate::canvas::{Canvas, INK};

/// Start of the QR payload: `BAREME-MEL/<version>/<subscriber number>`.
pub(crate) const QR_PREFIX: &str = "BAREME-MEL/";
/// The QR code's version (size) never changes, so its place never does:
/// version 3 (29 modules) holds the longest payload at level M.
const QR_VERSION: i16 = 3;
/// Modules of a version 3 QR code.
pub(crate) const QR_MODULES: usize = 29;
/// Side of one module, in points.
pub(crate) const QR_MODULE: f32 = 2.0;
/// Bottom-left corner of the QR code on the page, in points: under the State
/// block, left of the title, with white all round.
pub(crate) const QR_ORIGIN: (f32, f32) = (45.0, 693.0);
/// Side of a registration mark (a filled black square), in points.
pub(crate) const MARK_SIDE: f32 = 9.0;
/// Centres of the registration marks, in points: top left, top right,
/// bottom right, bottom left.
pub(crate) const MARKS: [(f32, f32); 4] =
    [(25.0, 817.0), (570.0, 817.0), (570.0, 25.0), (25.0, 25.0)];

/// Side of the QR code, in points.
pub(crate) fn qr_side() -> f32 {
    QR_MODULES as f32 * QR_MODULE
}

/// The QR payload for a form `version`, pre-filled with `subscriber` or not.
pub(crate) fn qr_payload(version: &str, subscriber: Option<&str>) -> String {
    format!("{QR_PREFIX}{version}/{}", subscriber.unwrap_or(""))
}

/// What a QR code of our form says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QrContent {
    pub version: String,
    pub subscriber: Option<String>,
}

/// Parses a QR payload; `None` when it is not one of our forms.
pub(crate) fn parse_payload(payload: &str) -> Option<QrContent> {
    let rest = payload.strip_prefix(QR_PREFIX)?;
    let (version, subscriber) = rest.split_once('/')?;
    let plausible = |s: &str| s.len() <= 20 && s.chars().all(|c| c.is_ascii_graphic());
    if version.is_empty() || !plausible(version) || !plausible(subscriber) {
        return None;
    }
    Some(QrContent {
        version: version.to_owned(),
        subscriber: (!subscriber.is_empty()).then(|| subscriber.to_owned()),
    })
}

/// Draws the QR code and the registration marks. `subscriber` was checked
/// by the caller (at most 20 printable ASCII characters).
pub(crate) fn draw(c: &mut Canvas, version: &str, subscriber: Option<&str>) {
    for (x, y) in MARKS {
        let half = MARK_SIDE / 2.0;
        c.fill(x - half, y - half, MARK_SIDE, MARK_SIDE, INK);
    }
    let payload = qr_payload(version, subscriber);
    // The payload is at most 11 + 20 + 1 + 20 bytes: it always fits.
    let Ok(code) = QrCode::with_version(payload, Version::Normal(QR_VERSION), EcLevel::M) else {
        return;
    };
    let modules = code.to_colors();
    let (x0, y0) = QR_ORIGIN;
    let top = y0 + qr_side();
    for (i, module) in modules.iter().enumerate() {
        if *module == qrcode::Color::Dark {
            let (col, row) = (i % QR_MODULES, i / QR_MODULES);
            // A hair wider than a module so that neighbours print as one.
            c.fill(
                x0 + col as f32 * QR_MODULE,
                top - (row + 1) as f32 * QR_MODULE,
                QR_MODULE + 0.05,
                QR_MODULE + 0.05,
                INK,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_payload_fits_the_fixed_qr_version() {
        let payload = qr_payload("2026.1-long", Some(&"9".repeat(20)));
        let code = QrCode::with_version(payload, Version::Normal(QR_VERSION), EcLevel::M);
        assert_eq!(code.map(|c| c.width()).ok(), Some(QR_MODULES));
    }

    #[test]
    fn payloads_round_trip_and_others_are_refused() {
        let parsed = parse_payload(&qr_payload("2026.1", Some("12345")));
        assert_eq!(parsed.and_then(|p| p.subscriber).as_deref(), Some("12345"));
        assert_eq!(
            parse_payload(&qr_payload("2026.1", None)).map(|p| p.subscriber),
            Some(None)
        );
        assert_eq!(parse_payload("https://example.org/"), None);
        assert_eq!(parse_payload("BAREME-MEL/2026.1/12\n34"), None);
    }
}
