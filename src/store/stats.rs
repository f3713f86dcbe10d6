//! Counts and ages read at scrape time for `/metrics`, and the cheap key the queue
//! page's cache compares to know whether any request changed.

use super::awaiting_mail::{OTHER_MAIL, QUARANTINE};
use super::{
    Db, StoreError,
    entities::{change_request, inbound_message},
};
use crate::domain::RequestState;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Alias, Expr, Func, Order, Query},
};

/// Outgoing mails by state, ordered by state.
pub async fn outbox_by_state(db: &Db) -> Result<Vec<(String, i64)>, StoreError> {
    count_by(db, "outbox", "state").await
}

/// Incoming mails by disposition, ordered by disposition.
pub async fn inbox_by_disposition(db: &Db) -> Result<Vec<(String, i64)>, StoreError> {
    count_by(db, "inbound_messages", "disposition").await
}

async fn count_by(db: &Db, table: &str, column: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let stmt = Query::select()
        .column(Alias::new(column))
        .expr_as(Func::count(Expr::col(Alias::new(column))), "n")
        .from(Alias::new(table))
        .group_by_col(Alias::new(column))
        .order_by(Alias::new(column), Order::Asc)
        .to_owned();
    let mut out = Vec::new();
    for row in db.conn().query_all(&stmt).await? {
        out.push((row.try_get("", column)?, row.try_get("", "n")?));
    }
    Ok(out)
}

/// What changes whenever a request is created or changed in any way.
pub async fn requests_change_key<C: crate::store::Conn>(db: &C) -> Result<String, StoreError> {
    Ok(change_keys(db).await?.requests)
}

/// The cheap keys the queue page's cache compares, read in one query of
/// index lookups (highest ids, latest `updated_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeKeys {
    /// Changes whenever a request is created or changed in any way.
    pub requests: String,
    /// Changes whenever a mail is recorded or staff act on one (every such
    /// act writes an audit event in its transaction): the key of
    /// [`open_mail`].
    pub mail: String,
}

pub async fn change_keys<C: crate::store::Conn>(db: &C) -> Result<ChangeKeys, StoreError> {
    let sql = "SELECT CAST((SELECT MAX(id) FROM change_requests) AS TEXT) AS max_id, \
               CAST((SELECT MAX(updated_at) FROM change_requests) AS TEXT) AS max_updated, \
               CAST((SELECT MAX(id) FROM inbound_messages) AS TEXT) AS max_inbound, \
               CAST((SELECT MAX(seq) FROM audit_events) AS TEXT) AS max_audit";
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    let get = |column: &str| -> Result<String, StoreError> {
        Ok(match &row {
            Some(r) => r.try_get::<Option<String>>("", column)?.unwrap_or_default(),
            None => String::new(),
        })
    };
    Ok(ChangeKeys {
        requests: format!("{}|{}", get("max_id")?, get("max_updated")?),
        mail: format!("{}|{}", get("max_inbound")?, get("max_audit")?),
    })
}

/// Incoming mail staff still have to handle, outside the queue of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenMail {
    /// « Courriels non traités »: quarantined and not discarded.
    pub quarantined: i64,
    /// « Autres courriels »: not a request and not yet filed.
    pub other: i64,
}

/// How many messages wait in « Courriels non traités » and « Autres courriels ».
pub async fn open_mail<C: crate::store::Conn>(db: &C) -> Result<OpenMail, StoreError> {
    Ok(OpenMail {
        quarantined: QUARANTINE.count_open(db).await? as i64,
        other: OTHER_MAIL.count_open(db).await? as i64,
    })
}

type Time = chrono::DateTime<chrono::Utc>;

/// When the oldest request now in `state` was created.
pub async fn oldest_request_in(db: &Db, state: RequestState) -> Result<Option<Time>, StoreError> {
    Ok(change_request::Entity::find()
        .filter(change_request::Column::State.eq(state.as_str()))
        .order_by_asc(change_request::Column::CreatedAt)
        .select_only()
        .column(change_request::Column::CreatedAt)
        .into_tuple::<Time>()
        .one(db.conn())
        .await?)
}

/// When the last incoming mail was recorded.
pub async fn last_inbound_at(db: &Db) -> Result<Option<Time>, StoreError> {
    // Only the column: a message row carries the raw mail.
    Ok(inbound_message::Entity::find()
        .order_by_desc(inbound_message::Column::ReceivedAt)
        .select_only()
        .column(inbound_message::Column::ReceivedAt)
        .into_tuple::<Time>()
        .one(db.conn())
        .await?)
}
