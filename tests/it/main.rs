//! The integration test binary: real SQLite files, a real PostgreSQL, the
//! real `bareme-mel` binary. Tests that need an outside service skip with a
//! message when it is absent, and fail instead when
//! `BAREME_MEL_REQUIRE_SERVICES=1` (set by `.ci/run`).

mod harness;

mod access_export;
mod accounts;
mod audit_log;
mod backup;
mod browser_widths;
mod cli;
mod field_errors;
mod focus_visible;
mod gestion;
mod gestion_access;
mod gestion_actions;
mod gestion_browser;
mod gestion_browser_other_mail;
mod gestion_browser_scan;
mod gestion_mail;
mod gestion_other_mail;
mod gestion_pages;
mod gestion_queue;
mod gestion_totp;
mod intake;
mod intake_auth;
mod intake_corpus;
mod intake_durable;
mod intake_fuzz;
mod intake_hostile;
mod intake_image_budget;
mod intake_imap;
mod intake_imap_idle;
mod intake_imap_lease;
mod intake_imap_support;
mod intake_imaps;
mod intake_large_mail;
mod intake_poison;
mod intake_reliability;
mod intake_scan;
mod intake_sources;
mod intake_statements;
mod intake_support;
mod journey;
mod jpeg_bomb;
mod logs;
mod logs_plain;
mod monitoring;
mod not_a_request;
mod ops;
mod outbox;
mod pdf_bomb;
mod proofreading;
mod public;
mod public_tokens;
mod purge;
mod request_changes;
mod requests;
mod scan_support;
mod snapshots;
mod store_deferred;
mod store_tls;
mod subscribers;
mod through_nginx;
mod tokens;
mod web_errors;
