//! The queue page's counts and rows are cached, yet never stale after a
//! request is created or changes state.

use crate::intake_support::intake;
use crate::on_both_databases;
use bareme_mel::{
    backoffice::{awaiting_mail, queue::QueueFilter, queue_cache::QueueCache},
    domain::{Action, RequestState, Role},
    intake::{Incoming, Origin},
    store::{
        Db,
        inbox::Disposition,
        requests::{self, Actor, NewRequest, TransitionInput},
        stats::OpenMail,
    },
};

async fn count_of(cache: &QueueCache, db: &Db, state: RequestState) -> i64 {
    cache
        .get(db.conn(), &QueueFilter::default())
        .await
        .unwrap()
        .0
        .into_iter()
        .find(|(s, _)| *s == state)
        .unwrap()
        .1
}

on_both_databases!(
    cached_counts_follow_every_creation_and_transition,
    |db: Db| async move {
        let cache = QueueCache::default();
        assert_eq!(count_of(&cache, &db, RequestState::PendingReview).await, 0);
        let r = requests::create(&db, NewRequest::default(), &Actor::System)
            .await
            .unwrap();
        assert_eq!(count_of(&cache, &db, RequestState::PendingReview).await, 1);
        assert_eq!(count_of(&cache, &db, RequestState::PendingReview).await, 1);
        let input = TransitionInput {
            verification_method: Some("appel au standard".into()),
            reason: Some("confirmé".into()),
            ..TransitionInput::new(Action::Verify)
        };
        let agent = Actor::Staff {
            id: 1,
            username: "alice".into(),
            role: Role::Agent,
        };
        requests::transition(&db, &r.reference, None, &input, &agent, true)
            .await
            .unwrap();
        assert_eq!(count_of(&cache, &db, RequestState::PendingReview).await, 0);
        assert_eq!(count_of(&cache, &db, RequestState::Verified).await, 1);
        let (_, page) = cache.get(db.conn(), &QueueFilter::default()).await.unwrap();
        assert_eq!(page.rows.len(), 1);
        assert_eq!(page.rows[0].state_label, RequestState::Verified.label());
        let second = requests::create(&db, NewRequest::default(), &Actor::System)
            .await
            .unwrap();
        let (_, page) = cache.get(db.conn(), &QueueFilter::default()).await.unwrap();
        assert_eq!(page.rows.len(), 2, "a new request shows at once");
        assert_eq!(page.rows[1].reference, second.reference);
    }
);

async fn mail(cache: &QueueCache, db: &Db) -> OpenMail {
    cache
        .view(db.conn(), &QueueFilter::default())
        .await
        .unwrap()
        .mail
}

on_both_databases!(
    cached_open_mail_counts_follow_new_mail_and_staff_decisions,
    |db: Db| async move {
        let cache = QueueCache::default();
        assert_eq!(mail(&cache, &db).await.quarantined, 0);
        let unreadable = Incoming::whole(b"pas un courriel".to_vec(), Origin::new("http", None));
        let outcome = intake(&db).ingest(unreadable).await.unwrap();
        assert_eq!(outcome.disposition, Disposition::Quarantined);
        assert_eq!(
            mail(&cache, &db).await.quarantined,
            1,
            "a new mail shows at once"
        );
        assert_eq!(mail(&cache, &db).await.quarantined, 1);
        let agent = Actor::Staff {
            id: 1,
            username: "alice".into(),
            role: Role::Agent,
        };
        awaiting_mail::discard(&db, outcome.inbound_id.unwrap(), "publicité", &agent)
            .await
            .unwrap();
        assert_eq!(
            mail(&cache, &db).await.quarantined,
            0,
            "a discarded mail leaves the count at once"
        );
    }
);

on_both_databases!(
    staff_opening_the_queue_at_once_share_one_reading,
    |db: Db| async move {
        let cache = QueueCache::default();
        for _ in 0..3 {
            requests::create(&db, NewRequest::default(), &Actor::System)
                .await
                .unwrap();
        }
        // 32 signed-in staff open the queue at the same moment, right after
        // a change: each sees the three requests...
        let filter = QueueFilter::default();
        let views =
            futures_util::future::join_all((0..32).map(|_| cache.view(db.conn(), &filter))).await;
        for v in views {
            let v = v.unwrap();
            assert_eq!(v.page.rows.len(), 3);
            assert_eq!(
                v.counts
                    .iter()
                    .find(|(s, _)| *s == RequestState::PendingReview)
                    .unwrap()
                    .1,
                3
            );
        }
        // ...from one reading of the counts, the page and the open mail.
        let reads = cache.reads();
        assert_eq!(
            (reads.counts, reads.pages, reads.mail),
            (1, 1, 1),
            "{reads:?}"
        );
        // A change made after those views still shows on the next one.
        requests::create(&db, NewRequest::default(), &Actor::System)
            .await
            .unwrap();
        let v = cache
            .view(db.conn(), &QueueFilter::default())
            .await
            .unwrap();
        assert_eq!(v.page.rows.len(), 4);
    }
);

/// The views that arrive while one check of what changed runs share the
/// next check, which started after them: held back here by a transaction
/// locking the requests table (PostgreSQL: SQLite readers never wait).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn views_arriving_during_one_check_share_the_next() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    use std::{sync::Arc, time::Duration};
    let Some(t) = crate::harness::TestDb::postgres().await else {
        return;
    };
    let db = t.db.clone();
    requests::create(&db, NewRequest::default(), &Actor::System)
        .await
        .unwrap();
    let cache = Arc::new(QueueCache::default());
    let open = |cache: Arc<QueueCache>, db: Db| {
        tokio::spawn(async move {
            cache
                .view(db.conn(), &QueueFilter::default())
                .await
                .map(|v| v.page.rows.len())
        })
    };
    let lock = db.conn().begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE change_requests IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let mut views = vec![open(cache.clone(), db.clone())];
    tokio::time::sleep(Duration::from_millis(300)).await;
    views.extend((0..31).map(|_| open(cache.clone(), db.clone())));
    tokio::time::sleep(Duration::from_millis(300)).await;
    lock.commit().await.unwrap();
    for v in views {
        assert_eq!(v.await.unwrap().unwrap(), 1);
    }
    let reads = cache.reads();
    assert_eq!(reads.keys, 2, "{reads:?}");
    assert_eq!((reads.counts, reads.pages, reads.mail), (1, 1, 1));
}

on_both_databases!(
    views_of_the_same_filter_share_one_page_instead_of_copies,
    |db: Db| async move {
        let cache = QueueCache::default();
        requests::create(&db, NewRequest::default(), &Actor::System)
            .await
            .unwrap();
        let filter = QueueFilter::default();
        let first = cache.view(db.conn(), &filter).await.unwrap();
        let second = cache.view(db.conn(), &filter).await.unwrap();
        assert!(
            std::sync::Arc::ptr_eq(&first.page, &second.page),
            "the cached page is shared, not copied for each view"
        );
    }
);

/// Two staff members of different roles open the queue on the same cached
/// reading: the rows are the same, everything about the viewer is theirs.
#[tokio::test]
async fn staff_sharing_a_cached_queue_each_see_their_own_name_token_and_menu() {
    let t = crate::harness::TestDb::sqlite().await;
    let o = crate::gestion::office(t.db.clone(), bareme_mel::config::Settings::default()).await;
    let taken = o.request().await;
    let other = o.request().await;
    requests::create(
        &o.db,
        NewRequest {
            requester_email: Some("<b>gras</b>@exemple.org".into()),
            ..Default::default()
        },
        &Actor::System,
    )
    .await
    .unwrap();
    let agent = o.client("agent").await;
    let admin = o.client("admin").await;
    assert_eq!(agent.act(&taken, "prendre-en-charge", &[]).await.0, 303);

    let (status, agents) = agent.page("/gestion?q=&page=0").await;
    assert_eq!(status, 200);
    let reads = o.app.state.queue_cache.reads();
    let (status, admins) = admin.page("/gestion?q=&page=0").await;
    assert_eq!(status, 200);
    assert_eq!(
        o.app.state.queue_cache.reads().pages,
        reads.pages,
        "the second view is served from the first one's reading"
    );

    // The rows, shared: same requests, same assignee, still escaped.
    for html in [&agents, &admins] {
        assert!(html.contains(&format!(">{taken}<")) && html.contains(&format!(">{other}<")));
        assert!(
            html.contains("<td>agent (test)</td>"),
            "assignee shown to all"
        );
        assert!(
            html.contains("&#60;b&#62;gras&#60;"),
            "escaped in the shared rows"
        );
        assert!(!html.contains("<b>gras</b>"));
    }
    // The viewer's own name, role, token and menu.
    assert!(agents.contains("agent (test) (Agent)") && !agents.contains("admin (test)"));
    assert!(admins.contains("admin (test) (Administrateur)") && !admins.contains("(Agent)"));
    assert!(!agents.contains("/gestion/agents") && admins.contains("/gestion/agents"));
    let token = |html: &str| crate::gestion::input_value(html, "csrf").unwrap();
    assert_ne!(token(&agents), token(&admins));
    assert_eq!(
        token(&agents),
        token(&agent.page("/gestion/compte").await.1)
    );
    assert_eq!(
        token(&admins),
        token(&admin.page("/gestion/compte").await.1)
    );

    // Per-view filters: « Mes demandes » is each one's own; the search box
    // and the page number echo each view's own query.
    let (_, mine) = agent.page("/gestion?responsable=moi").await;
    assert!(mine.contains(&format!(">{taken}<")) && !mine.contains(&format!(">{other}<")));
    let (_, theirs) = admin.page("/gestion?responsable=moi").await;
    assert!(!theirs.contains(&format!(">{taken}<")));
    assert!(theirs.contains("Aucune demande ne correspond."));
    let (_, searched) = agent.page("/gestion?q=%22gras%22").await;
    assert!(searched.contains("name=\"q\" value=\"&#34;gras&#34;\""));
    let (_, plain) = admin.page("/gestion").await;
    assert!(plain.contains("id=\"q\" name=\"q\" value=\"\""));
    let (_, second_page) = admin.page("/gestion?page=1").await;
    assert!(second_page.contains("(page 2)") && second_page.contains("Page précédente"));
    assert!(!plain.contains("Page précédente"));
}
