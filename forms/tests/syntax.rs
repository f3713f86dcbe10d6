//! PDF syntax that a filled form may carry, read back to the values a
//! person typed: literal strings with escapes, line continuations and
//! balanced parentheses, hexadecimal strings, names with `#` escapes, and a
//! dictionary that is a stream's and one that is not. The parser in
//! `vendor/lopdf` reads these by hand-written loops (vendor/README.md); this
//! is what they must keep reading as lopdf's combinators did.

use bareme_forms::{ReadOutcome, read_pdf};

/// A one-page PDF whose AcroForm lists `fields` (each an object's body),
/// with a correct cross-reference table.
fn pdf_with_fields(fields: &[&str]) -> Vec<u8> {
    let first_field = 5;
    let refs: Vec<String> = (0..fields.len())
        .map(|k| format!("{} 0 R", first_field + k))
        .collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R /AcroForm 4 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        // A stream's dictionary, then its data: the page's (empty) content.
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.27563 841.88983] >>".to_string(),
        format!("<< /Fields [{}] /DA (/Helv 0 Tf 0 g) >>", refs.join(" ")),
    ];
    objects.extend(fields.iter().map(|f| f.to_string()));
    objects.push("<< /Length 9 >>\nstream\nq 1 0 0 1\nendstream".to_string());
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (k, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", k + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

fn values(pdf: &[u8]) -> Vec<(String, String)> {
    match read_pdf(pdf) {
        ReadOutcome::AcroForm(values) => values.as_map().clone().into_iter().collect(),
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
    let get = |name: &str| {
        got.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} missing from {got:?}"))
    };
    assert_eq!(get("nom"), r"DUPONT (fils) AB (de (la) Tour) \ xy");
    assert_eq!(get("prenom"), "Joël");
    let organisme = get("organisme");
    assert!(organisme.starts_with("Lycée"), "{organisme:?}");
    assert!(organisme.ends_with("Jean Moulin"), "{organisme:?}");
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
    assert!(got.contains(&("nom".into(), "DURAF".into())), "{got:?}");
    assert!(got.contains(&("prenom".into(), "Anne".into())), "{got:?}");
}

#[test]
fn a_string_that_never_closes_is_not_a_value() {
    let pdf = pdf_with_fields(&[
        "<< /FT /Tx /T (nom) /V (DUPONT (ouvert) >>",
        "<< /FT /Tx /T (prenom) /V (Anne) >>",
    ]);
    let got = values(&pdf);
    assert!(got.iter().all(|(k, _)| k != "nom"), "{got:?}");
    assert!(got.contains(&("prenom".into(), "Anne".into())), "{got:?}");
}
