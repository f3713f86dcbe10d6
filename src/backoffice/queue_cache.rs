//! The queue page's data, kept between requests and reused as long as no
//! request was created or changed: one query of two index lookups (highest
//! id, latest `updated_at`) decides, instead of counting the whole table and
//! reading a page of it on every view. Entries also expire after
//! [`QueueCache::MAX_AGE`], which bounds staleness when two writers commit
//! out of order, and age filters that move with the clock.

use super::queue::{self, QueueFilter, QueuePage};
use crate::{domain::RequestState, store::StoreError};
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Different filters (searches included) kept at most; then the cache restarts.
const MAX_PAGES: usize = 256;

type Counts = Vec<(RequestState, i64)>;

#[derive(Debug, Default)]
pub struct QueueCache {
    counts: Mutex<Option<(String, Instant, Counts)>>,
    pages: Mutex<HashMap<String, (String, Instant, QueuePage)>>,
}

impl QueueCache {
    pub const MAX_AGE: Duration = Duration::from_secs(10);

    /// The counts per state and the page of `filter`, as the database holds them.
    pub async fn get<C: crate::store::Conn>(
        &self,
        db: &C,
        filter: &QueueFilter,
    ) -> Result<(Counts, QueuePage), StoreError> {
        let key = crate::store::stats::requests_change_key(db).await?;
        let fresh = |k: &String, at: &Instant| *k == key && at.elapsed() < Self::MAX_AGE;
        let counts = self.counts.lock().ok().and_then(|c| {
            c.as_ref()
                .filter(|(k, at, _)| fresh(k, at))
                .map(|c| c.2.clone())
        });
        let page_key = format!("{filter:?}");
        let page = self.pages.lock().ok().and_then(|p| {
            p.get(&page_key)
                .filter(|(k, at, _)| fresh(k, at))
                .map(|e| e.2.clone())
        });
        let counts = match counts {
            Some(c) => c,
            None => {
                let c = queue::counts(db).await?;
                if let Ok(mut slot) = self.counts.lock() {
                    *slot = Some((key.clone(), Instant::now(), c.clone()));
                }
                c
            }
        };
        let page = match page {
            Some(p) => p,
            None => {
                let p = queue::page(db, filter).await?;
                if let Ok(mut pages) = self.pages.lock() {
                    if pages.len() >= MAX_PAGES {
                        pages.clear();
                    }
                    pages.insert(page_key, (key, Instant::now(), p.clone()));
                }
                p
            }
        };
        Ok((counts, page))
    }
}
