//! Named leases in the `leases` table: one holder at a time across every
//! `serve` process sharing the database (daily purge, IMAP poller).
//!
//! A holder names its process ([`process_holder`]): host, boot, PID namespace,
//! PID and the PID's start time. A process on the same host that finds the
//! lease held by a process that provably no longer runs (`kill -9`, OOM kill,
//! abort) takes it at once instead of waiting for the term to run out
//! ([`try_acquire_or_take_over`]); a holder on another host, or one whose
//! state cannot be read, is waited for.

use super::StoreError;
use chrono::{Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

/// Takes or renews lease `name` for `holder` until now + `ttl`; true when held.
pub async fn try_acquire<C: crate::store::Conn>(
    db: &C,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    acquire(db, name, holder, ttl, true).await
}

/// Takes lease `name` only once the previous term has run out, whoever held it:
/// for work that must happen once per period across every process (daily purge).
pub async fn try_acquire_expired<C: crate::store::Conn>(
    db: &C,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    acquire(db, name, holder, ttl, false).await
}

async fn acquire<C: crate::store::Conn>(
    db: &C,
    name: &str,
    holder: &str,
    ttl: Duration,
    renew: bool,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let until = now + ttl;
    let stmt = Query::insert()
        .into_table("leases")
        .columns(["name", "holder", "until"])
        .values_panic([name.into(), holder.into(), until.into()])
        .on_conflict(
            OnConflict::column("name")
                .values([("holder", holder.into()), ("until", until.into())])
                .action_and_where(if renew {
                    Expr::col(("leases", "until"))
                        .lt(now)
                        .or(Expr::col(("leases", "holder")).eq(holder))
                } else {
                    Expr::col(("leases", "until")).lt(now)
                })
                .to_owned(),
        )
        .to_owned();
    let res = db.execute(&stmt).await?;
    Ok(res.rows_affected() == 1)
}

/// Like [`try_acquire`], and also takes the lease from a holder on this host
/// whose process has died ([`holder_is_dead`]). Two live processes still
/// never hold it together: the take-over only replaces the exact dead holder.
pub async fn try_acquire_or_take_over<C: crate::store::Conn>(
    db: &C,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    if try_acquire(db, name, holder, ttl).await? {
        return Ok(true);
    }
    let stmt = Query::select()
        .column("holder")
        .from("leases")
        .and_where(Expr::col("name").eq(name))
        .to_owned();
    let Some(row) = db.query_one(&stmt).await? else {
        return Ok(false);
    };
    let current: String = row.try_get("", "holder")?;
    if !holder_is_dead(&current) {
        return Ok(false);
    }
    let until = Utc::now() + ttl;
    let stmt = Query::update()
        .table("leases")
        .values([("holder", holder.into()), ("until", until.into())])
        .and_where(Expr::col("name").eq(name))
        .and_where(Expr::col("holder").eq(current.as_str()))
        .to_owned();
    let taken = db.execute(&stmt).await?.rows_affected() == 1;
    if taken {
        tracing::info!(lease = name, dead = %current, "lease taken over from a dead process");
    }
    Ok(taken)
}

/// Gives the lease back (clean shutdown), so another process takes over at once.
pub async fn release<C: crate::store::Conn>(
    db: &C,
    name: &str,
    holder: &str,
) -> Result<(), StoreError> {
    let stmt = Query::delete()
        .from_table("leases")
        .and_where(Expr::col("name").eq(name))
        .and_where(Expr::col("holder").eq(holder))
        .to_owned();
    db.execute(&stmt).await?;
    Ok(())
}

/// Prefix of the holders written by [`process_holder`].
const PROCESS_PREFIX: &str = "proc";

/// The holder name of this process:
/// `proc|<host>|<boot id>|<pid namespace>|<pid>|<start time>|<random>`.
/// Where `/proc` cannot be read the machine and start fields stay empty, and
/// the lease is only ever taken back once its term has run out.
pub fn process_holder() -> String {
    let pid = std::process::id();
    format!(
        "{PROCESS_PREFIX}|{}|{}|{}",
        machine(),
        pid,
        start_time(pid).unwrap_or_default()
    ) + &format!("|{}", uuid::Uuid::new_v4().simple())
}

/// True only when `holder` is a [`process_holder`] of this same machine
/// (host, boot, PID namespace) whose process is gone: no such PID, a PID
/// started at another time (reused), or a zombie.
pub fn holder_is_dead(holder: &str) -> bool {
    let fields: Vec<&str> = holder.split('|').collect();
    let [PROCESS_PREFIX, host, boot, ns, pid, start, _] = fields[..] else {
        return false;
    };
    let here = machine();
    if here.split('|').any(str::is_empty) || here != format!("{host}|{boot}|{ns}") {
        return false;
    }
    let (Ok(pid), false) = (pid.parse::<u32>(), start.is_empty()) else {
        return false;
    };
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(_) => false,
        Ok(stat) => match parse_stat(&stat) {
            Some((state, started)) => matches!(state, 'Z' | 'X' | 'x') || started != start,
            None => false,
        },
    }
}

/// `<host>|<boot id>|<pid namespace>`, each empty when unknown.
fn machine() -> String {
    let host = hostname().unwrap_or_default();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    [host, boot, ns].map(|s| s.replace('|', "_")).join("|")
}

/// The host name of this UTS namespace (Linux).
fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Start time of `pid` since boot, in clock ticks (`/proc/<pid>/stat`, field 22).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(_, start)| start)
}

/// State (field 3) and start time (field 22) of a `/proc/<pid>/stat` line;
/// the command name (field 2) may hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(char, String)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?;
    Some((state, start.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_child_is_dead() {
        assert!(!holder_is_dead(&process_holder()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        let holder = format!(
            "{PROCESS_PREFIX}|{}|{pid}|{}|x",
            machine(),
            start.unwrap_or_else(|| "1".into())
        );
        assert!(holder_is_dead(&holder), "{holder}");
    }

    #[test]
    fn a_holder_elsewhere_or_unknown_is_never_dead() {
        assert!(!holder_is_dead("1234:abcdef"));
        assert!(!holder_is_dead("proc|other-host|b|n|999999999|1|x"));
        let reused = format!("{PROCESS_PREFIX}|{}|{}|1|x", machine(), std::process::id());
        assert!(holder_is_dead(&reused), "same PID, other start time");
    }

    #[test]
    fn the_stat_line_is_read_past_a_command_with_spaces() {
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(parse_stat(line), Some(('S', "123456".into())));
    }
}
