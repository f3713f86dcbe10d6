//! The change-request state machine of SPEC §2, as a pure function.
//!
//! [`next_state`] holds the arrows of SPEC §2; [`super::decide`] adds who
//! may follow them and every other change to a request.

use serde::Serialize;
use std::fmt;

/// Where a change request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    PendingReview,
    AwaitingRequester,
    Verified,
    Approved,
    Completed,
    Rejected,
    Cancelled,
}

impl RequestState {
    pub const ALL: [RequestState; 7] = [
        Self::PendingReview,
        Self::AwaitingRequester,
        Self::Verified,
        Self::Approved,
        Self::Completed,
        Self::Rejected,
        Self::Cancelled,
    ];

    /// The name stored in the database and used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingReview => "pending_review",
            Self::AwaitingRequester => "awaiting_requester",
            Self::Verified => "verified",
            Self::Approved => "approved",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    /// The French label shown to staff.
    pub fn label(self) -> &'static str {
        crate::vocabulary::labels::state(self)
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No further transition is possible.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Rejected | Self::Cancelled)
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Staff roles, from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Approbateur,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Approbateur => "approbateur",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Agent, Self::Approbateur, Self::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// Approbateurs and admins may approve.
    pub fn can_approve(self) -> bool {
        self >= Self::Approbateur
    }
}

/// What someone does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Staff ask the requester for a correction or a missing piece.
    RequestInformation,
    /// A reply from the requester threads back (intake).
    RequesterReplied,
    /// Staff put the request back to review (from awaiting or verified).
    ReturnToReview,
    /// Staff checked identity out of band.
    Verify,
    /// An approbateur approves: the address is replaced.
    Approve,
    /// The manager set the new password with the link.
    Complete,
    Reject,
    Cancel,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestInformation => "request_information",
            Self::RequesterReplied => "requester_replied",
            Self::ReturnToReview => "return_to_review",
            Self::Verify => "verify",
            Self::Approve => "approve",
            Self::Complete => "complete",
            Self::Reject => "reject",
            Self::Cancel => "cancel",
        }
    }
}

/// The state a transition `action` leads to from `from`, or `None` when the
/// table of SPEC §2 has no such arrow. Who may do it is decided by
/// [`super::decide`].
pub fn next_state(from: RequestState, action: Action) -> Option<RequestState> {
    use Action as A;
    use RequestState as S;
    Some(match (from, action) {
        (S::PendingReview, A::RequestInformation) => S::AwaitingRequester,
        (S::PendingReview, A::Verify) => S::Verified,
        (S::AwaitingRequester, A::RequesterReplied | A::ReturnToReview) => S::PendingReview,
        (_, A::RequesterReplied) => from,
        (S::Verified, A::ReturnToReview) => S::PendingReview,
        (S::Verified, A::Approve) => S::Approved,
        (S::Approved, A::Complete) => S::Completed,
        (S::PendingReview | S::AwaitingRequester | S::Verified, A::Reject) => S::Rejected,
        (S::PendingReview | S::AwaitingRequester | S::Verified, A::Cancel) => S::Cancelled,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use RequestState as S;

    const ALL_ACTIONS: [Action; 8] = [
        A::RequestInformation,
        A::RequesterReplied,
        A::ReturnToReview,
        A::Verify,
        A::Approve,
        A::Complete,
        A::Reject,
        A::Cancel,
    ];

    /// The arrows of SPEC §2 that change the state, written out once more on purpose.
    const ARROWS: [(RequestState, Action, RequestState); 13] = [
        (
            S::PendingReview,
            A::RequestInformation,
            S::AwaitingRequester,
        ),
        (S::PendingReview, A::Verify, S::Verified),
        (S::PendingReview, A::Reject, S::Rejected),
        (S::PendingReview, A::Cancel, S::Cancelled),
        (S::AwaitingRequester, A::RequesterReplied, S::PendingReview),
        (S::AwaitingRequester, A::ReturnToReview, S::PendingReview),
        (S::AwaitingRequester, A::Reject, S::Rejected),
        (S::AwaitingRequester, A::Cancel, S::Cancelled),
        (S::Verified, A::Approve, S::Approved),
        (S::Verified, A::Reject, S::Rejected),
        (S::Verified, A::Cancel, S::Cancelled),
        (S::Verified, A::ReturnToReview, S::PendingReview),
        (S::Approved, A::Complete, S::Completed),
    ];

    #[test]
    fn every_arrow_reaches_its_state_and_nothing_else_moves() {
        for from in S::ALL {
            for action in ALL_ACTIONS {
                let expected = ARROWS
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to)
                    .or((action == A::RequesterReplied).then_some(from));
                assert_eq!(next_state(from, action), expected, "{from} --{action:?}-->");
            }
        }
    }

    #[test]
    fn final_states_have_no_way_out() {
        for from in S::ALL.into_iter().filter(|s| s.is_final()) {
            for action in ALL_ACTIONS {
                let to = next_state(from, action);
                assert!(to.is_none() || to == Some(from), "{from} --{action:?}-->");
            }
        }
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        assert_eq!(S::parse("nope"), None);
    }
}
