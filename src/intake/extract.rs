//! Extract: the form's field values, in the order of SPEC §4 — AcroForm
//! fields of an attached PDF, then the text of a flattened PDF or of the
//! mail body (the form's labels, `N° abonné : 12345`), then nothing (the
//! request is flagged for manual entry; staff key the fields in from the scan).

use super::parse::{Attachment, ParsedMail};
use bareme_forms::{FormValues, ReadOutcome, read_pdf, read_text};

/// Where the values came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    AcroForm,
    PdfText,
    Body,
    Nothing,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AcroForm => "acroform",
            Self::PdfText => "pdf_text",
            Self::Body => "body",
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
}

/// At most this many PDFs are opened per mail.
const MAX_PDFS: usize = 5;

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

/// Runs the extraction on a parsed mail. Pure and bounded; never panics.
pub fn extract(mail: &ParsedMail) -> Extraction {
    let mut notes = Vec::new();
    let mut pdf_text: Option<FormValues> = None;
    let mut has_scan = mail.attachments.iter().any(is_image);
    for a in mail.attachments.iter().filter(|a| is_pdf(a)).take(MAX_PDFS) {
        match read_pdf(&a.data) {
            ReadOutcome::AcroForm(values) => {
                return Extraction {
                    values,
                    source: Source::AcroForm,
                    notes,
                    has_scan,
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
                }
                if notes.len() < 3 {
                    notes.push(reason);
                }
            }
        }
    }
    if let Some(values) = pdf_text {
        return Extraction {
            values,
            source: Source::PdfText,
            notes,
            has_scan,
        };
    }
    let best = mail
        .texts
        .iter()
        .map(|t| read_text(&unflow(t)))
        .max_by_key(FormValues::len)
        .filter(|v| !v.is_empty());
    match best {
        Some(values) => Extraction {
            values,
            source: Source::Body,
            notes,
            has_scan,
        },
        None => Extraction {
            values: FormValues::new(),
            source: Source::Nothing,
            notes,
            has_scan,
        },
    }
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
        let e = extract(&mail);
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
        let e = extract(&mail);
        assert_eq!(e.source, Source::Nothing);
        assert!(e.has_scan);
    }
}
