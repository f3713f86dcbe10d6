//! One error type at the web edge: each domain or store error becomes a
//! status and a French message; a 500 logs its cause and shows no internals.

use crate::store::StoreError;
use axum::{
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
    #[error("service momentanément indisponible, réessayez dans quelques minutes")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

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

impl From<crate::backoffice::ServiceError> for AppError {
    fn from(e: crate::backoffice::ServiceError) -> Self {
        match e {
            crate::backoffice::ServiceError::Store(e) => e.into(),
            crate::backoffice::ServiceError::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<crate::store::DbErr> for AppError {
    fn from(e: crate::store::DbErr) -> Self {
        StoreError::from(e).into()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                "Une erreur interne est survenue. Réessayez ; si elle persiste, prévenez la DAG."
                    .to_string()
            }
            other => other.to_string(),
        };
        (
            status,
            [("content-type", "text/plain; charset=utf-8")],
            message,
        )
            .into_response()
    }
}
