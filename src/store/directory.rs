//! Subscribers as staff look them up: search, one record with its address
//! history and its requests.

use super::{
    StoreError,
    entities::{change_request, subscriber, subscriber_address},
    subscribers,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Func},
};

/// Up to 50 subscribers whose number, organisation or address contains `q`.
pub async fn search<C: crate::store::Conn>(
    db: &C,
    q: &str,
) -> Result<Vec<subscriber::Model>, StoreError> {
    let q = q.trim();
    let mut find = subscriber::Entity::find()
        .order_by_asc(subscriber::Column::Number)
        .limit(50);
    if !q.is_empty() {
        let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        let like =
            |col: subscriber::Column| Expr::expr(Func::lower(Expr::col(col))).like(pattern.clone());
        find = find.filter(
            Condition::any()
                .add(like(subscriber::Column::Number))
                .add(like(subscriber::Column::Organisation))
                .add(like(subscriber::Column::Email)),
        );
    }
    Ok(find.all(db).await?)
}

/// One subscriber, its address history (oldest first) and its requests.
pub async fn record<C: crate::store::Conn>(
    db: &C,
    number: &str,
) -> Result<
    (
        subscriber::Model,
        Vec<subscriber_address::Model>,
        Vec<change_request::Model>,
    ),
    StoreError,
> {
    let sub = subscriber::Entity::find()
        .filter(subscriber::Column::Number.eq(number.trim()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("aucun abonné n° {number}")))?;
    let history = subscribers::address_history(db, sub.id).await?;
    let requests = change_request::Entity::find()
        .filter(change_request::Column::SubscriberId.eq(sub.id))
        .order_by_desc(change_request::Column::CreatedAt)
        .all(db)
        .await?;
    Ok((sub, history, requests))
}
