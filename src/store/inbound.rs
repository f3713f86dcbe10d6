//! Writes of intake: the `inbound_messages` row (raw bytes kept), its
//! attachments stored content-addressed in `blobs`, and the IMAP positions.
//! Texts arrive cleaned by the caller (`intake::record`).

use super::{
    StoreError,
    entities::{attachment, blob, imap_position, inbound_message},
    inbox::Disposition,
    to_json,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};

/// One incoming message's record, its texts already cleaned.
#[derive(Debug, Clone)]
pub struct NewInbound<'a> {
    pub received_at: DateTime<Utc>,
    pub source: &'a str,
    pub position: Option<&'a str>,
    pub message_id: Option<String>,
    pub content_hash: &'a str,
    pub size: u64,
    pub raw: &'a [u8],
    pub from: Option<String>,
    pub subject: Option<String>,
    pub disposition: Disposition,
    pub reason: Option<String>,
    pub request_id: Option<i64>,
    pub auth_results: &'a serde_json::Value,
    pub flags: &'a [String],
    /// What staff see of the body, made at parse time (`None`: not parsed).
    pub body_view: Option<&'a str>,
    pub has_html: Option<bool>,
}

/// One attachment to store, its texts already cleaned.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    pub sha256: String,
    pub filename: Option<String>,
    pub content_type: String,
    pub data: &'a [u8],
}

/// Inserts the record; returns its id.
pub async fn insert<C: ConnectionTrait>(txn: &C, m: NewInbound<'_>) -> Result<i64, StoreError> {
    let row = inbound_message::ActiveModel {
        received_at: Set(m.received_at),
        source: Set(m.source.to_string()),
        source_position: Set(m.position.map(str::to_string)),
        message_id: Set(m.message_id),
        content_hash: Set(m.content_hash.to_string()),
        size: Set(i64::try_from(m.size).unwrap_or(i64::MAX)),
        raw: Set(Some(m.raw.to_vec())),
        from_address: Set(m.from),
        subject: Set(m.subject),
        disposition: Set(m.disposition.as_str().to_string()),
        reason: Set(m.reason),
        request_id: Set(m.request_id),
        auth_results: Set(to_json(m.auth_results)),
        flags: Set(to_json(&m.flags)),
        body_view: Set(m.body_view.map(str::to_string)),
        has_html: Set(m.has_html),
        ..Default::default()
    };
    let result = inbound_message::Entity::insert(row).exec(txn).await?;
    Ok(result.last_insert_id)
}

/// Links a record to the request it created.
pub async fn set_request<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    request_id: i64,
) -> Result<(), StoreError> {
    inbound_message::Entity::update_many()
        .col_expr(
            inbound_message::Column::RequestId,
            Expr::value(Some(request_id)),
        )
        .filter(inbound_message::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Stores the attachments of message `id`, each blob once.
pub async fn attachments<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    list: &[NewAttachment<'_>],
) -> Result<(), StoreError> {
    let now = Utc::now();
    for (position, a) in list.iter().enumerate() {
        blob::Entity::insert(blob::ActiveModel {
            sha256: Set(a.sha256.clone()),
            size: Set(a.data.len() as i64),
            data: Set(Some(a.data.to_vec())),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(blob::Column::Sha256)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        attachment::Entity::insert(attachment::ActiveModel {
            inbound_message_id: Set(id),
            position: Set(position as i32),
            filename: Set(a.filename.clone()),
            content_type: Set(a.content_type.clone()),
            sha256: Set(a.sha256.clone()),
            size: Set(a.data.len() as i64),
            ..Default::default()
        })
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// The UIDVALIDITY last seen for an IMAP account, if any.
pub async fn imap_validity<C: ConnectionTrait>(
    conn: &C,
    account: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(imap_position::Entity::find_by_id(account.to_string())
        .one(conn)
        .await?
        .map(|p| p.uid_validity))
}

/// Remembers the last UID handled for an IMAP account.
pub async fn remember_imap<C: ConnectionTrait>(
    conn: &C,
    account: &str,
    validity: i64,
    uid: u32,
) -> Result<(), StoreError> {
    imap_position::Entity::insert(imap_position::ActiveModel {
        mailbox: Set(account.to_string()),
        uid_validity: Set(validity),
        last_uid: Set(i64::from(uid)),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(imap_position::Column::Mailbox)
            .update_columns([
                imap_position::Column::UidValidity,
                imap_position::Column::LastUid,
                imap_position::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
