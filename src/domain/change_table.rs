//! The change table of SPEC §2, written out again on purpose, and every
//! (change, state, actor) triple checked against it.

use super::*;
use crate::domain::{ClaimedField, Flag, MailAddress, RequestState as S, SubscriberNumber};

/// The actors of the table: A agent, P approbateur, D admin, S the service, R the requester.
const ACTORS: [(char, Who); 5] = [
    (
        'A',
        Who::Staff {
            id: 7,
            role: Role::Agent,
        },
    ),
    (
        'P',
        Who::Staff {
            id: 7,
            role: Role::Approbateur,
        },
    ),
    (
        'D',
        Who::Staff {
            id: 7,
            role: Role::Admin,
        },
    ),
    ('S', Who::System),
    ('R', Who::Requester),
];

/// Columns: pending_review, awaiting_requester, verified, approved, closed
/// (completed, rejected, cancelled). `-` refused, `=` stays, otherwise the
/// state reached: `P` pending_review, `W` awaiting, `V` verified, `A`
/// approved, `C` completed, `R` rejected, `X` cancelled.
const TABLE: [(&str, &str, [char; 5]); 19] = [
    ("assign", "APD", ['=', '=', '=', '-', '-']),
    ("ask", "APD", ['W', '-', '-', '-', '-']),
    ("reply", "R", ['=', 'P', '=', '=', '=']),
    ("return", "APD", ['-', 'P', 'P', '-', '-']),
    ("verify", "APD", ['V', '-', '-', '-', '-']),
    ("correct", "APD", ['=', '=', 'P', '-', '-']),
    ("subscriber", "APD", ['=', '=', 'P', '-', '-']),
    ("address", "APD", ['=', '=', 'P', '-', '-']),
    ("confirm_scan", "APD", ['=', '=', 'P', '-', '-']),
    ("approve", "PD", ['-', '-', 'A', '-', '-']),
    ("resend", "PD", ['-', '-', '-', '=', '-']),
    ("complete", "S", ['-', '-', '-', 'C', '-']),
    ("reject", "APD", ['R', 'R', 'R', '-', '-']),
    ("cancel", "APD", ['X', 'X', 'X', '-', '-']),
    ("contest", "R", ['=', '=', '=', '=', '-']),
    ("lift", "PD", ['=', '=', '=', '-', '-']),
    ("flag", "SAPD", ['=', '=', '=', '=', '=']),
    ("unflag", "SAPD", ['=', '=', '=', '=', '=']),
    ("note", "APD", ['=', '=', '=', '=', '=']),
];

fn change(name: &str) -> Change {
    let flag = Flag::new("rebond_signale").unwrap();
    match name {
        "assign" => Change::Assign,
        "ask" => Change::Transition(Action::RequestInformation),
        "reply" => Change::Transition(Action::RequesterReplied),
        "return" => Change::Transition(Action::ReturnToReview),
        "verify" => Change::Transition(Action::Verify),
        "correct" => Change::Correct {
            field: ClaimedField::Phone,
            value: Some("04 67 00 00 00".into()),
        },
        "subscriber" => Change::SetSubscriber {
            number: Some(SubscriberNumber::parse("10002").unwrap()),
            subscriber_id: Some(2),
        },
        "address" => Change::SetNewAddress(Some(MailAddress::parse("b@exemple.fr").unwrap())),
        "confirm_scan" => Change::ConfirmScan {
            new_address: Some(MailAddress::parse("b@exemple.fr").unwrap()),
        },
        "approve" => Change::Transition(Action::Approve),
        "resend" => Change::ResendLink,
        "complete" => Change::Transition(Action::Complete),
        "reject" => Change::Transition(Action::Reject),
        "cancel" => Change::Transition(Action::Cancel),
        "contest" => Change::Contest,
        "lift" => Change::LiftContest,
        "flag" => Change::AddFlag(flag),
        "unflag" => Change::RemoveFlag(flag),
        "note" => Change::AddNote,
        other => panic!("no change named {other}"),
    }
}

fn column(state: S) -> usize {
    match state {
        S::PendingReview => 0,
        S::AwaitingRequester => 1,
        S::Verified => 2,
        S::Approved => 3,
        S::Completed | S::Rejected | S::Cancelled => 4,
    }
}

fn reached(code: char, from: S) -> Option<S> {
    Some(match code {
        '-' => return None,
        '=' => from,
        'P' => S::PendingReview,
        'W' => S::AwaitingRequester,
        'V' => S::Verified,
        'A' => S::Approved,
        'C' => S::Completed,
        'R' => S::Rejected,
        'X' => S::Cancelled,
        other => panic!("unknown code {other}"),
    })
}

pub(super) fn facts(state: S) -> RequestFacts {
    RequestFacts {
        state,
        subscriber_id: Some(1),
        new_address: Some(MailAddress::parse("a@exemple.fr").unwrap()),
        verified_by: Some(99),
        contested: false,
        flags: Vec::new(),
        new_address_taken: false,
        alerted_at: None,
    }
}

fn rules() -> Rules {
    Rules {
        four_eyes: true,
        objection_window: Duration::zero(),
    }
}

#[test]
fn every_change_in_every_state_by_every_actor_follows_the_table() {
    let now = Utc::now();
    let mut checked = 0;
    for (name, who_may, columns) in TABLE {
        let change = change(name);
        for state in S::ALL {
            for (letter, who) in ACTORS {
                let r = RequestFacts {
                    contested: name == "lift",
                    ..facts(state)
                };
                let got = decide(&r, &change, who, &rules(), now);
                let expected = who_may
                    .contains(letter)
                    .then(|| reached(columns[column(state)], state))
                    .flatten();
                match (expected, &got) {
                    (Some(to), Ok(d)) => assert_eq!(d.to, to, "{name} {state} by {letter}"),
                    (None, Err(e)) => {
                        let text = e.to_string();
                        assert!(
                            !text.contains('_') && text.ends_with('.'),
                            "a French sentence for staff: {text}"
                        );
                    }
                    _ => {
                        panic!("{name} in {state} by {letter}: expected {expected:?}, got {got:?}")
                    }
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, TABLE.len() * 7 * 5);
}

#[test]
fn a_correction_of_a_verified_request_clears_the_verification_and_recomputes_checks() {
    let staff = Who::Staff {
        id: 7,
        role: Role::Agent,
    };
    for name in ["correct", "subscriber", "address"] {
        let d = decide(
            &facts(S::Verified),
            &change(name),
            staff,
            &rules(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(d.to, S::PendingReview);
        assert!(d.clear_verification && d.recompute_checks, "{name}");
        let d = decide(
            &facts(S::PendingReview),
            &change(name),
            staff,
            &rules(),
            Utc::now(),
        )
        .unwrap();
        assert!(!d.clear_verification && d.recompute_checks, "{name}");
    }
}

#[test]
fn setting_or_changing_the_subscriber_alerts_its_registered_address() {
    let staff = Who::Staff {
        id: 7,
        role: Role::Agent,
    };
    let set = |from: Option<i64>, to: Option<i64>| {
        let r = RequestFacts {
            subscriber_id: from,
            ..facts(S::PendingReview)
        };
        let change = Change::SetSubscriber {
            number: None,
            subscriber_id: to,
        };
        decide(&r, &change, staff, &rules(), Utc::now())
            .unwrap()
            .mails
            .contains(&FollowUp::AlertRegisteredAddress)
    };
    assert!(set(None, Some(2)), "set");
    assert!(set(Some(1), Some(2)), "changed");
    assert!(!set(Some(2), Some(2)), "unchanged");
    assert!(!set(Some(2), None), "removed");
}

#[test]
fn approval_needs_four_eyes_no_objection_an_unused_address_and_the_window_elapsed() {
    let now = Utc::now();
    let appro = Who::Staff {
        id: 7,
        role: Role::Approbateur,
    };
    let approve = Change::Transition(Action::Approve);
    let try_with = |r: RequestFacts, rules: Rules| decide(&r, &approve, appro, &rules, now);
    let verified = facts(S::Verified);
    assert!(try_with(verified.clone(), rules()).is_ok());
    let mine = RequestFacts {
        verified_by: Some(7),
        ..verified.clone()
    };
    assert_eq!(try_with(mine.clone(), rules()), Err(ChangeError::FourEyes));
    let off = Rules {
        four_eyes: false,
        ..rules()
    };
    assert!(try_with(mine, off).is_ok());
    let contested = RequestFacts {
        contested: true,
        ..verified.clone()
    };
    assert_eq!(try_with(contested, rules()), Err(ChangeError::Contested));
    let taken = RequestFacts {
        new_address_taken: true,
        ..verified.clone()
    };
    assert_eq!(try_with(taken, rules()), Err(ChangeError::AddressTaken));
    let window = Rules {
        four_eyes: true,
        objection_window: Duration::hours(48),
    };
    let alerted = RequestFacts {
        alerted_at: Some(now - Duration::hours(43) - Duration::minutes(30)),
        ..verified.clone()
    };
    let refused = try_with(alerted, window).unwrap_err();
    assert_eq!(refused, ChangeError::ObjectionWindow { hours: 5 });
    assert!(
        refused
            .to_string()
            .contains("Approbation possible dans 5 h")
    );
    let elapsed = RequestFacts {
        alerted_at: Some(now - Duration::hours(48)),
        ..verified
    };
    assert!(try_with(elapsed, window).is_ok());
}

#[test]
fn after_approval_nothing_that_was_approved_can_change() {
    let admin = Who::Staff {
        id: 7,
        role: Role::Admin,
    };
    for name in ["correct", "subscriber", "address"] {
        let refused = decide(
            &facts(S::Approved),
            &change(name),
            admin,
            &rules(),
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(refused, ChangeError::Frozen(S::Approved));
        assert!(refused.to_string().contains("« Approuvée » ne peut plus"));
    }
}
