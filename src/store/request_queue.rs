//! The queue of requests as the back-office filters it: per-state counts,
//! flags, assignee, age and search, oldest first, pages of [`PAGE_SIZE`].

use super::{StoreError, entities::change_request};
use crate::domain::RequestState;
use chrono::{Duration, Utc};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Func},
};
use std::collections::HashMap;

pub const PAGE_SIZE: u64 = 50;

/// Whose requests to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Assignee {
    Anyone,
    Nobody,
    Staff(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueFilter {
    /// `None` = every state.
    pub state: Option<RequestState>,
    /// A flag name; `contested` means an open objection.
    pub flag: Option<String>,
    pub assignee: Assignee,
    /// Only requests older than this many days.
    pub older_than_days: Option<u32>,
    /// Reference, subscriber number or address (substring, case-insensitive).
    pub search: Option<String>,
    /// 0-based page number.
    pub page: u64,
}

impl Default for QueueFilter {
    fn default() -> Self {
        Self {
            state: None,
            flag: None,
            assignee: Assignee::Anyone,
            older_than_days: None,
            search: None,
            page: 0,
        }
    }
}

fn condition(filter: &QueueFilter) -> Condition {
    let mut c = Condition::all();
    if let Some(state) = filter.state {
        c = c.add(change_request::Column::State.eq(state.as_str()));
    }
    match filter.flag.as_deref() {
        Some("contested") => c = c.add(change_request::Column::Contested.eq(true)),
        Some(flag) if !flag.is_empty() => {
            let pattern = format!("%\"{}\"%", flag.replace(['%', '_', '"', '\\'], ""));
            c = c.add(change_request::Column::Flags.like(pattern));
        }
        _ => {}
    }
    match filter.assignee {
        Assignee::Anyone => {}
        Assignee::Nobody => c = c.add(change_request::Column::AssigneeId.is_null()),
        Assignee::Staff(id) => c = c.add(change_request::Column::AssigneeId.eq(id)),
    }
    if let Some(days) = filter.older_than_days {
        let limit = Utc::now() - Duration::days(i64::from(days));
        c = c.add(change_request::Column::CreatedAt.lte(limit));
    }
    if let Some(search) = search(filter.search.as_deref()) {
        c = c.add(search);
    }
    c
}

/// Requests whose reference, subscriber number or an address contains
/// `search` (case-insensitive); `None` for an empty search.
pub(super) fn search(search: Option<&str>) -> Option<Condition> {
    let search = search.map(str::trim).filter(|s| !s.is_empty())?;
    let pattern = format!("%{}%", search.to_lowercase().replace(['%', '_'], ""));
    let like =
        |col: change_request::Column| Expr::expr(Func::lower(Expr::col(col))).like(pattern.clone());
    Some(
        Condition::any()
            .add(like(change_request::Column::Reference))
            .add(like(change_request::Column::ClaimedNumber))
            .add(like(change_request::Column::RequesterEmail))
            .add(like(change_request::Column::NewEmail)),
    )
}

/// One page of requests matching `filter`, oldest first, and whether another follows.
pub async fn page<C: crate::store::Conn>(
    db: &C,
    filter: &QueueFilter,
) -> Result<(Vec<change_request::Model>, bool), StoreError> {
    let mut models = change_request::Entity::find()
        .filter(condition(filter))
        .order_by_asc(change_request::Column::CreatedAt)
        .order_by_asc(change_request::Column::Id)
        .limit(PAGE_SIZE + 1)
        .offset(filter.page * PAGE_SIZE)
        .all(db)
        .await?;
    let has_next = models.len() as u64 > PAGE_SIZE;
    models.truncate(PAGE_SIZE as usize);
    Ok((models, has_next))
}

/// Every request matching `filter` (no paging), oldest first, for the CSV export.
pub async fn all<C: crate::store::Conn>(
    db: &C,
    filter: &QueueFilter,
) -> Result<Vec<change_request::Model>, StoreError> {
    Ok(change_request::Entity::find()
        .filter(condition(filter))
        .order_by_asc(change_request::Column::CreatedAt)
        .order_by_asc(change_request::Column::Id)
        .all(db)
        .await?)
}

/// How many requests are in each state, every state listed (one query).
pub async fn counts<C: crate::store::Conn>(db: &C) -> Result<Vec<(RequestState, i64)>, StoreError> {
    let rows: Vec<(String, i64)> = change_request::Entity::find()
        .select_only()
        .column(change_request::Column::State)
        .column_as(
            Expr::expr(Func::count(Expr::col(change_request::Column::Id))),
            "n",
        )
        .group_by(change_request::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let map: HashMap<String, i64> = rows.into_iter().collect();
    Ok(RequestState::ALL
        .into_iter()
        .map(|s| (s, map.get(s.as_str()).copied().unwrap_or(0)))
        .collect())
}
