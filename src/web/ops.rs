//! Operations endpoints: liveness, readiness, Prometheus metrics.

use super::AppState;
use axum::{
    Router,
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers and every migration is applied.
async fn readyz(State(state): State<AppState>) -> Response {
    let check = async {
        state.db.ping().await?;
        state.db.pending_migrations().await
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), check).await {
        Ok(Ok(0)) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Ok(n)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{n} migration(s) en attente\n"),
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "base de données injoignable\n",
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "base de données trop lente\n",
        )
            .into_response(),
    }
}

/// Prometheus text, for the clients of `ops.metrics_allow` only.
async fn metrics(State(state): State<AppState>, client: super::client::ClientIp) -> Response {
    let allowed = client.addr().is_some_and(|ip| {
        state
            .settings
            .metrics_allow()
            .iter()
            .any(|n| n.contains(&ip))
    });
    if !allowed {
        return (StatusCode::FORBIDDEN, "accès refusé\n").into_response();
    }
    if state.metrics.ocr_available().is_none() {
        let config = state.settings.intake.ocr.scan_config();
        let found = tokio::task::spawn_blocking(move || bareme_forms::ocr_availability(&config))
            .await
            .is_ok_and(|r| r.is_ok());
        state.metrics.set_ocr_available(found);
    }
    match state.metrics.render(&state.db).await {
        Ok(body) => (
            [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "base de données injoignable\n",
            )
                .into_response()
        }
    }
}

/// Counts responses by status class for `/metrics`.
pub async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    state.metrics.record_http(res.status().as_u16());
    res
}
