//! Subscribers (abonnés) and the history of their registered addresses.

use super::{
    Db, StoreError, audit,
    entities::{subscriber, subscriber_address},
};
use crate::domain::{MailAddress, SubscriberNumber};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde::Serialize;
use std::collections::HashMap;

/// One subscriber as imported or exported (the CSV columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriberRow {
    pub numero_abonne: SubscriberNumber,
    pub organisme: String,
    pub gestionnaire: Option<String>,
    pub adresse_mel: Option<MailAddress>,
}

/// What an import batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpsertStats {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl UpsertStats {
    pub fn add(&mut self, other: &UpsertStats) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// What the importer knows of the rows already stored: number → (id, row).
pub type Existing = HashMap<String, (i64, SubscriberRow)>;

/// Loads every subscriber once, so that an import compares in memory.
pub async fn load_existing<C: crate::store::Conn>(db: &C) -> Result<Existing, StoreError> {
    let mut out = HashMap::new();
    let mut last_id = 0i64;
    loop {
        let page = subscriber::Entity::find()
            .filter(subscriber::Column::Id.gt(last_id))
            .order_by_asc(subscriber::Column::Id)
            .limit(5000)
            .all(db)
            .await?;
        let Some(last) = page.last() else { break };
        last_id = last.id;
        for m in page {
            if let Some(row) = to_row(&m) {
                out.insert(m.number.clone(), (m.id, row));
            }
        }
    }
    Ok(out)
}

fn to_row(m: &subscriber::Model) -> Option<SubscriberRow> {
    Some(SubscriberRow {
        numero_abonne: SubscriberNumber::parse(&m.number).ok()?,
        organisme: m.organisation.clone(),
        gestionnaire: m.manager_name.clone(),
        adresse_mel: m.email.as_deref().and_then(|e| MailAddress::parse(e).ok()),
    })
}

/// Inserts or updates `rows` in one transaction; new and changed addresses
/// get a history row. Rows already identical are left alone (idempotent).
pub async fn upsert_batch(
    db: &Db,
    existing: &mut Existing,
    rows: &[SubscriberRow],
    actor: &str,
) -> Result<UpsertStats, StoreError> {
    let now = Utc::now();
    let mut stats = UpsertStats::default();
    let txn = db.begin().await?;
    let mut inserts = Vec::new();
    for row in rows {
        let number = row.numero_abonne.as_str().to_string();
        match existing.get(&number) {
            Some((_, stored)) if stored == row => stats.unchanged += 1,
            Some((id, stored)) => {
                let id = *id;
                subscriber::Entity::update_many()
                    .col_expr(
                        subscriber::Column::Organisation,
                        Expr::value(row.organisme.clone()),
                    )
                    .col_expr(
                        subscriber::Column::ManagerName,
                        Expr::value(row.gestionnaire.clone()),
                    )
                    .col_expr(
                        subscriber::Column::Email,
                        Expr::value(row.adresse_mel.as_ref().map(|a| a.to_string())),
                    )
                    .col_expr(
                        subscriber::Column::EmailKey,
                        Expr::value(row.adresse_mel.as_ref().map(MailAddress::mailbox_key)),
                    )
                    .col_expr(
                        subscriber::Column::KnownDomain,
                        Expr::value(row.adresse_mel.as_ref().map(|a| a.domain().to_string())),
                    )
                    .col_expr(subscriber::Column::UpdatedAt, Expr::value(now))
                    .filter(subscriber::Column::Id.eq(id))
                    .exec(&txn)
                    .await?;
                if stored.adresse_mel != row.adresse_mel {
                    record_address_change(&txn, id, row.adresse_mel.as_ref(), "import", None, now)
                        .await?;
                }
                existing.insert(number, (id, row.clone()));
                stats.updated += 1;
            }
            None => inserts.push(row),
        }
    }
    if !inserts.is_empty() {
        let models = inserts.iter().map(|row| subscriber::ActiveModel {
            number: Set(row.numero_abonne.to_string()),
            organisation: Set(row.organisme.clone()),
            manager_name: Set(row.gestionnaire.clone()),
            email: Set(row.adresse_mel.as_ref().map(|a| a.to_string())),
            email_key: Set(row.adresse_mel.as_ref().map(MailAddress::mailbox_key)),
            known_domain: Set(row.adresse_mel.as_ref().map(|a| a.domain().to_string())),
            password_hash: Set(None),
            disabled: Set(false),
            password_changed_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        subscriber::Entity::insert_many(models)
            .exec_without_returning(&txn)
            .await?;
        let numbers: Vec<String> = inserts
            .iter()
            .map(|r| r.numero_abonne.to_string())
            .collect();
        let created = subscriber::Entity::find()
            .filter(subscriber::Column::Number.is_in(numbers))
            .all(&txn)
            .await?;
        let history = created.iter().map(|m| subscriber_address::ActiveModel {
            subscriber_id: Set(m.id),
            email: Set(m.email.clone()),
            valid_from: Set(now),
            valid_to: Set(None),
            source: Set("import".into()),
            request_id: Set(None),
            ..Default::default()
        });
        subscriber_address::Entity::insert_many(history)
            .exec_without_returning(&txn)
            .await?;
        for m in created {
            if let Some(row) = to_row(&m) {
                existing.insert(m.number.clone(), (m.id, row));
            }
        }
        stats.created += inserts.len() as u64;
    }
    if stats.created + stats.updated > 0 {
        audit::append(
            &txn,
            audit::NewEvent {
                actor: actor.to_string(),
                action: "subscribers_imported".into(),
                subject: Some("subscribers".into()),
                details: serde_json::json!({ "created": stats.created, "updated": stats.updated }),
                ..Default::default()
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(stats)
}

/// Closes the open history row of `subscriber_id` and opens one for `email`.
pub async fn record_address_change<C: crate::store::Conn>(
    txn: &C,
    subscriber_id: i64,
    email: Option<&MailAddress>,
    source: &str,
    request_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    subscriber_address::Entity::update_many()
        .col_expr(subscriber_address::Column::ValidTo, Expr::value(Some(now)))
        .filter(subscriber_address::Column::SubscriberId.eq(subscriber_id))
        .filter(subscriber_address::Column::ValidTo.is_null())
        .exec(txn)
        .await?;
    subscriber_address::Entity::insert(subscriber_address::ActiveModel {
        subscriber_id: Set(subscriber_id),
        email: Set(email.map(|a| a.to_string())),
        valid_from: Set(now),
        valid_to: Set(None),
        source: Set(source.into()),
        request_id: Set(request_id),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Every subscriber, by number, in pages (for the CSV export).
pub async fn page<C: crate::store::Conn>(
    db: &C,
    after_id: i64,
    limit: u64,
) -> Result<Vec<(i64, SubscriberRow)>, StoreError> {
    let rows = subscriber::Entity::find()
        .filter(subscriber::Column::Id.gt(after_id))
        .order_by_asc(subscriber::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|m| to_row(m).map(|r| (m.id, r)))
        .collect())
}

/// The subscriber with this number.
pub async fn find_by_number<C: crate::store::Conn>(
    db: &C,
    number: &SubscriberNumber,
) -> Result<Option<subscriber::Model>, StoreError> {
    Ok(subscriber::Entity::find()
        .filter(subscriber::Column::Number.eq(number.as_str()))
        .one(db)
        .await?)
}

/// What intake needs to know of the subscribers for one claim, read in one
/// indexed query: the subscriber with `number`, and whether a subscriber
/// other than that one is registered at `new_address` (`None` without an
/// address). Addresses compare by their stored key (case folded, domain in
/// its IDN form).
pub async fn for_claim<C: crate::store::Conn>(
    db: &C,
    number: Option<&SubscriberNumber>,
    new_address: Option<&MailAddress>,
) -> Result<(Option<subscriber::Model>, Option<bool>), StoreError> {
    use sea_orm::Condition;
    let key = new_address.map(MailAddress::mailbox_key);
    let mut any = Condition::any();
    if let Some(n) = number {
        any = any.add(subscriber::Column::Number.eq(n.as_str()));
    }
    if let Some(k) = &key {
        any = any.add(subscriber::Column::EmailKey.eq(k.as_str()));
    }
    if number.is_none() && key.is_none() {
        return Ok((None, None));
    }
    // Subscribers are not among the writes intake defers before it.
    let select = subscriber::Entity::find().filter(any);
    let rows = db
        .query_all_beside(sea_orm::QueryTrait::build(
            &select,
            db.get_database_backend(),
        ))
        .await?
        .iter()
        .map(|row| <subscriber::Model as sea_orm::FromQueryResult>::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    let found = number.and_then(|n| rows.iter().find(|s| s.number == n.as_str()).cloned());
    let taken = key.map(|k| {
        rows.iter().any(|s| {
            s.email_key.as_deref() == Some(k.as_str()) && Some(s.id) != found.as_ref().map(|f| f.id)
        })
    });
    Ok((found, taken))
}

/// Address history of one subscriber, oldest first.
pub async fn address_history<C: crate::store::Conn>(
    db: &C,
    subscriber_id: i64,
) -> Result<Vec<subscriber_address::Model>, StoreError> {
    Ok(subscriber_address::Entity::find()
        .filter(subscriber_address::Column::SubscriberId.eq(subscriber_id))
        .order_by_asc(subscriber_address::Column::Id)
        .all(db)
        .await?)
}

/// True when a subscriber other than `except` has the address `email`
/// (case-insensitive, IDN domains folded: see [`super::request_facts`]).
pub async fn address_used_elsewhere<C: crate::store::Conn>(
    db: &C,
    email: &MailAddress,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    super::request_facts::address_taken(db, email, except).await
}

/// The subscriber with this id.
pub async fn find_by_id<C: crate::store::Conn>(
    db: &C,
    id: i64,
) -> Result<Option<subscriber::Model>, StoreError> {
    Ok(subscriber::Entity::find_by_id(id).one(db).await?)
}

/// Stores a new password hash (and re-enables a disabled account) inside the
/// caller's transaction. The caller voids tokens and sessions in the same one.
pub async fn set_password_in<C: crate::store::Conn>(
    txn: &C,
    subscriber_id: i64,
    password_hash: String,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    subscriber::Entity::update_many()
        .col_expr(
            subscriber::Column::PasswordHash,
            Expr::value(Some(password_hash)),
        )
        .col_expr(
            subscriber::Column::PasswordChangedAt,
            Expr::value(Some(now)),
        )
        .col_expr(subscriber::Column::Disabled, Expr::value(false))
        .col_expr(subscriber::Column::UpdatedAt, Expr::value(now))
        .filter(subscriber::Column::Id.eq(subscriber_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Replaces the address of `subscriber_id` (approval of a change request),
/// inside the caller's transaction; the caller records the history row.
pub async fn set_email_in<C: crate::store::Conn>(
    txn: &C,
    subscriber_id: i64,
    email: &MailAddress,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    subscriber::Entity::update_many()
        .col_expr(
            subscriber::Column::Email,
            Expr::value(Some(email.to_string())),
        )
        .col_expr(
            subscriber::Column::EmailKey,
            Expr::value(Some(email.mailbox_key())),
        )
        .col_expr(subscriber::Column::UpdatedAt, Expr::value(now))
        .filter(subscriber::Column::Id.eq(subscriber_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The address-history row the approval of request `request_id` wrote, if any.
pub async fn approved_address<C: crate::store::Conn>(
    db: &C,
    request_id: i64,
) -> Result<Option<subscriber_address::Model>, StoreError> {
    Ok(subscriber_address::Entity::find()
        .filter(subscriber_address::Column::RequestId.eq(request_id))
        .filter(subscriber_address::Column::Source.eq("approval"))
        .order_by_asc(subscriber_address::Column::Id)
        .one(db)
        .await?)
}
