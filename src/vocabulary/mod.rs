//! What people read, in one place: the French words for every code the
//! service stores (states, actions, flags, checks, roles, actors), the labels
//! of the form's fields and situations (read from the form definition), and
//! dates in Paris time. Pages, mails, CSV exports and the CLI's human output
//! all go through here, so no code, key or English word reaches a person.
//! Machine outputs (`--json`, logs, the audit chain) keep the codes and UTC.

pub mod form;
pub mod labels;
pub mod time;

pub use form::{SIGNATORY, field_label, situation_label};
pub use labels::{action_label, actor_label, check_label, flag_label, role_label, state_label};
pub use time::{date, date_time, spreadsheet};

/// A code nobody gave words to yet, made readable: `adresse_rejetee` →
/// « Adresse rejetee ». Better than the code; a test lists the known codes.
pub fn readable(code: &str) -> String {
    let spaced = code.replace(['_', '-', ':'], " ");
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
