//! Change requests in storage: references, transitions, concurrency, audit.

use crate::on_both_databases;
use bareme_mel::{
    domain::{Action, Role},
    store::{
        Db, StoreError, audit,
        requests::{self, Actor, NewRequest, TransitionInput},
    },
};
use std::collections::HashSet;

fn agent(id: i64, name: &str) -> Actor {
    Actor::Staff {
        id,
        username: name.into(),
        role: Role::Agent,
    }
}

fn approver(id: i64, name: &str) -> Actor {
    Actor::Staff {
        id,
        username: name.into(),
        role: Role::Approbateur,
    }
}

fn new_request(number: &str) -> NewRequest {
    NewRequest {
        claimed_number: Some(number.into()),
        requester_email: Some("nouvelle.gestionnaire@lycee-joffre.fr".into()),
        new_email: Some("nouvelle.gestionnaire@lycee-joffre.fr".into()),
        ..Default::default()
    }
}

fn verify_input() -> TransitionInput {
    TransitionInput {
        verification_method: Some("appel au standard de l'établissement".into()),
        reason: Some("confirmé par le secrétariat de direction".into()),
        ..TransitionInput::new(Action::Verify)
    }
}

on_both_databases!(
    references_follow_the_year_and_count_up,
    |db: Db| async move {
        let a = requests::create(&db, new_request("1"), &Actor::System)
            .await
            .unwrap();
        let b = requests::create(&db, new_request("2"), &Actor::System)
            .await
            .unwrap();
        let year = chrono::Utc::now().format("%Y").to_string();
        assert_eq!(a.reference, format!("BM-{year}-00001"));
        assert_eq!(b.reference, format!("BM-{year}-00002"));
        assert_eq!(a.state, "pending_review");
    }
);

on_both_databases!(
    references_stay_unique_under_sixteen_concurrent_creators,
    |db: Db| async move {
        let mut tasks = Vec::new();
        for creator in 0..16 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let mut refs = Vec::new();
                for i in 0..10 {
                    let r = requests::create(
                        &db,
                        new_request(&format!("{creator}{i}")),
                        &Actor::System,
                    )
                    .await
                    .unwrap();
                    refs.push(r.reference);
                }
                refs
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), 160, "duplicate references: {all:?}");
        let year = chrono::Utc::now().format("%Y").to_string();
        for n in 1..=160 {
            assert!(unique.contains(&format!("BM-{year}-{n:05}")), "hole at {n}");
        }
    }
);

on_both_databases!(
    of_two_concurrent_transitions_exactly_one_succeeds,
    |db: Db| async move {
        for round in 0..5 {
            let r = requests::create(&db, new_request(&format!("9{round}")), &Actor::System)
                .await
                .unwrap();
            let (a, b) = tokio::join!(
                {
                    let db = db.clone();
                    let reference = r.reference.clone();
                    async move {
                        requests::transition(
                            &db,
                            &reference,
                            Some(0),
                            &verify_input(),
                            &agent(1, "alice"),
                            true,
                        )
                        .await
                    }
                },
                {
                    let db = db.clone();
                    let reference = r.reference.clone();
                    let input = TransitionInput {
                        message: Some("Merci de joindre le formulaire signé.".into()),
                        ..TransitionInput::new(Action::RequestInformation)
                    };
                    async move {
                        requests::transition(
                            &db,
                            &reference,
                            Some(0),
                            &input,
                            &agent(2, "bruno"),
                            true,
                        )
                        .await
                    }
                }
            );
            let successes = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
            assert_eq!(successes, 1, "round {round}: {a:?} / {b:?}");
            let loser = if a.is_ok() { b } else { a };
            assert!(
                matches!(
                    loser,
                    Err(StoreError::Conflict) | Err(StoreError::Transition(_))
                ),
                "{loser:?}"
            );
            let timeline = audit::for_request(db.conn(), r.id).await.unwrap();
            assert_eq!(
                timeline.len(),
                2,
                "creation + exactly one transition audited"
            );
        }
    }
);

on_both_databases!(
    every_transition_is_audited_with_who_from_to_and_why,
    |db: Db| async move {
        let r = requests::create(&db, new_request("42"), &Actor::System)
            .await
            .unwrap();
        requests::transition(
            &db,
            &r.reference,
            None,
            &verify_input(),
            &agent(1, "alice"),
            true,
        )
        .await
        .unwrap();
        let approved = requests::transition(
            &db,
            &r.reference,
            None,
            &TransitionInput {
                reason: Some("pièces conformes".into()),
                ..TransitionInput::new(Action::Approve)
            },
            &approver(2, "claire"),
            true,
        )
        .await
        .unwrap();
        assert_eq!(approved.state, "approved");
        assert_eq!(approved.verified_by, Some(1));
        assert_eq!(approved.approved_by, Some(2));
        let timeline = audit::for_request(db.conn(), r.id).await.unwrap();
        let steps: Vec<_> = timeline
            .iter()
            .map(|e| {
                (
                    e.actor.as_str(),
                    e.action.as_str(),
                    e.from_state.as_deref(),
                    e.to_state.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            vec![
                ("system", "request_created", None, Some("pending_review")),
                (
                    "staff:alice",
                    "verify",
                    Some("pending_review"),
                    Some("verified")
                ),
                (
                    "staff:claire",
                    "approve",
                    Some("verified"),
                    Some("approved")
                ),
            ]
        );
        assert_eq!(
            timeline[1].reason.as_deref(),
            Some("confirmé par le secrétariat de direction")
        );
        assert_eq!(timeline[2].reason.as_deref(), Some("pièces conformes"));
    }
);

on_both_databases!(
    the_verifier_cannot_approve_and_nothing_is_written,
    |db: Db| async move {
        let r = requests::create(&db, new_request("43"), &Actor::System)
            .await
            .unwrap();
        requests::transition(
            &db,
            &r.reference,
            None,
            &verify_input(),
            &approver(5, "denise"),
            true,
        )
        .await
        .unwrap();
        let refused = requests::transition(
            &db,
            &r.reference,
            None,
            &TransitionInput::new(Action::Approve),
            &approver(5, "denise"),
            true,
        )
        .await;
        assert!(
            matches!(refused, Err(StoreError::Transition(_))),
            "{refused:?}"
        );
        let now = requests::find(db.conn(), &r.reference).await.unwrap();
        assert_eq!(now.state, "verified");
        assert_eq!(audit::for_request(db.conn(), r.id).await.unwrap().len(), 2);
        // With four eyes off, the same person may approve.
        let ok = requests::transition(
            &db,
            &r.reference,
            None,
            &TransitionInput::new(Action::Approve),
            &approver(5, "denise"),
            false,
        )
        .await
        .unwrap();
        assert_eq!(ok.state, "approved");
    }
);

on_both_databases!(
    verification_requires_a_method_and_a_comment,
    |db: Db| async move {
        let r = requests::create(&db, new_request("44"), &Actor::System)
            .await
            .unwrap();
        let bare = requests::transition(
            &db,
            &r.reference,
            None,
            &TransitionInput::new(Action::Verify),
            &agent(1, "alice"),
            true,
        )
        .await;
        assert!(matches!(bare, Err(StoreError::Invalid(_))), "{bare:?}");
        assert_eq!(
            requests::find(db.conn(), &r.reference).await.unwrap().state,
            "pending_review"
        );
    }
);

on_both_databases!(
    a_stale_page_cannot_overwrite_a_newer_decision,
    |db: Db| async move {
        let r = requests::create(&db, new_request("45"), &Actor::System)
            .await
            .unwrap();
        requests::transition(
            &db,
            &r.reference,
            Some(0),
            &verify_input(),
            &agent(1, "alice"),
            true,
        )
        .await
        .unwrap();
        let stale = requests::transition(
            &db,
            &r.reference,
            Some(0),
            &TransitionInput {
                rejection_code: Some("piece_manquante".into()),
                ..TransitionInput::new(Action::Reject)
            },
            &agent(2, "bruno"),
            true,
        )
        .await;
        assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    }
);

on_both_databases!(
    listing_filters_by_state_and_searches_by_number_or_address,
    |db: Db| async move {
        let a = requests::create(&db, new_request("11111"), &Actor::System)
            .await
            .unwrap();
        let mut other = new_request("22222");
        other.new_email = Some("Secretariat@College-Camus.fr".into());
        requests::create(&db, other, &Actor::System).await.unwrap();
        requests::transition(
            &db,
            &a.reference,
            None,
            &verify_input(),
            &agent(1, "alice"),
            true,
        )
        .await
        .unwrap();
        let filter = |state, search: Option<&str>| requests::ListFilter {
            state,
            search: search.map(String::from),
            ..Default::default()
        };
        let verified = requests::list(
            db.conn(),
            &filter(Some(bareme_mel::domain::RequestState::Verified), None),
        )
        .await
        .unwrap();
        assert_eq!(verified.len(), 1);
        assert_eq!(verified[0].reference, a.reference);
        let by_mail = requests::list(db.conn(), &filter(None, Some("college-camus")))
            .await
            .unwrap();
        assert_eq!(by_mail.len(), 1);
        assert_eq!(by_mail[0].claimed_number.as_deref(), Some("22222"));
        let by_number = requests::list(db.conn(), &filter(None, Some("11111")))
            .await
            .unwrap();
        assert_eq!(by_number.len(), 1);
        let counts = requests::counts(db.conn()).await.unwrap();
        assert!(counts.contains(&(bareme_mel::domain::RequestState::PendingReview, 1)));
        assert!(counts.contains(&(bareme_mel::domain::RequestState::Verified, 1)));
    }
);
