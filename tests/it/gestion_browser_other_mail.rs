//! « Autres courriels » in a real browser: an agent turns a mail that is
//! not a change request into a request, and forwards another one, which the
//! outbox worker delivers with the original attached into an SMTP listener
//! (aiosmtpd). axe-core on both pages.

use crate::{
    gestion::office,
    gestion_browser::{assert_accessible, browser, click_button, sign_in, text, wait_text},
    gestion_other_mail::{FORWARD_TO, other_mail, settings},
    outbox::{sink::Sink, smtp_settings},
};
use bareme_mel::{mail::Worker, store::requests};
use fantoccini::Locator;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_turns_another_mail_into_a_request_and_forwards_one_into_the_smtp_sink() {
    let t = crate::harness::TestDb::sqlite().await;
    let Some(sink) = Sink::start(None) else {
        return;
    };
    let mut s = smtp_settings(sink.port);
    s.intake.forward_other_to = settings().intake.forward_other_to;
    // Plain HTTP for the browser (cookies are `Secure` under https).
    s.server.public_url = bareme_mel::config::Settings::default().server.public_url;
    let o = office(t.db.clone(), s.clone()).await;
    let question = other_mail(
        &o,
        "Marie <marie@lycee-joffre.fr>",
        "Question sur l'Espace Abonné",
        "N° abonné : 12345\nBonjour, où trouver la facture ?",
    )
    .await;
    let order = other_mail(
        &o,
        "intendance@college.fr",
        "Commande du barème 2027",
        "Bonjour, deux exemplaires s'il vous plaît.",
    )
    .await;
    let Some((c, _profile)) = browser().await else {
        return;
    };
    sign_in(&c, &o, "agent").await;
    c.find(Locator::LinkText("Autres courriels"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "Commande du barème 2027").await;
    assert_accessible(&c, "la liste des autres courriels").await;

    // The oldest first: the question becomes a request.
    c.find(Locator::Css("tbody tr:first-child td:first-child a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        c.current_url().await.unwrap().path(),
        format!("/gestion/autres-courriels/{question}")
    );
    assert_accessible(&c, "un autre courriel").await;
    click_button(&c, "Transformer en demande").await;
    let path = c.current_url().await.unwrap().path().to_string();
    let page = text(&c).await;
    let reference = path
        .strip_prefix("/gestion/demandes/")
        .unwrap_or_else(|| panic!("not on a request page: {path}\n{page}"))
        .to_string();
    wait_text(&c, &reference).await;
    let request = requests::find(o.db.conn(), &reference).await.unwrap();
    assert_eq!(request.subscriber_id, Some(o.subscriber_id));
    assert!(
        o.mails(&reference)
            .await
            .iter()
            .any(|m| m.template == "registered_address_alert")
    );

    // The order is forwarded.
    c.goto(&format!("{}/gestion/autres-courriels/{order}", o.app.base))
        .await
        .unwrap();
    click_button(&c, "Transférer").await;
    wait_text(&c, "Aucun courriel à traiter.").await;

    let worker = Worker::new(o.db.clone(), Arc::new(s)).unwrap();
    let mut delivered = None;
    for _ in 0..50 {
        worker.run_once().await.unwrap();
        delivered = sink
            .messages()
            .into_iter()
            .find(|raw| String::from_utf8_lossy(raw).contains(&format!("To: {FORWARD_TO}")));
        if delivered.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let raw = delivered.expect("the forwarded mail reached the SMTP listener");
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Courriel reçu par le Barème de Montpellier, transféré par la DAG")
    );
    let original = parsed
        .attachments()
        .find_map(|a| a.message())
        .expect("the original is attached as message/rfc822");
    assert_eq!(original.subject(), Some("Commande du barème 2027"));
    assert_eq!(
        original
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address()),
        Some("intendance@college.fr")
    );
    c.close().await.unwrap();
}
