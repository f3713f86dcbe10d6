//! Scanned forms when Tesseract is missing or slow (SPEC §4, scanned form):
//! a scan falls back to manual entry, its boxes kept for staff; `serve`
//! says so once, stays ready and shows it in its metrics; a scan that came
//! in while Tesseract was missing is read when staff turn it into a
//! request, before the write transaction. The scans and the helpers that
//! read a request back are those of `intake_scan`.

use crate::{
    gestion::{NEW_ADDRESS, OLD_ADDRESS, input_value, office},
    harness::{TestDb, cmd, free_port},
    intake_scan::{NEW, flags, ingest_with, readings},
    intake_support::*,
    scan_support::{ScanCase, mail_with, make, scan_tools, typed},
};
use bareme_mel::{
    intake::{Incoming, Intake, Origin},
    store::{inbox::Disposition, requests},
};
use std::{
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

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
