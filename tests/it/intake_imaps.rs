//! IMAP over TLS (SPEC §12): the poller reads the functional mailbox over
//! implicit TLS (IMAPS) and over STARTTLS, trusting Dovecot's private
//! certificate only through `intake.imap.ca_file` — without it, no connection.

use crate::{intake_imap_support::*, intake_support::*};
use bareme_mel::{
    config::TlsMode,
    intake::{Intake, sources::imap},
    store::entities::inbound_message,
};
use sea_orm::{EntityTrait, PaginatorTrait};
use std::{path::PathBuf, sync::Arc};

pub fn imaps_port() -> u16 {
    std::env::var("BAREME_MEL_TEST_IMAPS")
        .ok()
        .and_then(|a| a.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .unwrap_or(10993)
}

/// The throw-away CA of the test Dovecot (scripts/services/dovecot.sh), or
/// `None`: `scripts/services/all.sh start` names it (CI then requires it);
/// a Dovecot started before dovecot.sh made a CA has none, and is skipped.
pub fn dovecot_ca() -> Option<PathBuf> {
    if let Some(ca) = std::env::var_os("BAREME_MEL_TEST_IMAP_CA") {
        return Some(PathBuf::from(ca));
    }
    let ca = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/dovecot/ca.pem");
    if ca.is_file() {
        return Some(ca);
    }
    eprintln!(
        "SKIPPED: no throw-away CA for Dovecot ({}); restart it with scripts/services/all.sh",
        ca.display()
    );
    None
}

async fn poll_over(tls: TlsMode, port: u16, ca: Option<PathBuf>) -> Option<Result<u64, String>> {
    let mut s = session("bareme", "bareme-pass").await?;
    let folder = format!("T{}", uuid::Uuid::new_v4().simple());
    s.create(&folder).await.unwrap();
    append(
        &mut s,
        &folder,
        &mail(
            SENDER,
            "Changement",
            "",
            &form_body("nouvelle@lycee-jean-moulin.fr"),
        ),
    )
    .await;
    let t = crate::harness::TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let mut settings = settings();
    settings.intake.imap = imap_settings("bareme", "bareme-pass", &folder);
    settings.intake.imap.host = "localhost".into();
    settings.intake.imap.port = port;
    settings.intake.imap.tls = tls;
    settings.intake.imap.ca_file = ca.unwrap_or_default();
    let intake = Intake::new(t.db.clone(), Arc::new(settings));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let result = imap::poll(&intake, &format!("bareme@test/{folder}"), &rx).await;
    let _ = s.delete(&folder).await;
    Some(match result {
        Ok(_) => Ok(inbound_message::Entity::find()
            .count(t.db.conn())
            .await
            .unwrap()),
        Err(e) => Err(e.to_string()),
    })
}

#[tokio::test]
async fn a_mail_is_read_over_implicit_tls_with_the_private_ca() {
    let Some(ca) = dovecot_ca() else { return };
    let Some(r) = poll_over(TlsMode::Tls, imaps_port(), Some(ca)).await else {
        return;
    };
    assert_eq!(r, Ok(1));
}

#[tokio::test]
async fn a_mail_is_read_over_starttls_with_the_private_ca() {
    let port = imap_addr().rsplit_once(':').unwrap().1.parse().unwrap();
    let Some(ca) = dovecot_ca() else { return };
    let Some(r) = poll_over(TlsMode::Starttls, port, Some(ca)).await else {
        return;
    };
    assert_eq!(r, Ok(1));
}

#[tokio::test]
async fn without_the_private_ca_the_certificate_is_refused() {
    let Some(r) = poll_over(TlsMode::Tls, imaps_port(), None).await else {
        return;
    };
    let e = r.expect_err("an unknown certificate was accepted");
    assert!(e.to_lowercase().contains("certifi"), "{e}");
}
