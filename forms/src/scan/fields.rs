//! Cuts the located page into the form's boxes and reads them: check boxes
//! by ink density, text boxes by OCR, the subscriber number from the QR
//! code first; then the values are tidied (box borders read as `|`, spaces
//! inside addresses) and cross-checked (new address against its
//! confirmation) before their confidences are final.

use std::io::Cursor;

use image::{GrayImage, ImageFormat};

use super::child::ChildLimits;
use super::geometry::cut;
use super::locate::{Located, otsu};
use super::ocr::{self, OCR_SCALE};
use super::{ScanConfig, ScanLimits, ScannedField, ScannedForm, ValueSource};
use crate::definition::{FieldKind, definition};
use crate::render::page_layout;
use crate::values::CHECKED;

/// Pixels per point of the images shown to staff (≈ 144 dpi).
const VIEW_SCALE: f64 = 2.0;
/// Share of dark pixels inside a check box above which it is ticked.
const TICK_INK: f32 = 0.06;
/// Share of dark pixels under which a text box is taken as empty.
const EMPTY_INK: f32 = 0.004;
/// Ceiling of the confidence of a value that fails a cross-check.
const DOUBTFUL: f32 = 0.3;
/// Ceiling of the confidence of the values read on a page filled in
/// capitals, i.e. by hand (« à la main, en lettres capitales »): Tesseract
/// is trained on print and is surer of hand-printed words than it should
/// be (a letter gap read as a space, « PRO VISEUR » at 92 %), so staff
/// check them all (under any sensible `intake.ocr.min_confidence`).
const HAND_PRINTED: f32 = 0.6;

pub(crate) fn read_fields(
    page: &GrayImage,
    page_number: usize,
    located: Located,
    config: &ScanConfig,
    limits: &ScanLimits,
) -> ScannedForm {
    let layout = page_layout();
    let h = &located.to_image;
    let threshold = otsu(page);
    let mut fields = Vec::with_capacity(layout.fields.len());
    let mut ocr_boxes = Vec::new();
    let mut ocr_index = Vec::new();
    for placement in &layout.fields {
        let Some(def) = definition().field(&placement.name) else {
            continue;
        };
        let image_png = png(&cut(page, h, placement.rect, VIEW_SCALE));
        let mut field = ScannedField {
            name: def.name.clone(),
            value: None,
            confidence: 1.0,
            source: ValueSource::Ocr,
            image_png,
        };
        match def.kind {
            FieldKind::Checkbox => {
                let inner = inset(placement.rect, 2.0, 2.0);
                let ink = ink_share(&cut(page, h, inner, OCR_SCALE), threshold);
                field.source = ValueSource::Ink;
                // Far from the threshold on either side: sure.
                field.confidence = ((ink - TICK_INK).abs() / TICK_INK).min(1.0);
                if ink >= TICK_INK {
                    field.value = Some(CHECKED.to_owned());
                }
            }
            FieldKind::Text => {
                let mut crop = cut(page, h, inset(placement.rect, 1.2, 1.6), OCR_SCALE);
                erase_rules(&mut crop, threshold);
                erase_specks(&mut crop, threshold);
                if ink_share(&crop, threshold) >= EMPTY_INK {
                    ocr_index.push(fields.len());
                    ocr_boxes.push(crop);
                }
            }
        }
        fields.push(field);
    }

    let child_limits = ChildLimits {
        wall: limits.child_time,
        memory_bytes: limits.child_memory_bytes,
        max_output_bytes: 1024 * 1024,
    };
    let mut ocr_error = None;
    match ocr::read_boxes(&ocr_boxes, config, child_limits) {
        Ok(readings) => {
            let (mut lettered, mut capitals) = (0, 0);
            for (i, reading) in ocr_index.iter().zip(readings) {
                let field = &mut fields[*i];
                if let Some(r) = &reading {
                    match letter_case(&r.text) {
                        Some(true) => (lettered, capitals) = (lettered + 1, capitals + 1),
                        Some(false) => lettered += 1,
                        None => {}
                    }
                }
                match reading.and_then(|r| tidy(&field.name, &r.text).map(|t| (t, r.confidence))) {
                    Some((text, confidence)) => {
                        field.value = Some(text);
                        field.confidence = confidence;
                    }
                    // Ink but no text: something is there that was not read.
                    None => field.confidence = 0.0,
                }
            }
            if capitals * 2 > lettered {
                for i in &ocr_index {
                    let field = &mut fields[*i];
                    field.confidence = field.confidence.min(HAND_PRINTED);
                }
            }
        }
        Err(e) => {
            for i in &ocr_index {
                fields[*i].confidence = 0.0;
            }
            ocr_error = Some(e);
        }
    }

    if let Some(number) = &located.qr.subscriber
        && let Some(field) = fields.iter_mut().find(|f| f.name == "numero_abonne")
    {
        field.value = Some(number.clone());
        field.confidence = 1.0;
        field.source = ValueSource::QrCode;
    }
    cross_check(&mut fields);
    if located.marks_found < 3 {
        for field in fields
            .iter_mut()
            .filter(|f| f.source != ValueSource::QrCode)
        {
            field.confidence /= 2.0;
        }
    }

    ScannedForm {
        page: page_number,
        form_version: located.qr.version,
        qr_subscriber: located.qr.subscriber,
        marks_found: located.marks_found,
        fields,
        stamp_png: png(&cut(page, h, layout.stamp, VIEW_SCALE)),
        signature_png: png(&cut(page, h, layout.signature, VIEW_SCALE)),
        ocr_error,
    }
}

fn inset(rect: [f32; 4], dx: f32, dy: f32) -> [f32; 4] {
    [rect[0] + dx, rect[1] + dy, rect[2] - dx, rect[3] - dy]
}

fn ink_share(image: &GrayImage, threshold: u8) -> f32 {
    let total = image.pixels().len().max(1);
    let dark = image.pixels().filter(|p| p.0[0] <= threshold).count();
    dark as f32 / total as f32
}

/// Whitens what is left of the box's border at the edges of a crop: rows
/// near the top or bottom, and columns near the sides, that are mostly dark.
fn erase_rules(crop: &mut GrayImage, threshold: u8) {
    let (w, h) = crop.dimensions();
    let dark_row = |img: &GrayImage, y: u32| {
        (0..w)
            .filter(|&x| img.get_pixel(x, y).0[0] <= threshold)
            .count() as u32
            * 10
            > w * 7
    };
    let band = h / 4;
    for y in (0..band).chain(h - band..h) {
        if dark_row(crop, y) {
            for x in 0..w {
                crop.put_pixel(x, y, image::Luma([255]));
            }
        }
    }
    let dark_col = |img: &GrayImage, x: u32| {
        (0..h)
            .filter(|&y| img.get_pixel(x, y).0[0] <= threshold)
            .count() as u32
            * 10
            > h * 9
    };
    // A border runs the whole height; a letter's stem (J, l) does not.
    let side = ((2.5 * OCR_SCALE) as u32).min(w / 2);
    for x in (0..side).chain(w - side..w) {
        if dark_col(crop, x) {
            for y in 0..h {
                crop.put_pixel(x, y, image::Luma([255]));
            }
        }
    }
}

/// Whitens dark specks smaller than the dot of an i or a full stop (about
/// 1 pt², i.e. 16 pixels at the OCR scale): scanner dust and speckle.
fn erase_specks(crop: &mut GrayImage, threshold: u8) {
    const MAX_SPECK: usize = 10;
    let (w, h) = (crop.width() as usize, crop.height() as usize);
    let dark =
        |img: &GrayImage, i: usize| img.get_pixel((i % w) as u32, (i / w) as u32).0[0] <= threshold;
    let mut seen = vec![false; w * h];
    let mut component = Vec::new();
    for start in 0..w * h {
        if seen[start] || !dark(crop, start) {
            continue;
        }
        seen[start] = true;
        component.clear();
        component.push(start);
        let mut next = 0;
        while next < component.len() {
            let i = component[next];
            next += 1;
            let (x, y) = (i % w, i / w);
            for dy in -1_i64..=1 {
                for dx in -1_i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if !seen[j] && dark(crop, j) {
                        seen[j] = true;
                        component.push(j);
                    }
                }
            }
        }
        if component.len() <= MAX_SPECK {
            for &i in &component {
                crop.put_pixel((i % w) as u32, (i / w) as u32, image::Luma([255]));
            }
        }
    }
}

/// Whether `text` is written in capitals (`Some(true)`: at most one letter
/// in five in lower case, as when an `@` is read as `e`), in mixed or lower
/// case (`Some(false)`), or has too few letters to say (`None`).
fn letter_case(text: &str) -> Option<bool> {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let lower = text.chars().filter(|c| c.is_lowercase()).count();
    (letters >= 3).then_some(lower * 5 <= letters)
}

/// Cleans an OCR reading for field `name`; `None` if nothing is left.
fn tidy(name: &str, text: &str) -> Option<String> {
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || "|[]{}_".contains(c));
    let mut value = trimmed.replace(" | ", " ").replace('|', "");
    // Viewers that substitute Helvetica print some capitals narrower than
    // their advance, and the gap after them reads as a space: « J ean »,
    // « Lefèbvre-R uiz ». A lone J, or a lone capital after a hyphen,
    // followed by lower case, is one word in French.
    let joinable = |value: &str, i: usize| {
        let before = &value[..i];
        let letter = value[i..].chars().next();
        let lone = before.is_empty() || before.ends_with([' ', '-', '\'', '«']);
        lone && value[i..].chars().nth(1) == Some(' ')
            && value[i..].chars().nth(2).is_some_and(char::is_lowercase)
            && (letter == Some('J')
                || (before.ends_with('-') && letter.is_some_and(char::is_uppercase)))
    };
    while let Some(at) = value
        .char_indices()
        .map(|(i, _)| i)
        .find(|&i| joinable(&value, i))
    {
        let space = at + value[at..].chars().next().map_or(1, char::len_utf8);
        value.replace_range(space..space + 1, "");
    }
    if name.contains("adresse_mel") {
        // Addresses are read in lower case: OCR confuses j/J, c/C, o/O.
        value.retain(|c| !c.is_whitespace());
        value = value.to_lowercase();
    }
    let value = value.trim().to_owned();
    (!value.is_empty()).then_some(value)
}

/// Lowers the confidence of values that contradict the form itself: the
/// new address and its confirmation must agree and look like addresses.
fn cross_check(fields: &mut [ScannedField]) {
    let value = |fields: &[ScannedField], name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value.clone())
    };
    let new = value(fields, "nouvelle_adresse_mel");
    let confirmation = value(fields, "nouvelle_adresse_mel_confirmation");
    let agree = new.is_some() && new == confirmation;
    for field in fields.iter_mut() {
        let Some(v) = &field.value else { continue };
        let address_field = field.name.contains("adresse_mel");
        let shaped =
            v.matches('@').count() == 1 && v.rsplit('@').next().is_some_and(|d| d.contains('.'));
        let disagrees = field.name.starts_with("nouvelle_adresse_mel") && !agree;
        if address_field && (!shaped || disagrees) {
            field.confidence = field.confidence.min(DOUBTFUL);
        }
    }
}

fn png(image: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    // Encoding an in-memory grey image into a Vec cannot fail.
    let _ = image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png);
    out
}
