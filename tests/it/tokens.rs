//! Reset and objection tokens (SPEC §9): hashed, single use, expiring, voided.

use crate::on_both_databases;
use bareme_mel::{
    domain::{MailAddress, SubscriberNumber},
    security,
    store::{
        Db,
        entities::token,
        subscribers::{self, SubscriberRow},
        tokens::{self, TokenKind, TokenOwner, TokenState},
    },
};
use chrono::Duration;
use sea_orm::{EntityTrait, TransactionTrait};

async fn subscriber(db: &Db, number: &str) -> i64 {
    let mut existing = subscribers::load_existing(db.conn()).await.unwrap();
    let row = SubscriberRow {
        numero_abonne: SubscriberNumber::parse(number).unwrap(),
        organisme: "Lycée Joffre".into(),
        gestionnaire: None,
        adresse_mel: Some(MailAddress::parse("gestion@lycee-joffre.fr").unwrap()),
    };
    subscribers::upsert_batch(db, &mut existing, &[row], "test")
        .await
        .unwrap();
    subscribers::find_by_number(db.conn(), &SubscriberNumber::parse(number).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

fn owner(subscriber_id: i64) -> TokenOwner {
    TokenOwner {
        subscriber_id: Some(subscriber_id),
        ..Default::default()
    }
}

const RESET: [TokenKind; 1] = [TokenKind::SelfServiceReset];

on_both_databases!(
    a_token_is_stored_hashed_and_works_once,
    |db: Db| async move {
        let s = subscriber(&db, "100").await;
        let t = tokens::issue(
            db.conn(),
            TokenKind::SelfServiceReset,
            owner(s),
            Duration::hours(1),
        )
        .await
        .unwrap();
        let stored = token::Entity::find().all(db.conn()).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].hash, security::token_hash(&t.secret));
        assert_ne!(stored[0].hash, t.secret, "never the secret itself");
        // Looking does not use it (link scanners).
        assert!(matches!(
            tokens::peek(db.conn(), &RESET, &t.secret).await.unwrap(),
            TokenState::Valid(_)
        ));
        assert!(matches!(
            tokens::peek(db.conn(), &RESET, &t.secret).await.unwrap(),
            TokenState::Valid(_)
        ));
        assert!(matches!(
            tokens::consume(db.conn(), &RESET, &t.secret).await.unwrap(),
            TokenState::Valid(_)
        ));
        assert_eq!(
            tokens::consume(db.conn(), &RESET, &t.secret).await.unwrap(),
            TokenState::Used
        );
        // A token of another kind does not open this door.
        assert_eq!(
            tokens::peek(db.conn(), &[TokenKind::Objection], &t.secret)
                .await
                .unwrap(),
            TokenState::Unknown
        );
        assert_eq!(
            tokens::peek(db.conn(), &RESET, "0123456789abcdef0123456789abcdef")
                .await
                .unwrap(),
            TokenState::Unknown
        );
        assert_eq!(
            tokens::peek(db.conn(), &RESET, "' OR 1=1 --")
                .await
                .unwrap(),
            TokenState::Unknown
        );
    }
);

on_both_databases!(an_expired_token_is_refused, |db: Db| async move {
    let s = subscriber(&db, "101").await;
    let t = tokens::issue(
        db.conn(),
        TokenKind::SelfServiceReset,
        owner(s),
        Duration::seconds(-1),
    )
    .await
    .unwrap();
    assert_eq!(
        tokens::consume(db.conn(), &RESET, &t.secret).await.unwrap(),
        TokenState::Expired
    );
});

on_both_databases!(
    a_new_token_voids_the_earlier_ones_of_the_subscriber,
    |db: Db| async move {
        let s = subscriber(&db, "102").await;
        let first = tokens::issue(
            db.conn(),
            TokenKind::SelfServiceReset,
            owner(s),
            Duration::hours(1),
        )
        .await
        .unwrap();
        let second = tokens::issue(
            db.conn(),
            TokenKind::ApprovalReset,
            owner(s),
            Duration::hours(24),
        )
        .await
        .unwrap();
        assert_eq!(
            tokens::consume(db.conn(), &TokenKind::PASSWORD_SETTING, &first.secret)
                .await
                .unwrap(),
            TokenState::Voided
        );
        assert!(matches!(
            tokens::consume(db.conn(), &TokenKind::PASSWORD_SETTING, &second.secret)
                .await
                .unwrap(),
            TokenState::Valid(_)
        ));
    }
);

on_both_databases!(
    an_address_or_password_change_voids_live_tokens,
    |db: Db| async move {
        let s = subscriber(&db, "103").await;
        let t = tokens::issue(
            db.conn(),
            TokenKind::SelfServiceReset,
            owner(s),
            Duration::hours(1),
        )
        .await
        .unwrap();
        let n = tokens::void_for_subscriber(
            db.conn(),
            s,
            &TokenKind::PASSWORD_SETTING,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            tokens::peek(db.conn(), &RESET, &t.secret).await.unwrap(),
            TokenState::Voided
        );
    }
);

on_both_databases!(
    two_concurrent_uses_of_one_token_let_only_one_through,
    |db: Db| async move {
        let s = subscriber(&db, "104").await;
        let t = tokens::issue(
            db.conn(),
            TokenKind::SelfServiceReset,
            owner(s),
            Duration::hours(1),
        )
        .await
        .unwrap();
        let attempt = |db: Db, secret: String| async move {
            let txn = db.begin().await.unwrap();
            let state = tokens::consume(&txn, &RESET, &secret).await.unwrap();
            txn.commit().await.unwrap();
            matches!(state, TokenState::Valid(_))
        };
        let (a, b) = tokio::join!(
            attempt(db.clone(), t.secret.clone()),
            attempt(db.clone(), t.secret.clone())
        );
        assert!(a ^ b, "exactly one use: {a} {b}");
        // A use inside a rolled-back transaction leaves the token usable.
        let u = tokens::issue(
            db.conn(),
            TokenKind::SelfServiceReset,
            owner(s),
            Duration::hours(1),
        )
        .await
        .unwrap();
        let txn = db.conn().begin().await.unwrap();
        assert!(matches!(
            tokens::consume(&txn, &RESET, &u.secret).await.unwrap(),
            TokenState::Valid(_)
        ));
        txn.rollback().await.unwrap();
        assert!(matches!(
            tokens::peek(db.conn(), &RESET, &u.secret).await.unwrap(),
            TokenState::Valid(_)
        ));
    }
);
