//! Retention: the purge removes exactly what the policy says (SPEC §11).

use crate::on_both_databases;
use bareme_mel::{
    config::Retention,
    store::{
        Db, audit,
        entities::{attachment, blob, change_request, inbound_message, note, outbox},
        purge,
        requests::{self, Actor, NewRequest},
    },
};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr,
};

/// A request in `state`, closed (or created) `age_days` ago, with one mail,
/// one attachment (blob `sha`), one note and one sent mail.
async fn request_with_mail(db: &Db, state: &str, age_days: i64, sha: &str) -> i64 {
    let r = requests::create(
        db,
        NewRequest {
            requester_email: Some("demandeur@ecole.fr".into()),
            new_email: Some("demandeur@ecole.fr".into()),
            fields: [("nom".to_string(), "Durand".to_string())].into(),
            ..Default::default()
        },
        &Actor::System,
    )
    .await
    .unwrap();
    let when = Utc::now() - Duration::days(age_days);
    let closed = ["completed", "rejected", "cancelled"].contains(&state);
    change_request::Entity::update_many()
        .col_expr(change_request::Column::State, Expr::value(state))
        .col_expr(change_request::Column::CreatedAt, Expr::value(when))
        .col_expr(
            change_request::Column::ClosedAt,
            Expr::value(closed.then_some(when)),
        )
        .filter(change_request::Column::Id.eq(r.id))
        .exec(db.conn())
        .await
        .unwrap();
    let m = mail(db, "request_created", Some(r.id), age_days).await;
    attach(db, m, sha).await;
    note::Entity::insert(note::ActiveModel {
        request_id: Set(r.id),
        staff_id: Set(staff(db).await),
        body: Set("appelé le standard".into()),
        created_at: Set(when),
        ..Default::default()
    })
    .exec_without_returning(db.conn())
    .await
    .unwrap();
    outbox::Entity::insert(outbox::ActiveModel {
        message_id: Set(format!("ack.{}@ac-montpellier.fr", r.id)),
        template: Set("acknowledgement".into()),
        recipient: Set("demandeur@ecole.fr".into()),
        subject: Set(format!("[{}] Accusé de réception", r.reference)),
        body_text: Set("Bonjour Madame Durand".into()),
        body_html: Set("<p>Bonjour Madame Durand</p>".into()),
        headers: Set("{}".into()),
        request_id: Set(Some(r.id)),
        state: Set("sent".into()),
        attempts: Set(1),
        next_attempt_at: Set(when),
        created_at: Set(when),
        ..Default::default()
    })
    .exec_without_returning(db.conn())
    .await
    .unwrap();
    r.id
}

async fn staff(db: &Db) -> i64 {
    if let Some(s) = bareme_mel::store::staff::find(db, "agent.test")
        .await
        .unwrap()
    {
        return s.id;
    }
    bareme_mel::store::staff::add(
        db,
        "agent.test",
        "Agent",
        bareme_mel::domain::Role::Agent,
        "x".into(),
        "test",
    )
    .await
    .unwrap()
    .id
}

async fn mail(db: &Db, disposition: &str, request_id: Option<i64>, age_days: i64) -> i64 {
    inbound_message::Entity::insert(inbound_message::ActiveModel {
        received_at: Set(Utc::now() - Duration::days(age_days)),
        source: Set("maildir".into()),
        source_position: Set(Some(uuid::Uuid::new_v4().to_string())),
        message_id: Set(None),
        content_hash: Set("h".into()),
        size: Set(3),
        raw: Set(Some(b"raw".to_vec())),
        from_address: Set(Some("x@ecole.fr".into())),
        subject: Set(None),
        disposition: Set(disposition.into()),
        reason: Set(None),
        request_id: Set(request_id),
        auth_results: Set("{}".into()),
        flags: Set("[]".into()),
        purged_at: Set(None),
        ..Default::default()
    })
    .exec_with_returning(db.conn())
    .await
    .unwrap()
    .id
}

async fn attach(db: &Db, message: i64, sha: &str) {
    if blob::Entity::find_by_id(sha.to_string())
        .one(db.conn())
        .await
        .unwrap()
        .is_none()
    {
        blob::Entity::insert(blob::ActiveModel {
            sha256: Set(sha.into()),
            size: Set(3),
            data: Set(Some(b"pdf".to_vec())),
            created_at: Set(Utc::now()),
        })
        .exec_without_returning(db.conn())
        .await
        .unwrap();
    }
    attachment::Entity::insert(attachment::ActiveModel {
        inbound_message_id: Set(message),
        position: Set(0),
        filename: Set(Some("formulaire.pdf".into())),
        content_type: Set("application/pdf".into()),
        sha256: Set(sha.into()),
        size: Set(3),
        ..Default::default()
    })
    .exec_without_returning(db.conn())
    .await
    .unwrap();
}

async fn raw_kept(db: &Db, request_id: i64) -> bool {
    inbound_message::Entity::find()
        .filter(inbound_message::Column::RequestId.eq(request_id))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap()
        .raw
        .is_some()
}

on_both_databases!(
    the_purge_removes_exactly_what_the_retention_policy_says,
    |db: Db| async move {
        let retention = Retention::default(); // 183 days, 30 days, 5 years
        let old_completed = request_with_mail(&db, "completed", 200, "sha-old").await;
        let old_rejected = request_with_mail(&db, "rejected", 190, "sha-shared").await;
        let recent_completed = request_with_mail(&db, "completed", 10, "sha-shared").await;
        let old_pending = request_with_mail(&db, "pending_review", 400, "sha-pending").await;
        let old_approved = request_with_mail(&db, "approved", 300, "sha-approved").await;
        let ancient = request_with_mail(&db, "cancelled", 6 * 365, "sha-ancient").await;
        let old_quarantined = mail(&db, "quarantined", None, 40).await;
        let recent_quarantined = mail(&db, "quarantined", None, 5).await;
        let old_ignored = mail(&db, "auto_ignored", None, 31).await;

        let dry = purge::run(&db, &retention, Utc::now(), true, "test")
            .await
            .unwrap();
        assert_eq!(dry.closed_request_mail, 3, "{dry:?}");
        assert_eq!(dry.ignored_mail, 2, "{dry:?}");
        assert_eq!(dry.expired_decision_records, 1, "{dry:?}");
        assert!(
            raw_kept(&db, old_completed).await,
            "a dry run changes nothing"
        );
        assert_eq!(audit::verify(db.conn()).await.unwrap().problem, None);

        let report = purge::run(&db, &retention, Utc::now(), false, "test")
            .await
            .unwrap();
        assert_eq!(report.closed_request_mail, 3);
        assert_eq!(report.closed_request_notes, 3);
        assert_eq!(report.closed_request_outgoing_bodies, 3);
        for id in [old_completed, old_rejected, ancient] {
            assert!(!raw_kept(&db, id).await, "closed long ago: raw mail purged");
            let r = change_request::Entity::find_by_id(id)
                .one(db.conn())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(r.fields, "{}");
            assert!(!r.reference.is_empty(), "the decision record stays");
        }
        for id in [recent_completed, old_pending, old_approved] {
            assert!(raw_kept(&db, id).await, "recent or still open: kept");
            let r = change_request::Entity::find_by_id(id)
                .one(db.conn())
                .await
                .unwrap()
                .unwrap();
            assert_ne!(r.fields, "{}");
        }
        let gone = |id| {
            let db = db.clone();
            async move {
                inbound_message::Entity::find_by_id(id)
                    .one(db.conn())
                    .await
                    .unwrap()
                    .unwrap()
                    .raw
                    .is_none()
            }
        };
        assert!(gone(old_quarantined).await && gone(old_ignored).await);
        assert!(!gone(recent_quarantined).await);
        // Blobs: only those no live message needs any more.
        let blob_kept = |sha: &'static str| {
            let db = db.clone();
            async move {
                blob::Entity::find_by_id(sha.to_string())
                    .one(db.conn())
                    .await
                    .unwrap()
                    .is_some()
            }
        };
        assert!(!blob_kept("sha-old").await && !blob_kept("sha-ancient").await);
        assert!(
            blob_kept("sha-shared").await,
            "still used by a recent request"
        );
        assert!(blob_kept("sha-pending").await && blob_kept("sha-approved").await);
        let ancient_row = change_request::Entity::find_by_id(ancient)
            .one(db.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            ancient_row.new_email, None,
            "past the decision period, addresses are blanked"
        );
        let old_row = change_request::Entity::find_by_id(old_completed)
            .one(db.conn())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            old_row.new_email.as_deref(),
            Some("demandeur@ecole.fr"),
            "the decision record keeps its address for 5 years"
        );
        let kept_notes = note::Entity::find().count(db.conn()).await.unwrap();
        assert_eq!(kept_notes, 3);

        let v = audit::verify(db.conn()).await.unwrap();
        assert_eq!(v.problem, None, "the audit chain survives the purge");
        assert!(
            audit::recent(db.conn(), 1).await.unwrap()[0].action == "purge",
            "the purge is itself audited"
        );
        let again = purge::run(&db, &retention, Utc::now(), false, "test")
            .await
            .unwrap();
        assert_eq!(
            (
                again.closed_request_mail,
                again.ignored_mail,
                again.orphan_blobs
            ),
            (0, 0, 0),
            "{again:?}"
        );
    }
);

#[test]
fn purge_dry_run_from_the_command_line_prints_the_categories() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::harness::run({
        let mut c = crate::harness::cmd(dir.path());
        c.args(["purge", "--dry-run"]);
        c
    });
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("simulation") && r.stdout.contains("courriels bruts des demandes closes"),
        "{}",
        r.stdout
    );
}

on_both_databases!(a_lease_has_one_holder_at_a_time, |db: Db| async move {
    use bareme_mel::store::leases;
    let hour = Duration::hours(1);
    assert!(
        leases::try_acquire(db.conn(), "imap", "a", hour)
            .await
            .unwrap()
    );
    assert!(
        !leases::try_acquire(db.conn(), "imap", "b", hour)
            .await
            .unwrap(),
        "held by a"
    );
    assert!(
        leases::try_acquire(db.conn(), "imap", "a", hour)
            .await
            .unwrap(),
        "a renews"
    );
    leases::release(db.conn(), "imap", "a").await.unwrap();
    assert!(
        leases::try_acquire(db.conn(), "imap", "b", hour)
            .await
            .unwrap(),
        "released: b takes over"
    );
    // Once-per-period work: not even the holder takes it again before it runs out.
    assert!(
        leases::try_acquire_expired(db.conn(), "daily", "a", Duration::hours(24))
            .await
            .unwrap()
    );
    assert!(
        !leases::try_acquire_expired(db.conn(), "daily", "a", Duration::hours(24))
            .await
            .unwrap()
    );
    assert!(
        !leases::try_acquire_expired(db.conn(), "daily", "b", Duration::hours(24))
            .await
            .unwrap()
    );
    assert!(
        leases::try_acquire_expired(db.conn(), "short", "a", Duration::seconds(-1))
            .await
            .unwrap()
    );
    assert!(
        leases::try_acquire_expired(db.conn(), "short", "b", hour)
            .await
            .unwrap(),
        "expired: b takes it"
    );
});

on_both_databases!(
    the_queue_sees_at_once_what_the_purge_erased,
    |db: Db| async move {
        // A request cancelled six years ago: the purge blanks its addresses.
        let ancient = request_with_mail(&db, "cancelled", 6 * 365, "sha-ancient").await;
        let cache = bareme_mel::backoffice::queue_cache::QueueCache::default();
        let filter = bareme_mel::backoffice::queue::QueueFilter::default();
        let (_, page) = cache.get(db.conn(), &filter).await.unwrap();
        assert_eq!(page.rows[0].requester_email, "demandeur@ecole.fr");
        let version = change_request::Entity::find_by_id(ancient)
            .one(db.conn())
            .await
            .unwrap()
            .unwrap()
            .version;
        let report = purge::run(&db, &Retention::default(), Utc::now(), false, "test")
            .await
            .unwrap();
        assert_eq!(report.expired_decision_records, 1, "{report:?}");
        // Like every change to a request row, the purge moves `updated_at`
        // and the version: the cached queue page is not served again.
        let (_, page) = cache.get(db.conn(), &filter).await.unwrap();
        assert_eq!(page.rows[0].requester_email, "", "{:?}", page.rows[0]);
        let after = change_request::Entity::find_by_id(ancient)
            .one(db.conn())
            .await
            .unwrap()
            .unwrap();
        assert!(after.version > version);
    }
);
