//! The back-office in a real browser (Chromium through chromedriver, no
//! JavaScript shipped by the pages): the agent → approbateur story, the
//! four-eyes refusal, a rejection, a CSRF refusal, a hostile mail shown
//! inert, and axe-core run on every page with no violation allowed.

use crate::gestion::{NEW_ADDRESS, Office, PASSWORD, office};
use crate::gestion_pages::store_hostile_mail;
use bareme_mel::{
    config::Settings,
    store::tokens::{self, TokenKind, TokenState},
};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const AXE: &str = include_str!("../support/axe.min.js");

fn webdriver_url() -> String {
    std::env::var("BAREME_MEL_TEST_CHROMEDRIVER").unwrap_or_else(|_| "http://127.0.0.1:9515".into())
}

/// A fresh headless Chromium, or `None` (skipped) without chromedriver.
pub(crate) async fn browser() -> Option<(Client, tempfile::TempDir)> {
    browser_with(&[]).await
}

/// A fresh headless Chromium with `extra` command-line arguments.
pub(crate) async fn browser_with(extra: &[String]) -> Option<(Client, tempfile::TempDir)> {
    let profile = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1024",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend_from_slice(extra);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    match ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&webdriver_url())
        .await
    {
        Ok(c) => Some((c, profile)),
        Err(e) => crate::harness::skip_or_fail("chromedriver", e),
    }
}

/// Runs axe-core on the current page; panics listing any violation.
pub(crate) async fn assert_accessible(c: &Client, what: &str) {
    let loaded = c
        .execute("return typeof window.axe !== 'undefined';", vec![])
        .await
        .unwrap();
    if loaded != json!(true) {
        c.execute(&format!("{AXE}\n;window.axe = axe; return true;"), vec![])
            .await
            .unwrap();
    }
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
               .catch(e => done(['axe error: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    let violations = result.as_array().cloned().unwrap_or_default();
    assert!(violations.is_empty(), "axe-core on {what}: {violations:#?}");
}

/// Clicks a submit button and waits until the next page has loaded. A
/// button gone stale (the page was still settling) is looked up again.
pub(crate) async fn click_button(c: &Client, label: &str) {
    let xpath = format!("//button[normalize-space()=\"{label}\"]");
    let mut clicked = false;
    for _ in 0..20 {
        let _ = c.execute("window.__old_page = true;", vec![]).await;
        if let Ok(button) = c.find(Locator::XPath(&xpath)).await
            && button.click().await.is_ok()
        {
            clicked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(clicked, "button « {label} » not found");
    for _ in 0..100 {
        let fresh = c
            .execute(
                "return window.__old_page === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await
            .unwrap_or(json!(false));
        if fresh == json!(true) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no new page after « {label} »");
}

pub(crate) async fn fill(c: &Client, id: &str, value: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(value)
        .await
        .unwrap();
}

/// Waits (5 s at most) until the request is in `state`.
pub(crate) async fn wait_state(o: &Office, reference: &str, state: &str) {
    for _ in 0..100 {
        if o.state_of(reference).await == state {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{reference} never reached {state}");
}

pub(crate) async fn sign_in(c: &Client, o: &Office, username: &str) {
    c.goto(&format!("{}/gestion/connexion", o.app.base))
        .await
        .unwrap();
    assert_accessible(c, "la page de connexion").await;
    fill(c, "identifiant", username).await;
    fill(c, "mot_de_passe", PASSWORD).await;
    click_button(c, "Se connecter").await;
    for _ in 0..100 {
        if c.current_url().await.unwrap().path() == "/gestion" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{username} could not sign in: {}", text(c).await);
}

async fn sign_out(c: &Client, o: &Office) {
    c.goto(&format!("{}/gestion", o.app.base)).await.unwrap();
    click_button(c, "Se déconnecter").await;
    wait_text(c, "Vous êtes déconnecté").await;
}

pub(crate) async fn text(c: &Client) -> String {
    match c.find(Locator::Css("main")).await {
        Ok(main) => main.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits (5 s at most) until the page's main content shows `needle`.
pub(crate) async fn wait_text(c: &Client, needle: &str) {
    let mut page = String::new();
    for _ in 0..100 {
        page = text(c).await;
        if page.contains(needle) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let url = c
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    panic!("« {needle} » never appeared on {url}:\n{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_verifies_the_oldest_request_and_a_second_staff_member_approves_it() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let Some((c, _profile)) = browser().await else {
        return;
    };
    agent_then_approbateur(&c, &o).await;
    c.close().await.unwrap();
}

/// The back-office story, at the office's base URL (`o.app.base`: the app
/// itself, or nginx in front of it in `through_nginx`): an agent takes the
/// oldest of three requests and verifies it, rejects the third; an
/// approbateur approves the first (its reset link works), and is refused
/// approving the one they verified themselves; axe-core on every page.
pub(crate) async fn agent_then_approbateur(c: &Client, o: &Office) {
    let oldest = o.request().await;
    let second = o.request().await;
    let third = o.request().await;

    sign_in(c, o, "agent").await;
    assert_accessible(c, "la file des demandes").await;
    // The first row of the queue is the oldest request.
    c.find(Locator::Css("tbody tr:first-child td:first-child a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        c.current_url().await.unwrap().path(),
        format!("/gestion/demandes/{oldest}")
    );
    assert_accessible(c, "la page d'une demande").await;
    click_button(c, "Prendre en charge").await;
    fill(c, "methode", "appel au standard de l'établissement").await;
    fill(
        c,
        "commentaire-verif",
        "confirmé par le secrétariat de direction",
    )
    .await;
    click_button(c, "Marquer comme vérifiée").await;
    wait_state(o, &oldest, "verified").await;
    assert!(
        c.find(Locator::XPath("//button[normalize-space()='Approuver']"))
            .await
            .is_err(),
        "an agent is not offered « Approuver »"
    );
    // A rejection, with its reason code and message.
    c.goto(&format!("{}/gestion/demandes/{third}", o.app.base))
        .await
        .unwrap();
    c.find(Locator::Css("#motif"))
        .await
        .unwrap()
        .select_by_value("signature_absente")
        .await
        .unwrap();
    fill(
        c,
        "message-rejet",
        "Le formulaire n'est pas signé par le chef d'établissement.",
    )
    .await;
    click_button(c, "Rejeter").await;
    wait_text(c, "Rejetée").await;
    assert!(
        o.mails(&third)
            .await
            .iter()
            .any(|m| m.template == "rejection" && m.recipient == NEW_ADDRESS)
    );
    for (path, what) in [
        ("/gestion/quarantaine", "la quarantaine"),
        ("/gestion/abonnes?q=12345", "la recherche d'abonnés"),
        ("/gestion/abonnes/12345", "la fiche d'un abonné"),
        ("/gestion/journal", "le journal d'audit"),
    ] {
        c.goto(&format!("{}{path}", o.app.base)).await.unwrap();
        assert_accessible(c, what).await;
    }
    sign_out(c, o).await;

    sign_in(c, o, "appro").await;
    c.goto(&format!("{}/gestion/demandes/{oldest}", o.app.base))
        .await
        .unwrap();
    assert_accessible(c, "une demande vérifiée").await;
    click_button(c, "Approuver").await;
    wait_state(o, &oldest, "approved").await;
    let link = o
        .mails(&oldest)
        .await
        .into_iter()
        .find(|m| m.template == "approval_reset_link" && m.recipient == NEW_ADDRESS)
        .expect("the reset mail is in the outbox");
    let prefix = format!("{}/reinitialisation/", o.app.base);
    let at = link
        .body_text
        .find(&prefix)
        .expect("a reset link in the mail")
        + prefix.len();
    let secret = &link.body_text[at..at + 32];
    assert!(
        matches!(
            tokens::peek(o.db.conn(), &[TokenKind::ApprovalReset], secret)
                .await
                .unwrap(),
            TokenState::Valid(_)
        ),
        "the link works"
    );

    // Four eyes: the approbateur verifies the second request, then cannot approve it.
    c.goto(&format!("{}/gestion/demandes/{second}", o.app.base))
        .await
        .unwrap();
    fill(c, "methode", "appel au standard").await;
    fill(c, "commentaire-verif", "confirmé").await;
    click_button(c, "Marquer comme vérifiée").await;
    click_button(c, "Approuver").await;
    wait_text(c, "Double contrôle").await;
    assert_accessible(c, "le refus du double contrôle").await;
    assert_eq!(o.state_of(&second).await, "verified");
    sign_out(c, o).await;
    sign_in(c, o, "admin").await;
    c.goto(&format!("{}/gestion/agents", o.app.base))
        .await
        .unwrap();
    assert_accessible(c, "la gestion des comptes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_mail_renders_inert_and_a_forged_form_is_refused() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let request_id = o.model(&reference).await.id;
    store_hostile_mail(&o.db, Some(request_id)).await;
    let (quarantined, _) = store_hostile_mail(&o.db, None).await;
    let Some((c, _profile)) = browser().await else {
        return;
    };
    sign_in(&c, &o, "agent").await;
    for path in [
        format!("/gestion/demandes/{reference}"),
        format!("/gestion/quarantaine/{quarantined}"),
    ] {
        c.goto(&format!("{}{path}", o.app.base)).await.unwrap();
        let scripts = c.execute("return document.scripts.length + document.querySelectorAll('img[src^=http]').length;", vec![]).await.unwrap();
        assert_eq!(
            scripts,
            json!(0),
            "{path}: nothing from the mail became markup"
        );
        assert!(
            c.get_alert_text().await.is_err(),
            "{path}: no alert was raised"
        );
        assert!(
            text(&c).await.contains("<script>alert('objet')</script>"),
            "{path}: the subject is shown as text"
        );
        assert_accessible(&c, &path).await;
    }
    // A forged token in the form: refused with a French page, nothing changed.
    c.goto(&format!("{}/gestion/demandes/{reference}", o.app.base))
        .await
        .unwrap();
    c.execute("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = '0123456789abcdef0123456789abcdef');", vec![]).await.unwrap();
    click_button(&c, "Prendre en charge").await;
    assert!(
        text(&c)
            .await
            .contains("Le formulaire a expiré ou ne vient pas de ce site")
    );
    assert!(o.model(&reference).await.assignee_id.is_none());
    c.close().await.unwrap();
}
