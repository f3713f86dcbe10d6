//! Scans for the intake and back-office tests, made by the forms crate's
//! generator (`forms/tests/support/scans.py`: the form filled with pypdf,
//! rasterised by pdftoppm, tilted and saved by Pillow), and mails carrying
//! them. Needs `tesseract-ocr tesseract-ocr-fra poppler-utils` and the tools
//! venv (`BAREME_MEL_TEST_PYTHON`); a missing tool skips, unless
//! `BAREME_MEL_REQUIRE_SERVICES=1`.

use crate::harness::skip_or_fail;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

/// What the manager typed on screen before printing.
pub fn typed(number: &str, organisation: &str, old: &str, new: &str) -> BTreeMap<String, String> {
    [
        ("numero_abonne", number),
        ("organisme", organisation),
        ("nom", "Durand"),
        ("prenom", "Élodie"),
        ("fonction", "Gestionnaire matériel"),
        ("telephone", "04 67 91 50 00"),
        ("ancienne_adresse_mel", old),
        ("nouvelle_adresse_mel", new),
        ("nouvelle_adresse_mel_confirmation", new),
        ("signataire_nom", "Jérôme Lefèvre"),
        ("signataire_qualite", "Proviseur"),
        ("fait_a", "Béziers"),
        ("date", "12/01/2026"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The tools venv's Python, when the scan tools are all here.
pub fn scan_tools() -> Option<PathBuf> {
    let python = std::env::var_os("BAREME_MEL_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/python"));
    let works = Command::new(&python)
        .args(["-c", "import pypdf, PIL"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        return skip_or_fail("python with pypdf and Pillow", python.display());
    }
    if Command::new("pdftoppm").arg("-v").output().is_err() {
        return skip_or_fail("pdftoppm (poppler-utils)", "not in PATH");
    }
    if let Err(e) = bareme_forms::ocr_availability(&bareme_forms::ScanConfig::default()) {
        return skip_or_fail("tesseract with French", e);
    }
    Some(python)
}

/// One scan to make.
pub struct ScanCase<'a> {
    pub name: &'a str,
    /// Typed values; empty for an unrelated letter.
    pub values: &'a BTreeMap<String, String>,
    /// The subscriber number printed in the QR code (`?abonne=`).
    pub prefilled: Option<&'a str>,
    pub dpi: u32,
    /// `L`, `RGB` or `1`.
    pub mode: &'a str,
    pub angle: f32,
    /// `png`, `jpeg`, `pdf-image`, `pdf-jpeg`, `pdf-ccitt`, `pdf-two-pages`.
    pub container: &'a str,
}

/// The handwriting font: `BAREME_MEL_TEST_HAND_FONT`, else the one
/// `scripts/services/hand-font.sh` (run by install.sh) keeps in
/// `.tools/fonts`, fetched by that script (npm) when missing.
pub fn hand_font() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = match std::env::var_os("BAREME_MEL_TEST_HAND_FONT") {
        Some(p) => PathBuf::from(p),
        None => {
            let path = root.join(".tools/fonts/patrick-hand-latin-400-normal.woff");
            if !path.is_file() {
                let _ = Command::new(root.join("scripts/services/hand-font.sh"))
                    .stdout(std::process::Stdio::null())
                    .status();
            }
            path
        }
    };
    if !path.is_file() {
        return skip_or_fail(
            "the handwriting font (scripts/services/hand-font.sh)",
            path.display(),
        );
    }
    Some(path)
}

/// Makes the scans; returns their bytes in order.
pub fn make(python: &Path, cases: &[ScanCase<'_>]) -> Vec<Vec<u8>> {
    make_with(python, cases, None)
}

/// Makes the scans with their values hand-printed in capitals in `font`.
pub fn make_hand(python: &Path, cases: &[ScanCase<'_>], font: &Path) -> Vec<Vec<u8>> {
    make_with(python, cases, Some(font))
}

fn make_with(python: &Path, cases: &[ScanCase<'_>], hand: Option<&Path>) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let mut specs = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let blank = dir.path().join(format!("blank-{i}.pdf"));
        let pdf = bareme_forms::render(&bareme_forms::RenderOptions {
            send_to: "bareme@ac-montpellier.fr".into(),
            subscriber_number: c.prefilled.map(str::to_string),
        })
        .unwrap();
        std::fs::write(&blank, pdf).unwrap();
        let mut values: serde_json::Map<String, serde_json::Value> = c
            .values
            .iter()
            .filter(|(k, _)| !(c.prefilled.is_some() && *k == "numero_abonne"))
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        if !c.values.is_empty() {
            values.insert("situation_nouveau".into(), "/Yes".into());
        }
        let mut spec = serde_json::json!({
            "name": c.name,
            "blank": blank,
            "values": values,
            "letter": c.values.is_empty(),
            "dpi": c.dpi,
            "mode": c.mode,
            "angle": c.angle,
            "jpeg": 0,
            "speckle": 0.0,
            "perspective": false,
            "container": c.container,
        });
        if let Some(font) = hand {
            spec["hand"] = font.to_str().unwrap().into();
        }
        specs.push(spec);
    }
    let spec = dir.path().join("spec.json");
    let blank = dir.path().join("blank-0.pdf");
    std::fs::write(
        &spec,
        serde_json::json!({ "blank": blank, "cases": specs }).to_string(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("forms/tests/support/scans.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&spec)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scan generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cases
        .iter()
        .map(|c| {
            let ext = match c.container {
                "png" => "png",
                "jpeg" => "jpg",
                _ => "pdf",
            };
            std::fs::read(dir.path().join(format!("{}.{ext}", c.name))).unwrap()
        })
        .collect()
}

/// A mail from `from` with `body` and one attachment.
pub fn mail_with(from: &str, subject: &str, body: &str, file: (&str, &str, &[u8])) -> Vec<u8> {
    let (name, content_type, bytes) = file;
    let wrapped = crate::pdf_bomb::base64_lines(bytes);
    format!(
        "From: {from}\r\nTo: bareme@ac-montpellier.fr\r\nSubject: {subject}\r\n\
         Message-ID: <{}@test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
         --b1\r\nContent-Type: {content_type}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{wrapped}--b1--\r\n",
        uuid::Uuid::new_v4().simple()
    )
    .into_bytes()
}
