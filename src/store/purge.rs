//! Retention (SPEC §11): what the service removes by itself, and when.
//!
//! - raw mail and attachments of closed requests, `retention.closed_request_days`
//!   after closing; with them the extracted fields (and the images read
//!   from a scanned form), staff notes and the bodies of the mails we sent
//!   about the request;
//! - ignored, not-a-request, duplicate and quarantined mail not linked to a request,
//!   `retention.ignored_mail_days` after reception;
//! - the minimal record of each decision (reference, state, dates, who
//!   decided) and the audit chain stay `retention.decision_record_years`;
//!   after that the addresses left in the record are blanked too.
//!
//! The audit log never holds message content, so the chain stays verifiable;
//! the purge itself is recorded in it.
//!
//! Why the purge writes `change_requests` outside `request_write::apply`, the
//! one write path of request changes: it is not a change to a request. It
//! decides nothing (no state, subscriber, address or flag moves), nobody's
//! role or four-eyes rule applies, no mail follows, and it touches only
//! requests already closed, in bulk, with one audit event for the whole run
//! instead of one per request. It erases data the policy says must go. What
//! it shares with the write path is what readers rely on: every row it
//! changes gets a new `version` and `updated_at`, so that caches keyed on
//! `updated_at` (the queue) and pages holding a version see the change.

use super::{
    Db, StoreError, audit,
    entities::{attachment, change_request, inbound_message, note, outbox},
};
use crate::config::Retention;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Func, Query},
};
use serde::Serialize;

/// How much each category holds (dry run) or lost (real run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub closed_request_mail: u64,
    pub closed_request_notes: u64,
    pub closed_request_outgoing_bodies: u64,
    pub closed_request_fields: u64,
    pub ignored_mail: u64,
    pub orphan_blobs: u64,
    pub expired_decision_records: u64,
}

/// The states of a closed request, as stored.
fn closed_states() -> Vec<&'static str> {
    crate::domain::RequestState::ALL
        .into_iter()
        .filter(|s| s.is_final())
        .map(|s| s.as_str())
        .collect()
}
const UNLINKED: [&str; 4] = ["auto_ignored", "not_a_request", "quarantined", "duplicate"];

fn closed_before(cutoff: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(change_request::Column::State.is_in(closed_states()))
        .add(change_request::Column::ClosedAt.lt(cutoff))
}

async fn closed_ids<C: crate::store::Conn>(
    db: &C,
    cutoff: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    Ok(change_request::Entity::find()
        .select_only()
        .column(change_request::Column::Id)
        .filter(closed_before(cutoff))
        .into_tuple::<i64>()
        .all(db)
        .await?)
}

/// Applies the retention periods (or, with `dry_run`, only counts).
pub async fn run(
    db: &Db,
    retention: &Retention,
    now: DateTime<Utc>,
    dry_run: bool,
    actor: &str,
) -> Result<PurgeReport, StoreError> {
    let closed_cutoff = now - Duration::days(retention.closed_request_days as i64);
    let ignored_cutoff = now - Duration::days(retention.ignored_mail_days as i64);
    let record_cutoff = now - Duration::days(365 * retention.decision_record_years as i64);
    let txn = db.begin().await?;
    let ids = closed_ids(&txn, closed_cutoff).await?;
    let mut report = PurgeReport::default();

    let mail_of_closed = Condition::all()
        .add(inbound_message::Column::RequestId.is_in(ids.clone()))
        .add(inbound_message::Column::PurgedAt.is_null());
    let ignored = Condition::all()
        .add(inbound_message::Column::Disposition.is_in(UNLINKED))
        .add(inbound_message::Column::RequestId.is_null())
        .add(inbound_message::Column::ReceivedAt.lt(ignored_cutoff))
        .add(inbound_message::Column::PurgedAt.is_null());
    // Mail of closed requests, and mail tied to no request (self-service
    // links, password confirmations) once as old as a closed request's.
    let bodies = Condition::all()
        .add(
            Condition::any()
                .add(outbox::Column::RequestId.is_in(ids.clone()))
                .add(
                    Condition::all()
                        .add(outbox::Column::RequestId.is_null())
                        .add(outbox::Column::CreatedAt.lt(closed_cutoff)),
                ),
        )
        .add(outbox::Column::State.ne("pending"))
        .add(outbox::Column::State.ne("sending"))
        .add(
            Condition::any()
                .add(outbox::Column::BodyText.ne(""))
                .add(outbox::Column::BodyHtml.ne("")),
        );
    let fields = Condition::all()
        .add(change_request::Column::Id.is_in(ids.clone()))
        .add(change_request::Column::Fields.ne("{}"));
    let records = Condition::all().add(closed_before(record_cutoff)).add(
        Condition::any()
            .add(change_request::Column::RequesterEmail.is_not_null())
            .add(change_request::Column::NewEmail.is_not_null()),
    );

    report.closed_request_mail = inbound_message::Entity::find()
        .filter(mail_of_closed.clone())
        .count(&txn)
        .await?;
    report.ignored_mail = inbound_message::Entity::find()
        .filter(ignored.clone())
        .count(&txn)
        .await?;
    report.closed_request_notes = note::Entity::find()
        .filter(note::Column::RequestId.is_in(ids.clone()))
        .count(&txn)
        .await?;
    report.closed_request_outgoing_bodies = outbox::Entity::find()
        .filter(bodies.clone())
        .count(&txn)
        .await?;
    report.closed_request_fields = change_request::Entity::find()
        .filter(fields.clone())
        .count(&txn)
        .await?;
    report.expired_decision_records = change_request::Entity::find()
        .filter(records.clone())
        .count(&txn)
        .await?;

    if !dry_run {
        for cond in [mail_of_closed, ignored] {
            inbound_message::Entity::update_many()
                .col_expr(
                    inbound_message::Column::Raw,
                    Expr::value(Option::<Vec<u8>>::None),
                )
                .col_expr(
                    inbound_message::Column::BodyView,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(inbound_message::Column::PurgedAt, Expr::value(Some(now)))
                .filter(cond)
                .exec(&txn)
                .await?;
        }
        note::Entity::delete_many()
            .filter(note::Column::RequestId.is_in(ids.clone()))
            .exec(&txn)
            .await?;
        // The scanned form's boxes, signature and stamp go with the fields.
        super::scan_readings::delete_for(&txn, &ids).await?;
        outbox::Entity::update_many()
            .col_expr(outbox::Column::BodyText, Expr::value(""))
            .col_expr(outbox::Column::BodyHtml, Expr::value(""))
            .filter(bodies)
            .exec(&txn)
            .await?;
        change_request::Entity::update_many()
            .col_expr(change_request::Column::Fields, Expr::value("{}"))
            .col_expr(change_request::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                change_request::Column::Version,
                Expr::col(change_request::Column::Version).add(1),
            )
            .col_expr(
                change_request::Column::ClosingMessage,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                change_request::Column::VerificationComment,
                Expr::value(Option::<String>::None),
            )
            .filter(fields)
            .exec(&txn)
            .await?;
        change_request::Entity::update_many()
            .col_expr(
                change_request::Column::RequesterEmail,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                change_request::Column::NewEmail,
                Expr::value(Option::<String>::None),
            )
            .col_expr(change_request::Column::Checks, Expr::value("[]"))
            .col_expr(change_request::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                change_request::Column::Version,
                Expr::col(change_request::Column::Version).add(1),
            )
            .filter(records)
            .exec(&txn)
            .await?;
    }
    // Blobs no longer referenced by any unpurged message.
    let live = Query::select()
        .column((attachment::Entity, attachment::Column::Sha256))
        .from(attachment::Entity)
        .inner_join(
            inbound_message::Entity,
            Expr::col((inbound_message::Entity, inbound_message::Column::Id))
                .equals((attachment::Entity, attachment::Column::InboundMessageId)),
        )
        .and_where(
            Expr::col((inbound_message::Entity, inbound_message::Column::PurgedAt)).is_null(),
        )
        .to_owned();
    let orphans = Query::select()
        .expr(Func::count(Expr::col("sha256")))
        .from("blobs")
        .and_where(Expr::col("sha256").not_in_subquery(live.clone()))
        .to_owned();
    let row = txn.query_one(&orphans).await?;
    report.orphan_blobs = u64::try_from(
        row.map(|r| r.try_get_by_index::<i64>(0).unwrap_or(0))
            .unwrap_or(0),
    )
    .unwrap_or(0);
    if !dry_run {
        txn.execute(
            &Query::delete()
                .from_table("blobs")
                .and_where(Expr::col("sha256").not_in_subquery(live))
                .to_owned(),
        )
        .await?;
        audit::append(
            &txn,
            audit::NewEvent {
                actor: actor.into(),
                action: "purge".into(),
                subject: Some("retention".into()),
                details: serde_json::to_value(&report).unwrap_or_default(),
                ..Default::default()
            },
        )
        .await?;
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(report)
}
