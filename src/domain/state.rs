//! The change-request state machine of SPEC §2, as a pure function.
//!
//! Every state change of a request goes through [`transition`]; the store
//! applies its answer together with the audit event in one transaction.

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

/// Who acts, and the facts of the request the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct TransitionContext {
    /// `None` for the system (intake, the reset page).
    pub actor: Option<(i64, Role)>,
    pub verified_by: Option<i64>,
    pub contested: bool,
    pub four_eyes: bool,
}

/// Why a transition was refused: each message tells staff what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("Action impossible : « {} » n'est pas possible pour une demande « {} ».", crate::vocabulary::labels::action_button(*.action), .from.label())]
    NotAllowed { from: RequestState, action: Action },
    #[error("Cette action est réservée aux agents de la DAG connectés.")]
    StaffOnly,
    #[error("Cette action est réservée au système.")]
    SystemOnly,
    #[error("Seul un approbateur ou un administrateur peut approuver une demande.")]
    NotApprover,
    #[error(
        "Double contrôle : la personne qui approuve doit être différente de celle qui a vérifié la demande."
    )]
    FourEyes,
    #[error(
        "Une opposition est en cours sur cette demande : levez-la avec un commentaire avant d'approuver."
    )]
    Contested,
}

/// The state after `action`, or why it is refused. Pure: no I/O, no clock.
pub fn transition(
    from: RequestState,
    action: Action,
    ctx: &TransitionContext,
) -> Result<RequestState, TransitionError> {
    use Action as A;
    use RequestState as S;
    let to = match (from, action) {
        (S::PendingReview, A::RequestInformation) => S::AwaitingRequester,
        (S::PendingReview, A::Verify) => S::Verified,
        (S::AwaitingRequester, A::RequesterReplied | A::ReturnToReview) => S::PendingReview,
        (S::Verified, A::ReturnToReview) => S::PendingReview,
        (S::Verified, A::Approve) => S::Approved,
        (S::Approved, A::Complete) => S::Completed,
        (S::PendingReview | S::AwaitingRequester | S::Verified, A::Reject) => S::Rejected,
        (S::PendingReview | S::AwaitingRequester, A::Cancel) => S::Cancelled,
        _ => return Err(TransitionError::NotAllowed { from, action }),
    };
    match action {
        A::RequesterReplied | A::Complete => {
            if ctx.actor.is_some() {
                return Err(TransitionError::SystemOnly);
            }
        }
        _ => {
            let Some((actor_id, role)) = ctx.actor else {
                return Err(TransitionError::StaffOnly);
            };
            if action == A::Approve {
                if !role.can_approve() {
                    return Err(TransitionError::NotApprover);
                }
                if ctx.four_eyes && ctx.verified_by == Some(actor_id) {
                    return Err(TransitionError::FourEyes);
                }
                if ctx.contested {
                    return Err(TransitionError::Contested);
                }
            }
        }
    }
    Ok(to)
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

    fn staff(id: i64, role: Role) -> TransitionContext {
        TransitionContext {
            actor: Some((id, role)),
            verified_by: Some(1),
            contested: false,
            four_eyes: true,
        }
    }

    fn system() -> TransitionContext {
        TransitionContext {
            actor: None,
            verified_by: None,
            contested: false,
            four_eyes: true,
        }
    }

    /// The table of SPEC §2, written out once more on purpose.
    const ALLOWED: [(RequestState, Action, RequestState); 12] = [
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
        (S::Verified, A::ReturnToReview, S::PendingReview),
        (S::Approved, A::Complete, S::Completed),
    ];

    fn ctx_for(action: Action) -> TransitionContext {
        match action {
            A::RequesterReplied | A::Complete => system(),
            _ => staff(2, Role::Approbateur),
        }
    }

    #[test]
    fn every_allowed_transition_reaches_its_state() {
        for (from, action, to) in ALLOWED {
            assert_eq!(
                transition(from, action, &ctx_for(action)),
                Ok(to),
                "{from} --{action:?}-->"
            );
        }
    }

    #[test]
    fn every_other_pair_is_refused() {
        for from in S::ALL {
            for action in ALL_ACTIONS {
                if ALLOWED.iter().any(|(f, a, _)| *f == from && *a == action) {
                    continue;
                }
                assert_eq!(
                    transition(from, action, &ctx_for(action)),
                    Err(TransitionError::NotAllowed { from, action }),
                    "{from} --{action:?}--> was allowed"
                );
            }
        }
    }

    #[test]
    fn final_states_have_no_way_out() {
        for from in S::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(
                ALL_ACTIONS
                    .iter()
                    .all(|a| transition(from, *a, &ctx_for(*a)).is_err())
            );
        }
    }

    #[test]
    fn the_verifier_cannot_approve_with_four_eyes_on() {
        let ctx = TransitionContext {
            verified_by: Some(2),
            ..staff(2, Role::Approbateur)
        };
        assert_eq!(
            transition(S::Verified, A::Approve, &ctx),
            Err(TransitionError::FourEyes)
        );
        let off = TransitionContext {
            four_eyes: false,
            ..ctx
        };
        assert_eq!(transition(S::Verified, A::Approve, &off), Ok(S::Approved));
    }

    #[test]
    fn an_agent_cannot_approve() {
        assert_eq!(
            transition(S::Verified, A::Approve, &staff(3, Role::Agent)),
            Err(TransitionError::NotApprover)
        );
        assert_eq!(
            transition(S::Verified, A::Approve, &staff(3, Role::Admin)),
            Ok(S::Approved)
        );
    }

    #[test]
    fn a_contested_request_cannot_be_approved() {
        let ctx = TransitionContext {
            contested: true,
            ..staff(3, Role::Approbateur)
        };
        assert_eq!(
            transition(S::Verified, A::Approve, &ctx),
            Err(TransitionError::Contested)
        );
        assert_eq!(transition(S::Verified, A::Reject, &ctx), Ok(S::Rejected));
    }

    #[test]
    fn staff_actions_need_a_staff_member_and_system_events_refuse_one() {
        assert_eq!(
            transition(S::PendingReview, A::Verify, &system()),
            Err(TransitionError::StaffOnly)
        );
        assert_eq!(
            transition(
                S::AwaitingRequester,
                A::RequesterReplied,
                &staff(1, Role::Admin)
            ),
            Err(TransitionError::SystemOnly)
        );
        assert_eq!(
            transition(S::Approved, A::Complete, &staff(1, Role::Admin)),
            Err(TransitionError::SystemOnly)
        );
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        assert_eq!(S::parse("nope"), None);
    }
}
