//! HTTP: the router, shared state and middleware. Handlers stay thin:
//! extract, call the store or domain, render.

mod api;
mod assets;
pub mod client;
pub mod cookies;
pub mod csrf;
mod error;
pub mod gestion;
mod headers;
mod ops;
pub mod pages;
mod public;
pub mod ratelimit;
pub mod session;

pub use error::AppError;

use crate::{config::Settings, metrics::Metrics, store::Db};
use axum::{Router, extract::Request, middleware, routing::get};
use std::sync::Arc;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub metrics: Arc<Metrics>,
    pub limits: Arc<ratelimit::Limits>,
    /// The queue page's counts and rows, re-read only after a change.
    pub queue_cache: Arc<crate::backoffice::queue_cache::QueueCache>,
    /// Group commit of `POST /api/courriels`: the posts waiting are written
    /// together ([`crate::intake::sources::collector`]).
    pub api_intake: crate::intake::sources::collector::Collector,
}

impl AppState {
    pub fn new(settings: impl Into<Arc<Settings>>, db: Db) -> Self {
        let settings = settings.into();
        let intake = crate::intake::Intake::new(db.clone(), settings.clone());
        Self {
            api_intake: crate::intake::sources::collector::Collector::new(intake),
            settings,
            db,
            metrics: Arc::new(Metrics::default()),
            limits: Arc::new(ratelimit::Limits::default()),
            queue_cache: Arc::default(),
        }
    }
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info_span!("http", method = %req.method(), path = %loggable_path(req.uri().path()), request_id = %id)
    });
    Router::new()
        .merge(ops::routes())
        .merge(public::routes())
        .nest("/gestion", gestion::routes())
        .route("/static/{*path}", get(assets::asset_get))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::csrf_cookie,
        ))
        .merge(api::routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::security_headers,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ops::count_requests,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Path prefixes whose last segment is a secret token: never written to logs.
const SECRET_PATHS: [&str; 3] = [
    "/reinitialisation/",
    "/opposition/",
    "/gestion/premier-compte/",
];

/// The request path as it may appear in logs, tokens masked.
pub fn loggable_path(path: &str) -> String {
    for prefix in SECRET_PATHS {
        if path.starts_with(prefix) {
            return format!("{prefix}[masqué]");
        }
    }
    path.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_in_paths_are_masked_for_logs() {
        assert_eq!(
            super::loggable_path("/reinitialisation/0123456789abcdef0123456789abcdef"),
            "/reinitialisation/[masqué]"
        );
        assert_eq!(
            super::loggable_path("/opposition/abc"),
            "/opposition/[masqué]"
        );
        assert_eq!(super::loggable_path("/gestion"), "/gestion");
    }
}
