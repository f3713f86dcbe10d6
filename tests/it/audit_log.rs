//! The audit log is hash-chained: any edit or removal is detected.

use crate::on_both_databases;
use bareme_mel::{
    domain::{Action, Role},
    store::{
        Db, audit,
        requests::{self, Actor, NewRequest, TransitionInput},
    },
};
use sea_orm::ConnectionTrait;

async fn some_history(db: &Db) {
    for n in 0..3 {
        let r = requests::create(
            db,
            NewRequest {
                claimed_number: Some(format!("{n}")),
                ..Default::default()
            },
            &Actor::System,
        )
        .await
        .unwrap();
        let input = TransitionInput {
            rejection_code: Some("doublon".into()),
            ..TransitionInput::new(Action::Reject)
        };
        let staff = Actor::Staff {
            id: 1,
            username: "alice".into(),
            role: Role::Agent,
        };
        requests::transition(db, &r.reference, None, &input, &staff, true)
            .await
            .unwrap();
    }
}

on_both_databases!(an_untouched_chain_verifies, |db: Db| async move {
    some_history(&db).await;
    let v = audit::verify(db.conn()).await.unwrap();
    assert_eq!(v.events, 6);
    assert_eq!(v.problem, None);
});

on_both_databases!(an_edited_event_is_detected, |db: Db| async move {
    some_history(&db).await;
    audit::tamper_for_tests(db.conn(), 3, "réécrit après coup")
        .await
        .unwrap();
    let v = audit::verify(db.conn()).await.unwrap();
    assert!(v.problem.as_deref().unwrap_or("").contains("n°3"), "{v:?}");
});

on_both_databases!(
    removing_the_newest_events_is_detected,
    |db: Db| async move {
        some_history(&db).await;
        db.conn()
            .execute_unprepared("DELETE FROM audit_events WHERE seq >= 5")
            .await
            .unwrap();
        let v = audit::verify(db.conn()).await.unwrap();
        assert!(v.problem.is_some(), "truncation went unnoticed: {v:?}");
    }
);

on_both_databases!(
    removing_an_event_in_the_middle_is_detected,
    |db: Db| async move {
        some_history(&db).await;
        db.conn()
            .execute_unprepared("DELETE FROM audit_events WHERE seq = 2")
            .await
            .unwrap();
        let v = audit::verify(db.conn()).await.unwrap();
        assert!(v.problem.as_deref().unwrap_or("").contains("n°2"), "{v:?}");
    }
);

on_both_databases!(
    an_edit_rehashed_without_the_key_is_detected,
    |db: Db| async move {
        some_history(&db).await;
        audit::tamper_for_tests(db.conn(), 3, "réécrit après coup")
            .await
            .unwrap();
        audit::rehash_without_key_for_tests(db.conn())
            .await
            .unwrap();
        let v = audit::verify(db.conn()).await.unwrap();
        assert!(
            v.problem.as_deref().unwrap_or("").contains("n°1"),
            "a chain recomputed without the application key verifies: {v:?}"
        );
    }
);
