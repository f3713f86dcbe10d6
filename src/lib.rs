//! bareme-mel: the change of a subscriber manager's registered address for
//! the Barème de Montpellier, run end to end (form, mail intake, staff
//! decisions, address update, password reset).

// Intake's futures (a source, a batch, its write, its transaction's
// beginning on the writer) nest past the compiler's default depth.
#![recursion_limit = "256"]

pub mod access_export;
pub mod appkey;
pub mod backoffice;
pub mod cli;
pub mod config;
pub mod domain;
pub mod intake;
pub mod mail;
pub mod metrics;
pub mod security;
pub mod store;
pub mod telemetry;
pub mod vocabulary;
pub mod web;
