//! The one write path of a change request. [`apply`] asks the domain
//! ([`crate::domain::decide`]) and, in the caller's transaction, writes what
//! follows: the columns the change sets, the state, the cleared
//! verification, the recomputed checks, `updated_at`, the version bump
//! (optimistic lock: a stale `current` fails with `Conflict`), the audit
//! event and the alert to the registered address. Nothing else in the
//! service updates `change_requests`.

use super::{
    StoreError, audit,
    entities::{change_request, subscriber},
    request_facts, to_json,
};
use crate::{
    config::Settings,
    domain::{
        Action, Change, ClaimedData, ClaimedField, Decision, Flag, FollowUp, MailAddress,
        RequestFacts, RequestState, decide,
    },
    intake::notify,
    store::requests::Actor,
};
use chrono::Utc;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};

/// What a change must record beside itself.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Why, in the actor's words (audited).
    pub reason: Option<String>,
    /// For « Marquer comme vérifiée »: how identity was checked.
    pub verification_method: Option<String>,
    /// For « Rejeter »: the reason code.
    pub rejection_code: Option<String>,
    /// For « Rejeter » and « Demander un complément »: the message sent.
    pub message: Option<String>,
}

/// The row after the change, and what the domain decided.
#[derive(Debug, Clone)]
pub struct Applied {
    pub request: change_request::Model,
    pub decision: Decision,
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().unwrap_or("").trim().is_empty()
}

/// The request as the domain's rules see it, with the facts the store knows.
async fn facts<C: crate::store::Conn>(
    txn: &C,
    current: &change_request::Model,
    state: RequestState,
    change: &Change,
) -> Result<RequestFacts, StoreError> {
    let new_address = current
        .new_email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok());
    let approving = *change == Change::Transition(Action::Approve);
    let new_address_taken = match (&new_address, approving) {
        (Some(a), true) => request_facts::address_taken(txn, a, current.subscriber_id).await?,
        _ => false,
    };
    let alerted_at = if approving {
        request_facts::alerted_at(txn, current.id).await?
    } else {
        None
    };
    Ok(RequestFacts {
        state,
        subscriber_id: current.subscriber_id,
        new_address,
        verified_by: current.verified_by,
        contested: current.contested,
        flags: flags_of(current),
        new_address_taken,
        alerted_at,
    })
}

/// The confirmed address, or the one the request already has.
fn address_or_keep(confirmed: &Option<MailAddress>, current: &Option<String>) -> Option<String> {
    confirmed
        .as_ref()
        .map(|a| a.to_string())
        .or_else(|| current.clone())
}

fn flags_of(current: &change_request::Model) -> Vec<Flag> {
    serde_json::from_str::<Vec<String>>(&current.flags)
        .unwrap_or_default()
        .iter()
        .filter_map(|f| Flag::new(f).ok())
        .collect()
}

/// Applies `change` to `current` inside `txn`; see the module comment.
pub async fn apply<C: crate::store::Conn>(
    txn: &C,
    settings: &Settings,
    current: &change_request::Model,
    change: &Change,
    actor: &Actor,
    record: &Record,
) -> Result<Applied, StoreError> {
    let from = RequestState::parse(&current.state)
        .ok_or_else(|| StoreError::Invalid(format!("état inconnu en base : {}", current.state)))?;
    let now = Utc::now();
    let facts = facts(txn, current, from, change).await?;
    let decision = decide(&facts, change, actor.who(), &settings.approval.rules(), now)?;
    match change {
        Change::Transition(Action::Verify)
            if blank(&record.verification_method) || blank(&record.reason) =>
        {
            return Err(StoreError::Invalid(
                "Indiquez comment l'identité a été vérifiée et ajoutez un commentaire.".into(),
            ));
        }
        Change::Transition(Action::Reject) if blank(&record.rejection_code) => {
            return Err(StoreError::Invalid("Choisissez un motif de rejet.".into()));
        }
        _ => {}
    }
    let to = decision.to;
    let mut cols: Vec<(change_request::Column, SimpleExpr)> = vec![
        (
            change_request::Column::Version,
            Expr::col(change_request::Column::Version).add(1),
        ),
        (change_request::Column::UpdatedAt, Expr::value(now)),
    ];
    if to != from {
        cols.push((change_request::Column::State, Expr::value(to.as_str())));
    }
    if to.is_final() && !from.is_final() {
        cols.push((change_request::Column::ClosedAt, Expr::value(Some(now))));
    }
    if decision.clear_verification {
        cols.push((
            change_request::Column::VerifiedBy,
            Expr::value(Option::<i64>::None),
        ));
        cols.push((
            change_request::Column::VerificationMethod,
            Expr::value(Option::<String>::None),
        ));
        cols.push((
            change_request::Column::VerificationComment,
            Expr::value(Option::<String>::None),
        ));
    }
    let mut details = serde_json::json!({});
    let mut subscriber_id = current.subscriber_id;
    let mut new_email = current.new_email.clone();
    let mut data = ClaimedData::from_json(&current.fields);
    let edited = |data: &ClaimedData, field: ClaimedField, value: Option<&str>| {
        data.corrected(field, value)
            .map_err(|e| StoreError::Invalid(e.0))
    };
    match change {
        Change::Assign => {
            cols.push((
                change_request::Column::AssigneeId,
                Expr::value(actor.staff_id()),
            ));
        }
        Change::Transition(Action::Verify) => {
            cols.push((
                change_request::Column::VerifiedBy,
                Expr::value(actor.staff_id()),
            ));
            cols.push((
                change_request::Column::VerificationMethod,
                Expr::value(record.verification_method.clone()),
            ));
            cols.push((
                change_request::Column::VerificationComment,
                Expr::value(record.reason.clone()),
            ));
        }
        Change::Transition(Action::Approve) => {
            cols.push((
                change_request::Column::ApprovedBy,
                Expr::value(actor.staff_id()),
            ));
        }
        Change::Transition(Action::Reject) => {
            cols.push((
                change_request::Column::RejectionCode,
                Expr::value(record.rejection_code.clone()),
            ));
            cols.push((
                change_request::Column::ClosingMessage,
                Expr::value(record.message.clone()),
            ));
        }
        Change::Transition(_) | Change::ResendLink | Change::AddNote => {}
        Change::Correct { field, value } => {
            let old = data.get(*field).map(str::to_string);
            data = edited(&data, *field, value.as_deref())?;
            details = serde_json::json!({ "field": field.name(), "old": old, "new": data.get(*field).unwrap_or("") });
        }
        Change::SetSubscriber {
            number,
            subscriber_id: id,
        } => {
            let old = data.numero_abonne.clone();
            let number = number.as_ref().map(|n| n.to_string());
            data = edited(&data, ClaimedField::SubscriberNumber, number.as_deref())?;
            subscriber_id = *id;
            cols.push((
                change_request::Column::ClaimedNumber,
                Expr::value(number.clone()),
            ));
            cols.push((change_request::Column::SubscriberId, Expr::value(*id)));
            details = serde_json::json!({ "field": "numero_abonne", "old": old, "new": number.unwrap_or_default(), "subscriber_id": id });
        }
        Change::SetNewAddress(address) => {
            let old = current.new_email.clone();
            let value = address.as_ref().map(|a| a.to_string());
            data = edited(&data, ClaimedField::NewAddress, value.as_deref())?;
            new_email = value.clone();
            cols.push((change_request::Column::NewEmail, Expr::value(value.clone())));
            details = serde_json::json!({ "field": "nouvelle_adresse_mel", "old": old, "new": value.unwrap_or_default() });
        }
        Change::ConfirmScan { new_address } => {
            let old = current.new_email.clone();
            let value = address_or_keep(new_address, &old);
            data = edited(&data, ClaimedField::NewAddress, value.as_deref())?;
            new_email = value.clone();
            cols.push((change_request::Column::NewEmail, Expr::value(value.clone())));
            let uncertain = Flag::new(crate::intake::extract::UNCERTAIN_READING)
                .map_err(|e| StoreError::Invalid(e.0))?;
            let mut flags = flags_of(current);
            flags.retain(|f| *f != uncertain);
            cols.push((change_request::Column::Flags, Expr::value(to_json(&flags))));
            details = serde_json::json!({ "field": "nouvelle_adresse_mel", "old": old, "new": value.unwrap_or_default() });
        }
        Change::AddFlag(flag) | Change::RemoveFlag(flag) => {
            let mut flags = flags_of(current);
            flags.retain(|f| f != flag);
            if matches!(change, Change::AddFlag(_)) {
                flags.push(flag.clone());
            }
            cols.push((change_request::Column::Flags, Expr::value(to_json(&flags))));
            details = serde_json::json!({ "flag": flag.as_str() });
        }
        Change::Contest => {
            cols.push((change_request::Column::Contested, Expr::value(true)));
            if from == RequestState::Approved {
                let mut flags = flags_of(current);
                let late = Flag::new("opposition_apres_approbation")
                    .map_err(|e| StoreError::Invalid(e.0))?;
                if !flags.contains(&late) {
                    flags.push(late);
                }
                cols.push((change_request::Column::Flags, Expr::value(to_json(&flags))));
            }
        }
        Change::LiftContest => {
            cols.push((change_request::Column::Contested, Expr::value(false)));
        }
    }
    if matches!(
        change,
        Change::Correct { .. }
            | Change::SetSubscriber { .. }
            | Change::SetNewAddress(_)
            | Change::ConfirmScan { .. }
    ) {
        cols.push((change_request::Column::Fields, Expr::value(data.to_json())));
    }
    if decision.recompute_checks {
        let checks =
            request_facts::recompute_checks(txn, current, &data, new_email.as_deref()).await?;
        cols.push((
            change_request::Column::Checks,
            Expr::value(to_json(&checks)),
        ));
    }
    let mut update = change_request::Entity::update_many();
    for (col, value) in cols {
        update = update.col_expr(col, value);
    }
    let result = update
        .filter(change_request::Column::Id.eq(current.id))
        .filter(change_request::Column::Version.eq(current.version))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    let moved = to != from || matches!(change, Change::Transition(_));
    if let Change::Transition(_) = change {
        details = serde_json::json!({
            "verification_method": record.verification_method,
            "rejection_code": record.rejection_code,
        });
    }
    audit::append(
        txn,
        audit::NewEvent {
            actor: actor.audit_name(),
            action: decision.audit_action.into(),
            request_id: Some(current.id),
            from_state: moved.then(|| from.as_str().into()),
            to_state: moved.then(|| to.as_str().into()),
            reason: record.reason.clone(),
            details,
            ..Default::default()
        },
    )
    .await?;
    let request = change_request::Entity::find_by_id(current.id)
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::NotFound("demande disparue".into()))?;
    if decision.mails.contains(&FollowUp::AlertRegisteredAddress)
        && let Some(id) = subscriber_id
        && let Some(sub) = subscriber::Entity::find_by_id(id).one(txn).await?
    {
        notify::alert_registered(txn, settings, &sub, &request).await?;
    }
    Ok(Applied { request, decision })
}
