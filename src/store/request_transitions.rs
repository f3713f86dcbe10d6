//! The transitions of the state machine (SPEC §2) as a thin layer over the
//! one write path, [`super::request_write::apply`]: what the command line,
//! intake and the reset link ask for by action.

use super::{
    Db, StoreError,
    entities::change_request,
    request_write::{self, Record},
    requests::{Actor, find, find_by_id},
};
use crate::{
    config::Settings,
    domain::{Action, Change, RequestState},
};

/// What a staff member (or the system) asks for, with what it must record.
#[derive(Debug, Clone)]
pub struct TransitionInput {
    pub action: Action,
    /// Why, in the actor's words (audited).
    pub reason: Option<String>,
    /// For `Verify`: how identity was checked.
    pub verification_method: Option<String>,
    /// For `Reject`: the reason code.
    pub rejection_code: Option<String>,
    /// For `Reject`/`RequestInformation`: the message sent to the requester.
    pub message: Option<String>,
}

impl TransitionInput {
    pub fn new(action: Action) -> Self {
        Self {
            action,
            reason: None,
            verification_method: None,
            rejection_code: None,
            message: None,
        }
    }

    fn record(&self) -> Record {
        Record {
            reason: self.reason.clone(),
            verification_method: self.verification_method.clone(),
            rejection_code: self.rejection_code.clone(),
            message: self.message.clone(),
        }
    }
}

/// Applies one transition inside the caller's transaction through the one
/// write path. Returns the updated row.
pub async fn transition_in<C: crate::store::Conn>(
    txn: &C,
    current: &change_request::Model,
    input: &TransitionInput,
    actor: &Actor,
    settings: &Settings,
) -> Result<change_request::Model, StoreError> {
    let applied = request_write::apply(
        txn,
        settings,
        current,
        &Change::Transition(input.action),
        actor,
        &input.record(),
    )
    .await?;
    Ok(applied.request)
}

/// Reads the request, applies one transition and commits. `expected_version`
/// (from the page the staff member saw) makes a stale form fail with `Conflict`.
pub async fn transition(
    db: &Db,
    reference: &str,
    expected_version: Option<i32>,
    input: &TransitionInput,
    actor: &Actor,
    four_eyes: bool,
) -> Result<change_request::Model, StoreError> {
    let mut settings = Settings::default();
    settings.approval.four_eyes = four_eyes;
    let txn = db.begin().await?;
    let current = find(&txn, reference).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(StoreError::Conflict);
    }
    let updated = transition_in(&txn, &current, input, actor, &settings).await?;
    txn.commit().await?;
    Ok(updated)
}

/// The reset link of request `request_id` was used: an approved request is
/// completed (any other state is left as it is).
pub async fn complete_in<C: crate::store::Conn>(
    txn: &C,
    settings: &Settings,
    request_id: i64,
) -> Result<(), StoreError> {
    let Some(request) = find_by_id(txn, request_id).await? else {
        return Ok(());
    };
    if RequestState::parse(&request.state) != Some(RequestState::Approved) {
        return Ok(());
    }
    let input = TransitionInput::new(Action::Complete);
    transition_in(txn, &request, &input, &Actor::System, settings).await?;
    Ok(())
}
