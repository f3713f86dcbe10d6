//! Reading scans of the form (SPEC §4, scanned form). The test makes its own
//! scan set (`support/scan_generator.rs` and `support/scans.py`: the form
//! filled on screen or by hand, rasterised, damaged and saved in each
//! container a scanner or a phone gives) and measures what is read against
//! what was typed.
//!
//! Outside tools: `apt-get install tesseract-ocr tesseract-ocr-fra
//! poppler-utils` and `scripts/tools-venv.sh` (pypdf, Pillow). A missing
//! tool skips the test, unless `BAREME_MEL_REQUIRE_SERVICES=1`.

use std::process::Command;

use bareme_forms::{
    FieldKind, ScanConfig, ScanLimits, ScanOutcome, ValueSource, definition, ocr_availability,
    read_scan,
};

#[path = "support/scan_generator.rs"]
mod scan_generator;

use scan_generator::{
    Case, blank, case, extension, generate, hand_font, scan_set, scan_tools, specs, tool_available,
    value_set,
};

/// The confidence under which intake flags a value (`intake.ocr.min_confidence`).
const MIN_CONFIDENCE: f32 = 0.80;

#[test]
fn the_generated_scan_set_is_read_with_its_confidences() {
    let Some(python) = scan_tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cases = scan_set();
    let specs = specs(dir.path(), &cases, None);
    generate(&python, dir.path(), &specs);

    let (config, limits) = (ScanConfig::default(), ScanLimits::default());
    let (mut typed, mut exact, mut numbers, mut numbers_right) = (0, 0, 0, 0);
    let mut boxes_right = 0;
    let mut wrong_confident = Vec::new();
    let mut report = Vec::new();
    let mut not_found = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let path = dir
            .path()
            .join(format!("{}.{}", c.name, extension(c.container)));
        let bytes = std::fs::read(&path).unwrap();
        let started = std::time::Instant::now();
        let ScanOutcome::Form(form) = read_scan(&bytes, &config, &limits) else {
            report.push(format!("{:<24} NOT FOUND", c.name));
            not_found.push(c.name);
            continue;
        };
        let elapsed = started.elapsed();
        assert_eq!(form.ocr_error, None, "{}", c.name);
        if c.container == "pdf-two-pages" {
            assert_eq!(form.page, 2, "the form is the second page");
        }
        let expected = value_set(i);
        let mut misses = Vec::new();
        for field in definition().fields() {
            let read = form.field(&field.name).unwrap();
            if field.kind == FieldKind::Checkbox {
                let ticked = (i % 2 == 0) == (field.name == "situation_oubli");
                boxes_right += usize::from(read.value.is_some() == ticked);
                continue;
            }
            let want = expected.get(field.name.as_str()).copied();
            if field.name == "numero_abonne" {
                numbers += 1;
                numbers_right += usize::from(read.value.as_deref() == want);
                if c.prefilled {
                    assert_eq!(read.source, ValueSource::QrCode);
                }
            }
            let Some(want) = want else {
                assert_eq!(
                    read.value, None,
                    "{}: {} should be empty",
                    c.name, field.name
                );
                continue;
            };
            typed += 1;
            if read.value.as_deref() == Some(want) {
                exact += 1;
            } else {
                misses.push(format!(
                    "{}={:?} ({:.0} %)",
                    field.name,
                    read.value,
                    read.confidence * 100.0
                ));
                if field.name == "nouvelle_adresse_mel" && read.confidence >= MIN_CONFIDENCE {
                    wrong_confident.push(format!("{}: {:?}", c.name, read.value));
                }
            }
        }
        assert!(!form.signature_png.is_empty() && !form.stamp_png.is_empty());
        report.push(format!(
            "{:<24} marks {} {:>5.2} s  {}",
            c.name,
            form.marks_found,
            elapsed.as_secs_f64(),
            misses.join(", ")
        ));
    }
    let rate = exact as f64 / typed as f64;
    eprintln!(
        "scan set: {exact}/{typed} typed fields exact ({:.1} %), subscriber numbers \
         {numbers_right}/{numbers}, check boxes {boxes_right}/{}\n{}",
        rate * 100.0,
        cases.len() * 2,
        report.join("\n")
    );
    assert!(not_found.is_empty(), "forms not found: {not_found:?}");
    assert!(rate >= 0.98, "typed fields exact: {:.1} %", rate * 100.0);
    assert_eq!(numbers_right, numbers, "every subscriber number");
    assert_eq!(boxes_right, cases.len() * 2, "every check box");
    assert!(
        wrong_confident.is_empty(),
        "wrong new address unflagged: {wrong_confident:?}"
    );
}

#[test]
fn an_unrelated_letter_gives_nothing() {
    let Some(python) = scan_tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let specs = [
        "{\"name\": \"lettre\", \"letter\": true, \"values\": {}, \"dpi\": 200, \"mode\": \"L\", \
         \"angle\": 0.6, \"container\": \"pdf-image\"}"
            .to_owned(),
        "{\"name\": \"lettre-photo\", \"letter\": true, \"values\": {}, \"dpi\": 150, \"mode\": \"L\", \
         \"angle\": -2, \"jpeg\": 75, \"container\": \"jpeg\"}"
            .to_owned(),
    ];
    generate(&python, dir.path(), &specs);
    for file in ["lettre.pdf", "lettre-photo.jpg"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        match read_scan(&bytes, &ScanConfig::default(), &ScanLimits::default()) {
            ScanOutcome::NotAForm { reason } => {
                assert!(reason.contains("aucun formulaire"), "{reason}")
            }
            ScanOutcome::Form(form) => panic!("{file}: invented a form: {:?}", form.values()),
        }
    }
}

/// A PNG whose header claims `width` × `height` pixels (the data is junk).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png.extend_from_slice(&13_u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&[0, 0, 0, 0]);
    png
}

#[test]
fn hostile_images_are_refused_before_decoding() {
    let config = ScanConfig::default();
    let limits = ScanLimits::default();
    let started = std::time::Instant::now();
    let cases: [(&str, Vec<u8>); 4] = [
        ("bombe PNG", png_claiming(60_000, 60_000)),
        ("PNG tronqué", png_claiming(2000, 3000)),
        (
            "JPEG tronqué",
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F'],
        ),
        ("ni image ni PDF", b"GIF89a".to_vec()),
    ];
    for (name, bytes) in cases {
        match read_scan(&bytes, &config, &limits) {
            ScanOutcome::NotAForm { reason } => eprintln!("{name}: {reason}"),
            ScanOutcome::Form(_) => panic!("{name}: read as a form"),
        }
    }
    let oversized = vec![0_u8; limits.max_input_bytes + 1];
    assert!(matches!(
        read_scan(&oversized, &config, &limits),
        ScanOutcome::NotAForm { .. }
    ));
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}

#[test]
fn without_tesseract_the_qr_code_and_boxes_are_still_read() {
    if !tool_available(
        "pdftoppm",
        Command::new("pdftoppm").arg("-v").output().is_ok(),
    ) {
        return;
    }
    let config = ScanConfig {
        tesseract: "/nonexistent/tesseract".into(),
        ..ScanConfig::default()
    };
    assert!(ocr_availability(&config).is_err_and(|e| e.contains("apt-get install tesseract-ocr")));
    // The blank form pre-filled with a number, as an image PDF would be
    // rasterised: the PDF itself goes through pdftoppm the same way.
    let pdf = blank(Some("40871"));
    let ScanOutcome::Form(form) = read_scan(&pdf, &config, &ScanLimits::default()) else {
        panic!("the form was not found");
    };
    assert_eq!(form.qr_subscriber.as_deref(), Some("40871"));
    assert_eq!(form.values().get("numero_abonne"), Some("40871"));
    assert_eq!(form.values().len(), 1, "{:?}", form.values());
    assert_eq!(form.marks_found, 4);
}

/// What a reader gives back from hand-printed capitals: the value in
/// capitals, addresses in lower case (the reader lowers them).
fn in_capitals(name: &str, value: &str) -> String {
    if name.contains("adresse_mel") {
        value.to_lowercase()
    } else {
        value.to_uppercase()
    }
}

/// Hand-printed capitals (« Complétez-le … à la main, en lettres
/// capitales »): best effort, so the rate is measured and printed, not
/// required. What is required: a value read wrong is flagged (under
/// `intake.ocr.min_confidence`), never taken as sure — above all the new
/// address.
#[test]
fn hand_printed_capitals_are_measured_and_wrong_values_are_flagged() {
    let Some(python) = scan_tools() else { return };
    let Some(font) = hand_font() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cases = vec![
        Case {
            angle: 0.7,
            ..case("main-gris-200-pdf", 200, "L", "pdf-image")
        },
        Case {
            angle: -1.4,
            jpeg: 80,
            prefilled: false,
            ..case("main-couleur-300-jpeg", 300, "RGB", "jpeg")
        },
        Case {
            angle: 0.4,
            ..case("main-nb-200-ccitt", 200, "1", "pdf-ccitt")
        },
        Case {
            angle: -2.2,
            prefilled: false,
            ..case("main-gris-150-png", 150, "L", "png")
        },
        Case {
            perspective: true,
            jpeg: 80,
            prefilled: false,
            ..case("main-photo", 200, "RGB", "jpeg")
        },
    ];
    let specs = specs(dir.path(), &cases, Some(&font));
    generate(&python, dir.path(), &specs);

    let (config, limits) = (ScanConfig::default(), ScanLimits::default());
    let (mut typed, mut exact, mut exact_sure, mut flagged_misses) = (0, 0, 0, 0);
    let (mut numbers, mut numbers_right, mut boxes_right) = (0, 0, 0);
    let mut wrong_sure = Vec::new();
    let mut report = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let path = dir
            .path()
            .join(format!("{}.{}", c.name, extension(c.container)));
        let bytes = std::fs::read(&path).unwrap();
        let ScanOutcome::Form(form) = read_scan(&bytes, &config, &limits) else {
            panic!("{}: the form was not found", c.name);
        };
        let expected = value_set(i);
        let mut misses = Vec::new();
        for field in definition().fields() {
            let read = form.field(&field.name).unwrap();
            if field.kind == FieldKind::Checkbox {
                let ticked = (i % 2 == 0) == (field.name == "situation_oubli");
                boxes_right += usize::from(read.value.is_some() == ticked);
                continue;
            }
            let Some(want) = expected.get(field.name.as_str()) else {
                continue;
            };
            let want = in_capitals(&field.name, want);
            if field.name == "numero_abonne" && !c.prefilled {
                numbers += 1;
                numbers_right += usize::from(read.value.as_deref() == Some(want.as_str()));
            }
            typed += 1;
            if read.value.as_deref() == Some(want.as_str()) {
                exact += 1;
                exact_sure += usize::from(read.confidence >= MIN_CONFIDENCE);
                continue;
            }
            misses.push(format!(
                "{}={:?} ({:.0} %)",
                field.name,
                read.value,
                read.confidence * 100.0
            ));
            if read.value.is_some() && read.confidence >= MIN_CONFIDENCE {
                wrong_sure.push(format!(
                    "{}: {} read {:?} ({:.0} %), written {want:?}",
                    c.name,
                    field.name,
                    read.value,
                    read.confidence * 100.0
                ));
            } else {
                flagged_misses += 1;
            }
        }
        report.push(format!("{:<22} {}", c.name, misses.join(", ")));
    }
    eprintln!(
        "hand-printed capitals: {exact}/{typed} fields exact ({:.1} %; {exact_sure} of them \
         not flagged), {flagged_misses} misses flagged, {} read wrong with confidence ≥ {:.0} %; \
         subscriber numbers read by OCR \
         {numbers_right}/{numbers}; check boxes {boxes_right}/{}\n{}\n{}",
        exact as f64 * 100.0 / typed as f64,
        wrong_sure.len(),
        MIN_CONFIDENCE * 100.0,
        cases.len() * 2,
        report.join("\n"),
        wrong_sure.join("\n")
    );
    assert!(
        !wrong_sure
            .iter()
            .any(|w| w.contains(" nouvelle_adresse_mel read")),
        "a wrong new address read as sure: {wrong_sure:?}"
    );
    assert!(
        wrong_sure.is_empty(),
        "values read wrong, not flagged: {wrong_sure:?}"
    );
}

#[test]
fn without_pdftoppm_scans_are_said_unreadable_with_how_to_install_it() {
    let ready = ocr_availability(&ScanConfig::default());
    if !tool_available("tesseract with French", ready.is_ok()) {
        return;
    }
    let config = ScanConfig {
        pdftoppm: "/nonexistent/pdftoppm".into(),
        ..ScanConfig::default()
    };
    let missing = ocr_availability(&config).unwrap_err();
    assert!(
        missing.contains("« /nonexistent/pdftoppm » introuvable")
            && missing.contains("apt-get install poppler-utils"),
        "{missing}"
    );
}
