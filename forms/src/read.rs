//! Reads a returned form: AcroForm field values first, then, for flattened
//! copies, the page text anchored on the labels; anything else is "no
//! fields". Hostile input is bounded for the whole document while it is read
//! (see [`crate::budget`]: total inflated bytes, objects, object streams,
//! nesting, wall time; plus size, field count and operations) and any panic
//! inside the PDF library is caught.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, decode_text_string};

use crate::budget::{self, Budget};
use crate::definition::{FieldKind, definition};
use crate::ondemand::{self, Objects};
use crate::pdftext::page_text;
use crate::text::read_page_text;
use crate::values::FormValues;

/// What was found in a PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Values of the AcroForm fields (at least one non-empty).
    AcroForm(FormValues),
    /// Values found in the page text of a flattened copy.
    Text(FormValues),
    /// Nothing usable; `reason` says why, in French, for staff.
    NoFields {
        /// Why nothing was read.
        reason: String,
    },
}

/// Bounds applied to untrusted PDFs.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Larger files are not opened.
    pub max_input_bytes: usize,
    /// Largest decompressed size of one stream (object streams, page content).
    pub max_stream_bytes: usize,
    /// Most field-tree nodes visited.
    pub max_fields: usize,
    /// Deepest field tree (`Kids` nesting) and form XObject nesting followed.
    pub max_depth: usize,
    /// Largest decoded page content (or form XObject) read by the fallback:
    /// decoding is the costly step, and a flattened form is far smaller.
    pub max_content_bytes: usize,
    /// Pages whose text is read by the fallback.
    pub max_pages: usize,
    /// Most content-stream operations interpreted by the fallback.
    pub max_operations: usize,
    /// Most bytes inflated for the whole document (object streams, page
    /// contents, form XObjects, fonts, all together).
    pub max_total_inflated_bytes: usize,
    /// Most objects in the document (object streams' contents included).
    pub max_objects: usize,
    /// Most object streams (`/ObjStm`) inflated.
    pub max_object_streams: usize,
    /// Most streams in the raw file.
    pub max_streams: usize,
    /// Deepest nesting of arrays and dictionaries.
    pub max_nesting: usize,
    /// Most tokens (numbers, names, strings, keywords) parsed, object
    /// streams included: each becomes an object in memory.
    pub max_tokens: usize,
    /// Wall time for the whole document, in milliseconds.
    pub max_millis: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 20 * 1024 * 1024,
            max_stream_bytes: 8 * 1024 * 1024,
            max_fields: 500,
            max_depth: 16,
            max_content_bytes: 1024 * 1024,
            max_pages: 4,
            max_operations: 200_000,
            max_total_inflated_bytes: 32 * 1024 * 1024,
            max_objects: 100_000,
            max_object_streams: 200,
            max_streams: 20_000,
            max_nesting: 64,
            max_tokens: 1_000_000,
            max_millis: 10_000,
        }
    }
}

/// Reads a PDF with the default [`Limits`]. Never panics.
pub fn read_pdf(bytes: &[u8]) -> ReadOutcome {
    read_pdf_with_limits(bytes, &Limits::default())
}

/// Reads a PDF within `limits`. Never panics.
pub fn read_pdf_with_limits(bytes: &[u8], limits: &Limits) -> ReadOutcome {
    if bytes.len() > limits.max_input_bytes {
        return no_fields(format!("PDF trop volumineux ({} octets)", bytes.len()));
    }
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return no_fields("ce fichier n'est pas un PDF");
    }
    if let Err(what) = budget::prescan(bytes, limits) {
        return over_budget(what);
    }
    let read = || catch_unwind(AssertUnwindSafe(|| read_document(bytes, limits)));
    match Budget::run(limits, read) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => no_fields("PDF illisible (erreur interne de lecture)"),
        Err(what) => over_budget(what),
    }
}

/// The reason given when a document goes over its budget.
fn over_budget(what: &str) -> ReadOutcome {
    no_fields(format!(
        "PDF refusé : {what} dépasse ce qui est admis pour un formulaire (document malveillant ?)"
    ))
}

fn no_fields(reason: impl Into<String>) -> ReadOutcome {
    ReadOutcome::NoFields {
        reason: reason.into(),
    }
}

fn read_document(bytes: &[u8], limits: &Limits) -> ReadOutcome {
    // A filled form's values, from its fields alone; anything else (no
    // field filled, a flattened copy, an encrypted or odd file) is read
    // from the whole document.
    let fields = ondemand::read_fields(bytes, limits, |objects| acroform_values(objects, limits).0);
    if let Some(values) = fields
        && !values.is_empty()
    {
        return ReadOutcome::AcroForm(values);
    }
    let options = LoadOptions {
        max_decompressed_size: Some(limits.max_stream_bytes),
        filter: Some(budget::admit),
        // Checked before lopdf reads each object: the filter alone never
        // sees an object that fails to parse, however long that took.
        keep_going: Some(budget::ok),
        ..LoadOptions::default()
    };
    let doc = match Document::load_mem_with_options(bytes, options) {
        Ok(doc) => doc,
        Err(lopdf::Error::Decryption(_)) | Err(lopdf::Error::InvalidPassword) => {
            return no_fields("PDF chiffré : impossible de le lire");
        }
        Err(e) => {
            let detail: String = e.to_string().chars().take(160).collect();
            return no_fields(format!("PDF illisible : {detail}"));
        }
    };
    if doc.is_encrypted() {
        return no_fields("PDF chiffré : impossible de le lire");
    }
    let (values, had_fields) = acroform_values(&doc, limits);
    if !values.is_empty() {
        return ReadOutcome::AcroForm(values);
    }
    let text = page_text(&doc, limits);
    let values = read_page_text(&text);
    if !values.is_empty() {
        return ReadOutcome::Text(values);
    }
    if had_fields {
        no_fields("formulaire PDF reçu vide")
    } else if text.trim().is_empty() {
        no_fields("PDF sans champ ni texte (document numérisé ?)")
    } else {
        no_fields("aucun champ du formulaire trouvé dans le PDF")
    }
}

/// Follows references (a bounded number of them).
pub(crate) fn resolve<'a, O: Objects + ?Sized>(
    doc: &'a O,
    mut object: &'a Object,
) -> Option<&'a Object> {
    for _ in 0..8 {
        match object {
            Object::Reference(id) => object = doc.object(*id)?,
            other => return Some(other),
        }
    }
    None
}

pub(crate) fn resolve_dict<'a, O: Objects + ?Sized>(
    doc: &'a O,
    object: &'a Object,
) -> Option<&'a Dictionary> {
    resolve(doc, object)?.as_dict().ok()
}

/// The values of the form's fields in the AcroForm, and whether the
/// document had any of the form's fields at all.
fn acroform_values(doc: &dyn Objects, limits: &Limits) -> (FormValues, bool) {
    let mut values = FormValues::new();
    let fields = doc
        .trailer()
        .get(b"Root")
        .ok()
        .and_then(|root| resolve_dict(doc, root))
        .and_then(|catalog| catalog.get(b"AcroForm").ok())
        .and_then(|acroform| resolve_dict(doc, acroform))
        .and_then(|acroform| acroform.get(b"Fields").ok())
        .and_then(|fields| resolve(doc, fields))
        .and_then(|fields| fields.as_array().ok());
    let Some(fields) = fields else {
        return (values, false);
    };

    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut stack: Vec<(&Object, usize)> = fields.iter().rev().map(|f| (f, 0)).collect();
    let mut visited = 0;
    let mut had_fields = false;
    while let Some((node, depth)) = stack.pop() {
        visited += 1;
        if !budget::ok() {
            break;
        }
        if visited > limits.max_fields || depth > limits.max_depth {
            break;
        }
        if let Object::Reference(id) = node
            && !seen.insert(*id)
        {
            continue;
        }
        let Some(dict) = resolve_dict(doc, node) else {
            continue;
        };
        let kids = dict
            .get(b"Kids")
            .ok()
            .and_then(|k| resolve(doc, k))
            .and_then(|k| k.as_array().ok());
        if let Some(kids) = kids {
            // Kids that have a name are fields; the others are widgets.
            let named: Vec<&Object> = kids
                .iter()
                .filter(|k| resolve_dict(doc, k).is_some_and(|d| d.has(b"T")))
                .collect();
            stack.extend(named.into_iter().rev().map(|k| (k, depth + 1)));
        }
        let name = dict.get(b"T").ok().and_then(|t| decode_text_string(t).ok());
        let Some(field) = name
            .as_deref()
            .and_then(|n| definition().field(n.rsplit('.').next().unwrap_or(n)))
        else {
            continue;
        };
        had_fields = true;
        if values.get(&field.name).is_some() {
            continue;
        }
        match field.kind {
            FieldKind::Text => {
                if let Some(value) = dict.get(b"V").ok().and_then(|v| text_value(doc, v, limits)) {
                    values.insert(&field.name, &value);
                }
            }
            FieldKind::Checkbox => {
                if checkbox_ticked(doc, dict, kids) {
                    values.check(&field.name);
                }
            }
        }
    }
    (values, had_fields)
}

fn text_value(doc: &dyn Objects, value: &Object, limits: &Limits) -> Option<String> {
    match resolve(doc, value)? {
        text @ Object::String(..) => decode_text_string(text).ok(),
        Object::Name(name) => Some(String::from_utf8_lossy(name).into_owned()),
        // Rich text values as a stream: the plain bytes, bounded.
        Object::Stream(stream) => {
            let bytes = stream
                .decompressed_content_with_limit(budget::room(
                    limits.max_stream_bytes.min(64 * 1024),
                ))
                .ok()?;
            budget::charge(bytes.len()).then_some(())?;
            decode_text_string(&Object::string_literal(bytes)).ok()
        }
        _ => None,
    }
}

/// A check box is ticked when its value (or, lacking one, the appearance
/// state of its widget) names an "on" state.
fn checkbox_ticked(doc: &dyn Objects, dict: &Dictionary, kids: Option<&Vec<Object>>) -> bool {
    let on = |object: &Object| match resolve(doc, object) {
        Some(Object::Name(name)) => !name.is_empty() && name.as_slice() != b"Off",
        Some(text @ Object::String(..)) => decode_text_string(text).is_ok_and(|v| {
            matches!(
                v.trim().to_lowercase().as_str(),
                "oui" | "yes" | "on" | "x" | "1" | "true"
            )
        }),
        _ => false,
    };
    if let Ok(value) = dict.get(b"V") {
        return on(value);
    }
    if dict.get(b"AS").is_ok_and(on) {
        return true;
    }
    kids.into_iter()
        .flatten()
        .take(16)
        .filter_map(|kid| resolve_dict(doc, kid))
        .any(|kid| kid.get(b"AS").is_ok_and(on))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{RenderOptions, render};

    /// The values of the AcroForm of `bytes` read on demand, and read from
    /// the whole document.
    fn both_ways(bytes: &[u8]) -> (Option<FormValues>, FormValues) {
        let limits = Limits::default();
        Budget::run(&limits, || {
            let on_demand = ondemand::read_fields(bytes, &limits, |objects| {
                acroform_values(objects, &limits).0
            });
            let doc = Document::load_mem(bytes).unwrap();
            (on_demand, acroform_values(&doc, &limits).0)
        })
        .unwrap()
    }

    /// Filled by pypdf (plain objects), then packed by qpdf into object
    /// streams, and the form as issued with the subscriber number filled in:
    /// the fields read on demand are the fields of the whole document.
    #[test]
    fn the_fields_read_on_demand_are_the_fields_of_the_whole_document() {
        let issued = render(&RenderOptions {
            send_to: "bareme@ac-montpellier.fr".into(),
            subscriber_number: Some("12345".into()),
        })
        .unwrap();
        let documents: [(&str, &[u8]); 3] = [
            (
                "pypdf",
                include_bytes!("../tests/fixtures/filled-by-pypdf.pdf"),
            ),
            (
                "qpdf",
                include_bytes!("../tests/fixtures/filled-packed-by-qpdf.pdf"),
            ),
            ("issued", &issued),
        ];
        for (name, bytes) in documents {
            let (on_demand, whole) = both_ways(bytes);
            assert!(!whole.is_empty(), "{name}: the fixture has values");
            assert_eq!(on_demand.as_ref(), Some(&whole), "{name}");
        }
    }

    /// Sloppy writers leave cross-reference offsets that point at another
    /// object: a load finds each object under the number written before
    /// `obj`, a read by number does not. A walk that could not read an
    /// object it asked for leaves the document to the whole load: every
    /// value is still found.
    #[test]
    fn an_object_the_cross_reference_table_misplaces_is_found_by_the_whole_load() {
        let original: &[u8] = include_bytes!("../tests/fixtures/filled-by-pypdf.pdf");
        let table = original
            .windows(10)
            .rposition(|w| w == b"xref\n0 48\n")
            .expect("the fixture's cross-reference table")
            + 10;
        // The entries of objects 21 and 22 (the fields « nom » and « prénom »)
        // swapped.
        let mut swapped = original.to_vec();
        let (nom, prenom) = (table + 20 * 21, table + 20 * 22);
        let entry = swapped[nom..nom + 20].to_vec();
        swapped.copy_within(prenom..prenom + 20, nom);
        swapped[prenom..prenom + 20].copy_from_slice(&entry);
        let values = |outcome: ReadOutcome| match outcome {
            ReadOutcome::AcroForm(values) => values,
            other => panic!("{other:?}"),
        };
        let expected = values(read_pdf(original));
        assert!(expected.get("nom").is_some() && expected.get("prenom").is_some());
        assert_eq!(values(read_pdf(&swapped)), expected);
    }

    /// An encrypted document is left to the whole load (which says so);
    /// the same document without `/Encrypt` is read on demand.
    #[test]
    fn an_encrypted_document_is_not_read_on_demand() {
        let pdf = |trailer: &str| {
            let head = "%PDF-1.7\n";
            let object = "1 0 obj\n<< /Type /Catalog >>\nendobj\n";
            let xref = head.len() + object.len();
            format!(
                "{head}{object}xref\n0 2\n0000000000 65535 f \n{:010} 00000 n \n\
                 trailer\n<< /Size 2 /Root 1 0 R{trailer} >>\nstartxref\n{xref}\n%%EOF\n",
                head.len()
            )
        };
        let limits = Limits::default();
        let read = |bytes: String| {
            Budget::run(&limits, || {
                ondemand::read_fields(bytes.as_bytes(), &limits, |objects| {
                    acroform_values(objects, &limits).1
                })
            })
            .unwrap()
        };
        assert_eq!(read(pdf("")), Some(false));
        assert_eq!(read(pdf(" /Encrypt << /Filter /Standard >>")), None);
    }
}
