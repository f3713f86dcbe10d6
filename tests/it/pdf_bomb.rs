//! Hostile PDFs built on the fly, for the intake tests, the fuzzer and the
//! memory benchmark (`examples/hostile_mail.rs` includes this file).
//!
//! The object-stream bomb is a valid PDF whose `/ObjStm` streams each
//! inflate from a few kilobytes to `inflated_each` bytes: lopdf inflates
//! every object stream while loading, so an unbounded reader holds
//! `streams × inflated_each` bytes.

#![allow(dead_code)]

use std::io::Write;

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).expect("deflate into memory");
    z.finish().expect("deflate into memory")
}

/// A one-page PDF with `streams` object streams of `inflated_each` bytes each.
pub fn object_stream_bomb(streams: usize, inflated_each: usize) -> Vec<u8> {
    // One object per stream: a string of `inflated_each` spaces-like bytes.
    let header = "900 0 ";
    let mut content = Vec::with_capacity(inflated_each + 16);
    content.extend_from_slice(header.as_bytes());
    content.push(b'(');
    content.resize(inflated_each, b'A');
    content.push(b')');
    let packed = deflate(&content);
    let mut out = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    object(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(&mut out, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    object(
        &mut out,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    );
    for _ in 0..streams {
        let mut body = format!(
            "<< /Type /ObjStm /N 1 /First {} /Filter /FlateDecode /Length {} >>\nstream\n",
            header.len(),
            packed.len()
        )
        .into_bytes();
        body.extend_from_slice(&packed);
        body.extend_from_slice(b"\nendstream");
        object(&mut out, &body);
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for o in &offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// The base64 of `data` in lines of 76 characters.
pub fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 57 * 2 + 4);
    for line in data.chunks(57) {
        for chunk in line.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out.push_str("\r\n");
    }
    out
}

/// A request mail from `from` carrying `pdf` as `formulaire.pdf`.
pub fn mail_with_pdf(from: &str, message_id: &str, pdf: &[u8]) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: bareme@ac-montpellier.fr\r\nSubject: Changement d'adresse\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour, voici le formulaire.\r\n--b1\r\nContent-Type: application/pdf; name=\"formulaire.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--b1--\r\n",
        base64_lines(pdf)
    )
    .into_bytes()
}

/// A PDF whose first object holds a literal string that never closes, then
/// `fillers` small objects each with a balanced string (so the open string
/// runs to the end of the file), and a cross-reference table of `entries`
/// entries that all point at that first object: lopdf parses the first
/// object to the end of the file once per entry (fuzzer case 855,823).
pub fn xref_entries_on_an_unclosed_string(fillers: usize, entries: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let first = pdf.len();
    pdf.extend_from_slice(
        format!(
            "1 0 obj\n<< /Type /Catalog /Pages 2 0 R /X {}) >>\nendobj\n",
            "(".repeat(28)
        )
        .as_bytes(),
    );
    for i in 0..fillers {
        pdf.extend_from_slice(format!("{} 0 obj\n[{i} (filler)]\nendobj\n", 100 + i).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {entries}\n0000000000 65535 f \n").as_bytes());
    for _ in 1..entries {
        pdf.extend_from_slice(format!("{first:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {entries} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n")
            .as_bytes(),
    );
    pdf
}
