//! Writes of intake: the `inbound_messages` row (raw bytes kept), its
//! attachments stored content-addressed in `blobs`, and the IMAP positions.
//! Texts arrive cleaned by the caller (`intake::record`).

use super::{
    Memo, StoreError,
    entities::{attachment, blob, imap_position, inbound_message},
    inbox::Disposition,
    sqlite_blob, to_json,
    txn::{IdsAhead, RecordHere},
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DbBackend, EntityTrait, QueryFilter,
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
    /// The raw mail, or `None` when the caller stores it later with
    /// [`write_raw`] (after its last other change to the row: SQLite
    /// rewrites a row whole on every `UPDATE`, raw mail included).
    pub raw: Option<&'a [u8]>,
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

/// One attachment of a message, its content stored with [`store_content`],
/// its texts already cleaned.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub sha256: String,
    pub size: i64,
    pub filename: Option<String>,
    pub content_type: String,
}

/// Inserts the record; returns its id.
pub async fn insert<C: crate::store::Conn>(txn: &C, m: NewInbound<'_>) -> Result<i64, StoreError> {
    let sqlite = txn.get_database_backend() == DbBackend::Sqlite;
    let message_id = m.message_id.clone();
    let row = inbound_message::ActiveModel {
        received_at: Set(m.received_at),
        source: Set(m.source.to_string()),
        source_position: Set(m.position.map(str::to_string)),
        message_id: Set(m.message_id),
        content_hash: Set(m.content_hash.to_string()),
        size: Set(i64::try_from(m.size).unwrap_or(i64::MAX)),
        // On SQLite the bytes are written in place below, not copied into the statement.
        raw: Set(m.raw.filter(|_| !sqlite).map(<[u8]>::to_vec)),
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
    if !sqlite && let Some(id) = id_ahead(txn, |ahead| &mut ahead.records) {
        // Its id known, the insert is a deferred write.
        let here = RecordHere {
            id,
            position: m.position.map(str::to_string),
            message_id,
            content_hash: m.content_hash.to_string(),
            disposition: m.disposition.as_str().to_string(),
            request_id: m.request_id,
        };
        let mut row = row;
        row.id = Set(id);
        txn.defer_query(&inbound_message::Entity::insert(row))
            .await?;
        if let Some(memo) = txn.memo() {
            Memo::slot(&memo.records).push(here);
        }
        return Ok(id);
    }
    let mut insert = inbound_message::Entity::insert(row);
    sea_orm::QueryTrait::query(&mut insert).returning_col(inbound_message::Column::Id);
    let stmt = sea_orm::QueryTrait::build(&insert, txn.get_database_backend());
    if sqlite && let Some(raw) = m.raw {
        // The record and its raw mail, written in place, in one round trip.
        let row = sqlite_blob::insert_with(txn, stmt, "inbound_messages", "raw", raw).await?;
        return Ok(row.try_get("", "id")?);
    }
    // The insert reads no table: on PostgreSQL it carries the writes
    // deferred before it (the attachments' contents, `store_content`).
    let rows = txn.query_all_beside(stmt).await?;
    let row = rows.first().ok_or_else(|| {
        StoreError::Invalid("courriel non enregistré : aucun identifiant rendu".into())
    })?;
    Ok(row.try_get("", "id")?)
}

/// PostgreSQL: takes `n` ids ahead for records and as many for requests,
/// in one round trip, for the transaction's inserts to use in order
/// ([`insert`], `requests::create_in`): each is then a deferred write
/// instead of an `INSERT … RETURNING` of its own. Ids left unused are a gap
/// in the sequence, as a rolled-back insert leaves. Nothing on SQLite,
/// whose statements cost no round trip to a server.
pub async fn take_ids_ahead<C: crate::store::Conn>(txn: &C, n: usize) -> Result<(), StoreError> {
    let Some(memo) = txn.memo() else {
        return Ok(());
    };
    if txn.get_database_backend() != DbBackend::Postgres || n == 0 {
        return Ok(());
    }
    let stmt = sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT nextval(pg_get_serial_sequence('inbound_messages', 'id')) AS record, \
         nextval(pg_get_serial_sequence('change_requests', 'id')) AS request \
         FROM generate_series(1, $1)",
        [i64::try_from(n).unwrap_or(i64::MAX).into()],
    );
    let rows = txn.query_all_raw(stmt).await?;
    let mut ahead = Memo::slot(&memo.ahead);
    for row in rows {
        ahead.records.push_back(row.try_get("", "record")?);
        ahead.requests.push_back(row.try_get("", "request")?);
    }
    Ok(())
}

/// The next id taken ahead from the list `which` picks, if any is left.
pub(super) fn id_ahead<C: crate::store::Conn>(
    txn: &C,
    which: impl FnOnce(&mut IdsAhead) -> &mut std::collections::VecDeque<i64>,
) -> Option<i64> {
    let memo = txn.memo()?;
    which(&mut Memo::slot(&memo.ahead)).pop_front()
}

/// Records inserted in this transaction with an id taken ahead, whose
/// deferred insert a read carrying it does not see ([`take_ids_ahead`]).
pub(super) fn recorded_here<C: crate::store::Conn>(txn: &C) -> Vec<RecordHere> {
    txn.memo()
        .map(|memo| Memo::slot(&memo.records).clone())
        .unwrap_or_default()
}

/// Whether a record's raw mail is best stored with [`write_raw`] after the
/// row's last other change in the transaction, rather than with its insert:
/// SQLite rewrites a row whole on every `UPDATE`, raw mail included, while
/// PostgreSQL keeps a large value it stored out of line (TOAST) across
/// updates of the other columns, where a later `UPDATE` of the raw mail
/// would cost one more round trip and one more copy of the row.
pub fn raw_written_last<C: crate::store::Conn>(txn: &C) -> bool {
    txn.get_database_backend() == DbBackend::Sqlite
}

/// Stores the raw mail of record `id`, inserted without it.
pub async fn write_raw<C: crate::store::Conn>(
    txn: &C,
    id: i64,
    raw: &[u8],
) -> Result<(), StoreError> {
    if txn.get_database_backend() == DbBackend::Sqlite {
        return sqlite_blob::write(txn, "inbound_messages", "raw", ("id", id.into()), raw).await;
    }
    inbound_message::Entity::update_many()
        .col_expr(inbound_message::Column::Raw, Expr::value(raw.to_vec()))
        .filter(inbound_message::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Links a record to the request it created.
pub async fn set_request<C: super::Conn>(
    txn: &C,
    id: i64,
    request_id: i64,
) -> Result<(), StoreError> {
    let update = inbound_message::Entity::update_many()
        .col_expr(
            inbound_message::Column::RequestId,
            Expr::value(Some(request_id)),
        )
        .filter(inbound_message::Column::Id.eq(id));
    txn.defer_query(&update).await?;
    if let Some(memo) = txn.memo() {
        Memo::slot(&memo.links).push((id, request_id));
    }
    Ok(())
}

/// The request record `id` was linked to in this transaction, if any
/// ([`set_request`]: a write that a read carrying it does not see).
pub(super) fn linked_here<C: super::Conn>(txn: &C, id: i64) -> Option<i64> {
    let memo = txn.memo()?;
    let links = Memo::slot(&memo.links);
    links.iter().rev().find(|(m, _)| *m == id).map(|(_, r)| *r)
}

/// Stores an attachment's content under its SHA-256, once: nothing when a
/// blob of that hash is already there.
pub async fn store_content<C: crate::store::Conn>(
    txn: &C,
    sha256: &str,
    data: &[u8],
) -> Result<(), StoreError> {
    let sqlite = txn.get_database_backend() == DbBackend::Sqlite;
    let on_conflict = OnConflict::column(blob::Column::Sha256)
        .do_nothing()
        .to_owned();
    if sqlite {
        // The row with a zeroblob of the content's size, then the content
        // written in place into it, in one round trip.
        let len = sqlite_blob::length("blobs", "data", data)?;
        let insert = sea_orm::sea_query::Query::insert()
            .into_table(blob::Entity)
            .columns([
                blob::Column::Sha256,
                blob::Column::Size,
                blob::Column::Data,
                blob::Column::CreatedAt,
            ])
            .values_panic([
                sha256.into(),
                (data.len() as i64).into(),
                Expr::cust_with_values("zeroblob(?)", [len]),
                Utc::now().into(),
            ])
            .on_conflict(on_conflict)
            .to_owned();
        let stmt = DbBackend::Sqlite.build(&insert);
        sqlite_blob::insert_or_nothing(txn, stmt, "blobs", "data", data).await?;
        return Ok(());
    }
    let insert = blob::Entity::insert(blob::ActiveModel {
        sha256: Set(sha256.to_string()),
        size: Set(data.len() as i64),
        data: Set(Some(data.to_vec())),
        created_at: Set(Utc::now()),
    })
    .on_conflict(on_conflict);
    // Nobody reads the row before the attachment that names it, a later
    // statement: in a transaction it goes with the next one.
    txn.defer_query(&insert).await?;
    Ok(())
}

/// Lists the attachments of message `id`, in their order, their contents
/// stored before with [`store_content`].
pub async fn attachments<C: super::Conn>(
    txn: &C,
    id: i64,
    list: &[NewAttachment],
) -> Result<(), StoreError> {
    for (position, a) in list.iter().enumerate() {
        let insert = attachment::Entity::insert(attachment::ActiveModel {
            inbound_message_id: Set(id),
            position: Set(position as i32),
            filename: Set(a.filename.clone()),
            content_type: Set(a.content_type.clone()),
            sha256: Set(a.sha256.clone()),
            size: Set(a.size),
            ..Default::default()
        });
        txn.defer_query(&insert).await?;
    }
    Ok(())
}

/// The UIDVALIDITY last seen for an IMAP account, if any.
pub async fn imap_validity<C: crate::store::Conn>(
    conn: &C,
    account: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(imap_position::Entity::find_by_id(account.to_string())
        .one(conn)
        .await?
        .map(|p| p.uid_validity))
}

/// Remembers the last UID handled for an IMAP account.
pub async fn remember_imap<C: crate::store::Conn>(
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
