//! Text recognition by Tesseract 5 as a child process. The boxes of all
//! text fields are stacked into one strip, read in one run (`--psm 6`, TSV
//! output with a confidence per word), and each word goes back to the field
//! whose band holds it: one process start per page instead of one per field.

use std::io::Cursor;
use std::process::{Command, Stdio};

use image::{GrayImage, ImageFormat};

use super::ScanConfig;
use super::child::{self, ChildLimits};

/// Pixels per point of the boxes handed to Tesseract (≈ 288 dpi): capitals
/// of the 10 pt values are then about 30 pixels high.
pub(crate) const OCR_SCALE: f64 = 4.0;
/// White between two stacked boxes, and around the strip, in pixels.
const GAP: u32 = 28;

/// Text read in one box, with Tesseract's lowest word confidence (0–1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reading {
    pub text: String,
    pub confidence: f32,
}

/// Whether Tesseract runs here with the configured language, and pdftoppm
/// (image PDFs); `Err` says, in French, what is missing and how to install it.
pub fn ocr_availability(config: &ScanConfig) -> Result<String, String> {
    let output = Command::new(&config.tesseract)
        .arg("--list-langs")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|_| {
            format!(
                "lecture des formulaires numérisés indisponible : programme « {} » introuvable \
                 (installez-le : apt-get install tesseract-ocr tesseract-ocr-fra)",
                config.tesseract.display()
            )
        })?;
    let languages = String::from_utf8_lossy(&output.stdout);
    if !languages.lines().any(|l| l.trim() == config.language) {
        return Err(format!(
            "lecture des formulaires numérisés indisponible : langue « {} » absente de Tesseract \
             (installez-la : apt-get install tesseract-ocr-{})",
            config.language, config.language
        ));
    }
    // Image-only PDFs, the usual scan, are rasterised by pdftoppm.
    Command::new(&config.pdftoppm)
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|_| {
            format!(
                "lecture des formulaires numérisés en PDF indisponible : programme « {} » \
                 introuvable (installez-le : apt-get install poppler-utils)",
                config.pdftoppm.display()
            )
        })?;
    Ok(format!("tesseract ({}), pdftoppm", config.language))
}

/// Reads each of `boxes` (upright crops at [`OCR_SCALE`]); `None` for a box
/// in which nothing was recognised.
pub(crate) fn read_boxes(
    boxes: &[GrayImage],
    config: &ScanConfig,
    limits: ChildLimits,
) -> Result<Vec<Option<Reading>>, String> {
    if boxes.is_empty() {
        return Ok(Vec::new());
    }
    let width = boxes.iter().map(GrayImage::width).max().unwrap_or(1) + 2 * GAP;
    let height = boxes.iter().map(|b| b.height() + GAP).sum::<u32>() + GAP;
    let mut strip = GrayImage::from_pixel(width, height, image::Luma([255]));
    let mut bands = Vec::with_capacity(boxes.len());
    let mut y = GAP;
    for b in boxes {
        image::imageops::replace(&mut strip, b, i64::from(GAP), i64::from(y));
        bands.push((y, y + b.height()));
        y += b.height() + GAP;
    }
    let mut png = Vec::new();
    strip
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| format!("image pour l'OCR : {e}"))?;
    let dpi = format!("{}", (OCR_SCALE * 72.0).round());
    let tsv = child::run(
        &config.tesseract,
        &[
            "stdin",
            "stdout",
            "-l",
            &config.language,
            "--psm",
            "6",
            "--dpi",
            &dpi,
            "tsv",
        ],
        &png,
        limits,
    )?;
    Ok(assign_words(&String::from_utf8_lossy(&tsv), &bands))
}

/// Puts each recognised word of the TSV into the band that holds its middle.
fn assign_words(tsv: &str, bands: &[(u32, u32)]) -> Vec<Option<Reading>> {
    let mut words: Vec<Vec<(u32, String, f32)>> = vec![Vec::new(); bands.len()];
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let number = |i: usize| cols[i].trim().parse::<f32>().ok();
        let (Some(left), Some(top), Some(height), Some(conf)) =
            (number(6), number(7), number(9), number(10))
        else {
            continue;
        };
        let text = cols[11].trim();
        // Punctuation read with little confidence is dust, not text.
        let junk = conf < 40.0 && !text.chars().any(char::is_alphanumeric);
        if text.is_empty() || conf < 0.0 || junk {
            continue;
        }
        let middle = top + height / 2.0;
        if let Some(i) = bands
            .iter()
            .position(|&(a, b)| middle >= a as f32 && middle < b as f32)
        {
            words[i].push((left as u32, text.to_owned(), conf / 100.0));
        }
    }
    words
        .into_iter()
        .map(|mut w| {
            if w.is_empty() {
                return None;
            }
            w.sort_by_key(|(left, _, _)| *left);
            let confidence = w.iter().map(|(_, _, c)| *c).fold(1.0_f32, f32::min);
            let text: Vec<String> = w.into_iter().map(|(_, t, _)| t).collect();
            Some(Reading {
                text: text.join(" "),
                confidence,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_go_to_the_band_holding_their_middle() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   5\t1\t1\t1\t1\t1\t200\t30\t50\t20\t96.5\tMoulin\n\
                   5\t1\t1\t1\t1\t2\t40\t31\t50\t20\t91.0\tJean\n\
                   4\t1\t1\t1\t1\t0\t40\t30\t300\t20\t-1\t\n\
                   5\t1\t1\t1\t2\t1\t40\t112\t50\t20\t88.0\tDupont\n";
        let got = assign_words(tsv, &[(28, 60), (88, 140), (168, 200)]);
        assert_eq!(
            got[0],
            Some(Reading {
                text: "Jean Moulin".into(),
                confidence: 0.91
            })
        );
        assert_eq!(got[1].as_ref().map(|r| r.text.as_str()), Some("Dupont"));
        assert_eq!(got[2], None);
    }
}
