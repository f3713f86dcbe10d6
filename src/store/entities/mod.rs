//! sea-orm entities, one module per table. Only the `store` modules use them;
//! the rest of the code sees domain types.

pub mod attachment;
pub mod audit_event;
pub mod blob;
pub mod change_request;
pub mod imap_position;
pub mod inbound_message;
pub mod intake_attempt;
pub mod lease;
pub mod note;
pub mod outbox;
pub mod scan_reading;
pub mod session;
pub mod staff;
pub mod subscriber;
pub mod subscriber_address;
pub mod token;
