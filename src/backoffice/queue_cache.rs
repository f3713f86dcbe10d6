//! The queue page's data, kept between requests and reused as long as no
//! request was created or changed: one query of two index lookups (highest
//! id, latest `updated_at`) decides, instead of counting the whole table and
//! reading a page of it on every view. Entries also expire after
//! [`QueueCache::MAX_AGE`], which bounds staleness when two writers commit
//! out of order, and age filters that move with the clock. The counts of
//! open mail (« Courriels non traités », « Autres courriels ») are kept the
//! same way, keyed by the latest recorded mail and the latest audit event.

use super::queue::{self, QueueFilter, QueuePage};
use crate::{
    domain::RequestState,
    store::{StoreError, stats},
};
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
    mail: Mutex<Option<(String, Instant, stats::OpenMail)>>,
}

/// What the queue page shows, as the database holds it.
#[derive(Debug, Clone)]
pub struct QueueView {
    pub counts: Counts,
    pub page: QueuePage,
    pub mail: stats::OpenMail,
}

impl QueueCache {
    pub const MAX_AGE: Duration = Duration::from_secs(10);

    /// The counts per state and the page of `filter`, as the database holds them.
    pub async fn get<C: crate::store::Conn>(
        &self,
        db: &C,
        filter: &QueueFilter,
    ) -> Result<(Counts, QueuePage), StoreError> {
        let view = self.view(db, filter).await?;
        Ok((view.counts, view.page))
    }

    /// Everything the queue page shows: one query of index lookups when
    /// nothing changed since the last view.
    pub async fn view<C: crate::store::Conn>(
        &self,
        db: &C,
        filter: &QueueFilter,
    ) -> Result<QueueView, StoreError> {
        let keys = stats::change_keys(db).await?;
        let key = keys.requests;
        let fresh =
            |k: &String, at: &Instant, key: &String| *k == *key && at.elapsed() < Self::MAX_AGE;
        let counts = self.counts.lock().ok().and_then(|c| {
            c.as_ref()
                .filter(|(k, at, _)| fresh(k, at, &key))
                .map(|c| c.2.clone())
        });
        let page_key = format!("{filter:?}");
        let page = self.pages.lock().ok().and_then(|p| {
            p.get(&page_key)
                .filter(|(k, at, _)| fresh(k, at, &key))
                .map(|e| e.2.clone())
        });
        let mail = self.mail.lock().ok().and_then(|m| {
            m.as_ref()
                .filter(|(k, at, _)| fresh(k, at, &keys.mail))
                .map(|m| m.2)
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
        let mail = match mail {
            Some(m) => m,
            None => {
                let m = stats::open_mail(db).await?;
                if let Ok(mut slot) = self.mail.lock() {
                    *slot = Some((keys.mail, Instant::now(), m));
                }
                m
            }
        };
        Ok(QueueView { counts, page, mail })
    }
}
