//! The « Formulaire numérisé » panel in a real browser: a scanned form
//! mailed in becomes a request; an agent opens it, sees each value beside
//! the image of its box (loaded), the signature and the stamp, and confirms
//! the values read. axe-core on the page.

use crate::{
    gestion::{NEW_ADDRESS, OLD_ADDRESS, office},
    gestion_browser::{assert_accessible, browser, click_button, sign_in, wait_text},
    scan_support::{ScanCase, mail_with, make, scan_tools, typed},
};
use bareme_mel::{
    config::Settings,
    intake::{Incoming, Intake, Origin},
    store::audit,
};
use fantoccini::Locator;
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_opens_a_scanned_request_and_sees_each_value_beside_its_box() {
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
            angle: -0.9,
            container: "pdf-image",
        }],
    );
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let raw = mail_with(
        "secretariat@lycee-joffre.fr",
        "Changement de gestionnaire",
        "Bonjour, ci-joint le formulaire signé et tamponné.",
        ("formulaire.pdf", "application/pdf", &scans[0]),
    );
    let reference = Intake::new(o.db.clone(), Arc::new(Settings::default()))
        .ingest(Incoming::whole(raw, Origin::new("file", None)))
        .await
        .unwrap()
        .reference
        .expect("a request");
    let Some((c, _profile)) = browser().await else {
        return;
    };
    sign_in(&c, &o, "agent").await;
    c.goto(&format!("{}/gestion/demandes/{reference}", o.app.base))
        .await
        .unwrap();
    wait_text(&c, "Formulaire numérisé").await;
    wait_text(&c, "Confirmer les valeurs lues").await;
    // Every image of the panel is loaded (served, decoded, not empty).
    let mut images = json!([]);
    for _ in 0..100 {
        images = c
            .execute(
                "return Array.from(document.querySelectorAll('section[aria-labelledby=\"formulaire-numerise\"] img'))
                   .map(i => [i.alt, i.complete && i.naturalWidth > 0]);",
                vec![],
            )
            .await
            .unwrap();
        let all = images.as_array().cloned().unwrap_or_default();
        if !all.is_empty() && all.iter().all(|i| i[1] == json!(true)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let all = images.as_array().cloned().unwrap_or_default();
    assert!(all.len() >= 15, "{images:#}");
    assert!(all.iter().all(|i| i[1] == json!(true)), "{images:#}");
    for alt in [
        "Case « Nouvelle adresse mél » telle que numérisée",
        "Zone de la signature telle que numérisée",
        "Zone du cachet telle que numérisée",
    ] {
        assert!(all.iter().any(|i| i[0] == json!(alt)), "{alt}: {images:#}");
    }
    let new_address_row = c
        .find(Locator::XPath(
            "//section[@aria-labelledby='formulaire-numerise']//tr[th[normalize-space()='Nouvelle adresse mél']]",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        new_address_row.contains(" %"),
        "confidence shown: {new_address_row}"
    );
    assert_accessible(&c, "une demande lue sur un formulaire numérisé").await;

    click_button(&c, "Confirmer les valeurs lues").await;
    wait_text(&c, "Valeurs lues confirmées").await;
    let model = o.model(&reference).await;
    let events = audit::for_request(o.db.conn(), model.id).await.unwrap();
    assert!(events.iter().any(|e| e.action == "scan_confirmed"));
    assert!(model.new_email.is_some());
    let _ = c.close().await;
}
