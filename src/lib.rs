//! bareme-mel: the change of a subscriber manager's registered address for
//! the Barème de Montpellier, run end to end (form, mail intake, staff
//! decisions, address update, password reset).

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
