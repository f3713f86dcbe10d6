//! Rendering and reading the form: `cargo bench -p bareme-forms`.
//! Targets: render ≤ 2 ms, read ≤ 1 ms.

use bareme_forms::{ReadOutcome, RenderOptions, read_pdf, read_text, render};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// A copy of the form filled by pypdf (accents, one ticked box).
const FILLED: &[u8] = include_bytes!("../tests/fixtures/filled-by-pypdf.pdf");

fn bench(c: &mut Criterion) {
    let blank = RenderOptions {
        send_to: "bareme@ac-montpellier.fr".into(),
        subscriber_number: None,
    };
    let prefilled = RenderOptions {
        subscriber_number: Some("12345".into()),
        ..blank.clone()
    };
    assert!(matches!(read_pdf(FILLED), ReadOutcome::AcroForm(_)));

    c.bench_function("render blank", |b| b.iter(|| render(black_box(&blank))));
    c.bench_function("render pre-filled", |b| {
        b.iter(|| render(black_box(&prefilled)))
    });
    c.bench_function("read filled form", |b| {
        b.iter(|| read_pdf(black_box(FILLED)))
    });
    let body = "Bonjour,\nN° abonné : 12345\nOrganisme : Lycée « Jean-Moulin »\nNom : Dupont\n\
                Prénom : Françoise Hélène\nNouvelle adresse mél : f.h@ac-montpellier.fr\n";
    c.bench_function("read mail body", |b| b.iter(|| read_text(black_box(body))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
