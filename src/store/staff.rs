//! Staff accounts of the back-office (DAG agents, approbateurs, admins).

use super::{Db, StoreError, audit, entities::staff};
use crate::domain::Role;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};
use serde::Serialize;

/// A staff account without its secrets.
#[derive(Debug, Clone, Serialize)]
pub struct StaffMember {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: String,
    pub disabled: bool,
    pub totp: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<staff::Model> for StaffMember {
    fn from(m: staff::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            display_name: m.display_name,
            email: m.email,
            role: m.role,
            disabled: m.disabled,
            totp: m.totp_secret.is_some(),
            created_at: m.created_at,
            last_login_at: m.last_login_at,
        }
    }
}

/// Usernames: 2–64 characters among lower-case letters, digits, `.`, `-`, `_`.
pub fn check_username(username: &str) -> Result<(), StoreError> {
    let ok = (2..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "Identifiant « {username} » invalide : 2 à 64 caractères parmi a-z, 0-9, « . », « - », « _ »"
        )))
    }
}

/// Creates an account; `password_hash` is an argon2id PHC string.
pub async fn add(
    db: &Db,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: String,
    actor: &str,
) -> Result<StaffMember, StoreError> {
    check_username(username)?;
    let txn = db.begin().await?;
    if staff::Entity::find()
        .filter(staff::Column::Username.eq(username))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(StoreError::Invalid(format!(
            "Le compte « {username} » existe déjà : choisissez un autre identifiant."
        )));
    }
    let created = staff::Entity::insert(new_account(username, display_name, role, password_hash))
        .exec_with_returning(&txn)
        .await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: actor.into(),
            action: "staff_added".into(),
            subject: Some(format!("staff:{username}")),
            details: serde_json::json!({ "role": role.as_str() }),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created.into())
}

pub async fn list(db: &Db) -> Result<Vec<StaffMember>, StoreError> {
    Ok(staff::Entity::find()
        .order_by_asc(staff::Column::Username)
        .all(db.conn())
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub async fn count(db: &Db) -> Result<u64, StoreError> {
    Ok(staff::Entity::find().count(db.conn()).await?)
}

/// The account with this id, enabled or not.
pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<staff::Model>, StoreError> {
    Ok(staff::Entity::find_by_id(id).one(db.conn()).await?)
}

pub async fn find(db: &Db, username: &str) -> Result<Option<staff::Model>, StoreError> {
    Ok(staff::Entity::find()
        .filter(staff::Column::Username.eq(username))
        .one(db.conn())
        .await?)
}

/// Disables an account (it stays in the audit log and cannot sign in).
pub async fn disable(db: &Db, username: &str, actor: &str) -> Result<(), StoreError> {
    update_one(
        db,
        username,
        actor,
        "staff_disabled",
        staff::Column::Disabled,
        Expr::value(true),
    )
    .await
}

/// Replaces the password hash of an account.
pub async fn set_password(
    db: &Db,
    username: &str,
    password_hash: String,
    actor: &str,
) -> Result<(), StoreError> {
    update_one(
        db,
        username,
        actor,
        "staff_password_reset",
        staff::Column::PasswordHash,
        Expr::value(password_hash),
    )
    .await
}

async fn update_one(
    db: &Db,
    username: &str,
    actor: &str,
    action: &str,
    column: staff::Column,
    value: Expr,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let result = staff::Entity::update_many()
        .col_expr(column, value)
        .filter(staff::Column::Username.eq(username))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound(format!(
            "aucun compte « {username} » (voir `bareme-mel staff list`)"
        )));
    }
    audit::append(
        &txn,
        audit::NewEvent {
            actor: actor.into(),
            action: action.into(),
            subject: Some(format!("staff:{username}")),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Staff id → display name.
pub async fn staff_names<C: crate::store::Conn>(
    db: &C,
) -> Result<std::collections::HashMap<i64, String>, StoreError> {
    Ok(staff::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.display_name))
        .collect())
}

/// Staff display names by username: the audit log names its actors
/// `staff:{username}`, people read the name.
pub async fn staff_names_by_username<C: crate::store::Conn>(
    db: &C,
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    Ok(staff::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.username, s.display_name))
        .collect())
}

/// How many accounts exist, read inside `db` (a transaction or the pool).
pub async fn count_in<C: crate::store::Conn>(db: &C) -> Result<u64, StoreError> {
    Ok(staff::Entity::find().count(db).await?)
}

/// Records the time of a successful sign-in, inside the caller's transaction.
pub async fn touch_last_login<C: crate::store::Conn>(txn: &C, id: i64) -> Result<(), StoreError> {
    staff::Entity::update_many()
        .col_expr(staff::Column::LastLoginAt, Expr::value(Some(Utc::now())))
        .filter(staff::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The row of a new enabled account, without a second factor.
fn new_account(
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: String,
) -> staff::ActiveModel {
    staff::ActiveModel {
        username: Set(username.into()),
        display_name: Set(display_name.into()),
        email: Set(None),
        role: Set(role.as_str().into()),
        password_hash: Set(password_hash),
        totp_secret: Set(None),
        disabled: Set(false),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    }
}

/// Inserts an enabled account inside the caller's transaction (the caller
/// checked the username and audits the creation).
pub async fn insert_in<C: crate::store::Conn>(
    txn: &C,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: String,
) -> Result<(), StoreError> {
    staff::Entity::insert(new_account(username, display_name, role, password_hash))
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Records TOTP step `step` as used by `staff_id`; false when it (or a
/// later one) was used already. Conditional, so it holds across processes.
pub async fn use_totp_step<C: crate::store::Conn>(
    db: &C,
    staff_id: i64,
    step: i64,
) -> Result<bool, StoreError> {
    let res = staff::Entity::update_many()
        .col_expr(staff::Column::TotpLastStep, Expr::value(Some(step)))
        .filter(staff::Column::Id.eq(staff_id))
        .filter(
            sea_orm::Condition::any()
                .add(staff::Column::TotpLastStep.is_null())
                .add(staff::Column::TotpLastStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Stores the TOTP secret of `staff_id` (only if none is set) with the step
/// of the code that proved it.
pub async fn set_totp<C: crate::store::Conn>(
    txn: &C,
    staff_id: i64,
    secret: &str,
    step: i64,
) -> Result<(), StoreError> {
    staff::Entity::update_many()
        .col_expr(
            staff::Column::TotpSecret,
            Expr::value(Some(secret.to_string())),
        )
        .col_expr(staff::Column::TotpLastStep, Expr::value(Some(step)))
        .filter(staff::Column::Id.eq(staff_id))
        .filter(staff::Column::TotpSecret.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// Removes the TOTP secret of `username`; false when it had none.
pub async fn clear_totp<C: crate::store::Conn>(
    txn: &C,
    username: &str,
) -> Result<bool, StoreError> {
    let res = staff::Entity::update_many()
        .col_expr(
            staff::Column::TotpSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            staff::Column::TotpLastStep,
            Expr::value(Option::<i64>::None),
        )
        .filter(staff::Column::Username.eq(username))
        .filter(staff::Column::TotpSecret.is_not_null())
        .exec(txn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The TOTP secrets as stored, by staff id (to seal the ones kept in clear).
pub async fn stored_totp_secrets<C: crate::store::Conn>(
    conn: &C,
) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(staff::Entity::find()
        .filter(staff::Column::TotpSecret.is_not_null())
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|m| m.totp_secret.map(|s| (m.id, s)))
        .collect())
}

/// Replaces the stored form of a TOTP secret (sealing it, or re-sealing it).
pub async fn replace_totp_secret<C: crate::store::Conn>(
    conn: &C,
    staff_id: i64,
    stored: &str,
) -> Result<(), StoreError> {
    staff::Entity::update_many()
        .col_expr(
            staff::Column::TotpSecret,
            Expr::value(Some(stored.to_string())),
        )
        .filter(staff::Column::Id.eq(staff_id))
        .filter(staff::Column::TotpSecret.is_not_null())
        .exec(conn)
        .await?;
    Ok(())
}
