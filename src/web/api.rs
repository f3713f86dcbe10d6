//! `POST /api/courriels`: an MTA or a relay hands one message
//! (`message/rfc822`) to the intake pipeline. Bearer token compared in
//! constant time; 404 when `intake.api_token` is empty, 401 without the
//! right token, 413 over `intake.max_message_bytes`, 503 when the database
//! is down (the caller retries). Answers `{disposition, reference}`, or
//! `{erreur}` with a French message. Concurrent posts are written together
//! (group commit, [`crate::intake::sources::collector`]); each is answered
//! once its own message is on disk.

use super::{AppError, AppState};
use crate::intake::{Incoming, IntakeError, Origin, sources::collector::Collector};
use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/courriels", post(courriels_post))
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(super::error::api_json))
}

/// A refusal of this endpoint; [`super::error::api_json`] answers it in JSON.
fn status(code: StatusCode, message: &'static str) -> Response {
    AppError::Refused(code, message.into()).into_response()
}

/// True when the `Authorization: Bearer` token equals `expected`, in constant time.
fn authorised(headers: &HeaderMap, expected: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Hash both so that the comparison does not depend on the lengths either.
    let (a, b) = (
        Sha256::digest(given.trim().as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    !given.is_empty() && bool::from(a.as_slice().ct_eq(b.as_slice()))
}

async fn courriels_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let intake = &state.settings.intake;
    if intake.api_token.is_empty() {
        return Ok(status(StatusCode::NOT_FOUND, "Introuvable."));
    }
    if !authorised(&headers, intake.api_token.expose()) {
        let mut r = status(
            StatusCode::UNAUTHORIZED,
            "Jeton d'accès absent ou invalide.",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return Ok(r);
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("message/rfc822");
    let ctype = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        ctype.as_str(),
        "message/rfc822" | "application/octet-stream" | "text/plain"
    ) {
        return Ok(status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Type attendu : message/rfc822.",
        ));
    }
    let max = intake.max_message_bytes;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max) {
        return Ok(too_large());
    }
    // In a task of its own: hyper drops this handler as soon as it sees the
    // client hang up, which a client may do right after sending its mail;
    // the task reads the mail to its end and records it all the same.
    let intake = state.api_intake.clone();
    match tokio::spawn(receive(intake, body, max, announced)).await {
        Ok(answer) => answer,
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

/// Reads the mail to its end (at most `max` bytes; `announced` is its
/// `Content-Length`) and hands it to the collector; the answer.
async fn receive(
    intake: Collector,
    body: Body,
    max: u64,
    announced: Option<u64>,
) -> Result<Response, AppError> {
    let mut bytes = Vec::with_capacity(announced.unwrap_or(0).min(max) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| AppError::BadRequest(format!("lecture du message interrompue : {e}")))?;
        if bytes.len() as u64 + chunk.len() as u64 > max {
            return Ok(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() {
        return Err(AppError::BadRequest("Message vide.".into()));
    }
    match intake
        .submit(Incoming::whole(bytes, Origin::new("http", None)))
        .await
    {
        Ok(outcome) => Ok(Json(serde_json::json!({
            "disposition": outcome.disposition.as_str(),
            "reference": outcome.reference,
        }))
        .into_response()),
        Err(IntakeError::Unavailable(_)) => Err(AppError::Unavailable),
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

fn too_large() -> Response {
    status(StatusCode::PAYLOAD_TOO_LARGE, "Message trop volumineux.")
}
