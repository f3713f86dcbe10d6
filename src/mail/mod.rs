//! Outgoing mail: the transactional outbox, rendering from
//! `templates/email/<name>/`, transports and the sending worker.

pub mod hint;
pub mod message;
pub mod outbox;
pub mod render;
pub mod transport;
pub mod worker;

pub use crate::store::outbox::mark_bounced;
pub use outbox::{
    Account, Acknowledgement, ApprovalResetLink, ChangeNotice, ForwardedMail, LOOP_HEADER, Mail,
    MailKind, NewMail, PasswordChanged, RegisteredAddressAlert, SelfServiceResetLink, StaffMessage,
    enqueue,
};
pub use transport::{Mailer, SendError};
pub use worker::Worker;
