//! IMAP source: polls `intake.imap.mailbox`, fetches each waiting message
//! with `BODY.PEEK[]` (nothing is marked by reading), runs it through the
//! pipeline in batches of `intake.batch_size` (group commit), and only after
//! their commit flags them `\Seen` or moves them to
//! `intake.imap.processed_folder`. UIDVALIDITY/UID are kept in
//! `imap_positions`; the position of a message (`imap:<account>:<validity>:<uid>`)
//! makes a message seen again after a crash a no-op. One active poller per
//! database (lease; a restart on the same host takes over at once from a
//! dead holder, see `store::leases`); reconnects with exponential backoff.
//!
//! Between polls the poller waits with IMAP IDLE (RFC 2177) when the server
//! offers it, so new mail is handled within seconds; the wait is renewed
//! every `intake.imap.poll_interval_secs` (at most 29 minutes) and a dropped
//! connection sends it back to polling, reconnecting with the same backoff.
//! A server without IDLE is polled every `poll_interval_secs`.

use super::{Batch, imap_conn};
use crate::store::{inbound, leases};
use crate::{
    intake::{Incoming, Intake, IntakeError, Origin},
    store::StoreError,
};
use futures_util::TryStreamExt;
use std::time::Duration;
use tokio::sync::watch;

/// Why a poll stopped; the loop waits and tries again.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("IMAP : {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("IMAP : {0}")]
    Connect(String),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Polls until `stop` turns true.
pub async fn run(intake: Intake, mut stop: watch::Receiver<bool>) {
    let imap = intake.settings().intake.imap.clone();
    let interval = Duration::from_secs(imap.poll_interval_secs.max(1));
    let account = format!("{}@{}/{}", imap.username, imap.host, imap.mailbox);
    let lease_name = format!("imap:{account}");
    // A restarted `serve` on this host takes the lease of its dead predecessor
    // at once; another host waits for the term below to run out.
    let holder = leases::process_holder();
    let ttl = chrono::Duration::seconds(
        i64::try_from(imap.poll_interval_secs).unwrap_or(60).max(1) * 3 + 60,
    );
    let mut backoff = Duration::from_secs(1);
    tracing::info!(host = %imap.host, mailbox = %imap.mailbox, "IMAP poller started");
    while !*stop.borrow() {
        let wait = match leases::try_acquire_or_take_over(
            intake.db().conn(),
            &lease_name,
            &holder,
            ttl,
        )
        .await
        {
            Ok(false) => interval,
            Ok(true) => match poll(&intake, &account, &stop).await {
                Ok(n) if n > 0 => {
                    backoff = Duration::from_secs(1);
                    Duration::ZERO
                }
                Ok(_) => {
                    backoff = Duration::from_secs(1);
                    match wait_for_mail(&imap, interval, &mut stop).await {
                        Ok(Wake::Unsupported) => interval,
                        Ok(Wake::NewMail | Wake::Quiet) => Duration::ZERO,
                        Err(e) => {
                            tracing::warn!(error = %e, retry_in = backoff.as_secs(), "IMAP IDLE interrupted");
                            backoff
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = backoff.as_secs(), "IMAP poll failed");
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(300));
                    wait
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "IMAP lease unavailable");
                interval
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
    let _ = leases::release(intake.db().conn(), &lease_name, &holder).await;
    tracing::info!("IMAP poller stopped");
}

/// How a wait for new mail ended.
#[derive(Debug, PartialEq, Eq)]
enum Wake {
    /// The server announced a change, or mail was already waiting.
    NewMail,
    /// Nothing within the limit, or the service is stopping.
    Quiet,
    /// The server does not offer IDLE: the caller polls instead.
    Unsupported,
}

/// Waits, on a connection of its own, for the server to announce new mail in
/// the mailbox (IDLE), at most `limit` (capped at the 29 minutes RFC 2177
/// allows) or until `stop` changes. A connection dropped meanwhile is an error.
async fn wait_for_mail(
    imap: &crate::config::Imap,
    limit: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<Wake, PollError> {
    let mut session = imap_conn::connect(imap).await?;
    if !session.capabilities().await?.has_str("IDLE") {
        let _ = session.logout().await;
        return Ok(Wake::Unsupported);
    }
    session.select(&imap.mailbox).await?;
    // Mail delivered between the last poll and IDLE would not be announced.
    let query = if imap.processed_folder.is_empty() {
        "UNSEEN"
    } else {
        "ALL"
    };
    if !session.uid_search(query).await?.is_empty() {
        let _ = session.logout().await;
        return Ok(Wake::NewMail);
    }
    let mut idle = session.idle();
    idle.init().await?;
    let limit = limit.min(Duration::from_secs(29 * 60));
    let (woke, stopped) = {
        let (wait, _interrupt) = idle.wait_with_timeout(limit);
        tokio::select! {
            r = wait => (r?, false),
            _ = stop.changed() => (async_imap::extensions::idle::IdleResponse::ManualInterrupt, true),
        }
    };
    use async_imap::extensions::idle::IdleResponse;
    let wake = match woke {
        IdleResponse::NewData(_) => Wake::NewMail,
        IdleResponse::Timeout => Wake::Quiet,
        IdleResponse::ManualInterrupt if stopped => Wake::Quiet,
        // Nothing interrupts the wait but `stop`: the stream ended.
        IdleResponse::ManualInterrupt => {
            return Err(PollError::Connect(
                "connexion IMAP fermée pendant IDLE".into(),
            ));
        }
    };
    tracing::debug!(?wake, "IMAP IDLE ended");
    if let Ok(Ok(mut session)) = tokio::time::timeout(Duration::from_secs(10), idle.done()).await {
        let _ = tokio::time::timeout(Duration::from_secs(10), session.logout()).await;
    }
    Ok(wake)
}

/// One connection: handles every waiting message; returns how many.
pub async fn poll(
    intake: &Intake,
    account: &str,
    stop: &watch::Receiver<bool>,
) -> Result<usize, PollError> {
    let settings = intake.settings();
    let imap = &settings.intake.imap;
    let max = settings.intake.max_message_bytes;
    let mut session = imap_conn::connect(imap).await?;
    let mailbox = session.select(&imap.mailbox).await?;
    let validity = i64::from(mailbox.uid_validity.unwrap_or(0));
    let known = inbound::imap_validity(intake.db().conn(), account).await?;
    if let Some(old) = known
        && old != validity
    {
        tracing::warn!(
            old,
            new = validity,
            "IMAP UIDVALIDITY changed: mailbox rescanned"
        );
    }
    let query = if imap.processed_folder.is_empty() {
        "UNSEEN"
    } else {
        "ALL"
    };
    let mut uids: Vec<u32> = session.uid_search(query).await?.into_iter().collect();
    uids.sort_unstable();
    let mut handled = 0;
    // Group commit: up to `intake.batch_size` messages are written in one
    // transaction (each batch read while the one before is written), then
    // flagged or moved together.
    let mut batch = Batch::new(intake);
    for uid in uids.into_iter().take(200) {
        if *stop.borrow() {
            break;
        }
        let sizes: Vec<_> = session
            .uid_fetch(uid.to_string(), "(UID RFC822.SIZE)")
            .await?
            .try_collect()
            .await?;
        let size = sizes
            .iter()
            .find_map(|f| f.size)
            .map(u64::from)
            .unwrap_or(0);
        let oversize = size > max;
        let item = if oversize {
            "(UID BODY.PEEK[HEADER])"
        } else {
            "(UID BODY.PEEK[])"
        };
        let fetched: Vec<_> = session
            .uid_fetch(uid.to_string(), item)
            .await?
            .try_collect()
            .await?;
        let Some(bytes) = fetched
            .iter()
            .find_map(|f| if oversize { f.header() } else { f.body() })
        else {
            continue; // expunged meanwhile
        };
        let origin = Origin::new("imap", Some(format!("imap:{account}:{validity}:{uid}")));
        let mut incoming = Incoming::whole(bytes.to_vec(), origin);
        if oversize {
            incoming.oversize = true;
            incoming.size = size;
        }
        if batch.push(incoming, uid) {
            handled += settle(&mut session, intake, &mut batch, (account, validity), false).await?;
        }
    }
    handled += settle(&mut session, intake, &mut batch, (account, validity), true).await?;
    let _ = session.logout().await;
    Ok(handled)
}

/// Runs the batch (or at the `end` finishes it, see [`Batch::finish`]), then
/// flags or moves, in one command, the messages whose commit is on disk:
/// now, and only now, they may leave the mailbox. Stops at the first
/// message that failed (it and the ones after it stay for the next poll).
async fn settle(
    session: &mut imap_conn::ImapSession,
    intake: &Intake,
    batch: &mut Batch<u32>,
    (account, validity): (&str, i64),
    end: bool,
) -> Result<usize, PollError> {
    let mut done: Vec<u32> = Vec::new();
    let mut failed = None;
    let each = |uid, result: Result<_, IntakeError>| {
        if failed.is_some() {
            return;
        }
        match result {
            Ok(_) => done.push(uid),
            Err(e) => failed = Some(e),
        }
    };
    if end {
        batch.finish(intake, each).await;
    } else {
        batch.run(intake, each).await;
    }
    if let Some(&last) = done.last() {
        let set = done
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let imap = &intake.settings().intake.imap;
        if imap.processed_folder.is_empty() {
            let _: Vec<_> = session
                .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                .await?
                .try_collect()
                .await?;
        } else {
            session.uid_mv(&set, &imap.processed_folder).await?;
        }
        remember(intake, account, validity, last).await?;
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(done.len()),
    }
}

async fn remember(
    intake: &Intake,
    account: &str,
    validity: i64,
    uid: u32,
) -> Result<(), StoreError> {
    inbound::remember_imap(intake.db().conn(), account, validity, uid).await
}
