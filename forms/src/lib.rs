//! The change-of-address form of bareme-mel (SPEC §3): its definition, the
//! fillable PDF issued to managers, and the reader that gets the values back
//! from a returned copy or a mail body (SPEC §4, extraction).
//!
//! ```no_run
//! use bareme_forms::{read_pdf, render, ReadOutcome, RenderOptions};
//!
//! let pdf = render(&RenderOptions {
//!     send_to: "bareme@ac-montpellier.fr".into(),
//!     subscriber_number: Some("12345".into()),
//! })?;
//! match read_pdf(&pdf) {
//!     ReadOutcome::AcroForm(values) | ReadOutcome::Text(values) => {
//!         assert_eq!(values.get("numero_abonne"), Some("12345"));
//!     }
//!     ReadOutcome::NoFields { reason } => println!("saisie manuelle : {reason}"),
//! }
//! # Ok::<(), bareme_forms::FormError>(())
//! ```

mod acroform;
mod budget;
mod canvas;
mod definition;
mod marks;
mod metrics;
mod ondemand;
mod pdftext;
mod read;
mod render;
mod scan;
mod text;
mod values;

pub use definition::{Column, FieldDef, FieldKind, FormDefinition, Section, definition};
pub use read::{Limits, ReadOutcome, read_pdf, read_pdf_with_limits};
pub use render::{FormError, RenderOptions, render};
pub use scan::{
    ScanConfig, ScanLimits, ScanOutcome, ScannedField, ScannedForm, ValueSource, ocr_availability,
    read_scan,
};
pub use text::read_text;
pub use values::{CHECKED, FormValues};

/// The file name under which the form is offered for download.
pub const DOWNLOAD_FILENAME: &str = "changement-adresse-mel.pdf";
