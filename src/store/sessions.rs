//! Server-side sessions in the `sessions` table. The cookie holds a random
//! 128-bit secret; the table keeps only its SHA-256, prefixed with the
//! principal so that every session of one account can be ended at once
//! (password change). Idle and absolute expiry; a new id at each sign-in.

use super::{
    StoreError,
    entities::{session, staff},
};
use crate::security;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryFilter,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::{Deserialize, Serialize};

pub const IDLE: Duration = Duration::minutes(30);
pub const ABSOLUTE: Duration = Duration::hours(12);

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    Subscriber(i64),
    Staff(i64),
    /// A staff member who gave the right password and still owes the TOTP
    /// code: grants nothing but the second step of sign-in.
    StaffPending(i64),
}

impl Principal {
    fn prefix(self) -> String {
        match self {
            Principal::Subscriber(id) => format!("sub:{id}:"),
            Principal::Staff(id) => format!("staff:{id}:"),
            Principal::StaffPending(id) => format!("staff2fa:{id}:"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionData {
    pub principal: Principal,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// The cookie value is `<prefix><secret>`; the stored id is `<prefix><sha256(secret)>`.
fn stored_id(cookie: &str) -> Option<String> {
    let (prefix, secret) = cookie.rsplit_once(':')?;
    if secret.len() != 32 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!("{prefix}:{}", security::token_hash(secret)))
}

/// Opens a new session and returns the cookie value.
pub async fn create<C: crate::store::Conn>(
    db: &C,
    principal: Principal,
) -> Result<String, StoreError> {
    let token =
        security::new_token().map_err(|e| StoreError::Db(sea_orm::DbErr::Custom(e.to_string())))?;
    let now = Utc::now();
    let data = SessionData {
        principal,
        created_at: now,
        last_seen: now,
    };
    session::Entity::insert(session::ActiveModel {
        id: Set(format!("{}{}", principal.prefix(), token.hash)),
        data: Set(serde_json::to_string(&data).unwrap_or_default()),
        expires_at: Set(now + IDLE),
    })
    .exec_without_returning(db)
    .await?;
    Ok(format!("{}{}", principal.prefix(), token.secret))
}

/// The live session behind a cookie value; refreshes its idle deadline.
pub async fn load<C: crate::store::Conn>(
    db: &C,
    cookie: &str,
) -> Result<Option<SessionData>, StoreError> {
    let Some(id) = stored_id(cookie) else {
        return Ok(None);
    };
    let Some(row) = session::Entity::find_by_id(id.clone()).one(db).await? else {
        return Ok(None);
    };
    live(db, id, &row.data, row.expires_at).await
}

/// The live session behind a staff cookie value and its staff member
/// (`None` when the account is gone), read in one query: the member's id is
/// in the session id's prefix. Refreshes the idle deadline like [`load`].
pub async fn load_staff<C: crate::store::Conn>(
    db: &C,
    cookie: &str,
) -> Result<Option<(SessionData, Option<staff::Model>)>, StoreError> {
    let Some(id) = stored_id(cookie) else {
        return Ok(None);
    };
    let Some(member_id) = id
        .strip_prefix("staff:")
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse::<i64>().ok())
    else {
        // Not a signed-in staff member's session (a pending second step).
        return Ok(load(db, cookie).await?.map(|data| (data, None)));
    };
    let mut q = Query::select();
    q.expr_as(
        Expr::col((session::Entity, session::Column::Data)),
        "s_data",
    )
    .expr_as(
        Expr::col((session::Entity, session::Column::ExpiresAt)),
        "s_expires_at",
    );
    for c in staff::Column::iter() {
        q.expr_as(Expr::col((staff::Entity, c)), format!("m_{}", c.as_str()));
    }
    q.from(session::Entity)
        .left_join(
            staff::Entity,
            Expr::col((staff::Entity, staff::Column::Id)).eq(member_id),
        )
        .and_where(Expr::col((session::Entity, session::Column::Id)).eq(id.clone()));
    let Some(row) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let data: String = row.try_get("", "s_data")?;
    let expires_at: DateTime<Utc> = row.try_get("", "s_expires_at")?;
    let member = staff::Model::from_query_result_optional(&row, "m_")?;
    Ok(live(db, id, &data, expires_at)
        .await?
        .map(|data| (data, member)))
}

/// The session stored as `data` if it is still live (else deleted), its
/// idle deadline moved on at most once a minute.
async fn live<C: crate::store::Conn>(
    db: &C,
    id: String,
    data: &str,
    expires_at: DateTime<Utc>,
) -> Result<Option<SessionData>, StoreError> {
    let now = Utc::now();
    let Ok(mut data) = serde_json::from_str::<SessionData>(data) else {
        return Ok(None);
    };
    if expires_at <= now || data.created_at + ABSOLUTE <= now {
        session::Entity::delete_by_id(id).exec(db).await?;
        return Ok(None);
    }
    if now - data.last_seen > Duration::minutes(1) {
        data.last_seen = now;
        session::Entity::update_many()
            .col_expr(
                session::Column::Data,
                Expr::value(serde_json::to_string(&data).unwrap_or_default()),
            )
            .col_expr(
                session::Column::ExpiresAt,
                Expr::value(Ord::min(now + IDLE, data.created_at + ABSOLUTE)),
            )
            .filter(session::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(Some(data))
}

/// Ends one session (sign-out).
pub async fn destroy<C: crate::store::Conn>(db: &C, cookie: &str) -> Result<(), StoreError> {
    if let Some(id) = stored_id(cookie) {
        session::Entity::delete_by_id(id).exec(db).await?;
    }
    Ok(())
}

/// Ends every session of one account (password change, account disabled).
pub async fn destroy_all<C: crate::store::Conn>(
    db: &C,
    principal: Principal,
) -> Result<u64, StoreError> {
    let res = session::Entity::delete_many()
        .filter(session::Column::Id.starts_with(principal.prefix()))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Ends every session of one account but the one of `keep` (the cookie of
/// the browser that changed the password).
pub async fn destroy_others<C: crate::store::Conn>(
    db: &C,
    principal: Principal,
    keep: &str,
) -> Result<u64, StoreError> {
    let mut delete =
        session::Entity::delete_many().filter(session::Column::Id.starts_with(principal.prefix()));
    if let Some(kept) = stored_id(keep) {
        delete = delete.filter(session::Column::Id.ne(kept));
    }
    Ok(delete.exec(db).await?.rows_affected)
}
