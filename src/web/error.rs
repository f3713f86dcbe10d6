//! The one error edge of the web: every store, service or domain error
//! becomes an [`AppError`] here (and nowhere else), which answers with a
//! status and a French message — as the DSFR message page for the pages, as
//! JSON `{"erreur": …}` under `/api` (see [`api_json`]). A 500 logs its cause
//! and shows no internals.

use super::pages::{MessagePage, render};
use crate::{backoffice::ServiceError, store::StoreError};
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A refusal of the edge itself (401, 413, 415…) with its French message.
    #[error("{1}")]
    Refused(StatusCode, String),
    #[error("Service momentanément indisponible, réessayez dans quelques minutes.")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The message an error response carries, for [`api_json`] to answer in JSON.
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => AppError::NotFound(m),
            StoreError::Invalid(m) => AppError::BadRequest(m),
            StoreError::Transition(t) => AppError::Conflict(t.to_string()),
            StoreError::Conflict => AppError::Conflict(StoreError::Conflict.to_string()),
            e if e.is_unavailable() => AppError::Unavailable,
            e => AppError::Internal(e.into()),
        }
    }
}

impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Store(e) => e.into(),
            ServiceError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<crate::store::DbErr> for AppError {
    fn from(e: crate::store::DbErr) -> Self {
        StoreError::from(e).into()
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Refused(status, _) => *status,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The French message shown; an internal error is logged, not shown.
    fn message(&self, staff: bool) -> String {
        match self {
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                if staff {
                    "Une erreur interne est survenue. Réessayez ; si elle persiste, prévenez l'administrateur."
                } else {
                    "Une erreur interne est survenue. Réessayez ; si elle persiste, prévenez la DAG."
                }
                .to_string()
            }
            other => other.to_string(),
        }
    }

    /// The DSFR message page with a link back to `back` (a back-office page
    /// when it is under `/gestion`).
    pub fn page(self, back: &str) -> Response {
        let staff = back.starts_with("/gestion");
        let status = self.status();
        let message = self.message(staff);
        let title = if status == StatusCode::CONFLICT {
            "Action impossible"
        } else {
            "Erreur"
        };
        let mut response = render(
            status,
            &MessagePage::new(title, "error", message.clone()).link(back, "Retour"),
        );
        response.extensions_mut().insert(ErrorMessage(message));
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.page("/")
    }
}

/// Under `/api`, an error answers `{"erreur": "<message en français>"}` with
/// its status (and its headers, such as `WWW-Authenticate`) instead of a page.
pub async fn api_json(response: Response) -> Response {
    let Some(ErrorMessage(message)) = response.extensions().get::<ErrorMessage>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let json = Json(serde_json::json!({ "erreur": message })).into_response();
    let (json_parts, body) = json.into_parts();
    parts.headers.extend(json_parts.headers);
    Response::from_parts(parts, body)
}
