//! Visible focus (issue 14, RGAA 10.7): tabbing through a public page and a
//! back-office page in Chromium, every element that takes the focus shows
//! an indicator — the DSFR's outline (or a box shadow), on the element, on
//! its `::before` (the DSFR's enlarged links, e.g. the header's service
//! name) or, for a DSFR checkbox or radio, on its label — and nothing of
//! ours removes it.

use crate::gestion::office;
use crate::gestion_browser::{browser, sign_in};
use bareme_mel::config::Settings;
use fantoccini::{
    Client,
    actions::{InputSource, KeyAction, KeyActions},
    key::Key,
};
use serde_json::{Value, json};

/// The focused element and its focus indicator, or `null` on the page itself.
const FOCUSED: &str = "
const e = document.activeElement;
if (!e || e === document.body || e === document.documentElement) return null;
const shows = s => (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow && s.boxShadow !== 'none');
let style = getComputedStyle(e), on = 'element';
for (const pseudo of ['::before', '::after']) {
  if (!shows(style)) { style = getComputedStyle(e, pseudo); on = pseudo; }
}
if (!shows(style) && e.id && (e.type === 'checkbox' || e.type === 'radio')) {
  const label = document.querySelector('label[for=\"' + e.id + '\"]');
  if (label) { style = getComputedStyle(label, '::before'); on = 'label::before'; }
}
const r = e.getBoundingClientRect();
return {
  what: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' « ' + (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 40) + ' »',
  shown: shows(style),
  on,
  outline: style.outlineStyle + ' ' + style.outlineWidth + ' ' + style.outlineColor,
  shadow: style.boxShadow,
  seen: r.width > 0 && r.height > 0,
};";

async fn tab(c: &Client) {
    let key: char = Key::Tab.into();
    c.perform_actions(
        KeyActions::new("clavier".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key }),
    )
    .await
    .unwrap();
}

/// Tabs through `url` until the focus comes back round (or `at_most`
/// stops); returns what took the focus, each asserted visible.
async fn tab_through(c: &Client, url: &str, at_most: usize) -> Vec<String> {
    c.goto(url).await.unwrap();
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..at_most {
        tab(c).await;
        let focused = c.execute(FOCUSED, vec![]).await.unwrap();
        if focused == Value::Null {
            continue;
        }
        let what = focused["what"].as_str().unwrap().to_string();
        if seen.first() == Some(&what) {
            break;
        }
        assert_eq!(
            (&focused["shown"], &focused["seen"]),
            (&json!(true), &json!(true)),
            "{url}: the focus on {what} is not visible: {focused}"
        );
        seen.push(what);
    }
    eprintln!("focus order on {url}: {seen:#?}");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabbing_through_a_public_and_a_back_office_page_always_shows_the_focus() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let reference = o.request().await;
    let Some((c, _profile)) = browser().await else {
        return;
    };

    let public = tab_through(&c, &format!("{}/", o.app.base), 40).await;
    assert!(
        public.iter().any(|w| w.starts_with("input#numero")),
        "the sign-in form takes the focus: {public:#?}"
    );
    assert!(
        public.iter().any(|w| w.contains("Connexion")),
        "its button too: {public:#?}"
    );

    sign_in(&c, &o, "agent").await;
    let office_page = tab_through(
        &c,
        &format!("{}/gestion/demandes/{reference}", o.app.base),
        80,
    )
    .await;
    assert!(
        office_page.iter().any(|w| w.contains("Prendre en charge")),
        "the request's actions take the focus: {office_page:#?}"
    );
    assert!(
        office_page.iter().any(|w| w.starts_with("select#motif")),
        "the rejection form too: {office_page:#?}"
    );
    c.close().await.unwrap();
}
