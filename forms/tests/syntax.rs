//! PDF syntax that a filled form may carry, read back to the values a
//! person typed: literal strings with escapes, line continuations and
//! balanced parentheses, hexadecimal strings, names with `#` escapes, and a
//! dictionary that is a stream's and one that is not. The parser in
//! `vendor/lopdf` reads these by hand-written loops (vendor/README.md); this
//! is what they must keep reading as lopdf's combinators did.

use bareme_forms::{ReadOutcome, read_pdf};
use std::collections::BTreeMap;

#[path = "support/hostile.rs"]
#[allow(dead_code)] // only `raw_pdf` is used here
mod hostile;

/// A one-page PDF whose AcroForm lists `fields` (each an object's body).
fn pdf_with_fields(fields: &[&str]) -> Vec<u8> {
    let refs: Vec<String> = (0..fields.len())
        .map(|k| format!("{} 0 R", 5 + k))
        .collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R /AcroForm 4 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.27563 841.88983] >>".to_string(),
        format!("<< /Fields [{}] /DA (/Helv 0 Tf 0 g) >>", refs.join(" ")),
    ];
    objects.extend(fields.iter().map(|f| f.to_string()));
    // A stream's dictionary, then its data.
    objects.push("<< /Length 9 >>\nstream\nq 1 0 0 1\nendstream".to_string());
    let objects: Vec<Vec<u8>> = objects.into_iter().map(String::into_bytes).collect();
    hostile::raw_pdf(&objects)
}

fn values(pdf: &[u8]) -> BTreeMap<String, String> {
    match read_pdf(pdf) {
        ReadOutcome::AcroForm(values) => values.as_map().clone(),
        other => panic!("no AcroForm values: {other:?}"),
    }
}

#[test]
fn literal_strings_keep_escapes_nested_parentheses_and_line_continuations() {
    let pdf = pdf_with_fields(&[
        // \( \) escaped, a balanced nested pair, octal escapes (\101 = A,
        // \351 = é in PDFDocEncoding), a backslash, a continuation.
        r"<< /FT /Tx /T (nom) /V (DUPONT \(fils\) \101\102 (de \(la\) Tour) \\ x\
y) >>",
        // A value in UTF-16BE with its byte-order mark, all octal escapes.
        r"<< /FT /Tx /T (prenom) /V (\376\377\000J\000o\000\353\000l) >>",
        // Ends of line inside the string are kept as they are.
        "<< /FT /Tx /T (organisme) /V (Lyc\\351e\r\nJean Moulin) >>",
    ]);
    let got = values(&pdf);
    let get = |name: &str| got.get(name).map(String::as_str);
    assert_eq!(
        get("nom"),
        Some(r"DUPONT (fils) AB (de (la) Tour) \ xy"),
        "{got:?}"
    );
    assert_eq!(get("prenom"), Some("Joël"), "{got:?}");
    let organisme = get("organisme").unwrap_or_default();
    assert!(organisme.starts_with("Lycée"), "{got:?}");
    assert!(organisme.ends_with("Jean Moulin"), "{got:?}");
}

#[test]
fn names_with_hex_escapes_hex_strings_and_numbers_are_read() {
    let pdf = pdf_with_fields(&[
        // `/#56` is the name V; the value is a hexadecimal string.
        "<< /FT /Tx /T (nom) /#56 <4455 524146> /Rect [10 20.5 -3 .5] /F 4 >>",
        // A reference among the numbers, then the value.
        "<< /FT /Tx /P 3 0 R /T (prenom) /Ff 0 /V (Anne) >>",
    ]);
    let got = values(&pdf);
    assert_eq!(got.get("nom").map(String::as_str), Some("DURAF"), "{got:?}");
    assert_eq!(
        got.get("prenom").map(String::as_str),
        Some("Anne"),
        "{got:?}"
    );
}

#[test]
fn a_string_that_never_closes_is_not_a_value() {
    let pdf = pdf_with_fields(&[
        "<< /FT /Tx /T (nom) /V (DUPONT (ouvert) >>",
        "<< /FT /Tx /T (prenom) /V (Anne) >>",
    ]);
    let got = values(&pdf);
    assert_eq!(got.get("nom"), None, "{got:?}");
    assert_eq!(
        got.get("prenom").map(String::as_str),
        Some("Anne"),
        "{got:?}"
    );
}
