//! Every page at 1280 px and at 375 px (a phone) in headless Chromium:
//! screenshots saved under `target/screenshots/` for a person to look at,
//! and no element wider than the viewport — long addresses wrap, tables
//! scroll inside their own container.

use crate::gestion::office;
use crate::gestion_browser::{browser, sign_in};
use crate::proofreading::request_from_mail;
use bareme_mel::config::Settings;
use fantoccini::Client;
use serde_json::json;

/// What sticks out of the viewport (outside a scrolling container), and
/// whether the page scrolls sideways.
const OVERFLOW: &str = "
const w = document.documentElement.clientWidth;
const bad = [];
const scrolls = el => { const o = getComputedStyle(el).overflowX; return o === 'auto' || o === 'scroll' || o === 'hidden'; };
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
  if (r.right <= w + 1 && r.left >= -1) continue;
  let p = el.parentElement, contained = false;
  while (p && p !== document.body) {
    if (scrolls(p) && p.getBoundingClientRect().right <= w + 1) { contained = true; break; }
    p = p.parentElement;
  }
  if (!contained) bad.push(el.tagName.toLowerCase() + '.' + String(el.className).split(' ').join('.') + ' → ' + Math.round(r.right) + ' px');
}
return { wide: document.documentElement.scrollWidth > w, bad: bad.slice(0, 8) };";

async fn look_at(c: &Client, base: &str, path: &str, name: &str) {
    c.goto(&format!("{base}{path}")).await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    for width in [1280u32, 375] {
        c.set_window_size(width, 900).await.unwrap();
        let height = c
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(900)
            .clamp(600, 6000) as u32;
        c.set_window_size(width, height).await.unwrap();
        let found = c.execute(OVERFLOW, vec![]).await.unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}-{width}.png")), png).unwrap();
        assert_eq!(
            found,
            json!({"wide": false, "bad": []}),
            "{path} at {width} px: elements wider than the viewport"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_page_fits_a_phone_and_a_desktop_screen() {
    let Some((c, _profile)) = browser().await else {
        return;
    };
    let t = crate::harness::TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let base = o.app.base.clone();
    for (path, name) in [
        ("/", "public-connexion"),
        ("/mot-de-passe-oublie", "public-mot-de-passe-oublie"),
        ("/aide", "public-aide"),
        ("/informations", "public-informations"),
        ("/donnees-personnelles", "public-donnees-personnelles"),
    ] {
        look_at(&c, &base, path, name).await;
    }
    let r = request_from_mail(
        &o,
        "secretariat.intendance.gestion-financiere@lycee-polyvalent-regional-jean-moulin-beziers.ac-montpellier.fr",
        r#"{"authserv_id":"mx.ac-montpellier.fr","spf":"pass","dkim":"pass","dmarc":"pass"}"#,
    )
    .await;
    sign_in(&c, &o, "admin").await;
    for (path, name) in [
        ("/gestion".to_string(), "gestion-file"),
        (format!("/gestion/demandes/{r}"), "gestion-demande"),
        ("/gestion/quarantaine".to_string(), "gestion-quarantaine"),
        ("/gestion/abonnes?q=joffre".to_string(), "gestion-abonnes"),
        ("/gestion/abonnes/12345".to_string(), "gestion-abonne"),
        ("/gestion/agents".to_string(), "gestion-agents"),
        ("/gestion/journal".to_string(), "gestion-journal"),
        ("/gestion/compte".to_string(), "gestion-compte"),
    ] {
        look_at(&c, &base, &path, name).await;
    }
    c.close().await.unwrap();
}
