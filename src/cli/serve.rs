//! `bareme-mel serve`: migrate, listen, run until SIGTERM or Ctrl-C.

use super::{CliError, CliResult, open};
use crate::{config::Settings, mail, web};
use std::sync::Arc;

pub async fn run(settings: Settings, demo: bool) -> CliResult {
    let db = open(&settings).await?;
    db.migrate()
        .await
        .map_err(|e| CliError::temporary(format!("migration impossible : {e}")))?;
    super::install_key(&settings, &db).await?;
    if demo {
        let accounts = super::demo::load(&db, &settings).await?;
        eprintln!(
            "Données de démonstration chargées. Back-office : {}/gestion\n  agent        : {} / {}\n  approbateur  : {} / {}",
            settings.public_url(),
            accounts.agent.0,
            accounts.agent.1,
            accounts.approver.0,
            accounts.approver.1
        );
    } else if let Some(link) = crate::backoffice::accounts::first_admin_link(&db, &settings).await?
    {
        eprintln!(
            "Aucun compte agent. Créez le premier administrateur avec ce lien (valable 1 heure, une seule fois) :\n  {link}"
        );
    }
    let listener = tokio::net::TcpListener::bind(&settings.server.bind).await.map_err(|e| {
        CliError::config(format!(
            "impossible d'écouter sur {} : {e} (changez server.bind ou BAREME_MEL__SERVER__BIND)",
            settings.server.bind
        ))
    })?;
    let local = listener.local_addr()?;
    tokio::spawn(super::purge::daily(db.clone(), settings.retention.clone()));
    let settings = Arc::new(settings);
    let outbox = mail::worker::spawn(db.clone(), settings.clone())
        .map_err(|e| CliError::with_status(format!("envoi des méls impossible : {e}"), 78))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let intake = crate::intake::sources::spawn(settings.clone(), db.clone(), stopped);
    let ocr = {
        let config = settings.intake.ocr.scan_config();
        tokio::task::spawn_blocking(move || bareme_forms::ocr_availability(&config))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    };
    if let Err(missing) = &ocr {
        // Said once, on stderr (the journal under systemd): scans then end
        // « saisie manuelle », as without a reader.
        eprintln!("{missing} ; les formulaires numérisés seront à saisir à la main.");
    }
    let state = web::AppState::new(settings, db);
    state.metrics.set_ocr_available(ocr.is_ok());
    tracing::info!(%local, "bareme-mel listening");
    eprintln!("bareme-mel écoute sur http://{local}");
    axum::serve(
        listener,
        web::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    })
    .await?;
    for worker in intake {
        let _ = worker.await;
    }
    outbox.stop(std::time::Duration::from_secs(10)).await;
    tracing::info!("bareme-mel stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
