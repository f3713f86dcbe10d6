//! Malformed and hostile PDFs, built in memory.

use lopdf::{Document, Object, Stream, dictionary};

/// Writes a PDF from raw object bodies (object `n` is `objects[n - 1]`),
/// with a correct cross-reference table; object 1 must be the catalog.
pub fn raw_pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn save(doc: &mut Document) -> Vec<u8> {
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

/// A one-page document whose AcroForm fields are `fields`.
fn with_fields(build: impl FnOnce(&mut Document) -> Vec<Object>) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages = doc.new_object_id();
    let page = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()] });
    doc.objects.insert(
        pages,
        dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 }.into(),
    );
    let fields = build(&mut doc);
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages, "AcroForm" => dictionary! { "Fields" => fields } });
    doc.trailer.set("Root", catalog);
    save(&mut doc)
}

/// A one-page document whose page content is `content` (compressed).
fn with_content(content: Vec<u8>) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages = doc.new_object_id();
    let mut stream = Stream::new(dictionary! {}, content);
    stream.compress().unwrap();
    let contents = doc.add_object(stream);
    let page = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages, "Contents" => contents, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()] });
    doc.objects.insert(
        pages,
        dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 }.into(),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    save(&mut doc)
}

/// Hostile PDFs from which nothing may be read.
pub fn all(blank_form: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("not a pdf".into(), b"GIF89a not a pdf at all".to_vec()),
        ("header only".into(), b"%PDF-1.7\n".to_vec()),
        (
            "truncated form".into(),
            blank_form[..blank_form.len() / 2].to_vec(),
        ),
        (
            "oversized input".into(),
            [b"%PDF-1.4\n".as_slice(), &vec![b' '; 21 * 1024 * 1024]].concat(),
        ),
    ];

    // Cross-reference table pointing nowhere, and no cross-reference at all.
    if let Some(at) = blank_form.windows(9).rposition(|w| w == b"startxref") {
        let mut broken = blank_form[..at].to_vec();
        broken.extend_from_slice(b"startxref\n999999999\n%%EOF\n");
        cases.push(("startxref out of range".into(), broken));
    }
    let mut garbled = blank_form.to_vec();
    for window in 0..garbled.len().saturating_sub(4) {
        if &garbled[window..window + 4] == b"xref" {
            garbled[window..window + 4].copy_from_slice(b"XXXX");
        }
    }
    cases.push(("garbled xref".into(), garbled));

    // Deeply nested direct objects.
    let deep_array = [vec![b'['; 50_000], vec![b']'; 50_000]].concat();
    let mut deep_dict = Vec::new();
    for _ in 0..20_000 {
        deep_dict.extend_from_slice(b"<< /A ");
    }
    for _ in 0..20_000 {
        deep_dict.extend_from_slice(b">> ");
    }
    for (name, body) in [("deep array", deep_array), ("deep dictionary", deep_dict)] {
        let catalog = [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [3 0 R] >> /X ".as_slice(),
            &body,
            b" >>",
        ]
        .concat();
        let objects = vec![
            catalog,
            b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec(),
            [b"<< /T (nom) /FT /Tx /V ".as_slice(), &body, b" >>"].concat(),
        ];
        cases.push((name.into(), raw_pdf(&objects)));
    }

    // Reference cycles in the field tree and the page tree.
    cases.push((
        "kids cycle".into(),
        raw_pdf(&[
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [3 0 R] >> >>".to_vec(),
            b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>".to_vec(),
            b"<< /T (a) /Kids [4 0 R] >>".to_vec(),
            b"<< /T (b) /Kids [3 0 R 4 0 R] /Parent 3 0 R >>".to_vec(),
            b"5 0 R".to_vec(),
            b"6 0 R".to_vec(),
        ]),
    ));
    cases.push((
        "reference loop".into(),
        raw_pdf(&[
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm 3 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>".to_vec(),
            b"4 0 R".to_vec(),
            b"3 0 R".to_vec(),
        ]),
    ));

    // A very deep chain of named kids, and a flood of fields.
    cases.push((
        "deep kids chain".into(),
        with_fields(|doc| {
            let mut child: Option<lopdf::ObjectId> = None;
            for i in 0..20_000 {
                let mut node = dictionary! { "T" => Object::string_literal(format!("n{i}")) };
                match child {
                    Some(child) => node.set("Kids", vec![child.into()]),
                    None => {
                        node.set("T", Object::string_literal("nom"));
                        node.set("V", Object::string_literal("trop profond"));
                    }
                }
                child = Some(doc.add_object(node));
            }
            // The innermost named field holds a value that must not be reached.
            vec![child.map(Object::Reference).unwrap_or(Object::Null)]
        }),
    ));
    cases.push((
        "field flood".into(),
        with_fields(|doc| {
            (0..20_000)
                .map(|i| doc.add_object(dictionary! { "T" => Object::string_literal(format!("x{i}")), "V" => Object::string_literal("v") }).into())
                .collect()
        }),
    ));

    // Decompression bombs: page content and an object stream.
    cases.push((
        "content bomb".into(),
        with_content(vec![b' '; 32 * 1024 * 1024]),
    ));
    cases.push((
        "operator flood".into(),
        with_content(b"BT ET ".repeat(1_000_000)),
    ));
    cases.push((
        "operator flood within limits".into(),
        with_content(b"q Q ".repeat(100_000)),
    ));
    let mut bomb = Stream::new(
        dictionary! { "Type" => "ObjStm", "N" => 1, "First" => 4 },
        [b"7 0 ".as_slice(), &vec![b' '; 32 * 1024 * 1024]].concat(),
    );
    bomb.compress().unwrap();
    let mut doc = Document::with_version("1.7");
    let bomb_id = doc.add_object(bomb);
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "X" => bomb_id });
    doc.trailer.set("Root", catalog);
    cases.push(("object stream bomb".into(), save(&mut doc)));
    cases
}

/// `count` copies of `pdf`, each with a few bytes changed (deterministic).
pub fn mutations(pdf: &[u8], count: usize) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let mut copy = pdf.to_vec();
            let changes = 1 + (next() % 8) as usize;
            for _ in 0..changes {
                let at = (next() % copy.len() as u64) as usize;
                copy[at] = (next() & 0xff) as u8;
            }
            if next() % 4 == 0 {
                let cut = (next() % copy.len() as u64) as usize;
                copy.truncate(cut.max(16));
            }
            copy
        })
        .collect()
}
