//! Recorded incoming messages, as `inbox list` and the quarantine show them.

use super::{StoreError, entities::change_request, entities::inbound_message};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use std::collections::HashMap;

/// Every incoming message ends with exactly one of these (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    RequestCreated,
    Threaded,
    Duplicate,
    AutoIgnored,
    /// A human mail that is not a change request (invoice, order, question).
    NotARequest,
    Quarantined,
}

impl Disposition {
    pub const ALL: [Disposition; 6] = [
        Self::RequestCreated,
        Self::Threaded,
        Self::Duplicate,
        Self::AutoIgnored,
        Self::NotARequest,
        Self::Quarantined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestCreated => "request_created",
            Self::Threaded => "threaded",
            Self::Duplicate => "duplicate",
            Self::AutoIgnored => "auto_ignored",
            Self::NotARequest => "not_a_request",
            Self::Quarantined => "quarantined",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// One line of `inbox list`.
#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub source: String,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub disposition: String,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub flags: Vec<String>,
}

/// Recorded messages, newest first, optionally of one disposition.
pub async fn list<C: crate::store::Conn>(
    db: &C,
    disposition: Option<Disposition>,
    limit: u64,
) -> Result<Vec<InboxEntry>, StoreError> {
    let mut q = inbound_message::Entity::find().order_by_desc(inbound_message::Column::Id);
    if let Some(d) = disposition {
        q = q.filter(inbound_message::Column::Disposition.eq(d.as_str()));
    }
    if limit > 0 {
        q = q.limit(limit);
    }
    let rows = q.all(db).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.request_id).collect();
    let refs: HashMap<i64, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        change_request::Entity::find()
            .filter(change_request::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|r| (r.id, r.reference))
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|m| InboxEntry {
            id: m.id,
            received_at: m.received_at,
            source: m.source,
            message_id: m.message_id,
            sender: m.from_address,
            subject: m.subject,
            disposition: m.disposition,
            reference: m.request_id.and_then(|id| refs.get(&id).cloned()),
            reason: m.reason,
            flags: serde_json::from_str(&m.flags).unwrap_or_default(),
        })
        .collect())
}

/// The recorded incoming message with this id.
pub async fn find_message<C: crate::store::Conn>(
    db: &C,
    id: i64,
) -> Result<Option<inbound_message::Model>, StoreError> {
    Ok(inbound_message::Entity::find_by_id(id).one(db).await?)
}

/// The raw bytes kept for incoming message `id` (`None` once purged).
pub async fn raw<C: crate::store::Conn>(db: &C, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(find_message(db, id).await?.and_then(|m| m.raw))
}

/// Every incoming message of one request, oldest first.
pub async fn for_request<C: crate::store::Conn>(
    db: &C,
    request_id: i64,
) -> Result<Vec<inbound_message::Model>, StoreError> {
    Ok(inbound_message::Entity::find()
        .filter(inbound_message::Column::RequestId.eq(request_id))
        .order_by_asc(inbound_message::Column::Id)
        .all(db)
        .await?)
}

/// A message kept in quarantine without going through intake (the demo
/// data set): what it says, who sent it and why it waits for staff.
pub struct Quarantined {
    pub source: String,
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub reason: String,
    pub raw: Vec<u8>,
}

/// Records `m` as a quarantined incoming message; returns its id.
pub async fn insert_quarantined<C: crate::store::Conn>(
    db: &C,
    m: Quarantined,
) -> Result<i64, StoreError> {
    use sea_orm::ActiveValue::Set;
    let created = inbound_message::Entity::insert(inbound_message::ActiveModel {
        received_at: Set(Utc::now()),
        source: Set(m.source),
        source_position: Set(None),
        message_id: Set(m.message_id),
        content_hash: Set(crate::security::sha256_hex(&m.raw)),
        size: Set(m.raw.len() as i64),
        raw: Set(Some(m.raw)),
        from_address: Set(m.from),
        subject: Set(m.subject),
        disposition: Set(Disposition::Quarantined.as_str().into()),
        reason: Set(Some(m.reason)),
        request_id: Set(None),
        auth_results: Set("{}".into()),
        flags: Set("[]".into()),
        purged_at: Set(None),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(created.last_insert_id)
}

/// Sets what staff see of message `id`'s body (see `intake::parse::view_text`).
pub async fn set_view<C: crate::store::Conn>(
    conn: &C,
    id: i64,
    body: &str,
    has_html: bool,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    inbound_message::Entity::update_many()
        .col_expr(inbound_message::Column::BodyView, Expr::value(Some(body)))
        .col_expr(
            inbound_message::Column::HasHtml,
            Expr::value(Some(has_html)),
        )
        .filter(inbound_message::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}
