//! The manager's whole journey (path I then path II) in a real browser:
//! download the form, fill it with pypdf, mail it (`bareme-mel ingest`), a
//! staff pair verifies and approves, open the reset link from the outbox,
//! choose a new password, sign in at `/`.

use crate::gestion::{NEW_ADDRESS, OLD_ADDRESS, office};
use crate::gestion_browser::{
    assert_accessible, browser, click_button, fill, sign_in, text, wait_state, wait_text,
};
use crate::harness::{TestDb, cmd, skip_or_fail};
use bareme_mel::{
    config::Settings,
    store::entities::{change_request, outbox},
};
use fantoccini::Locator;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::{io::Write, process::Stdio};

fn python() -> std::path::PathBuf {
    std::env::var_os("BAREME_MEL_TEST_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/python")
        })
}

/// Fills the downloaded form the way a PDF reader would, with pypdf.
pub(crate) fn fill_with_pypdf(blank: &std::path::Path, filled: &std::path::Path) -> Option<()> {
    let script = r#"
import sys, pypdf
r = pypdf.PdfReader(sys.argv[1]); w = pypdf.PdfWriter(); w.append(r)
values = {
  "organisme": "Lycée Joffre", "nom": "Hélène", "prenom": "Françoise", "fonction": "Secrétaire générale",
  "telephone": "04 67 00 00 00", "ancienne_adresse_mel": "gestion@lycee-joffre.fr",
  "nouvelle_adresse_mel": "nouvelle.gestionnaire@lycee-joffre.fr",
  "nouvelle_adresse_mel_confirmation": "nouvelle.gestionnaire@lycee-joffre.fr",
  "signataire_nom": "M. Proviseur", "signataire_qualite": "Proviseur", "fait_a": "Montpellier", "date": "25/11/2026",
  "situation_nouveau": "/Yes",
}
w.update_page_form_field_values(w.pages[0], values, auto_regenerate=False)
w.write(sys.argv[2])
"#;
    match std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(blank)
        .arg(filled)
        .output()
    {
        Ok(out) if out.status.success() => Some(()),
        Ok(out) => skip_or_fail("pypdf", String::from_utf8_lossy(&out.stderr)),
        Err(e) => skip_or_fail("python with pypdf", e),
    }
}

pub(crate) fn mail_with_attachment(pdf: &[u8]) -> Vec<u8> {
    use std::fmt::Write as _;
    let b64 = base64_encode(pdf);
    let mut m = String::new();
    let _ = write!(
        m,
        "From: =?utf-8?q?Fran=C3=A7oise_H=C3=A9l=C3=A8ne?= <{NEW_ADDRESS}>\r\nTo: bareme@ac-montpellier.fr\r\n\
Subject: Changement de l'adresse =?utf-8?q?m=C3=A9l?=\r\nMessage-ID: <journey-1@lycee-joffre.fr>\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Bonjour, veuillez trouver le formulaire signé.\r\n--b1\r\nContent-Type: application/pdf; name=\"formulaire.pdf\"\r\n\
Content-Disposition: attachment; filename=\"formulaire.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b1--\r\n"
    );
    m.into_bytes()
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_manager_gets_the_account_back_through_the_form_the_staff_and_the_reset_link() {
    let t = TestDb::sqlite().await;
    let o = office(t.db.clone(), Settings::default()).await;
    let Some((c, _profile)) = browser().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // The help page leads to the form; download it pre-filled with the subscriber number.
    c.goto(&format!("{}/aide", o.app.base)).await.unwrap();
    assert_accessible(&c, "la page d'aide").await;
    let href = c
        .find(Locator::Css("a[href^='/formulaire/']"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let blank = reqwest::get(format!("{}{href}?abonne=12345", o.app.base))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let blank_path = dir.path().join("vierge.pdf");
    let filled_path = dir.path().join("rempli.pdf");
    std::fs::write(&blank_path, &blank).unwrap();
    if fill_with_pypdf(&blank_path, &filled_path).is_none() {
        return;
    }

    // Mail it: the MTA pipes it into `bareme-mel ingest`.
    crate::harness::share_key(&dir.path().join("data"));
    let mail = mail_with_attachment(&std::fs::read(&filled_path).unwrap());
    let mut child = cmd(dir.path())
        .env("BAREME_MEL__DATABASE__URL", &t.url)
        .arg("ingest")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&mail).unwrap();
    let out = child.wait_with_output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{line} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = line.split_whitespace().nth(1).unwrap().to_string();
    assert!(line.starts_with("request_created BM-"), "{line}");
    let request = change_request::Entity::find()
        .filter(change_request::Column::Reference.eq(&reference))
        .one(t.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.new_email.as_deref(), Some(NEW_ADDRESS));
    assert!(
        request.fields.contains("Françoise"),
        "the form's fields were read: {}",
        request.fields
    );

    // An agent verifies, an approbateur approves.
    sign_in(&c, &o, "agent").await;
    c.goto(&format!("{}/gestion/demandes/{reference}", o.app.base))
        .await
        .unwrap();
    click_button(&c, "Prendre en charge").await;
    fill(&c, "methode", "appel au standard de l'établissement").await;
    fill(
        &c,
        "commentaire-verif",
        "le proviseur confirme la nouvelle gestionnaire",
    )
    .await;
    click_button(&c, "Marquer comme vérifiée").await;
    wait_state(&o, &reference, "verified").await;
    c.delete_all_cookies().await.unwrap();
    sign_in(&c, &o, "appro").await;
    c.goto(&format!("{}/gestion/demandes/{reference}", o.app.base))
        .await
        .unwrap();
    click_button(&c, "Approuver").await;
    wait_state(&o, &reference, "approved").await;
    c.delete_all_cookies().await.unwrap();

    // The reset link sent to the new address; the old address got the notice.
    let mails = outbox::Entity::find().all(t.db.conn()).await.unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m.template == "change_notice" && m.recipient == OLD_ADDRESS)
    );
    let reset = mails
        .iter()
        .find(|m| m.template == "approval_reset_link" && m.recipient == NEW_ADDRESS)
        .expect("reset link mail");
    let start = reset
        .body_text
        .find(&format!("{}/reinitialisation/", o.app.base))
        .expect("link built from public_url");
    let link: String = reset.body_text[start..]
        .chars()
        .take_while(|ch| !ch.is_whitespace())
        .collect();

    c.goto(&link).await.unwrap();
    wait_text(&c, "Réinitialisation du mot de passe").await;
    assert_accessible(&c, "la page de réinitialisation").await;
    fill(&c, "mot_de_passe", "une nouvelle phrase secrète").await;
    fill(&c, "repetition", "une nouvelle phrase secrète").await;
    click_button(&c, "Envoyer").await;
    wait_text(&c, "Votre mot de passe a bien été réinitialisé.").await;
    c.find(Locator::LinkText("page de connexion"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Sign in at `/` with the new password.
    wait_text(&c, "Espace Abonné Barème").await;
    assert_accessible(&c, "la page de connexion de l'Espace Abonné").await;
    fill(&c, "numero", "12345").await;
    fill(&c, "mot_de_passe", "une nouvelle phrase secrète").await;
    click_button(&c, "Connexion").await;
    wait_text(&c, NEW_ADDRESS).await;
    assert!(text(&c).await.contains("Lycée Joffre"));
    assert_accessible(&c, "la page du compte").await;
    wait_state(&o, &reference, "completed").await;
    c.close().await.unwrap();
}
