//! What the DAG back-office does, below the web pages: the queue query, the
//! staff decisions on a request (each one transaction with its audit events
//! and its mails), quarantine handling, staff accounts, CSV exports and the
//! demonstration data set. The handlers of `web::gestion` only call these.

pub mod accounts;
pub mod approval;
pub mod csv;
pub mod decisions;
pub mod demo;
pub mod directory;
pub mod mailhtml;
pub mod mailview;
pub mod other_mail;
pub mod quarantine;
pub mod queue;
pub mod queue_cache;
pub mod second_factor;
pub mod sender_auth;

/// A date as staff read it: « 26/11/2026 à 15 h 05 », Paris time.
pub fn fmt_date(at: chrono::DateTime<chrono::Utc>) -> String {
    crate::vocabulary::date_time(at)
}
