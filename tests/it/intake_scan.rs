//! Scanned forms through intake (SPEC §4, scanned form): the printed,
//! signed and scanned form mailed as an image PDF or a JPEG becomes a
//! request with its fields, checks and alert; an unrelated letter stays
//! « saisie manuelle » with nothing invented; a value read with a low
//! confidence is flagged and never becomes the new address unconfirmed;
//! without Tesseract scans fall back to manual entry and `serve` says so.

use crate::{
    gestion::{NEW_ADDRESS, OLD_ADDRESS, input_value, office},
    harness::{TestDb, cmd, free_port},
    intake_support::*,
    scan_support::{ScanCase, hand_font, mail_with, make, make_hand, scan_tools, typed},
};
use bareme_mel::{
    config::Settings,
    intake::{Incoming, Intake, Origin},
    store::{
        Db, audit,
        entities::{change_request, scan_reading},
        inbox::Disposition,
        requests, scan_readings,
    },
};
use std::{
    collections::BTreeMap,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

const NEW: &str = "marie.durand@lycee-jean-moulin.fr";

async fn ingest_with(db: &Db, settings: Settings, raw: Vec<u8>) -> Option<String> {
    let outcome = Intake::new(db.clone(), Arc::new(settings))
        .ingest(Incoming::whole(raw, Origin::new("file", None)))
        .await
        .expect("ingest");
    outcome.reference
}

fn flags(m: &change_request::Model) -> Vec<String> {
    serde_json::from_str(&m.flags).unwrap()
}

/// Confidences (« 87 % ») and dates (« 01/12/2026 à 04 h 10 ») as `N`.
fn redact_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

async fn readings(db: &Db, request_id: i64) -> Vec<scan_reading::Model> {
    scan_readings::for_request(db.conn(), request_id)
        .await
        .unwrap()
}

/// Checks one request made from a scan of `want`; returns how many typed
/// fields were read exactly, out of how many.
async fn check_scanned_request(
    db: &Db,
    reference: &str,
    want: &BTreeMap<String, String>,
) -> (usize, usize) {
    let detail = requests::show(db.conn(), reference).await.unwrap();
    let model = requests::find(db.conn(), reference).await.unwrap();
    let flags = flags(&model);
    assert!(!flags.contains(&"saisie_manuelle".into()), "{flags:?}");
    assert_eq!(
        detail.fields.get("_source").map(String::as_str),
        Some("scan")
    );
    assert_eq!(model.claimed_number.as_deref(), Some(NUMBER));
    assert!(model.subscriber_id.is_some(), "matched to subscriber 12345");
    // No wrong new address stored unflagged: the one read, or none and flagged.
    match model.new_email.as_deref() {
        Some(a) => assert_eq!(a, NEW, "a wrong new address became the request's"),
        None => assert!(
            flags.contains(&"lecture_incertaine".into()),
            "no new address, and no flag: {flags:?} {:?}",
            detail.fields
        ),
    }
    assert_eq!(detail.situation.as_deref(), Some("nouveau_sur_le_poste"));
    let alerts: Vec<String> = outbox_rows(db, model.id)
        .await
        .into_iter()
        .filter(|o| o.template == "registered_address_alert")
        .map(|o| o.recipient)
        .collect();
    assert_eq!(
        alerts,
        vec![REGISTERED.to_string()],
        "alert to the registered address"
    );
    let rows = readings(db, model.id).await;
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    for name in [
        "numero_abonne",
        "nouvelle_adresse_mel",
        "_signature",
        "_stamp",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    for r in &rows {
        assert!(r.image_png.starts_with(b"\x89PNG"), "{} is a PNG", r.name);
        assert!(r.image_png.len() < 200_000, "{} is small", r.name);
    }
    let mut exact = 0;
    for (name, value) in want {
        let read = detail.fields.get(name);
        if read == Some(value) {
            exact += 1;
        } else {
            eprintln!("{reference}: {name} read {read:?}, typed {value:?}");
            let row = rows.iter().find(|r| r.name == *name).unwrap();
            if name.starts_with("nouvelle_adresse") {
                assert!(row.uncertain, "a misread address must be flagged: {read:?}");
            }
        }
    }
    (exact, want.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_mailed_as_an_image_pdf_or_a_jpeg_becomes_a_request_with_its_fields() {
    let Some(python) = scan_tools() else { return };
    let want = typed(NUMBER, "Lycée Jean Moulin", REGISTERED, NEW);
    let scans = make(
        &python,
        &[
            ScanCase {
                name: "gris-200-pdf",
                values: &want,
                prefilled: Some(NUMBER),
                dpi: 200,
                mode: "L",
                angle: 0.8,
                container: "pdf-image",
            },
            ScanCase {
                name: "couleur-200-jpeg",
                values: &want,
                prefilled: None,
                dpi: 200,
                mode: "RGB",
                angle: -1.3,
                container: "jpeg",
            },
        ],
    );
    let mut dbs = vec![TestDb::sqlite().await];
    dbs.extend(TestDb::postgres().await);
    let (mut exact, mut typed_count) = (0, 0);
    for t in &dbs {
        seed_subscriber(&t.db).await;
        for (scan, (file, content_type)) in scans.iter().zip([
            ("formulaire.pdf", "application/pdf"),
            ("IMG_2041.jpg", "image/jpeg"),
        ]) {
            let raw = mail_with(
                SENDER,
                "Changement d'adresse mél du gestionnaire",
                "Bonjour, veuillez trouver ci-joint le formulaire signé.",
                (file, content_type, scan),
            );
            let outcome = ingest(&t.db, &raw).await;
            assert_eq!(outcome.disposition, Disposition::RequestCreated, "{file}");
            let reference = outcome.reference.unwrap();
            let (e, n) = check_scanned_request(&t.db, &reference, &want).await;
            exact += e;
            typed_count += n;
        }
    }
    eprintln!("scans through intake: {exact}/{typed_count} typed fields exact");
    assert!(
        exact * 100 >= typed_count * 90,
        "{exact}/{typed_count} typed fields read exactly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_of_an_unrelated_letter_stays_manual_entry_with_no_invented_value() {
    let Some(python) = scan_tools() else { return };
    let none = BTreeMap::new();
    let scans = make(
        &python,
        &[
            ScanCase {
                name: "lettre-pdf",
                values: &none,
                prefilled: None,
                dpi: 200,
                mode: "L",
                angle: 0.5,
                container: "pdf-image",
            },
            ScanCase {
                name: "lettre-jpeg",
                values: &none,
                prefilled: None,
                dpi: 200,
                mode: "RGB",
                angle: -0.7,
                container: "jpeg",
            },
        ],
    );
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    for (scan, (file, content_type)) in scans.iter().zip([
        ("courrier.pdf", "application/pdf"),
        ("courrier.jpg", "image/jpeg"),
    ]) {
        // « formulaire » in the text: triage takes it for a scanned request.
        let raw = mail_with(
            SENDER,
            "Formulaire",
            "Bonjour, voici le formulaire numérisé.",
            (file, content_type, scan),
        );
        let reference = ingest(&t.db, &raw).await.reference.expect("a request");
        let detail = requests::show(t.db.conn(), &reference).await.unwrap();
        let model = requests::find(t.db.conn(), &reference).await.unwrap();
        assert!(flags(&model).contains(&"saisie_manuelle".into()), "{file}");
        assert_eq!(
            detail.fields.keys().collect::<Vec<_>>(),
            vec!["_source"],
            "{file}: nothing invented: {:?}",
            detail.fields
        );
        assert_eq!(model.new_email, None);
        assert_eq!(model.claimed_number, None);
        assert!(readings(&t.db, model.id).await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_under_the_threshold_are_flagged_and_the_address_waits_for_staff_confirmation() {
    let Some(python) = scan_tools() else { return };
    let want = typed("12345", "Lycée Joffre", OLD_ADDRESS, NEW_ADDRESS);
    let scans = make(
        &python,
        &[ScanCase {
            name: "gris-300-png",
            values: &want,
            prefilled: Some("12345"),
            dpi: 300,
            mode: "L",
            angle: 0.4,
            container: "png",
        }],
    );
    let t = TestDb::sqlite().await;
    let mut settings = settings();
    // Every value read by OCR is under a threshold of 100 %.
    settings.intake.ocr.min_confidence = 1.0;
    let o = office(t.db.clone(), Settings::default()).await;
    let raw = mail_with(
        "secretariat@lycee-joffre.fr",
        "Changement de gestionnaire",
        "Bonjour, ci-joint le formulaire signé.",
        ("scan.png", "image/png", &scans[0]),
    );
    let reference = ingest_with(&o.db, settings, raw).await.expect("a request");
    let model = o.model(&reference).await;
    assert!(flags(&model).contains(&"lecture_incertaine".into()));
    assert_eq!(model.new_email, None, "not the new address without staff");
    assert_eq!(
        model.subscriber_id,
        Some(o.subscriber_id),
        "the QR code's number"
    );
    let detail = requests::show(o.db.conn(), &reference).await.unwrap();
    let read_address = detail
        .fields
        .get("nouvelle_adresse_mel")
        .cloned()
        .expect("stored as read");
    let rows = readings(&o.db, model.id).await;
    let uncertain = |name: &str| rows.iter().find(|r| r.name == name).unwrap().uncertain;
    assert!(uncertain("nouvelle_adresse_mel") && uncertain("nom"));
    assert!(!uncertain("numero_abonne"), "the QR code is certain");

    // The page shows the panel; an agent confirms from there.
    let agent = o.client("agent").await;
    let (status, html) = agent.page(&format!("/gestion/demandes/{reference}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Formulaire numérisé"), "{html}");
    assert!(html.contains("À vérifier"));
    // The page as staff read it; reference, dates and confidences vary.
    let text = crate::snapshots::main_region(&html).replace(&reference, "BM-AAAA-NNNNN");
    let text = redact_numbers(&text);
    insta::assert_snapshot!("demande_formulaire_numerise", text);
    let image = rows
        .iter()
        .find(|r| r.name == "nouvelle_adresse_mel")
        .unwrap();
    let res = agent
        .get(&format!(
            "/gestion/demandes/{reference}/images/{}",
            image.id
        ))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        image.image_png.as_slice()
    );
    let (status, _) = agent.act(&reference, "confirmer-lecture", &[]).await;
    assert_eq!(status, 303);
    let model = o.model(&reference).await;
    assert_eq!(model.new_email.as_deref(), Some(read_address.as_str()));
    assert!(!flags(&model).contains(&"lecture_incertaine".into()));
    let events = audit::for_request(o.db.conn(), model.id).await.unwrap();
    assert!(events.iter().any(|e| e.action == "scan_confirmed"));
    // An image is only served on its own request's page.
    let other = o.request().await;
    let res = agent
        .get(&format!("/gestion/demandes/{other}/images/{}", image.id))
        .await;
    assert_ne!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tesseract_a_scan_falls_back_to_manual_entry() {
    let Some(python) = scan_tools() else { return };
    let want = typed(NUMBER, "Lycée Jean Moulin", REGISTERED, NEW);
    let scans = make(
        &python,
        &[ScanCase {
            name: "gris-200-pdf",
            values: &want,
            prefilled: Some(NUMBER),
            dpi: 200,
            mode: "L",
            angle: 0.8,
            container: "pdf-image",
        }],
    );
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let mut settings = settings();
    settings.intake.ocr.tesseract = "/nonexistent/bin/tesseract".into();
    let raw = mail_with(
        SENDER,
        "Changement d'adresse mél",
        "Bonjour, voici le formulaire signé.",
        ("formulaire.pdf", "application/pdf", &scans[0]),
    );
    let reference = ingest_with(&t.db, settings, raw).await.expect("a request");
    let model = requests::find(t.db.conn(), &reference).await.unwrap();
    assert!(flags(&model).contains(&"saisie_manuelle".into()));
    assert_eq!(model.new_email, None);
    let detail = requests::show(t.db.conn(), &reference).await.unwrap();
    assert_eq!(detail.fields.keys().collect::<Vec<_>>(), vec!["_source"]);
    // The boxes are still there for staff to key the values in.
    assert!(!readings(&t.db, model.id).await.is_empty());
}

#[tokio::test]
async fn serve_without_tesseract_says_so_once_stays_ready_and_exposes_it_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = cmd(dir.path())
        .arg("serve")
        .env("BAREME_MEL__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("PATH", empty_path.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        if let Ok(res) = reqwest::get(format!("{base}/readyz")).await {
            break res;
        }
        assert!(Instant::now() < deadline, "serve never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ready.status(), 200);
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\nbareme_mel_ocr_available 0\n"),
        "{metrics}"
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || {
        let _ = child.wait();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut s).unwrap();
        s
    })
    .await
    .unwrap();
    let said: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("« tesseract » introuvable"))
        .collect();
    assert_eq!(said.len(), 1, "said once:\n{out}");
    assert!(
        said[0].contains("apt-get install tesseract-ocr tesseract-ocr-fra"),
        "{out}"
    );
}

/// A `tesseract` that says when a reading starts, takes `seconds` longer,
/// and says when it is over (marker files `started` and `done` in `dir`).
fn slow_tesseract(dir: &std::path::Path, seconds: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v tesseract"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let script = dir.join("tesseract");
    let d = dir.display();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = stdin ] || exec {real} \"$@\"\n\
             touch {d}/started\nsleep {seconds}\n{real} \"$@\"\nrc=$?\ntouch {d}/done\nexit $rc\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// A scanned form that reached « Autres courriels » (Tesseract was missing
/// when it came in, and the mail says nothing of a change): staff turn it
/// into a request once OCR is back. The reading happens before the write
/// transaction — another agent's « Classer » goes through while the form
/// is still being read — and its values and box images are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_staff_turn_into_a_request_is_read_before_the_write_transaction() {
    let Some(python) = scan_tools() else { return };
    let want = typed("12345", "Lycée Joffre", OLD_ADDRESS, NEW_ADDRESS);
    let scans = make(
        &python,
        &[ScanCase {
            name: "gris-200-pdf",
            values: &want,
            prefilled: Some("12345"),
            dpi: 200,
            mode: "L",
            angle: 0.6,
            container: "pdf-image",
        }],
    );
    let dir = tempfile::tempdir().unwrap();
    let mut live = settings();
    live.intake.forward_other_to = "secretariat-dag@ac-montpellier.fr".into();
    live.intake.ocr.tesseract = slow_tesseract(dir.path(), 3);
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), live).await;
    let mut down = settings();
    down.intake.ocr.tesseract = "/nonexistent/bin/tesseract".into();
    let other_mail = |raw: Vec<u8>| {
        let intake = Intake::new(o.db.clone(), Arc::new(down.clone()));
        async move {
            let outcome = intake
                .ingest(Incoming::whole(raw, Origin::new("file", None)))
                .await
                .unwrap();
            assert_eq!(outcome.disposition, Disposition::NotARequest);
            outcome.inbound_id.unwrap()
        }
    };
    let scanned = other_mail(mail_with(
        "secretariat@lycee-joffre.fr",
        "Document",
        "Bonjour, ci-joint.",
        ("numerisation.pdf", "application/pdf", &scans[0]),
    ))
    .await;
    let newsletter = other_mail(mail_with(
        "news@example.org",
        "Lettre n° 42",
        "Nouveautés.",
        ("programme.txt", "text/plain", b"Rentree 2027"),
    ))
    .await;

    let agent = o.client("agent").await;
    let (_, html) = agent
        .page(&format!("/gestion/autres-courriels/{scanned}"))
        .await;
    let csrf = input_value(&html, "csrf").unwrap();
    let converting = tokio::spawn(async move {
        let res = agent
            .post(
                &format!("/gestion/autres-courriels/{scanned}/demande"),
                &[("csrf", &csrf)],
            )
            .await;
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (status, location)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.path().join("started").exists() {
        assert!(Instant::now() < deadline, "the scan was never read");
        if converting.is_finished() {
            panic!("converted before the reading: {:?}", converting.await);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The form is being read: another agent files another mail meanwhile.
    let other_agent = o.client("appro").await;
    let (_, html) = other_agent
        .page(&format!("/gestion/autres-courriels/{newsletter}"))
        .await;
    let csrf = input_value(&html, "csrf").unwrap();
    let res = other_agent
        .post(
            &format!("/gestion/autres-courriels/{newsletter}/classer"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        !dir.path().join("done").exists(),
        "« Classer » waited for the scan to be read: the reading holds the write transaction"
    );

    let (status, location) = converting.await.unwrap();
    assert_eq!(status, 303, "{location:?}");
    let reference = location
        .unwrap()
        .trim_start_matches("/gestion/demandes/")
        .to_string();
    let model = o.model(&reference).await;
    assert_eq!(model.origin_message_id, Some(scanned));
    assert_eq!(model.subscriber_id, Some(o.subscriber_id));
    let detail = requests::show(o.db.conn(), &reference).await.unwrap();
    assert_eq!(
        detail.fields.get("_source").map(String::as_str),
        Some("scan")
    );
    assert_eq!(detail.fields.get("nom").map(String::as_str), Some("Durand"));
    match model.new_email.as_deref() {
        Some(a) => assert_eq!(a, NEW_ADDRESS),
        None => assert!(flags(&model).contains(&"lecture_incertaine".into())),
    }
    let rows = readings(&o.db, model.id).await;
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    for name in [
        "numero_abonne",
        "nouvelle_adresse_mel",
        "_signature",
        "_stamp",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(rows.iter().all(|r| r.image_png.starts_with(b"\x89PNG")));
}

/// The form filled by hand, in capitals as it asks, signed and scanned: the
/// request is made and matched (the QR code's number), the values are stored
/// as read for staff, all of them « à vérifier », and the new address waits
/// for « Confirmer les valeurs lues » however sure Tesseract was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_filled_by_hand_in_capitals_waits_for_staff_to_confirm_what_was_read() {
    let Some(python) = scan_tools() else { return };
    let Some(font) = hand_font() else { return };
    let want = typed(NUMBER, "Lycée Jean Moulin", REGISTERED, NEW);
    let scans = make_hand(
        &python,
        &[
            ScanCase {
                name: "main-gris-200-pdf",
                values: &want,
                prefilled: Some(NUMBER),
                dpi: 200,
                mode: "L",
                angle: 0.6,
                container: "pdf-image",
            },
            ScanCase {
                name: "main-couleur-300-jpeg",
                values: &want,
                prefilled: Some(NUMBER),
                dpi: 300,
                mode: "RGB",
                angle: -1.1,
                container: "jpeg",
            },
        ],
        &font,
    );
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let (mut exact, mut typed_count) = (0, 0);
    for (scan, (file, content_type)) in scans.iter().zip([
        ("formulaire.pdf", "application/pdf"),
        ("IMG_2042.jpg", "image/jpeg"),
    ]) {
        let raw = mail_with(
            SENDER,
            "Changement d'adresse mél du gestionnaire",
            "Bonjour, veuillez trouver ci-joint le formulaire rempli et signé.",
            (file, content_type, scan),
        );
        let outcome = ingest(&t.db, &raw).await;
        assert_eq!(outcome.disposition, Disposition::RequestCreated, "{file}");
        let reference = outcome.reference.unwrap();
        let model = requests::find(t.db.conn(), &reference).await.unwrap();
        let detail = requests::show(t.db.conn(), &reference).await.unwrap();
        assert_eq!(
            detail.fields.get("_source").map(String::as_str),
            Some("scan")
        );
        assert!(
            model.subscriber_id.is_some(),
            "{file}: matched by the QR code"
        );
        assert!(
            flags(&model).contains(&"lecture_incertaine".into()),
            "{file}: {:?}",
            flags(&model)
        );
        assert_eq!(model.new_email, None, "{file}: not without staff");
        let rows = readings(&t.db, model.id).await;
        for r in rows
            .iter()
            .filter(|r| r.source == "ocr" && r.value.is_some())
        {
            assert!(r.uncertain, "{file}: {} read by OCR from a hand", r.name);
        }
        for (name, value) in &want {
            let written = if name.contains("adresse_mel") {
                value.to_lowercase()
            } else {
                value.to_uppercase()
            };
            typed_count += 1;
            exact += usize::from(detail.fields.get(name) == Some(&written));
        }
    }
    eprintln!("hand-printed scans through intake: {exact}/{typed_count} fields exact");
}
