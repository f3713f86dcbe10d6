//! Read models of change requests: the lines of a list (queue, `requests
//! list`), the counts per state, and the detail that `requests show` and the
//! request page display. Nothing here writes.

use super::{
    StoreError, audit,
    entities::{change_request, inbound_message, outbox, subscriber},
    requests::find,
};
use crate::domain::{Check, ClaimedData, RequestState};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use std::collections::BTreeMap;

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
pub async fn list<C: crate::store::Conn>(
    db: &C,
    filter: &ListFilter,
) -> Result<Vec<Summary>, StoreError> {
    let mut q = change_request::Entity::find().order_by_asc(change_request::Column::CreatedAt);
    if let Some(state) = filter.state {
        q = q.filter(change_request::Column::State.eq(state.as_str()));
    }
    if let Some(search) = super::request_queue::search(filter.search.as_deref()) {
        q = q.filter(search);
    }
    if filter.limit > 0 {
        q = q.limit(filter.limit).offset(filter.offset);
    }
    Ok(q.all(db).await?.into_iter().map(summary).collect())
}

/// How many requests are in each state (every state listed, zeros included).
pub async fn counts<C: crate::store::Conn>(db: &C) -> Result<Vec<(RequestState, u64)>, StoreError> {
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

/// How many requests exist, whatever their state.
pub async fn total<C: crate::store::Conn>(db: &C) -> Result<u64, StoreError> {
    Ok(change_request::Entity::find().count(db).await?)
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

pub async fn show<C: crate::store::Conn>(db: &C, reference: &str) -> Result<Detail, StoreError> {
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
        fields: ClaimedData::from_json(&m.fields).entries(),
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
