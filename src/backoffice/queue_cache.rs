//! The queue page's data, kept between requests and reused as long as no
//! request was created or changed: one query of index lookups (highest id,
//! latest `updated_at`, latest mail, latest audit event) decides, instead of
//! counting the whole table and reading a page of it on every view. Entries
//! also expire after [`QueueCache::MAX_AGE`], which bounds staleness when two
//! writers commit out of order, and age filters that move with the clock. The
//! counts of open mail (« Courriels non traités », « Autres courriels ») are
//! kept the same way, keyed by the latest recorded mail and the latest audit
//! event.
//!
//! Views that arrive together share their readings: one check of what
//! changed serves every view that arrived before it started (the others wait
//! for the next one, so a view never sees the database older than when it
//! arrived), and when an entry has to be read again, one view reads it while
//! the others wait for its result instead of all reading it at once. An entry
//! that only aged past [`QueueCache::MAX_AGE`] (nothing changed since it was
//! read) is still shown to the views that arrive while one view reads it
//! again: staleness stays bounded by `MAX_AGE` plus one reading.
//!
//! A view gets the cached values themselves, behind an [`Arc`], not a copy:
//! the page's rows are rendered once per reading ([`QueuePage::html`]) and
//! every view of that reading writes the same text.

use super::queue::{self, QueueFilter, QueuePage};
use crate::{
    domain::RequestState,
    store::{
        StoreError,
        stats::{self, ChangeKeys},
    },
};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// Different filters (searches included) kept at most; then the cache restarts.
const MAX_PAGES: usize = 256;

pub type Counts = Vec<(RequestState, i64)>;

/// A cached value, the change key it was read at and when.
type Entry<T> = (String, Instant, T);

#[derive(Debug, Default)]
pub struct QueueCache {
    counts: Mutex<Option<Entry<Arc<Counts>>>>,
    pages: Mutex<HashMap<QueueFilter, Entry<Arc<QueuePage>>>>,
    mail: Mutex<Option<Entry<stats::OpenMail>>>,
    keys: SharedKeys,
    /// Held by the one view reading the counts again.
    counts_reader: tokio::sync::Mutex<()>,
    /// Held by the one view reading a filter's page again.
    page_readers: Mutex<HashMap<QueueFilter, Arc<tokio::sync::Mutex<()>>>>,
    /// Held by the one view reading the open-mail counts again.
    mail_reader: tokio::sync::Mutex<()>,
    reads: ReadCounters,
}

/// The latest check of what changed, numbered; one runs at a time.
#[derive(Debug, Default)]
struct SharedKeys {
    /// Checks started so far.
    started: AtomicU64,
    /// The latest finished check and its number.
    latest: tokio::sync::Mutex<Option<(u64, Arc<ChangeKeys>)>>,
}

/// How many times each part of the view was read from the database.
#[derive(Debug, Default)]
struct ReadCounters {
    keys: AtomicU64,
    counts: AtomicU64,
    pages: AtomicU64,
    mail: AtomicU64,
}

/// Database readings made by a [`QueueCache`] since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    /// Checks of what changed ([`stats::change_keys`]).
    pub keys: u64,
    /// Counts per state.
    pub counts: u64,
    /// Pages of the queue (any filter).
    pub pages: u64,
    /// Counts of open mail.
    pub mail: u64,
}

/// What the queue page shows, as the database holds it: the cached values,
/// shared with the other views of the same reading.
#[derive(Debug, Clone)]
pub struct QueueView {
    pub counts: Arc<Counts>,
    pub page: Arc<QueuePage>,
    pub mail: stats::OpenMail,
}

impl QueueCache {
    pub const MAX_AGE: Duration = Duration::from_secs(10);

    /// How many readings of each kind this cache made.
    pub fn reads(&self) -> Reads {
        let r = &self.reads;
        Reads {
            keys: r.keys.load(Ordering::Relaxed),
            counts: r.counts.load(Ordering::Relaxed),
            pages: r.pages.load(Ordering::Relaxed),
            mail: r.mail.load(Ordering::Relaxed),
        }
    }

    /// The counts per state and the page of `filter`, as the database holds them.
    pub async fn get<C: crate::store::Conn>(
        &self,
        db: &C,
        filter: &QueueFilter,
    ) -> Result<(Counts, Arc<QueuePage>), StoreError> {
        let view = self.view(db, filter).await?;
        Ok((view.counts.as_ref().clone(), view.page))
    }

    /// Everything the queue page shows: one query of index lookups (shared
    /// with the views arriving at the same time) when nothing changed since
    /// the last view.
    pub async fn view<C: crate::store::Conn>(
        &self,
        db: &C,
        filter: &QueueFilter,
    ) -> Result<QueueView, StoreError> {
        let keys = self.change_keys(db).await?;
        let counts = self.counts(db, &keys.requests).await?;
        let page = self.page(db, filter, &keys.requests).await?;
        let mail = self.mail(db, &keys.mail).await?;
        Ok(QueueView { counts, page, mail })
    }

    /// What changed, from a check that started after this call did: the
    /// latest one if so, else the next, run by this call or by another
    /// waiting with it.
    async fn change_keys<C: crate::store::Conn>(
        &self,
        db: &C,
    ) -> Result<Arc<ChangeKeys>, StoreError> {
        let shared = &self.keys;
        // Checks numbered above `arrived` start after this line.
        let arrived = shared.started.load(Ordering::SeqCst);
        let mut latest = shared.latest.lock().await;
        if let Some((n, keys)) = latest.as_ref()
            && *n > arrived
        {
            return Ok(keys.clone());
        }
        let n = shared.started.fetch_add(1, Ordering::SeqCst) + 1;
        self.reads.keys.fetch_add(1, Ordering::Relaxed);
        let keys = Arc::new(stats::change_keys(db).await?);
        *latest = Some((n, keys.clone()));
        Ok(keys)
    }

    async fn counts<C: crate::store::Conn>(
        &self,
        db: &C,
        key: &str,
    ) -> Result<Arc<Counts>, StoreError> {
        shared_read(
            &self.counts_reader,
            || lookup(self.counts.lock().ok()?.as_ref(), key),
            || {
                self.reads.counts.fetch_add(1, Ordering::Relaxed);
                async { queue::counts(db).await.map(Arc::new) }
            },
            |c| {
                if let Ok(mut slot) = self.counts.lock() {
                    *slot = Some((key.to_string(), Instant::now(), c.clone()));
                }
            },
        )
        .await
    }

    async fn page<C: crate::store::Conn>(
        &self,
        db: &C,
        filter: &QueueFilter,
        key: &str,
    ) -> Result<Arc<QueuePage>, StoreError> {
        let cached = || lookup(self.pages.lock().ok()?.get(filter), key);
        if let Some(Lookup::Fresh(p)) = cached() {
            return Ok(p);
        }
        let reader = {
            let mut readers = self
                .page_readers
                .lock()
                .map_err(|_| StoreError::Invalid("cache de la file inutilisable".into()))?;
            if readers.len() >= MAX_PAGES {
                // Forget the filters no view is reading now.
                readers.retain(|_, r| Arc::strong_count(r) > 1);
            }
            readers.entry(filter.clone()).or_default().clone()
        };
        shared_read(
            &reader,
            cached,
            || {
                self.reads.pages.fetch_add(1, Ordering::Relaxed);
                async { queue::page(db, filter).await.map(Arc::new) }
            },
            |p| {
                if let Ok(mut pages) = self.pages.lock() {
                    if pages.len() >= MAX_PAGES {
                        pages.clear();
                    }
                    pages.insert(filter.clone(), (key.to_string(), Instant::now(), p.clone()));
                }
            },
        )
        .await
    }

    async fn mail<C: crate::store::Conn>(
        &self,
        db: &C,
        key: &str,
    ) -> Result<stats::OpenMail, StoreError> {
        shared_read(
            &self.mail_reader,
            || lookup(self.mail.lock().ok()?.as_ref(), key),
            || {
                self.reads.mail.fetch_add(1, Ordering::Relaxed);
                stats::open_mail(db)
            },
            |m| {
                if let Ok(mut slot) = self.mail.lock() {
                    *slot = Some((key.to_string(), Instant::now(), *m));
                }
            },
        )
        .await
    }
}

/// A cached value as one view finds it.
enum Lookup<T> {
    /// Read at this view's change key, less than [`QueueCache::MAX_AGE`] ago.
    Fresh(T),
    /// Read at this view's change key, but longer ago.
    Aged(T),
}

fn lookup<T: Clone>(slot: Option<&Entry<T>>, key: &str) -> Option<Lookup<T>> {
    let (k, at, v) = slot?;
    (k == key).then(|| {
        if at.elapsed() < QueueCache::MAX_AGE {
            Lookup::Fresh(v.clone())
        } else {
            Lookup::Aged(v.clone())
        }
    })
}

/// The cached value if fresh; else read by one view while the others wait
/// for its result. An entry that only aged (nothing changed since it was
/// read) is still served to the views that arrive while one reads it again.
async fn shared_read<T, Fut>(
    reader: &tokio::sync::Mutex<()>,
    lookup: impl Fn() -> Option<Lookup<T>>,
    read: impl FnOnce() -> Fut,
    store: impl FnOnce(&T),
) -> Result<T, StoreError>
where
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let _reading = match lookup() {
        Some(Lookup::Fresh(v)) => return Ok(v),
        Some(Lookup::Aged(v)) => match reader.try_lock() {
            Ok(reading) => reading,
            // Another view is reading it again.
            Err(_) => return Ok(v),
        },
        None => reader.lock().await,
    };
    // Read meanwhile by the view this one waited for?
    if let Some(Lookup::Fresh(v)) = lookup() {
        return Ok(v);
    }
    let v = read().await?;
    store(&v);
    Ok(v)
}
