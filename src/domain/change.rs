//! Every change to a request (SPEC §2), decided in one pure function.
//!
//! [`decide`] takes the request as it stands, the [`Change`] asked for, who
//! asks, the rules in force, the facts only the store knows (is the new
//! address another subscriber's? when was the registered address alerted?)
//! and the time; it answers with a [`Decision`] — the state after, whether
//! the verification is cleared, whether the checks are recomputed, which
//! mails follow, the audit action — or a [`ChangeError`] that tells staff,
//! in French, what to do. The store applies the decision in one write path.

use super::{Action, ClaimedField, Flag, MailAddress, RequestState, Role, SubscriberNumber};
use chrono::{DateTime, Duration, Utc};

/// Who asks for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// A signed-in staff member.
    Staff { id: i64, role: Role },
    /// The service itself: intake flags, the reset page completing a request.
    System,
    /// The requester (an authenticated reply) or the registered address (an
    /// objection through its link).
    Requester,
}

/// Every mutation of a request, one variant per line of SPEC §2's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// « Prendre en charge ».
    Assign,
    /// A move of the state machine (ask, reply, verify, approve…).
    Transition(Action),
    /// A claimed field other than the subscriber number and the new address.
    Correct {
        field: ClaimedField,
        value: Option<String>,
    },
    /// The subscriber number, and the subscriber it names (if any).
    SetSubscriber {
        number: Option<SubscriberNumber>,
        subscriber_id: Option<i64>,
    },
    /// The new address.
    SetNewAddress(Option<MailAddress>),
    /// « Confirmer les valeurs lues »: staff confirm the values read from a
    /// scanned form; the new address read (if any) becomes the request's
    /// and the « lecture incertaine » flag goes.
    ConfirmScan {
        new_address: Option<MailAddress>,
    },
    AddFlag(Flag),
    RemoveFlag(Flag),
    /// The registered address objects through its link.
    Contest,
    /// Staff lift an objection with a comment.
    LiftContest,
    /// « Renvoyer le lien ».
    ResendLink,
    /// An internal note.
    AddNote,
}

/// The request as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    pub state: RequestState,
    pub subscriber_id: Option<i64>,
    pub new_address: Option<MailAddress>,
    pub verified_by: Option<i64>,
    pub contested: bool,
    pub flags: Vec<Flag>,
    /// True when another subscriber already has the new address (the store
    /// compares case-insensitively with IDN domains normalised).
    pub new_address_taken: bool,
    /// When the registered address was last alerted about this request.
    pub alerted_at: Option<DateTime<Utc>>,
}

/// The settings the rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub four_eyes: bool,
    /// Approval waits this long after the alert to the registered address.
    pub objection_window: Duration,
}

/// A mail that follows a change, queued in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// The alert with the objection link, to the subscriber's registered address.
    AlertRegisteredAddress,
    /// « Demander un complément »: the message to the requester.
    InformationRequest,
    /// The rejection message to the requester.
    Rejection,
    /// The notice to the old address that it was replaced.
    ChangeNotice,
    /// A reset link to the approved address for the approved subscriber.
    ResetLink,
}

/// What follows from an allowed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub to: RequestState,
    pub clear_verification: bool,
    pub recompute_checks: bool,
    pub mails: Vec<FollowUp>,
    /// The action written in the audit log.
    pub audit_action: &'static str,
}

/// Why a change is refused: each message tells staff what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("Action impossible : « {} » n'est pas possible pour une demande « {} ».", crate::vocabulary::labels::action_button(*.action), .from.label())]
    NotAllowed { from: RequestState, action: Action },
    #[error(
        "Une demande « {} » ne peut plus être modifiée : ce qui a été approuvé ne change plus. Pour un autre abonné ou une autre adresse, créez une nouvelle demande.",
        .0.label()
    )]
    Frozen(RequestState),
    #[error("Une demande « {} » est close : elle ne se modifie plus.", .0.label())]
    Closed(RequestState),
    #[error("Le lien ne peut être renvoyé que pour une demande « Approuvée ».")]
    NotApproved,
    #[error("Cette action est réservée aux agents de la DAG connectés.")]
    StaffOnly,
    #[error("Cette action est réservée au système.")]
    SystemOnly,
    #[error("Cette action est réservée au demandeur ou à l'adresse enregistrée.")]
    RequesterOnly,
    #[error("Seul un approbateur ou un administrateur peut faire cette action.")]
    NotApprover,
    #[error(
        "Double contrôle : la personne qui approuve doit être différente de celle qui a vérifié la demande."
    )]
    FourEyes,
    #[error(
        "Une opposition est en cours sur cette demande : levez-la avec un commentaire avant d'approuver."
    )]
    Contested,
    #[error("Aucune opposition n'est en cours sur cette demande.")]
    NotContested,
    #[error(
        "Approbation possible dans {hours} h (délai d'opposition de l'adresse enregistrée) : attendez la fin du délai."
    )]
    ObjectionWindow { hours: i64 },
    #[error(
        "La nouvelle adresse est déjà celle d'un autre abonné : corrigez-la ou rejetez la demande."
    )]
    AddressTaken,
    #[error(
        "La demande n'est rattachée à aucun abonné : corrigez le numéro d'abonné avant d'approuver."
    )]
    NoSubscriber,
    #[error("La nouvelle adresse mél est absente ou invalide : corrigez-la avant d'approuver.")]
    NoNewAddress,
}

const OPEN: [RequestState; 3] = [
    RequestState::PendingReview,
    RequestState::AwaitingRequester,
    RequestState::Verified,
];

fn staff(who: Who) -> Result<(i64, Role), ChangeError> {
    match who {
        Who::Staff { id, role } => Ok((id, role)),
        _ => Err(ChangeError::StaffOnly),
    }
}

fn approver(who: Who) -> Result<i64, ChangeError> {
    let (id, role) = staff(who)?;
    if !role.can_approve() {
        return Err(ChangeError::NotApprover);
    }
    Ok(id)
}

/// Refuses everything but the open states; `approved` is frozen.
fn open_only(state: RequestState) -> Result<(), ChangeError> {
    match state {
        s if OPEN.contains(&s) => Ok(()),
        RequestState::Approved => Err(ChangeError::Frozen(state)),
        s => Err(ChangeError::Closed(s)),
    }
}

fn stays(r: &RequestFacts, audit_action: &'static str) -> Decision {
    Decision {
        to: r.state,
        clear_verification: false,
        recompute_checks: false,
        mails: Vec::new(),
        audit_action,
    }
}

/// How many whole hours (rounded up) are left before `until`.
pub fn hours_left(now: DateTime<Utc>, until: DateTime<Utc>) -> i64 {
    let minutes = (until - now).num_minutes().max(1);
    (minutes + 59) / 60
}

/// When approval becomes possible (`None`: it does not wait).
pub fn approvable_at(r: &RequestFacts, rules: &Rules) -> Option<DateTime<Utc>> {
    approvable_after(r.alerted_at, rules)
}

/// When approval becomes possible for a request whose registered address
/// was alerted at `alerted_at` (`None`: it does not wait).
pub fn approvable_after(alerted_at: Option<DateTime<Utc>>, rules: &Rules) -> Option<DateTime<Utc>> {
    if rules.objection_window <= Duration::zero() {
        return None;
    }
    alerted_at.map(|at| at + rules.objection_window)
}

/// Decides `change` on request `r`. Pure: no I/O, the clock is `now`.
pub fn decide(
    r: &RequestFacts,
    change: &Change,
    who: Who,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Decision, ChangeError> {
    use RequestState as S;
    match change {
        Change::Assign => {
            staff(who)?;
            open_only(r.state)?;
            Ok(stays(r, "claimed"))
        }
        Change::ConfirmScan { .. } => {
            staff(who)?;
            open_only(r.state)?;
            // What was verified may have been a request without its new
            // address: confirming one sends it back to review.
            let back = r.state == S::Verified;
            Ok(Decision {
                to: if back { S::PendingReview } else { r.state },
                clear_verification: back,
                recompute_checks: true,
                mails: Vec::new(),
                audit_action: "scan_confirmed",
            })
        }
        Change::Correct { .. } | Change::SetSubscriber { .. } | Change::SetNewAddress(_) => {
            staff(who)?;
            open_only(r.state)?;
            let back = r.state == S::Verified;
            let mut mails = Vec::new();
            if let Change::SetSubscriber {
                subscriber_id: Some(id),
                ..
            } = change
                && r.subscriber_id != Some(*id)
            {
                mails.push(FollowUp::AlertRegisteredAddress);
            }
            Ok(Decision {
                to: if back { S::PendingReview } else { r.state },
                clear_verification: back,
                recompute_checks: true,
                mails,
                audit_action: "field_edited",
            })
        }
        Change::AddFlag(_) | Change::RemoveFlag(_) => {
            if matches!(who, Who::Requester) {
                return Err(ChangeError::StaffOnly);
            }
            let add = matches!(change, Change::AddFlag(_));
            Ok(stays(r, if add { "flag_added" } else { "flag_removed" }))
        }
        Change::AddNote => {
            staff(who)?;
            Ok(stays(r, "note_added"))
        }
        Change::Contest => {
            if who != Who::Requester {
                return Err(ChangeError::RequesterOnly);
            }
            match r.state {
                s if OPEN.contains(&s) || s == S::Approved => Ok(stays(r, "objection_raised")),
                s => Err(ChangeError::Closed(s)),
            }
        }
        Change::LiftContest => {
            approver(who)?;
            open_only(r.state)?;
            if !r.contested {
                return Err(ChangeError::NotContested);
            }
            Ok(stays(r, "contest_lifted"))
        }
        Change::ResendLink => {
            approver(who)?;
            if r.state != S::Approved {
                return Err(ChangeError::NotApproved);
            }
            Ok(Decision {
                mails: vec![FollowUp::ResetLink],
                ..stays(r, "reset_link_resent")
            })
        }
        Change::Transition(action) => transition(r, *action, who, rules, now),
    }
}

fn transition(
    r: &RequestFacts,
    action: Action,
    who: Who,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Decision, ChangeError> {
    use RequestState as S;
    let refused = ChangeError::NotAllowed {
        from: r.state,
        action,
    };
    let to = super::next_state(r.state, action).ok_or(refused)?;
    match action {
        Action::RequesterReplied => {
            if who != Who::Requester {
                return Err(ChangeError::RequesterOnly);
            }
        }
        Action::Complete => {
            if who != Who::System {
                return Err(ChangeError::SystemOnly);
            }
        }
        Action::Approve => {
            let id = approver(who)?;
            if rules.four_eyes && r.verified_by == Some(id) {
                return Err(ChangeError::FourEyes);
            }
            if r.contested {
                return Err(ChangeError::Contested);
            }
            if let Some(at) = approvable_at(r, rules).filter(|at| *at > now) {
                return Err(ChangeError::ObjectionWindow {
                    hours: hours_left(now, at),
                });
            }
            if r.new_address_taken {
                return Err(ChangeError::AddressTaken);
            }
        }
        _ => {
            staff(who)?;
        }
    }
    let mails = match action {
        Action::RequestInformation => vec![FollowUp::InformationRequest],
        Action::Reject => vec![FollowUp::Rejection],
        Action::Approve => vec![FollowUp::ChangeNotice, FollowUp::ResetLink],
        _ => Vec::new(),
    };
    Ok(Decision {
        to,
        clear_verification: r.state == S::Verified && to == S::PendingReview,
        recompute_checks: false,
        mails,
        audit_action: action.as_str(),
    })
}

#[cfg(test)]
#[path = "change_table.rs"]
mod table;
