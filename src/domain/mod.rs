//! The pure domain: value types that can only hold valid values, the request
//! state machine and the rules around it. No I/O here.

mod change;
mod claimed;
mod mail_address;
pub mod password;
mod reference;
mod state;
mod subscriber_number;

/// The refusals of [`decide`], under the name the store's error has long used.
pub use change::ChangeError as TransitionError;
pub use change::{
    Change, ChangeError, Decision, FollowUp, RequestFacts, Rules, Who, approvable_after,
    approvable_at, decide, hours_left,
};
pub use claimed::{Check, CheckOutcome, ClaimedData, ClaimedField, Flag};
pub use mail_address::MailAddress;
pub use password::check_password;
pub use reference::Reference;
pub use state::{Action, RequestState, Role, next_state};
pub use subscriber_number::SubscriberNumber;

/// Why a value could not be accepted: a French message meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// True when `s` holds a character that must never reach a stored field or a
/// mail header: CR, LF or any other control character.
pub fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}
