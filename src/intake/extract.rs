//! Extract: the form's field values, in the order of SPEC §4 — AcroForm
//! fields of an attached PDF, then the text of a flattened PDF or of the
//! mail body (the form's labels, `N° abonné : 12345`), then a scanned form
//! (image-only PDF, JPEG, PNG: `bareme_forms::read_scan`, Tesseract as a
//! bounded child process), then nothing (the request is flagged for manual
//! entry; staff key the fields in from the scan).

use super::parse::{Attachment, ParsedMail};
use crate::config::Settings;
use bareme_forms::{
    FormValues, ReadOutcome, ScanConfig, ScanLimits, ScanOutcome, ScannedForm, read_pdf, read_scan,
    read_text,
};

/// Where the values came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    AcroForm,
    PdfText,
    Body,
    Scan,
    Nothing,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AcroForm => "acroform",
            Self::PdfText => "pdf_text",
            Self::Body => "body",
            Self::Scan => "scan",
            Self::Nothing => "nothing",
        }
    }
}

/// The values found and what staff should know about the attempt.
#[derive(Debug, Clone)]
pub struct Extraction {
    pub values: FormValues,
    pub source: Source,
    /// Why a PDF gave nothing (French, for staff), at most a few.
    pub notes: Vec<String>,
    /// An image or an image-only PDF was attached: a scan for manual entry.
    pub has_scan: bool,
    /// The form found in a scan (also when its text could not be read: the
    /// box images are still shown to staff).
    pub scan: Option<Box<ScannedForm>>,
    /// Fields of the scan read with a confidence under the threshold.
    pub uncertain: Vec<String>,
}

/// How scans are read: the outside programs, the bounds, the threshold.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    pub config: ScanConfig,
    pub limits: ScanLimits,
    /// `intake.ocr.min_confidence`.
    pub min_confidence: f32,
}

impl ScanSettings {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            config: settings.intake.ocr.scan_config(),
            limits: ScanLimits::default(),
            min_confidence: settings.intake.ocr.min_confidence,
        }
    }
}

/// Flag of a request holding values read with a low confidence.
pub const UNCERTAIN_READING: &str = "lecture_incertaine";

/// At most this many PDFs are opened per mail.
const MAX_PDFS: usize = 5;
/// At most this many images or image-only PDFs are searched for the form.
const MAX_SCANS: usize = 3;

/// True for a PDF attachment, whatever its declared type.
pub fn is_pdf(a: &Attachment) -> bool {
    a.content_type == "application/pdf"
        || a.filename
            .as_deref()
            .is_some_and(|f| f.to_ascii_lowercase().ends_with(".pdf"))
        || (!super::tnef::is_tnef(&a.data)
            && a.data
                .get(..1024.min(a.data.len()))
                .is_some_and(|h| h.windows(5).any(|w| w == b"%PDF-")))
}

fn is_image(a: &Attachment) -> bool {
    a.content_type.starts_with("image/")
        || a.filename.as_deref().is_some_and(|f| {
            let f = f.to_ascii_lowercase();
            [".jpg", ".jpeg", ".png", ".tif", ".tiff", ".heic"]
                .iter()
                .any(|e| f.ends_with(e))
        })
}

/// Runs the extraction on a parsed mail. Bounded (documents under their
/// budgets, scans under [`ScanLimits`]); never panics. Blocking: the
/// scan step runs child processes.
pub fn extract(mail: &ParsedMail, scan: &ScanSettings) -> Extraction {
    let mut notes = Vec::new();
    let mut pdf_text: Option<FormValues> = None;
    let mut has_scan = mail.attachments.iter().any(is_image);
    let mut scans: Vec<&Attachment> = mail.attachments.iter().filter(|a| is_image(a)).collect();
    for a in mail.attachments.iter().filter(|a| is_pdf(a)).take(MAX_PDFS) {
        match read_pdf(&a.data) {
            ReadOutcome::AcroForm(values) => {
                return Extraction {
                    values,
                    source: Source::AcroForm,
                    notes,
                    has_scan,
                    scan: None,
                    uncertain: Vec::new(),
                };
            }
            ReadOutcome::Text(values) => {
                if pdf_text.as_ref().is_none_or(|v| v.len() < values.len()) {
                    pdf_text = Some(values);
                }
            }
            ReadOutcome::NoFields { reason } => {
                if reason.contains("numérisé") {
                    has_scan = true;
                    scans.push(a);
                }
                if notes.len() < 3 {
                    notes.push(reason);
                }
            }
        }
    }
    let text = pdf_text.map(|v| (v, Source::PdfText)).or_else(|| {
        mail.texts
            .iter()
            .map(|t| read_text(&unflow(t)))
            .max_by_key(FormValues::len)
            .filter(|v| !v.is_empty())
            .map(|v| (v, Source::Body))
    });
    // Labels that name the subscriber or the new address are the form's
    // text; a stray « Téléphone : » in a signature does not outrank a scan.
    if let Some((values, source)) = &text
        && (values.get("numero_abonne").is_some() || values.get("nouvelle_adresse_mel").is_some())
    {
        return Extraction {
            values: values.clone(),
            source: *source,
            notes,
            has_scan,
            scan: None,
            uncertain: Vec::new(),
        };
    }
    if let Some(extraction) = read_scans(&scans, scan, &mut notes, has_scan) {
        return extraction;
    }
    match text {
        Some((values, source)) => Extraction {
            values,
            source,
            notes,
            has_scan,
            scan: None,
            uncertain: Vec::new(),
        },
        None => Extraction {
            values: FormValues::new(),
            source: Source::Nothing,
            notes,
            has_scan,
            scan: None,
            uncertain: Vec::new(),
        },
    }
}

/// The scan step: the first attachment in which the form is found. Its
/// values count only when their text was read (Tesseract present);
/// otherwise the request is for manual entry, with the box images kept.
fn read_scans(
    candidates: &[&Attachment],
    settings: &ScanSettings,
    notes: &mut Vec<String>,
    has_scan: bool,
) -> Option<Extraction> {
    for a in candidates.iter().take(MAX_SCANS) {
        match read_scan(&a.data, &settings.config, &settings.limits) {
            ScanOutcome::Form(form) => {
                if let Some(error) = &form.ocr_error {
                    tracing::warn!(error = %error, "scanned form found, text not read");
                    notes.insert(0, format!("formulaire numérisé non lu : {error}"));
                    return Some(Extraction {
                        values: FormValues::new(),
                        source: Source::Nothing,
                        notes: std::mem::take(notes),
                        has_scan,
                        scan: Some(form),
                        uncertain: Vec::new(),
                    });
                }
                let uncertain = form
                    .uncertain(settings.min_confidence)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                return Some(Extraction {
                    values: form.values(),
                    source: Source::Scan,
                    notes: std::mem::take(notes),
                    has_scan,
                    scan: Some(form),
                    uncertain,
                });
            }
            ScanOutcome::NotAForm { reason } => {
                if notes.len() < 3 {
                    notes.push(reason);
                }
            }
        }
    }
    None
}

/// Joins `format=flowed` soft breaks (a line ending in a space continues on
/// the next one) and drops quoting marks, so that a wrapped address is whole.
fn unflow(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let unquoted = line.trim_start_matches('>');
        let line = unquoted.strip_prefix(' ').unwrap_or(unquoted);
        if line.ends_with(' ')
            && line != "-- "
            && !line.trim().is_empty()
            && !line.trim_end().ends_with(':')
        {
            out.push_str(line);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_labels_are_read_and_flowed_lines_joined() {
        let mail = ParsedMail {
            texts: vec!["N° abonné : 12345\r\nOrganisme : Lycée Jean \r\nMoulin\r\n> Nouvelle adresse mél :\r\n> marie.durand@lycee-jean-moulin.fr\r\n".into()],
            ..Default::default()
        };
        let e = extract(&mail, &ScanSettings::from_settings(&Settings::default()));
        assert_eq!(e.source, Source::Body);
        assert_eq!(e.values.get("numero_abonne"), Some("12345"));
        assert_eq!(e.values.get("organisme"), Some("Lycée Jean Moulin"));
        assert_eq!(
            e.values.get("nouvelle_adresse_mel"),
            Some("marie.durand@lycee-jean-moulin.fr")
        );
    }

    #[test]
    fn nothing_found_means_manual_entry() {
        let mail = ParsedMail {
            texts: vec!["Bonjour, voici mon formulaire.".into()],
            attachments: vec![Attachment {
                filename: Some("scan.jpg".into()),
                content_type: "image/jpeg".into(),
                data: vec![0xff, 0xd8],
                depth: 0,
            }],
            ..Default::default()
        };
        let e = extract(&mail, &ScanSettings::from_settings(&Settings::default()));
        assert_eq!(e.source, Source::Nothing);
        assert!(e.has_scan);
    }
}
