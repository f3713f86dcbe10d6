//! The form as outside tools see it (qpdf, poppler, pypdf), and the reader
//! facing copies filled, flattened or damaged by others.
//!
//! Outside tools: `apt-get install qpdf poppler-utils` and
//! `scripts/tools-venv.sh` (pypdf). A missing tool skips its test, unless
//! `BAREME_MEL_REQUIRE_SERVICES=1`, which makes it fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bareme_forms::{FieldKind, ReadOutcome, RenderOptions, definition, read_pdf, render};
use lopdf::{Document, Object, Stream, dictionary};

#[path = "support/hostile.rs"]
mod hostile;

// ---------------------------------------------------------------- helpers

/// Skips (prints why and returns `false`) or, when outside tools are
/// required (`BAREME_MEL_REQUIRE_SERVICES=1`), fails the test.
fn tool_available(tool: &str, found: bool) -> bool {
    if found {
        return true;
    }
    let message = format!(
        "skipped: {tool} not found (run scripts/tools-venv.sh / apt-get install qpdf poppler-utils)"
    );
    if std::env::var("BAREME_MEL_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!("{message}");
    }
    eprintln!("{message}");
    false
}

/// A command-line tool from the system, if it runs.
fn system_tool(name: &str, version_flag: &str) -> Option<Command> {
    let runs = Command::new(name).arg(version_flag).output().is_ok();
    tool_available(name, runs).then(|| Command::new(name))
}

/// The Python of the tools venv, if pypdf imports there.
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("BAREME_MEL_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/python"));
    let works = Command::new(&path)
        .args(["-c", "import pypdf"])
        .output()
        .is_ok_and(|o| o.status.success());
    tool_available("python with pypdf", works).then_some(path)
}

/// Runs a Python snippet; `sys.argv[1..]` are `args`. Returns stdout.
fn run_python(python: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn blank_form() -> Vec<u8> {
    render(&RenderOptions {
        send_to: "bareme@ac-montpellier.fr".into(),
        subscriber_number: None,
    })
    .unwrap()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Values with accents and French quotes for every text field, and one
/// ticked situation.
fn accented_values() -> BTreeMap<String, String> {
    definition()
        .fields()
        .filter(|f| f.kind == FieldKind::Text)
        .map(|f| {
            let value = match f.name.as_str() {
                "numero_abonne" => "12345".to_owned(),
                "organisme" => "Lycée « Jean-Moulin »".to_owned(),
                "prenom" => "Françoise Hélène".to_owned(),
                "nouvelle_adresse_mel" | "nouvelle_adresse_mel_confirmation" => {
                    "francoise.helene@ac-montpellier.fr".to_owned()
                }
                "ancienne_adresse_mel" => "ancienne@ac-montpellier.fr".to_owned(),
                "date" => "12/01/2026".to_owned(),
                "telephone" => "04 67 91 50 00".to_owned(),
                other => format!("Élève « {other} » à Béziers"),
            };
            (f.name.clone(), value)
        })
        .collect()
}

const FILL: &str = r#"
import json, sys
from pypdf import PdfReader, PdfWriter
values = json.loads(sys.argv[3])
incremental = sys.argv[4] == "incremental"
if incremental:
    writer = PdfWriter(sys.argv[1], incremental=True)
else:
    writer = PdfWriter(clone_from=sys.argv[1])
writer.update_page_form_field_values(writer.pages[0], values, auto_regenerate=False)
writer.write(sys.argv[2])
"#;

const LIST_FIELDS: &str = r#"
import json, sys
from pypdf import PdfReader
fields = PdfReader(sys.argv[1]).get_fields() or {}
print(json.dumps({name: [str(f.get("/FT")), str(f.get("/V", ""))] for name, f in fields.items()}))
"#;

/// Fills the blank form with pypdf; returns the filled PDF's path.
fn fill_with_pypdf(
    python: &Path,
    dir: &Path,
    incremental: bool,
) -> (PathBuf, BTreeMap<String, String>) {
    let blank = dir.join("blank.pdf");
    std::fs::write(&blank, blank_form()).unwrap();
    let filled = dir.join("filled.pdf");
    let mut values: BTreeMap<String, String> = accented_values();
    let mut to_fill: BTreeMap<String, String> = values.clone();
    to_fill.insert("situation_oubli".into(), "/Yes".into());
    values.insert("situation_oubli".into(), "oui".into());
    let json = serde_json_like(&to_fill);
    let mode = if incremental { "incremental" } else { "full" };
    run_python(
        python,
        FILL,
        &[
            blank.to_str().unwrap(),
            filled.to_str().unwrap(),
            &json,
            mode,
        ],
    );
    (filled, values)
}

/// JSON object of string pairs (no serde_json in this crate).
fn serde_json_like(map: &BTreeMap<String, String>) -> String {
    let quote = |s: &str| {
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
    };
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}: {}", quote(k), quote(v)))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

fn outcome_values(outcome: &ReadOutcome) -> BTreeMap<String, String> {
    match outcome {
        ReadOutcome::AcroForm(v) | ReadOutcome::Text(v) => v.as_map().clone(),
        ReadOutcome::NoFields { .. } => BTreeMap::new(),
    }
}

// ---------------------------------------------------------------- the form

#[test]
fn the_blank_form_passes_qpdf_check() {
    let Some(mut qpdf) = system_tool("qpdf", "--version") else {
        return;
    };
    let dir = temp_dir();
    let path = dir.path().join("blank.pdf");
    std::fs::write(&path, blank_form()).unwrap();
    let out = qpdf.arg("--check").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "qpdf --check: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("No syntax or stream encoding errors found"),
        "{stdout}"
    );
}

#[test]
fn the_form_is_an_a4_page_of_at_most_40_kb_with_an_acroform() {
    let pdf = blank_form();
    assert!(pdf.len() <= 40 * 1024, "{} bytes", pdf.len());
    let Some(mut pdfinfo) = system_tool("pdfinfo", "-v") else {
        return;
    };
    let dir = temp_dir();
    let path = dir.path().join("blank.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let info = String::from_utf8(pdfinfo.arg(&path).output().unwrap().stdout).unwrap();
    assert!(info.contains("Form:            AcroForm"), "{info}");
    assert!(info.contains("(A4)"), "{info}");
    assert!(info.contains("Pages:           1"), "{info}");
}

#[test]
fn pypdf_lists_exactly_the_spec_field_names() {
    let Some(python) = python() else { return };
    let dir = temp_dir();
    let path = dir.path().join("blank.pdf");
    std::fs::write(&path, blank_form()).unwrap();
    let listed = run_python(&python, LIST_FIELDS, &[path.to_str().unwrap()]);
    let mut expected: Vec<String> = definition()
        .fields()
        .map(|f| format!("\"{}\": [\"", f.name))
        .collect();
    expected.sort();
    let count = listed.matches(": [\"/").count();
    assert_eq!(count, 15, "{listed}");
    for name in expected {
        assert!(listed.contains(&name), "{name} missing from {listed}");
    }
    assert!(
        listed.contains("\"situation_nouveau\": [\"/Btn\""),
        "{listed}"
    );
    assert!(listed.contains("\"nom\": [\"/Tx\""), "{listed}");
}

#[test]
fn pdftotext_of_the_blank_form_contains_the_accented_title() {
    let Some(mut pdftotext) = system_tool("pdftotext", "-v") else {
        return;
    };
    let dir = temp_dir();
    let path = dir.path().join("blank.pdf");
    std::fs::write(&path, blank_form()).unwrap();
    let out = pdftotext.arg(&path).arg("-").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("Changement de l'adresse mél du gestionnaire responsable de la commande"),
        "{text}"
    );
    assert!(text.contains("Division des affaires générales"));
    assert!(text.contains("bareme@ac-montpellier.fr"));
    assert!(text.contains("Toujours en poste, mot de passe oublié"));
}

#[test]
fn the_pre_filled_form_carries_only_the_subscriber_number() {
    let opts = RenderOptions {
        send_to: "bareme@ac-montpellier.fr".into(),
        subscriber_number: Some("12345".into()),
    };
    let pdf = render(&opts).unwrap();
    let ReadOutcome::AcroForm(values) = read_pdf(&pdf) else {
        panic!("{:?}", read_pdf(&pdf))
    };
    assert_eq!(
        values.iter().collect::<Vec<_>>(),
        vec![("numero_abonne", "12345")]
    );
    assert_eq!(
        render(&opts).unwrap(),
        pdf,
        "the same options give the same bytes"
    );
}

#[test]
fn the_blank_form_read_back_has_no_fields() {
    assert!(matches!(
        read_pdf(&blank_form()),
        ReadOutcome::NoFields { .. }
    ));
}

// ---------------------------------------------------------------- reading

#[test]
fn fields_filled_by_pypdf_with_accents_are_read_back_exactly() {
    let Some(python) = python() else { return };
    let dir = temp_dir();
    let (filled, expected) = fill_with_pypdf(&python, dir.path(), false);
    let outcome = read_pdf(&std::fs::read(filled).unwrap());
    assert!(matches!(outcome, ReadOutcome::AcroForm(_)), "{outcome:?}");
    assert_eq!(outcome_values(&outcome), expected);
}

#[test]
fn an_incremental_update_by_pypdf_is_read_back() {
    let Some(python) = python() else { return };
    let dir = temp_dir();
    let (filled, expected) = fill_with_pypdf(&python, dir.path(), true);
    let bytes = std::fs::read(filled).unwrap();
    assert!(
        bytes.windows(9).filter(|w| w == b"startxref").count() >= 2,
        "an incremental update"
    );
    assert_eq!(outcome_values(&read_pdf(&bytes)), expected);
}

/// Acrobat and qpdf store small objects packed in object streams: the
/// fields, read without loading the whole document, are found there too.
#[test]
fn fields_stored_in_object_streams_are_read_back_exactly() {
    let Some(python) = python() else { return };
    let Some(mut qpdf) = system_tool("qpdf", "--version") else {
        return;
    };
    let dir = temp_dir();
    let (filled, expected) = fill_with_pypdf(&python, dir.path(), false);
    let packed = dir.path().join("packed.pdf");
    let status = qpdf
        .args(["--object-streams=generate"])
        .arg(&filled)
        .arg(&packed)
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(packed).unwrap();
    assert!(
        bytes.windows(7).any(|w| w == b"/ObjStm"),
        "qpdf made object streams"
    );
    let outcome = read_pdf(&bytes);
    assert!(matches!(outcome, ReadOutcome::AcroForm(_)), "{outcome:?}");
    assert_eq!(outcome_values(&outcome), expected);
}

#[test]
fn a_flattened_filled_copy_is_read_from_its_page_text() {
    let Some(python) = python() else { return };
    let Some(mut pdftocairo) = system_tool("pdftocairo", "-v") else {
        return;
    };
    let dir = temp_dir();
    let (filled, expected) = fill_with_pypdf(&python, dir.path(), false);
    let flat = dir.path().join("flat.pdf");
    let status = pdftocairo
        .arg("-pdf")
        .arg(&filled)
        .arg(&flat)
        .status()
        .unwrap();
    assert!(status.success());
    // The flattening really removed the fields.
    let listed = run_python(&python, LIST_FIELDS, &[flat.to_str().unwrap()]);
    assert_eq!(listed.trim(), "{}", "pypdf still lists fields: {listed}");

    let outcome = read_pdf(&std::fs::read(&flat).unwrap());
    assert!(matches!(outcome, ReadOutcome::Text(_)), "{outcome:?}");
    assert_eq!(outcome_values(&outcome), expected);
}

#[test]
fn a_value_set_directly_in_the_pdf_is_read_like_one_from_another_tool() {
    // A check box set only through its appearance state, a UTF-16 value,
    // a field nested under a parent: what other tools write.
    let mut doc = Document::load_mem(&blank_form()).unwrap();
    let fields: Vec<Object> = doc
        .catalog()
        .unwrap()
        .get(b"AcroForm")
        .and_then(|a| doc.dereference(a))
        .unwrap()
        .1
        .as_dict()
        .unwrap()
        .get(b"Fields")
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    for field in &fields {
        let id = field.as_reference().unwrap();
        let dict = doc.get_dictionary_mut(id).unwrap();
        match dict.get(b"T").unwrap().as_str().unwrap() {
            b"situation_nouveau" => {
                dict.remove(b"V");
                dict.set("AS", "Yes");
            }
            b"nom" => dict.set("V", lopdf::text_string("Œuvre d’Hérault")),
            _ => {}
        }
    }
    let parent =
        doc.add_object(dictionary! { "T" => Object::string_literal("form1"), "Kids" => fields });
    doc.catalog_mut()
        .unwrap()
        .set("AcroForm", dictionary! { "Fields" => vec![parent.into()] });
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let values = outcome_values(&read_pdf(&bytes));
    assert_eq!(
        values.get("situation_nouveau").map(String::as_str),
        Some("oui")
    );
    assert_eq!(
        values.get("nom").map(String::as_str),
        Some("Œuvre d’Hérault")
    );
}

/// Time allowed for one hostile read: generous, as tests run unoptimised on
/// a shared machine; a hang would take far longer.
// A guard against hangs, not a speed target (the criterion bench has those): generous
// enough for a debug build on a loaded 2-core machine.
const HOSTILE_BUDGET: Duration = Duration::from_secs(60);

/// Asserts that reading finishes quickly with no fields and no panic.
fn assert_no_fields_quickly(name: &str, bytes: &[u8]) {
    let started = Instant::now();
    let outcome = read_pdf(bytes);
    let elapsed = started.elapsed();
    assert!(elapsed < HOSTILE_BUDGET, "{name}: took {elapsed:?}");
    assert!(
        matches!(outcome, ReadOutcome::NoFields { .. }),
        "{name}: {outcome:?}"
    );
}

#[test]
fn malformed_and_hostile_pdfs_give_no_fields_without_panic_or_hang() {
    for (name, bytes) in hostile::all(&blank_form()) {
        assert_no_fields_quickly(&name, &bytes);
    }
}

#[test]
fn an_encrypted_pdf_gives_no_fields() {
    let Some(mut qpdf) = system_tool("qpdf", "--version") else {
        return;
    };
    let dir = temp_dir();
    let plain = dir.path().join("plain.pdf");
    let locked = dir.path().join("locked.pdf");
    std::fs::write(&plain, blank_form()).unwrap();
    let status = qpdf
        .args(["--encrypt", "secret-user", "secret-owner", "256", "--"])
        .arg(&plain)
        .arg(&locked)
        .status()
        .unwrap();
    assert!(status.success());
    assert_no_fields_quickly("encrypted", &std::fs::read(&locked).unwrap());
}

#[test]
fn javascript_and_open_actions_are_ignored_while_fields_are_read() {
    let opts = RenderOptions {
        send_to: "bareme@ac-montpellier.fr".into(),
        subscriber_number: Some("777".into()),
    };
    let mut doc = Document::load_mem(&render(&opts).unwrap()).unwrap();
    let js = dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert('x'); while(1){}") };
    let catalog = doc.catalog_mut().unwrap();
    catalog.set("OpenAction", js.clone());
    catalog.set("Names", dictionary! { "JavaScript" => dictionary! { "Names" => vec![Object::string_literal("a"), js.into()] } });
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let values = outcome_values(&read_pdf(&bytes));
    assert_eq!(values.get("numero_abonne").map(String::as_str), Some("777"));
}

#[test]
fn a_decompression_bomb_in_a_field_value_is_bounded() {
    let mut doc = Document::load_mem(&blank_form()).unwrap();
    let mut bomb = Stream::new(dictionary! {}, vec![b'A'; 16 * 1024 * 1024]);
    bomb.compress().unwrap();
    let bomb = doc.add_object(bomb);
    let ids: Vec<_> = doc.objects.keys().copied().collect();
    for id in ids {
        if let Ok(dict) = doc.get_dictionary_mut(id)
            && dict
                .get(b"T")
                .is_ok_and(|t| t.as_str().is_ok_and(|t| t == b"organisme"))
        {
            dict.set("V", bomb);
        }
    }
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let started = Instant::now();
    let values = outcome_values(&read_pdf(&bytes));
    assert!(started.elapsed() < HOSTILE_BUDGET);
    assert!(
        values.get("organisme").is_none_or(|v| v.len() <= 4 * 1024),
        "{:?}",
        values.keys()
    );
}

#[test]
fn randomly_damaged_copies_never_panic_or_hang() {
    let opts = RenderOptions {
        send_to: "bareme@ac-montpellier.fr".into(),
        subscriber_number: Some("12345".into()),
    };
    let form = render(&opts).unwrap();
    for (i, bytes) in hostile::mutations(&form, 150).into_iter().enumerate() {
        let started = Instant::now();
        let _ = read_pdf(&bytes);
        assert!(started.elapsed() < HOSTILE_BUDGET, "mutation {i}");
    }
}
