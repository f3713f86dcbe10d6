//! Hostile PDFs stay within the document budget: the reader gives up with
//! a French reason instead of inflating, parsing or walking without end.

#[path = "../../tests/it/pdf_bomb.rs"]
mod pdf_bomb;

#[path = "support/rss.rs"]
mod rss;

use bareme_forms::{ReadOutcome, read_pdf};
use rss::peak_rss_kib;

fn refused(outcome: &ReadOutcome) -> bool {
    matches!(outcome, ReadOutcome::NoFields { reason } if reason.starts_with("PDF refusé"))
}

#[test]
fn an_object_stream_bomb_is_refused_once_the_total_inflated_budget_is_spent() {
    // 40 streams of 4 MiB: each under the per-stream cap, 160 MiB in all.
    let pdf = pdf_bomb::object_stream_bomb(40, 4 * 1024 * 1024);
    let outcome = read_pdf(&pdf);
    assert!(refused(&outcome), "{outcome:?}");
    let ReadOutcome::NoFields { reason } = outcome else {
        unreachable!()
    };
    assert!(reason.contains("volume total décompressé"), "{reason}");
}

#[test]
fn a_flat_array_of_millions_of_numbers_is_refused_before_parsing() {
    let mut pdf = b"%PDF-1.4\n1 0 obj\n[".to_vec();
    pdf.extend(b"0 ".repeat(2_000_000));
    pdf.extend(b"]\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    let outcome = read_pdf(&pdf);
    assert!(refused(&outcome), "{outcome:?}");
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let mut pdf = b"%PDF-1.4\n1 0 obj\n".to_vec();
    pdf.extend(b"[".repeat(50_000));
    pdf.extend(b"]".repeat(50_000));
    pdf.extend(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    let outcome = read_pdf(&pdf);
    assert!(refused(&outcome), "{outcome:?}");
}

/// A PDF with an xref stream: `objects` are written as they are; each of
/// `compressed` (object, container, index) is listed in the xref as stored
/// in an object stream, whatever the file holds.
fn xref_stream_pdf(objects: &[(u32, &[u8])], compressed: &[(u32, u32, u32)]) -> Vec<u8> {
    let mut out = b"%PDF-1.5\n".to_vec();
    let mut entries: Vec<(u32, u8, u32, u16)> = vec![(0, 0, 0, 65535)];
    for (id, body) in objects {
        entries.push((*id, 1, out.len() as u32, 0));
        out.extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    for (id, container, index) in compressed {
        entries.retain(|e| e.0 != *id);
        entries.push((*id, 2, *container, *index as u16));
    }
    let xref_id = entries.iter().map(|e| e.0).max().unwrap() + 1;
    let xref_at = out.len() as u32;
    entries.push((xref_id, 1, xref_at, 0));
    entries.sort();
    let mut data = Vec::new();
    let mut index = Vec::new();
    for e in &entries {
        index.push(format!("{} 1", e.0));
        data.push(e.1);
        data.extend_from_slice(&e.2.to_be_bytes());
        data.extend_from_slice(&e.3.to_be_bytes());
    }
    out.extend_from_slice(
        format!(
            "{xref_id} 0 obj\n<< /Type /XRef /Size {} /W [1 4 2] /Index [{}] /Root 1 0 R /Length {} >>\nstream\n",
            xref_id + 1,
            index.join(" "),
            data.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&data);
    out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
    out
}

const CATALOG: &[u8] = b"<< /Type /Catalog /Pages 2 0 R >>";
const PAGES: &[u8] = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
const PAGE: &[u8] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>";
/// Page content whose length is object 5, stored in the object stream.
const CONTENT: &[u8] = b"<< /Length 5 0 R >>\nstream\nBT (x) Tj ET\nendstream";
/// An object stream holding object 5 (the number 11).
const OBJSTM: &[u8] = b"<< /Type /ObjStm /N 1 /First 4 /Length 6 >>\nstream\n5 0 11\nendstream";

// Found by the structure-aware fuzzer (tests/it/intake_fuzz.rs, seed
// 0x5eedb4e3e0003, case 2110): lopdf 0.44 looked up an object stream's
// container with a fresh set of seen objects, so these recursed until the
// stack overflowed and the process aborted (vendor/lopdf patches it).

#[test]
fn an_object_stream_listed_as_stored_inside_itself_does_not_overflow_the_stack() {
    let pdf = xref_stream_pdf(
        &[
            (1, CATALOG),
            (2, PAGES),
            (3, PAGE),
            (4, CONTENT),
            (6, OBJSTM),
        ],
        &[(5, 6, 0), (6, 6, 0)],
    );
    let outcome = read_pdf(&pdf);
    assert!(
        matches!(outcome, ReadOutcome::NoFields { .. }),
        "{outcome:?}"
    );
}

#[test]
fn two_object_streams_listed_inside_each_other_do_not_overflow_the_stack() {
    let pdf = xref_stream_pdf(
        &[
            (1, CATALOG),
            (2, PAGES),
            (3, PAGE),
            (4, CONTENT),
            (6, OBJSTM),
            (8, OBJSTM),
        ],
        &[(5, 6, 0), (6, 8, 0), (8, 6, 0)],
    );
    let outcome = read_pdf(&pdf);
    assert!(
        matches!(outcome, ReadOutcome::NoFields { .. }),
        "{outcome:?}"
    );
}

#[test]
fn an_object_stream_whose_length_is_stored_inside_it_does_not_overflow_the_stack() {
    let own_length: &[u8] =
        b"<< /Type /ObjStm /N 1 /First 4 /Length 5 0 R >>\nstream\n5 0 11\nendstream";
    let pdf = xref_stream_pdf(
        &[
            (1, CATALOG),
            (2, PAGES),
            (3, PAGE),
            (4, CONTENT),
            (6, own_length),
        ],
        &[(5, 6, 0)],
    );
    let outcome = read_pdf(&pdf);
    assert!(
        matches!(outcome, ReadOutcome::NoFields { .. }),
        "{outcome:?}"
    );
}

/// A PDF whose only cross-reference data is a stream with `dict` entries.
fn pdf_with_xref_stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"%PDF-1.5\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    let at = out.len();
    out.extend_from_slice(
        format!(
            "2 0 obj\n<< /Type /XRef /Size 3 /Root 1 0 R {dict} /Length {} >>\nstream\n",
            data.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(data);
    out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{at}\n%%EOF\n").as_bytes());
    out
}

// Found by the fuzzer (seed 0x5eedb4e3e0003, case 291): lopdf allocated a
// buffer of the width `/W` gives, and the allocation failure aborted.
#[test]
fn an_xref_stream_with_absurd_field_widths_does_not_abort() {
    let pdf = pdf_with_xref_stream("/W [1 2815040957455096449 2]", &[1, 0, 0, 0, 9, 0, 0]);
    let outcome = read_pdf(&pdf);
    assert!(
        matches!(outcome, ReadOutcome::NoFields { .. }),
        "{outcome:?}"
    );
}

#[test]
fn an_xref_stream_with_zero_widths_and_a_huge_index_ends_at_once() {
    let started = std::time::Instant::now();
    let pdf = pdf_with_xref_stream("/W [0 0 0] /Index [0 4294967295]", b"");
    let outcome = read_pdf(&pdf);
    assert!(
        matches!(outcome, ReadOutcome::NoFields { .. }),
        "{outcome:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

// Found by the fuzzer (seed 0x5eedb4e3e0003, first 2,000 cases, 8.4 GB peak):
// a PNG predictor with `/Columns 4096 /Colors 1048576` made lopdf allocate
// and zero two rows of 4 GiB before reading the first one.
#[test]
fn a_png_predictor_row_longer_than_the_data_allocates_nothing() {
    let mut pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\nendobj\n".to_vec();
    let packed = {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"\x00BT (x) Tj ET").unwrap();
        z.finish().unwrap()
    };
    pdf.extend_from_slice(
        format!(
            "4 0 obj\n<< /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4096 /Colors 1048576 >> /Length {} >>\nstream\n",
            packed.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&packed);
    pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    let before = peak_rss_kib();
    let outcome = read_pdf(&pdf);
    assert!(
        matches!(outcome, ReadOutcome::NoFields { .. }),
        "{outcome:?}"
    );
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 200 * 1024, "peak RSS grew by {grown} KiB");
}

// Found by the fuzzer (seed 0x5eedb4e3e0003, case 855,823: a 675 KB PDF
// read for 166 s): an xref whose entries all lead to an object that parses
// to the end of the file made lopdf parse it once per entry, and the
// budget's deadline was checked only between objects, where nothing
// stopped lopdf from going on to the next entry.
#[test]
fn thousands_of_xref_entries_on_one_slow_object_stop_at_the_time_budget() {
    let pdf = pdf_bomb::xref_entries_on_an_unclosed_string(20_000, 20_000);
    assert!(pdf.len() < 1_200_000, "{} bytes", pdf.len());
    let started = std::time::Instant::now();
    let outcome = read_pdf(&pdf);
    let took = started.elapsed();
    assert!(refused(&outcome), "{outcome:?}");
    let ReadOutcome::NoFields { reason } = outcome else {
        unreachable!()
    };
    assert!(reason.contains("le temps de lecture"), "{reason}");
    // The budget is 10 s; generous for a noisy machine, far below the
    // minutes this document held the reader.
    assert!(
        took < std::time::Duration::from_secs(20),
        "read for {took:?}"
    );
}
