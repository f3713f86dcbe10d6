//! Outgoing mail: the transactional outbox, rendering from
//! `templates/email/<name>/`, transports and the sending worker.

pub mod outbox;

pub use outbox::{MailContext, MailKind, NewMail, enqueue};
