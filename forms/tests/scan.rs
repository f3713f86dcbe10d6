//! Reading scans of the form (SPEC §4, scanned form). The test makes its own
//! scan set: the form filled on screen (pypdf), rasterised by pdftoppm at
//! 150, 200 and 300 dpi, then tilted, speckled, JPEG-compressed, put in
//! perspective, and saved as image PDF, JPEG-in-PDF, CCITT PDF, JPEG, PNG
//! and a two-page PDF (`support/scans.py`, Pillow). It measures what is
//! read against what was typed.
//!
//! Outside tools: `apt-get install tesseract-ocr tesseract-ocr-fra
//! poppler-utils` and `scripts/tools-venv.sh` (pypdf, Pillow). A missing
//! tool skips the test, unless `BAREME_MEL_REQUIRE_SERVICES=1`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bareme_forms::{
    FieldKind, RenderOptions, ScanConfig, ScanLimits, ScanOutcome, ValueSource, definition,
    ocr_availability, read_scan, render,
};

/// The confidence under which intake flags a value (`intake.ocr.min_confidence`).
const MIN_CONFIDENCE: f32 = 0.80;

fn tool_available(tool: &str, found: bool) -> bool {
    if found {
        return true;
    }
    let message = format!(
        "skipped: {tool} not found (apt-get install tesseract-ocr tesseract-ocr-fra \
         poppler-utils; scripts/tools-venv.sh)"
    );
    if std::env::var("BAREME_MEL_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!("{message}");
    }
    eprintln!("{message}");
    false
}

/// The tools venv's Python, if pypdf and Pillow import there.
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("BAREME_MEL_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/python"));
    let works = Command::new(&path)
        .args(["-c", "import pypdf, PIL"])
        .output()
        .is_ok_and(|o| o.status.success());
    tool_available("python with pypdf and Pillow", works).then_some(path)
}

fn scan_tools() -> Option<PathBuf> {
    let pdftoppm = Command::new("pdftoppm").arg("-v").output().is_ok();
    if !tool_available("pdftoppm", pdftoppm) {
        return None;
    }
    let ocr = ocr_availability(&ScanConfig::default());
    if !tool_available("tesseract with French", ocr.is_ok()) {
        return None;
    }
    python()
}

fn blank(subscriber: Option<&str>) -> Vec<u8> {
    render(&RenderOptions {
        send_to: "bareme@ac-montpellier.fr".into(),
        subscriber_number: subscriber.map(str::to_owned),
    })
    .unwrap()
}

/// Varied French values, one set per case (rotating).
fn value_set(i: usize) -> BTreeMap<&'static str, &'static str> {
    let sets: [[(&str, &str); 13]; 5] = [
        [
            ("numero_abonne", "12345"),
            ("organisme", "Lycée « Jean-Moulin »"),
            ("nom", "Dupont"),
            ("prenom", "Françoise Hélène"),
            ("fonction", "Gestionnaire matériel"),
            ("telephone", "04 67 91 50 00"),
            ("ancienne_adresse_mel", "ancienne@ac-montpellier.fr"),
            ("nouvelle_adresse_mel", "francoise.helene@ac-montpellier.fr"),
            (
                "nouvelle_adresse_mel_confirmation",
                "francoise.helene@ac-montpellier.fr",
            ),
            ("signataire_nom", "Jérôme Lefèvre"),
            ("signataire_qualite", "Proviseur"),
            ("fait_a", "Béziers"),
            ("date", "12/01/2026"),
        ],
        [
            ("numero_abonne", "40871"),
            ("organisme", "Collège Émile-Zola de Sète"),
            ("nom", "N'Diaye"),
            ("prenom", "Aïcha"),
            ("fonction", "Secrétaire de direction"),
            ("telephone", "04 67 74 12 98"),
            ("ancienne_adresse_mel", "ce.0340012a@ac-montpellier.fr"),
            ("nouvelle_adresse_mel", "aicha.ndiaye@college-zola.fr"),
            (
                "nouvelle_adresse_mel_confirmation",
                "aicha.ndiaye@college-zola.fr",
            ),
            ("signataire_nom", "Benoît Château"),
            ("signataire_qualite", "Principal"),
            ("fait_a", "Sète"),
            ("date", "03/02/2026"),
        ],
        [
            ("numero_abonne", "7302"),
            ("organisme", "Mairie de Saint-Gély-du-Fesc"),
            ("nom", "Lefèbvre-Ruiz"),
            ("prenom", "Gaëlle"),
            ("fonction", "Responsable des achats"),
            ("telephone", "+33 4 67 84 30 11"),
            ("ancienne_adresse_mel", "achats@saintgely.fr"),
            ("nouvelle_adresse_mel", "g.lefebvre-ruiz@saintgelydufesc.fr"),
            (
                "nouvelle_adresse_mel_confirmation",
                "g.lefebvre-ruiz@saintgelydufesc.fr",
            ),
            ("signataire_nom", "Michèle Garçon"),
            ("signataire_qualite", "Maire"),
            ("fait_a", "Saint-Gély-du-Fesc"),
            ("date", "27/11/2026"),
        ],
        [
            ("numero_abonne", "100482"),
            ("organisme", "Université de Perpignan Via Domitia"),
            ("nom", "Roussel"),
            ("prenom", "Éloïse"),
            ("fonction", "Chargée de gestion financière"),
            ("telephone", "04 68 66 20 00"),
            ("ancienne_adresse_mel", ""),
            ("nouvelle_adresse_mel", "eloise.roussel@univ-perp.fr"),
            (
                "nouvelle_adresse_mel_confirmation",
                "eloise.roussel@univ-perp.fr",
            ),
            ("signataire_nom", "Yves Kerbœuf"),
            ("signataire_qualite", "Directeur général des services"),
            ("fait_a", "Perpignan"),
            ("date", "05/10/2026"),
        ],
        [
            ("numero_abonne", "55019"),
            ("organisme", "LP Jules-Ferry — Montpellier"),
            ("nom", "Ménard"),
            ("prenom", "Jean-Côme"),
            ("fonction", "Adjoint gestionnaire"),
            ("telephone", "0467586214"),
            (
                "ancienne_adresse_mel",
                "intendance.lpferry@ac-montpellier.fr",
            ),
            ("nouvelle_adresse_mel", "jean-come.menard@ac-montpellier.fr"),
            (
                "nouvelle_adresse_mel_confirmation",
                "jean-come.menard@ac-montpellier.fr",
            ),
            ("signataire_nom", "Hélène Dubois-À-Court"),
            ("signataire_qualite", "Proviseure"),
            ("fait_a", "Montpellier"),
            ("date", "30/06/2026"),
        ],
    ];
    sets[i % sets.len()]
        .iter()
        .copied()
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// One scan of the set.
struct Case {
    name: &'static str,
    dpi: u32,
    mode: &'static str,
    angle: f32,
    jpeg: u32,
    speckle: f32,
    perspective: bool,
    container: &'static str,
    /// Subscriber number pre-filled (in the QR code), or typed.
    prefilled: bool,
}

const fn case(name: &'static str, dpi: u32, mode: &'static str, container: &'static str) -> Case {
    Case {
        name,
        dpi,
        mode,
        angle: 0.0,
        jpeg: 0,
        speckle: 0.0,
        perspective: false,
        container,
        prefilled: true,
    }
}

fn scan_set() -> Vec<Case> {
    vec![
        Case {
            angle: 0.8,
            ..case("gris-200-pdf", 200, "L", "pdf-image")
        },
        Case {
            angle: -2.9,
            prefilled: false,
            ..case("gris-150-png-incline", 150, "L", "png")
        },
        Case {
            angle: 1.7,
            jpeg: 70,
            ..case("couleur-300-jpeg", 300, "RGB", "jpeg")
        },
        Case {
            angle: -0.4,
            ..case("couleur-200-jpeg-pdf", 200, "RGB", "pdf-jpeg")
        },
        Case {
            angle: 0.3,
            ..case("nb-300-ccitt", 300, "1", "pdf-ccitt")
        },
        Case {
            angle: 2.5,
            prefilled: false,
            ..case("nb-200-png", 200, "1", "png")
        },
        Case {
            speckle: 0.0015,
            angle: -1.2,
            ..case("gris-200-tachete", 200, "L", "pdf-image")
        },
        Case {
            perspective: true,
            jpeg: 80,
            prefilled: false,
            ..case("photo-perspective", 200, "RGB", "jpeg")
        },
        Case {
            angle: 3.0,
            jpeg: 60,
            ..case("gris-150-jpeg-pdf", 150, "L", "pdf-image")
        },
        Case {
            angle: -1.5,
            ..case("deux-pages", 200, "L", "pdf-two-pages")
        },
        Case {
            angle: 180.4,
            prefilled: false,
            ..case("gris-200-tete-en-bas", 200, "L", "png")
        },
        Case {
            angle: -3.0,
            jpeg: 75,
            ..case("couleur-150-jpeg-moins-3", 150, "RGB", "jpeg")
        },
    ]
}

/// JSON for the generator (no serde_json in this crate).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn extension(container: &str) -> &'static str {
    match container {
        "png" => "png",
        "jpeg" => "jpg",
        _ => "pdf",
    }
}

/// Runs the generator on `cases` (JSON objects); files land in `dir`.
fn generate(python: &Path, dir: &Path, cases: &[String]) {
    let blank_path = dir.join("blank.pdf");
    std::fs::write(&blank_path, blank(None)).unwrap();
    let spec = format!(
        "{{\"blank\": {}, \"cases\": [{}]}}",
        json_string(blank_path.to_str().unwrap()),
        cases.join(", ")
    );
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, spec).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/scans.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&spec_path)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scan generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The generator's spec of each case, with value set `i` for case `i` and
/// one of the two situation boxes ticked (`situation_oubli` for even `i`);
/// `hand`: hand-printed in that font instead of filled on screen.
fn specs(dir: &Path, cases: &[Case], hand: Option<&Path>) -> Vec<String> {
    let mut specs = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let values = value_set(i);
        let number = values["numero_abonne"];
        let blank_path = dir.join(format!("blank-{i}.pdf"));
        std::fs::write(&blank_path, blank(c.prefilled.then_some(number))).unwrap();
        let mut filled: Vec<String> = values
            .iter()
            .filter(|(k, _)| !(c.prefilled && **k == "numero_abonne"))
            .map(|(k, v)| format!("{}: {}", json_string(k), json_string(v)))
            .collect();
        let ticked = if i % 2 == 0 {
            "situation_oubli"
        } else {
            "situation_nouveau"
        };
        filled.push(format!("{}: \"/Yes\"", json_string(ticked)));
        let hand = hand
            .map(|f| format!(", \"hand\": {}", json_string(f.to_str().unwrap())))
            .unwrap_or_default();
        specs.push(format!(
            "{{\"name\": {}, \"blank\": {}, \"values\": {{{}}}, \"dpi\": {}, \"mode\": {}, \
             \"angle\": {}, \"jpeg\": {}, \"speckle\": {}, \"perspective\": {}, \"container\": {}{hand}}}",
            json_string(c.name),
            json_string(blank_path.to_str().unwrap()),
            filled.join(", "),
            c.dpi,
            json_string(c.mode),
            c.angle,
            c.jpeg,
            c.speckle,
            c.perspective,
            json_string(c.container)
        ));
    }
    specs
}

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

/// The handwriting font: `BAREME_MEL_TEST_HAND_FONT`, else the one
/// `scripts/services/hand-font.sh` keeps in `.tools/fonts` (Patrick Hand),
/// fetched by that script (npm) when missing.
fn hand_font() -> Option<PathBuf> {
    let path = match std::env::var_os("BAREME_MEL_TEST_HAND_FONT") {
        Some(p) => PathBuf::from(p),
        None => fetched_hand_font(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..")),
    };
    tool_available(
        "the handwriting font (scripts/services/hand-font.sh)",
        path.is_file(),
    )
    .then_some(path)
}

/// The font's path under `.tools/fonts` of `root`, fetched if missing.
fn fetched_hand_font(root: &Path) -> PathBuf {
    let path = root.join(".tools/fonts/patrick-hand-latin-400-normal.woff");
    if !path.is_file() {
        let _ = Command::new(root.join("scripts/services/hand-font.sh"))
            .stdout(std::process::Stdio::null())
            .status();
    }
    path
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
