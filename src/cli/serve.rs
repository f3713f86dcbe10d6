//! `bareme-mel serve`: migrate, listen, run until SIGTERM or Ctrl-C.

use super::{CliError, CliResult, open};
use crate::{config::Settings, metrics::Metrics, store, web};
use std::sync::Arc;

pub async fn run(settings: Settings, demo: bool) -> CliResult {
    let db = open(&settings).await?;
    db.migrate()
        .await
        .map_err(|e| CliError::new(format!("migration impossible : {e}")))?;
    if demo {
        return Err(CliError::with_status(
            "`serve --demo` n'est pas encore disponible dans cette version (not available yet)",
            69,
        ));
    }
    if store::staff::count(&db).await? == 0 {
        eprintln!(
            "Aucun compte agent : créez le premier administrateur avec\n  bareme-mel staff add admin --role admin --name \"Prénom Nom\""
        );
    }
    let listener = tokio::net::TcpListener::bind(&settings.server.bind).await.map_err(|e| {
        CliError::new(format!(
            "impossible d'écouter sur {} : {e} (changez server.bind ou BAREME_MEL__SERVER__BIND)",
            settings.server.bind
        ))
    })?;
    let local = listener.local_addr()?;
    let settings = Arc::new(settings);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = crate::intake::sources::spawn(settings.clone(), db.clone(), stopped);
    let state = web::AppState {
        settings,
        db,
        metrics: Arc::new(Metrics::default()),
    };
    tracing::info!(%local, "bareme-mel listening");
    eprintln!("bareme-mel écoute sur http://{local}");
    axum::serve(listener, web::router(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        })
        .await?;
    for worker in workers {
        let _ = worker.await;
    }
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
