//! Helpers of the intake tests: settings, a seeded subscriber, fixtures.

use bareme_mel::{
    config::Settings,
    domain::{Action, MailAddress, Role},
    intake::{Incoming, Intake, Origin, Outcome},
    store::{
        Db,
        entities::{change_request, inbound_message, outbox, subscriber},
        requests::{self, Actor, TransitionInput},
    },
};
use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use std::{path::PathBuf, sync::Arc};

/// The subscriber the fixtures write about.
pub const NUMBER: &str = "12345";
pub const REGISTERED: &str = "ancien.gestionnaire@lycee-jean-moulin.fr";
pub const SENDER: &str = "elodie.durand@lycee-jean-moulin.fr";

pub fn settings() -> Settings {
    let mut s = Settings::default();
    s.intake.trusted_authserv_id = "mx.ac-montpellier.fr".into();
    s
}

pub fn intake(db: &Db) -> Intake {
    Intake::new(db.clone(), Arc::new(settings()))
}

/// Inserts subscriber 12345 (Lycée Jean Moulin) with its registered address and domain.
pub async fn seed_subscriber(db: &Db) -> i64 {
    seed(db, NUMBER, "Lycée Jean Moulin", Some(REGISTERED)).await
}

pub async fn seed(db: &Db, number: &str, organisation: &str, email: Option<&str>) -> i64 {
    let now = Utc::now();
    subscriber::Entity::insert(subscriber::ActiveModel {
        number: Set(number.into()),
        organisation: Set(organisation.into()),
        manager_name: Set(None),
        email: Set(email.map(str::to_string)),
        email_key: Set(email.map(|e| MailAddress::parse(e).unwrap().mailbox_key())),
        known_domain: Set(Some("lycee-jean-moulin.fr".into())),
        password_hash: Set(None),
        disabled: Set(false),
        password_changed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db.conn())
    .await
    .expect("seed subscriber")
    .last_insert_id
}

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Runs raw bytes through the pipeline (source `file`, no position).
pub async fn ingest(db: &Db, raw: &[u8]) -> Outcome {
    intake(db)
        .ingest(Incoming::whole(raw.to_vec(), Origin::new("file", None)))
        .await
        .expect("ingest")
}

/// A plain mail from `from` with `subject` and `body`, optional extra headers.
pub fn mail(from: &str, subject: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: bareme@ac-montpellier.fr\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}",
        uuid::Uuid::new_v4().simple()
    )
    .into_bytes()
}

/// The body of a complete request written in the mail itself.
pub fn form_body(new_address: &str) -> String {
    format!(
        "N° abonné : {NUMBER}\r\nOrganisme : Lycée Jean Moulin\r\nAncienne adresse mél : {REGISTERED}\r\nNouvelle adresse mél : {new_address}\r\nConfirmation de la nouvelle adresse mél : {new_address}\r\n"
    )
}

/// The record an intake outcome names, as stored.
pub async fn record_of(db: &Db, outcome: &Outcome) -> inbound_message::Model {
    let id = outcome.inbound_id.expect("the outcome names a record");
    inbound_message::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .unwrap()
        .expect("the record is stored")
}

pub async fn outbox_rows(db: &Db, request_id: i64) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::RequestId.eq(request_id))
        .all(db.conn())
        .await
        .unwrap()
}

/// A request made from `SENDER`'s form mail (the subscriber seeded), then
/// asked for more by an agent: it waits for the requester's answer.
pub async fn awaiting_requester(db: &Db) -> change_request::Model {
    seed_subscriber(db).await;
    let created = ingest(db, &mail(SENDER, "Demande", "", &form_body(SENDER))).await;
    let request = requests::find(db.conn(), &created.reference.unwrap())
        .await
        .unwrap();
    let txn = db.begin().await.unwrap();
    let staff = Actor::Staff {
        id: 0,
        username: "agent".into(),
        role: Role::Agent,
    };
    let mut input = TransitionInput::new(Action::RequestInformation);
    input.message = Some("Merci de joindre le formulaire signé.".into());
    let awaiting = requests::transition_in(&txn, &request, &input, &staff, &Settings::default())
        .await
        .expect("request information");
    assert_eq!(awaiting.state, "awaiting_requester");
    txn.commit().await.unwrap();
    request
}
