//! Hostile PDFs stay within the document budget: the reader gives up with
//! a French reason instead of inflating, parsing or walking without end.

#[path = "../../tests/it/pdf_bomb.rs"]
mod pdf_bomb;

use bareme_forms::{ReadOutcome, read_pdf};

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
