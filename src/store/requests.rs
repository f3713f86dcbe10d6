//! Change requests: creation with a per-year reference, the actors, and
//! finding one. Every later change goes through the one write path
//! ([`super::request_write::apply`]); the transitions of the state machine
//! over it live in [`super::request_transitions`], the read models in
//! [`super::request_views`]. Both are re-exported here.

use super::{Db, StoreError, audit, entities::change_request, to_json};
use crate::domain::{Reference, RequestState, Role, Who};
use chrono::{Datelike, SubsecRound, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use std::collections::BTreeMap;

pub use super::request_transitions::{TransitionInput, complete_in, transition, transition_in};
pub use super::request_views::{
    Detail, ListFilter, SubscriberRecord, Summary, ThreadItem, counts, list, show,
};
pub use crate::domain::{Check, CheckOutcome};

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
    /// The requester, through an authenticated reply.
    Requester,
    /// The registered address, through its objection link.
    RegisteredAddress,
}

impl Actor {
    pub fn audit_name(&self) -> String {
        match self {
            Actor::System => "system".into(),
            Actor::Staff { username, .. } => format!("staff:{username}"),
            Actor::Cli(user) => format!("cli:{user}"),
            Actor::Requester => "requester".into(),
            Actor::RegisteredAddress => "registered_address".into(),
        }
    }

    /// Who the domain's rules see.
    pub fn who(&self) -> Who {
        match self {
            Actor::Staff { id, role, .. } => Who::Staff {
                id: *id,
                role: *role,
            },
            Actor::System | Actor::Cli(_) => Who::System,
            Actor::Requester | Actor::RegisteredAddress => Who::Requester,
        }
    }

    /// The staff member's id, if a staff member acts.
    pub fn staff_id(&self) -> Option<i64> {
        match self {
            Actor::Staff { id, .. } => Some(*id),
            _ => None,
        }
    }
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
pub async fn next_reference<C: crate::store::Conn>(
    txn: &C,
    year: i32,
) -> Result<Reference, StoreError> {
    // This transaction holds the counter already: the next number is known,
    // and its write goes with the next statement.
    if let Some(memo) = txn.memo() {
        let taken = {
            let mut last = crate::store::Memo::slot(&memo.reference);
            match *last {
                Some((y, value)) if y == year => {
                    *last = Some((year, value + 1));
                    Some(value + 1)
                }
                _ => None,
            }
        };
        if let Some(value) = taken {
            let update = Query::update()
                .table("reference_counters")
                .value("last_value", value)
                .and_where(Expr::col("year").eq(year))
                .to_owned();
            txn.defer(txn.get_database_backend().build(&update)).await?;
            return reference(year, value);
        }
    }
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
    if let Some(memo) = txn.memo() {
        *crate::store::Memo::slot(&memo.reference) = Some((year, value));
    }
    reference(year, value)
}

fn reference(year: i32, value: i64) -> Result<Reference, StoreError> {
    let seq = u32::try_from(value)
        .map_err(|_| StoreError::Invalid("compteur de références épuisé".into()))?;
    Reference::new(year, seq).map_err(|e| StoreError::Invalid(e.0))
}

/// Creates a request in `pending_review` inside the caller's transaction.
pub async fn create_in<C: crate::store::Conn>(
    txn: &C,
    new: NewRequest,
    actor: &Actor,
) -> Result<change_request::Model, StoreError> {
    // As the database keeps it (microseconds), whichever way it is written.
    let now = Utc::now().trunc_subsecs(6);
    let reference = next_reference(txn, now.year()).await?;
    let mut created = change_request::Model {
        id: 0,
        reference: reference.to_string(),
        state: RequestState::PendingReview.as_str().into(),
        claimed_number: new.claimed_number,
        subscriber_id: new.subscriber_id,
        requester_email: new.requester_email,
        new_email: new.new_email,
        situation: new.situation,
        fields: to_json(&new.fields),
        checks: to_json(&new.checks),
        flags: to_json(&new.flags),
        contested: false,
        manual_entry: new.manual_entry,
        assignee_id: None,
        verified_by: None,
        verification_method: None,
        verification_comment: None,
        approved_by: None,
        rejection_code: None,
        closing_message: None,
        origin_message_id: new.origin_message_id,
        version: 0,
        created_at: now,
        updated_at: now,
        closed_at: None,
    };
    let mut row = change_request::ActiveModel::from(created.clone());
    if let Some(id) = super::inbound::id_ahead(txn, |ahead| &mut ahead.requests) {
        // Its id taken ahead, the row is known: the insert is a deferred write.
        created.id = id;
        row.id = Set(id);
        txn.defer_query(&change_request::Entity::insert(row))
            .await?;
    } else {
        row.id = NotSet;
        // The new request reads nothing the transaction deferred before it.
        let mut insert = change_request::Entity::insert(row);
        sea_orm::QueryTrait::query(&mut insert).returning_all();
        let stmt = sea_orm::QueryTrait::build(&insert, txn.get_database_backend());
        let returned = txn
            .query_all_beside(stmt)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Invalid("demande non créée".into()))?;
        created =
            <change_request::Model as sea_orm::FromQueryResult>::from_query_result(&returned, "")?;
    }
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

/// The request with this reference, or a French "not found".
pub async fn find<C: crate::store::Conn>(
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
pub async fn find_by_id<C: crate::store::Conn>(
    db: &C,
    id: i64,
) -> Result<Option<change_request::Model>, StoreError> {
    Ok(change_request::Entity::find_by_id(id).one(db).await?)
}

/// The reference of the request with this id, if any.
pub async fn reference_of<C: crate::store::Conn>(
    db: &C,
    id: i64,
) -> Result<Option<String>, StoreError> {
    use sea_orm::QuerySelect;
    Ok(change_request::Entity::find_by_id(id)
        .select_only()
        .column(change_request::Column::Reference)
        .into_tuple::<String>()
        .one(db)
        .await?)
}
