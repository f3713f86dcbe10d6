//! HTTP: the router, shared state and middleware. Handlers stay thin:
//! extract, call the store or domain, render.

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
}

impl AppState {
    pub fn new(settings: Settings, db: Db) -> Self {
        Self {
            settings: Arc::new(settings),
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
        tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
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
