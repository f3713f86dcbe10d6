//! The services layer, below the web pages and the commands: what the DAG
//! back-office does (the queue query, the staff decisions on a request —
//! each one transaction with its audit events and its mails —, quarantine
//! handling, staff accounts, CSV exports) and what the Espace Abonné does
//! (sign-in, password links, password change). The handlers of `web::gestion`
//! and `web::public` only parse input, call one function here and render.

pub mod accounts;
pub mod approval;
pub mod awaiting_mail;
pub mod corrections;
pub mod csv;
pub mod decisions;
pub mod mailhtml;
pub mod mailview;
pub mod queue;
pub mod queue_cache;
pub mod second_factor;
pub mod self_service;
pub mod sender_auth;
pub mod subscriber_account;

/// The subscriber directory is only queries: it lives in the store.
pub use crate::store::directory;

use crate::store::StoreError;

/// A service that failed for a reason the caller cannot fix: the database
/// (mapped once at the web and CLI edges) or an internal fault.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::security::HashError> for ServiceError {
    fn from(e: crate::security::HashError) -> Self {
        ServiceError::Internal(e.into())
    }
}

/// A date as staff read it: « 26/11/2026 à 15 h 05 », Paris time.
pub fn fmt_date(at: chrono::DateTime<chrono::Utc>) -> String {
    crate::vocabulary::date_time(at)
}
