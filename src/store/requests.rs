//! Change requests: creation with a per-year reference, state transitions
//! through the domain state machine with their audit event in the same
//! transaction and an optimistic version check, listing and detail.

use super::{
    Db, StoreError, audit,
    entities::{change_request, inbound_message, outbox, subscriber},
    to_json,
};
use crate::domain::{
    Action, Reference, RequestState, Role, TransitionContext, transition as decide,
};
use chrono::{DateTime, Datelike, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, Func, OnConflict, Query},
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who does something, as written in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The service itself (intake, workers, the reset page).
    System,
    /// A signed-in staff member.
    Staff {
        id: i64,
        username: String,
        role: Role,
    },
    /// The operator at the command line (`bareme-mel ...`).
    Cli(String),
}

impl Actor {
    pub fn audit_name(&self) -> String {
        match self {
            Actor::System => "system".into(),
            Actor::Staff { username, .. } => format!("staff:{username}"),
            Actor::Cli(user) => format!("cli:{user}"),
        }
    }

    fn as_transition_actor(&self) -> Option<(i64, Role)> {
        match self {
            Actor::Staff { id, role, .. } => Some((*id, *role)),
            _ => None,
        }
    }
}

/// The outcome of one check shown to staff (SPEC §4 "Matching").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Match,
    Mismatch,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable code, e.g. `subscriber_exists`.
    pub code: String,
    /// French label, e.g. « Le numéro d'abonné existe ».
    pub label: String,
    pub outcome: CheckOutcome,
    pub detail: Option<String>,
}

/// What a new request is made of.
#[derive(Debug, Clone, Default)]
pub struct NewRequest {
    pub claimed_number: Option<String>,
    pub subscriber_id: Option<i64>,
    pub requester_email: Option<String>,
    pub new_email: Option<String>,
    pub situation: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub checks: Vec<Check>,
    pub flags: Vec<String>,
    pub manual_entry: bool,
    pub origin_message_id: Option<i64>,
}

/// Takes the next reference of `year`; unique under concurrent creators.
pub async fn next_reference<C: ConnectionTrait>(
    txn: &C,
    year: i32,
) -> Result<Reference, StoreError> {
    let stmt = Query::insert()
        .into_table("reference_counters")
        .columns(["year", "last_value"])
        .values_panic([year.into(), 1i64.into()])
        .on_conflict(
            OnConflict::column("year")
                .value(
                    "last_value",
                    Expr::col(("reference_counters", "last_value")).add(1),
                )
                .to_owned(),
        )
        .returning_col("last_value")
        .to_owned();
    let row = txn
        .query_one(&stmt)
        .await?
        .ok_or_else(|| StoreError::Invalid("compteur de références muet".into()))?;
    let value: i64 = row.try_get("", "last_value")?;
    let seq = u32::try_from(value)
        .map_err(|_| StoreError::Invalid("compteur de références épuisé".into()))?;
    Reference::new(year, seq).map_err(|e| StoreError::Invalid(e.0))
}

/// Creates a request in `pending_review` inside the caller's transaction.
pub async fn create_in<C: ConnectionTrait>(
    txn: &C,
    new: NewRequest,
    actor: &Actor,
) -> Result<change_request::Model, StoreError> {
    let now = Utc::now();
    let reference = next_reference(txn, now.year()).await?;
    let model = change_request::ActiveModel {
        reference: Set(reference.to_string()),
        state: Set(RequestState::PendingReview.as_str().into()),
        claimed_number: Set(new.claimed_number),
        subscriber_id: Set(new.subscriber_id),
        requester_email: Set(new.requester_email),
        new_email: Set(new.new_email),
        situation: Set(new.situation),
        fields: Set(to_json(&new.fields)),
        checks: Set(to_json(&new.checks)),
        flags: Set(to_json(&new.flags)),
        contested: Set(false),
        manual_entry: Set(new.manual_entry),
        origin_message_id: Set(new.origin_message_id),
        version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let created = change_request::Entity::insert(model)
        .exec_with_returning(txn)
        .await?;
    audit::append(
        txn,
        audit::NewEvent {
            actor: actor.audit_name(),
            action: "request_created".into(),
            request_id: Some(created.id),
            to_state: Some(created.state.clone()),
            details: serde_json::json!({ "reference": created.reference, "origin_message_id": created.origin_message_id }),
            ..Default::default()
        },
    )
    .await?;
    Ok(created)
}

/// Creates a request in its own transaction.
pub async fn create(
    db: &Db,
    new: NewRequest,
    actor: &Actor,
) -> Result<change_request::Model, StoreError> {
    let txn = db.begin().await?;
    let created = create_in(&txn, new, actor).await?;
    txn.commit().await?;
    Ok(created)
}

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
}

/// Applies one transition inside the caller's transaction: the state machine
/// decides, the row is updated only if nobody changed it since `current` was
/// read, and the audit event is appended. Returns the updated row.
pub async fn transition_in<C: ConnectionTrait>(
    txn: &C,
    current: &change_request::Model,
    input: &TransitionInput,
    actor: &Actor,
    four_eyes: bool,
) -> Result<change_request::Model, StoreError> {
    let from = RequestState::parse(&current.state)
        .ok_or_else(|| StoreError::Invalid(format!("état inconnu en base : {}", current.state)))?;
    let ctx = TransitionContext {
        actor: actor.as_transition_actor(),
        verified_by: current.verified_by,
        contested: current.contested,
        four_eyes,
    };
    let to = decide(from, input.action, &ctx)?;
    if input.action == Action::Verify
        && (input
            .verification_method
            .as_deref()
            .unwrap_or("")
            .trim()
            .is_empty()
            || input.reason.as_deref().unwrap_or("").trim().is_empty())
    {
        return Err(StoreError::Invalid(
            "Indiquez comment l'identité a été vérifiée et ajoutez un commentaire.".into(),
        ));
    }
    if input.action == Action::Reject
        && input
            .rejection_code
            .as_deref()
            .unwrap_or("")
            .trim()
            .is_empty()
    {
        return Err(StoreError::Invalid("Choisissez un motif de rejet.".into()));
    }
    let now = Utc::now();
    let staff_id = ctx.actor.map(|(id, _)| id);
    let mut update = change_request::Entity::update_many()
        .col_expr(change_request::Column::State, Expr::value(to.as_str()))
        .col_expr(
            change_request::Column::Version,
            Expr::col(change_request::Column::Version).add(1),
        )
        .col_expr(change_request::Column::UpdatedAt, Expr::value(now));
    match input.action {
        Action::Verify => {
            update = update
                .col_expr(change_request::Column::VerifiedBy, Expr::value(staff_id))
                .col_expr(
                    change_request::Column::VerificationMethod,
                    Expr::value(input.verification_method.clone()),
                )
                .col_expr(
                    change_request::Column::VerificationComment,
                    Expr::value(input.reason.clone()),
                );
        }
        Action::ReturnToReview if from == RequestState::Verified => {
            update = update.col_expr(
                change_request::Column::VerifiedBy,
                Expr::value(Option::<i64>::None),
            );
        }
        Action::Approve => {
            update = update.col_expr(change_request::Column::ApprovedBy, Expr::value(staff_id));
        }
        Action::Reject => {
            update = update
                .col_expr(
                    change_request::Column::RejectionCode,
                    Expr::value(input.rejection_code.clone()),
                )
                .col_expr(
                    change_request::Column::ClosingMessage,
                    Expr::value(input.message.clone()),
                );
        }
        _ => {}
    }
    if to.is_final() {
        update = update.col_expr(change_request::Column::ClosedAt, Expr::value(Some(now)));
    }
    let result = update
        .filter(change_request::Column::Id.eq(current.id))
        .filter(change_request::Column::Version.eq(current.version))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    audit::append(
        txn,
        audit::NewEvent {
            actor: actor.audit_name(),
            action: input.action.as_str().into(),
            request_id: Some(current.id),
            from_state: Some(from.as_str().into()),
            to_state: Some(to.as_str().into()),
            reason: input.reason.clone(),
            details: serde_json::json!({
                "verification_method": input.verification_method,
                "rejection_code": input.rejection_code,
            }),
            ..Default::default()
        },
    )
    .await?;
    change_request::Entity::find_by_id(current.id)
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::NotFound("demande disparue".into()))
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
    let txn = db.begin().await?;
    let current = find(&txn, reference).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(StoreError::Conflict);
    }
    let updated = transition_in(&txn, &current, input, actor, four_eyes).await?;
    txn.commit().await?;
    Ok(updated)
}

/// The request with this reference, or a French "not found".
pub async fn find<C: ConnectionTrait>(
    db: &C,
    reference: &str,
) -> Result<change_request::Model, StoreError> {
    change_request::Entity::find()
        .filter(change_request::Column::Reference.eq(reference.trim().to_ascii_uppercase()))
        .one(db)
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!("aucune demande ne porte la référence {reference}"))
        })
}

/// The request with this id, if any.
pub async fn find_by_id<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<change_request::Model>, StoreError> {
    Ok(change_request::Entity::find_by_id(id).one(db).await?)
}

/// One line of a list of requests.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub reference: String,
    pub state: String,
    pub state_label: &'static str,
    pub claimed_number: Option<String>,
    pub requester_email: Option<String>,
    pub new_email: Option<String>,
    pub flags: Vec<String>,
    pub contested: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters of the queue and of `requests list`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<RequestState>,
    /// Reference, subscriber number or address (substring, case-insensitive).
    pub search: Option<String>,
    pub limit: u64,
    pub offset: u64,
}

fn summary(m: change_request::Model) -> Summary {
    let state = RequestState::parse(&m.state);
    Summary {
        state_label: state.map(RequestState::label).unwrap_or("?"),
        reference: m.reference,
        state: m.state,
        claimed_number: m.claimed_number,
        requester_email: m.requester_email,
        new_email: m.new_email,
        flags: serde_json::from_str(&m.flags).unwrap_or_default(),
        contested: m.contested,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Requests matching `filter`, oldest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &ListFilter,
) -> Result<Vec<Summary>, StoreError> {
    let mut q = change_request::Entity::find().order_by_asc(change_request::Column::CreatedAt);
    if let Some(state) = filter.state {
        q = q.filter(change_request::Column::State.eq(state.as_str()));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = format!("%{}%", search.to_lowercase().replace(['%', '_'], ""));
        q = q.filter(
            sea_orm::Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(change_request::Column::Reference)))
                        .like(pattern.clone()),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col(
                        change_request::Column::ClaimedNumber,
                    )))
                    .like(pattern.clone()),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col(
                        change_request::Column::RequesterEmail,
                    )))
                    .like(pattern.clone()),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col(change_request::Column::NewEmail)))
                        .like(pattern),
                ),
        );
    }
    if filter.limit > 0 {
        q = q.limit(filter.limit).offset(filter.offset);
    }
    Ok(q.all(db).await?.into_iter().map(summary).collect())
}

/// How many requests are in each state (every state listed, zeros included).
pub async fn counts<C: ConnectionTrait>(db: &C) -> Result<Vec<(RequestState, u64)>, StoreError> {
    let mut out = Vec::new();
    for state in RequestState::ALL {
        let n = change_request::Entity::find()
            .filter(change_request::Column::State.eq(state.as_str()))
            .count(db)
            .await?;
        out.push((state, n));
    }
    Ok(out)
}

/// One mail in a request's thread.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadItem {
    /// `in` for received, `out` for sent by us.
    pub direction: &'static str,
    pub at: DateTime<Utc>,
    pub party: Option<String>,
    pub subject: Option<String>,
    /// Disposition (in) or outbox state (out).
    pub status: String,
}

/// Everything `requests show` and the request page display.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    pub version: i32,
    pub situation: Option<String>,
    pub subscriber: Option<SubscriberRecord>,
    pub fields: BTreeMap<String, String>,
    pub checks: Vec<Check>,
    pub manual_entry: bool,
    pub verification_method: Option<String>,
    pub verification_comment: Option<String>,
    pub rejection_code: Option<String>,
    pub thread: Vec<ThreadItem>,
    pub timeline: Vec<audit::Event>,
}

/// The registered record a request is compared with.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriberRecord {
    pub number: String,
    pub organisation: String,
    pub manager_name: Option<String>,
    pub email: Option<String>,
}

pub async fn show<C: ConnectionTrait>(db: &C, reference: &str) -> Result<Detail, StoreError> {
    let m = find(db, reference).await?;
    let subscriber = match m.subscriber_id {
        Some(id) => subscriber::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|s| SubscriberRecord {
                number: s.number,
                organisation: s.organisation,
                manager_name: s.manager_name,
                email: s.email,
            }),
        None => None,
    };
    let mut thread: Vec<ThreadItem> = inbound_message::Entity::find()
        .filter(inbound_message::Column::RequestId.eq(m.id))
        .all(db)
        .await?
        .into_iter()
        .map(|i| ThreadItem {
            direction: "in",
            at: i.received_at,
            party: i.from_address,
            subject: i.subject,
            status: i.disposition,
        })
        .collect();
    thread.extend(
        outbox::Entity::find()
            .filter(outbox::Column::RequestId.eq(m.id))
            .all(db)
            .await?
            .into_iter()
            .map(|o| ThreadItem {
                direction: "out",
                at: o.created_at,
                party: Some(o.recipient),
                subject: Some(o.subject),
                status: o.state,
            }),
    );
    thread.sort_by_key(|t| t.at);
    let timeline = audit::for_request(db, m.id).await?;
    Ok(Detail {
        version: m.version,
        situation: m.situation.clone(),
        fields: serde_json::from_str(&m.fields).unwrap_or_default(),
        checks: serde_json::from_str(&m.checks).unwrap_or_default(),
        manual_entry: m.manual_entry,
        verification_method: m.verification_method.clone(),
        verification_comment: m.verification_comment.clone(),
        rejection_code: m.rejection_code.clone(),
        subscriber,
        thread,
        timeline,
        summary: summary(m),
    })
}
