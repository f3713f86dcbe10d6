//! Reads a scanned copy of the form (SPEC §4, scanned form): an image-only
//! PDF, a JPEG or a PNG. Each page is searched for the form's QR code; on
//! the form's page the registration marks give the exact position of every
//! box; text fields are read by Tesseract (child process), check boxes by
//! ink density, and the stamp and signature zones are cut out as images.
//! Every value carries a confidence; the caller decides what to trust.
//!
//! ```no_run
//! use bareme_forms::{ScanConfig, ScanLimits, ScanOutcome, read_scan};
//!
//! # let bytes = Vec::new();
//! match read_scan(&bytes, &ScanConfig::default(), &ScanLimits::default()) {
//!     ScanOutcome::Form(form) => {
//!         for field in &form.fields {
//!             println!("{} = {:?} ({:.0} %)", field.name, field.value, field.confidence * 100.0);
//!         }
//!     }
//!     ScanOutcome::NotAForm { reason } => println!("saisie manuelle : {reason}"),
//! }
//! ```

mod child;
mod fields;
mod geometry;
mod locate;
mod ocr;
mod raster;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use ocr::ocr_availability;

use crate::values::FormValues;

/// Outside programs used by the scan reader.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// The `tesseract` binary (Tesseract 5, with the language below).
    pub tesseract: PathBuf,
    /// The `pdftoppm` binary (poppler-utils).
    pub pdftoppm: PathBuf,
    /// Tesseract language (`fra`).
    pub language: String,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            tesseract: "tesseract".into(),
            pdftoppm: "pdftoppm".into(),
            language: "fra".into(),
        }
    }
}

/// Bounds applied to untrusted scans.
#[derive(Debug, Clone)]
pub struct ScanLimits {
    /// Larger files are not opened.
    pub max_input_bytes: usize,
    /// Largest decoded image, in pixels (a 600 dpi A4 page is 35 million).
    pub max_pixels: u64,
    /// Longest side of a decoded image, in pixels.
    pub max_side_pixels: u32,
    /// Most bytes of decoded samples (checked on the header, before decoding).
    pub max_decoded_bytes: u64,
    /// Pages of a PDF searched for the form.
    pub max_pages: u32,
    /// Longest side, in pixels, of a PDF page rasterised by pdftoppm.
    pub pdf_render_side: u32,
    /// Wall-clock limit of one child process (pdftoppm, tesseract).
    pub child_time: Duration,
    /// Address-space limit of one child process.
    pub child_memory_bytes: u64,
    /// Time after which no further page is searched.
    pub total_time: Duration,
}

impl Default for ScanLimits {
    fn default() -> Self {
        Self {
            max_input_bytes: 20 * 1024 * 1024,
            max_pixels: 40_000_000,
            max_side_pixels: 12_000,
            // A 600 dpi A4 colour scan decodes to 105 MB; a PNG bomb of
            // 35 Mpx RGBA (139 MB) is refused before it is decoded.
            max_decoded_bytes: 128 * 1024 * 1024,
            max_pages: 4,
            pdf_render_side: 2400,
            child_time: Duration::from_secs(20),
            child_memory_bytes: 1024 * 1024 * 1024,
            total_time: Duration::from_secs(40),
        }
    }
}

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueSource {
    /// The form's QR code (the pre-filled subscriber number).
    QrCode,
    /// Text recognition in the field's box.
    Ocr,
    /// Ink density in a check box.
    Ink,
}

/// One field of the scanned form.
#[derive(Debug, Clone)]
pub struct ScannedField {
    /// Field name (SPEC §3).
    pub name: String,
    /// What was read (`"oui"` for a ticked box); `None`: empty or unread.
    pub value: Option<String>,
    /// Confidence in `value` (or in the box being empty), from 0 to 1.
    pub confidence: f32,
    /// Where the value comes from.
    pub source: ValueSource,
    /// The field's box as cut from the scan (PNG, grey), for staff.
    pub image_png: Vec<u8>,
}

/// The form found in a scan.
#[derive(Debug, Clone)]
pub struct ScannedForm {
    /// Page of the scan holding the form (from 1).
    pub page: usize,
    /// Form version printed in the QR code.
    pub form_version: String,
    /// Subscriber number pre-filled in the QR code, if any.
    pub qr_subscriber: Option<String>,
    /// Registration marks found (out of 4); fewer than 3 means the boxes
    /// were placed from the QR code alone, and every confidence is halved.
    pub marks_found: usize,
    /// Every field of the definition, in reading order.
    pub fields: Vec<ScannedField>,
    /// The stamp zone (PNG, grey).
    pub stamp_png: Vec<u8>,
    /// The signature zone (PNG, grey).
    pub signature_png: Vec<u8>,
    /// Why the text fields were not read, when they were not (no
    /// Tesseract, time limit): the QR code and check boxes still count.
    pub ocr_error: Option<String>,
}

impl ScannedForm {
    /// The values read, all of them, whatever their confidence.
    pub fn values(&self) -> FormValues {
        let mut values = FormValues::new();
        for field in &self.fields {
            if let Some(value) = &field.value {
                values.insert(&field.name, value);
            }
        }
        values
    }

    /// Names of the fields holding a value read with a confidence below
    /// `min_confidence`.
    pub fn uncertain(&self, min_confidence: f32) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| f.value.is_some() && f.confidence < min_confidence)
            .map(|f| f.name.as_str())
            .collect()
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&ScannedField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// What a scan gave.
#[derive(Debug, Clone)]
pub enum ScanOutcome {
    /// The form was found (its values may still be partly unread).
    Form(Box<ScannedForm>),
    /// Not our form, or unreadable; `reason` says why, in French.
    NotAForm {
        /// Why nothing was read.
        reason: String,
    },
}

/// Reads a scan (PDF, JPEG or PNG) within `limits`. Never panics.
pub fn read_scan(bytes: &[u8], config: &ScanConfig, limits: &ScanLimits) -> ScanOutcome {
    match catch_unwind(AssertUnwindSafe(|| read_inner(bytes, config, limits))) {
        Ok(Ok(form)) => ScanOutcome::Form(Box::new(form)),
        Ok(Err(reason)) => ScanOutcome::NotAForm { reason },
        Err(_) => ScanOutcome::NotAForm {
            reason: "numérisation illisible (erreur interne de lecture)".into(),
        },
    }
}

fn read_inner(
    bytes: &[u8],
    config: &ScanConfig,
    limits: &ScanLimits,
) -> Result<ScannedForm, String> {
    let started = Instant::now();
    let pages = raster::pages(bytes, config, limits)?;
    for (i, page) in pages.iter().enumerate() {
        if started.elapsed() > limits.total_time {
            return Err("numérisation : temps de lecture dépassé".into());
        }
        if let Some(located) = locate::locate(page) {
            return Ok(fields::read_fields(page, i + 1, located, config, limits));
        }
    }
    Err(
        "aucun formulaire reconnu dans la numérisation (QR code du formulaire absent ou illisible)"
            .into(),
    )
}
