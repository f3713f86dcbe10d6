//! `bareme-mel purge [--dry-run]` and the daily purge run by `serve`.

use super::{CliResult, cli_actor, print_json};
use crate::{
    config::Retention,
    store::{Db, leases, purge},
};
use std::time::Duration;

pub async fn run(db: &Db, retention: &Retention, dry_run: bool, json: bool) -> CliResult {
    let report = purge::run(db, retention, chrono::Utc::now(), dry_run, &cli_actor()).await?;
    if json {
        return print_json(&report);
    }
    let verb = if dry_run {
        "à supprimer (simulation, rien n'a été modifié)"
    } else {
        "supprimé(s)"
    };
    println!("Purge selon les durées de conservation — {verb} :");
    for (label, n) in [
        (
            "courriels bruts des demandes closes",
            report.closed_request_mail,
        ),
        (
            "notes internes des demandes closes",
            report.closed_request_notes,
        ),
        (
            "corps des courriels envoyés (demandes closes, et liens personnels aussi anciens)",
            report.closed_request_outgoing_bodies,
        ),
        (
            "champs extraits des demandes closes",
            report.closed_request_fields,
        ),
        (
            "courriels ignorés, doublons ou en quarantaine",
            report.ignored_mail,
        ),
        ("pièces jointes orphelines", report.orphan_blobs),
        (
            "adresses des décisions au-delà de la durée légale",
            report.expired_decision_records,
        ),
    ] {
        println!("  {n:>8}  {label}");
    }
    Ok(())
}

/// Once a day across every `serve` process sharing the database: the lease is
/// taken for 24 h and only by whoever finds it expired.
pub async fn daily(db: Db, retention: Retention) {
    let holder = format!("serve-{}", uuid::Uuid::new_v4().simple());
    loop {
        match leases::try_acquire_expired(
            db.conn(),
            "daily_purge",
            &holder,
            chrono::Duration::hours(24),
        )
        .await
        {
            Ok(true) => {
                match purge::run(&db, &retention, chrono::Utc::now(), false, "system:purge").await {
                    Ok(report) => tracing::info!(?report, "daily purge done"),
                    Err(e) => tracing::error!(error = %e, "daily purge failed"),
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "daily purge: lease unavailable"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
