//! Scanned forms through intake (SPEC §4, scanned form): the printed,
//! signed and scanned form mailed as an image PDF or a JPEG becomes a
//! request with its fields, checks and alert; an unrelated letter stays
//! « saisie manuelle » with nothing invented; a value read with a low
//! confidence is flagged and never becomes the new address unconfirmed; a
//! form filled by hand waits for staff to confirm what was read. Scans when
//! Tesseract is missing or slow: `intake_scan_tesseract`.

use crate::{
    gestion::{NEW_ADDRESS, OLD_ADDRESS, office},
    harness::TestDb,
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
use std::{collections::BTreeMap, sync::Arc};

/// The new address typed on the scanned forms of subscriber [`NUMBER`].
pub const NEW: &str = "marie.durand@lycee-jean-moulin.fr";

/// Ingests `raw` under `settings`; the reference of the request it made.
pub async fn ingest_with(db: &Db, settings: Settings, raw: Vec<u8>) -> Option<String> {
    let outcome = Intake::new(db.clone(), Arc::new(settings))
        .ingest(Incoming::whole(raw, Origin::new("file", None)))
        .await
        .expect("ingest");
    outcome.reference
}

/// The request's flags (`saisie_manuelle`, `lecture_incertaine`, …).
pub fn flags(m: &change_request::Model) -> Vec<String> {
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

/// What was read from a request's scan: one row per field or box, with
/// its image.
pub async fn readings(db: &Db, request_id: i64) -> Vec<scan_reading::Model> {
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
