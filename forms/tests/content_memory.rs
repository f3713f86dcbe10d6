//! A page's content is decoded into operations in memory: what each one
//! costs is bounded, not only the content's size. One test binary of its
//! own, so that its peak RSS is its own.

#[path = "support/rss.rs"]
mod rss;

use bareme_forms::{ReadOutcome, read_pdf};
use rss::peak_rss_kib;

// Found by the structure-aware fuzzer (seed 0x7e11a5ed0001, case 15,517: a
// 161 KB PDF, 330 MB peak RSS, over the fuzzer's 300 MB): a page whose
// contents list nine times a stream of 63,000 `q` operators (seven here, within the 1 MiB of content read). lopdf gave
// every operation room for four operands before reading any (some 500
// bytes for a `q`), half a million of them within the 1 MiB of content.
#[test]
fn half_a_million_operations_without_operands_stay_small_in_memory() {
    let content = "q ".repeat(63_000);
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents [{}] >>",
            "4 0 R ".repeat(7)
        ),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(b"xref\n0 5\n0000000000 65535 f \n");
    for at in offsets {
        pdf.extend_from_slice(format!("{at:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    let before = peak_rss_kib();
    let outcome = read_pdf(&pdf);
    let grown = peak_rss_kib().saturating_sub(before);
    eprintln!("441,000 `q` operations: peak RSS grew by {grown} KiB, {outcome:?}");
    assert!(
        matches!(outcome, ReadOutcome::NoFields { .. }),
        "{outcome:?}"
    );
    assert!(grown < 100 * 1024, "peak RSS grew by {grown} KiB");
}
