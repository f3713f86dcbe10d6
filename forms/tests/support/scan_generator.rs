//! The scan set's generator, seen from Rust: the form filled on screen
//! (pypdf), rasterised by pdftoppm at 150, 200 and 300 dpi, then tilted,
//! speckled, JPEG-compressed, put in perspective, and saved as image PDF,
//! JPEG-in-PDF, CCITT PDF, JPEG, PNG and a two-page PDF (`scans.py` beside
//! this file, Pillow) — or hand-printed in a handwriting font. Also the value
//! sets typed on each case, and the outside tools it needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bareme_forms::{RenderOptions, ScanConfig, ocr_availability, render};

/// Skips (prints why and returns `false`) or, when outside tools are
/// required (`BAREME_MEL_REQUIRE_SERVICES=1`), fails the test.
pub fn tool_available(tool: &str, found: bool) -> bool {
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

/// pdftoppm, Tesseract with French and the tools venv's Python (returned),
/// or `None` once [`tool_available`] has said which is missing.
pub fn scan_tools() -> Option<PathBuf> {
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

/// The blank form, with the subscriber number pre-filled (in the QR code)
/// when given.
pub fn blank(subscriber: Option<&str>) -> Vec<u8> {
    render(&RenderOptions {
        send_to: "bareme@ac-montpellier.fr".into(),
        subscriber_number: subscriber.map(str::to_owned),
    })
    .unwrap()
}

/// Varied French values, one set per case (rotating).
pub fn value_set(i: usize) -> BTreeMap<&'static str, &'static str> {
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
pub struct Case {
    pub name: &'static str,
    pub dpi: u32,
    pub mode: &'static str,
    pub angle: f32,
    pub jpeg: u32,
    pub speckle: f32,
    pub perspective: bool,
    pub container: &'static str,
    /// Subscriber number pre-filled (in the QR code), or typed.
    pub prefilled: bool,
}

/// A straight, clean, pre-filled scan; cases change what they need.
pub const fn case(
    name: &'static str,
    dpi: u32,
    mode: &'static str,
    container: &'static str,
) -> Case {
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

/// The typed scan set: resolutions, colour modes, tilts, JPEG quality,
/// speckle, perspective and containers, one of each that matters.
pub fn scan_set() -> Vec<Case> {
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

/// The file extension the generator gives a `container`.
pub fn extension(container: &str) -> &'static str {
    match container {
        "png" => "png",
        "jpeg" => "jpg",
        _ => "pdf",
    }
}

/// Runs the generator on `cases` (JSON objects); files land in `dir`.
pub fn generate(python: &Path, dir: &Path, cases: &[String]) {
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
pub fn specs(dir: &Path, cases: &[Case], hand: Option<&Path>) -> Vec<String> {
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

/// The handwriting font: `BAREME_MEL_TEST_HAND_FONT`, else the one
/// `scripts/services/hand-font.sh` keeps in `.tools/fonts` (Patrick Hand),
/// fetched by that script (npm) when missing.
pub fn hand_font() -> Option<PathBuf> {
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
