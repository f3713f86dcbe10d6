//! Accounts, sessions and secrets (issue 13, SPEC §9), by theme:
//! [`limits`] (rate limits keyed on the parsed account and the real client,
//! that never lock the owner out; trusted proxies; exact origins; `/metrics`
//! only for allowed clients), [`passwords`] (changes at « Mon compte » and
//! the sessions they end), [`secrets`] (the application key, tokens and
//! second-factor secrets never readable in the database).

mod limits;
mod passwords;
mod secrets;

use crate::harness::TestApp;
use crate::public::{add_subscriber, page, post};
use bareme_mel::store::Db;

/// The password of every subscriber these tests add.
pub(crate) const PASSWORD: &str = "le bon mot de passe";

/// Adds subscriber `number` with an account and [`PASSWORD`].
pub(crate) async fn subscriber(db: &Db, number: &str) {
    add_subscriber(db, number, "gestion@college.fr", Some(PASSWORD), false).await;
}

pub(crate) async fn sign_in(
    c: &reqwest::Client,
    app: &TestApp,
    numero: &str,
    password: &str,
) -> u16 {
    let (_, _, csrf) = page(c, app, "/").await;
    post(
        c,
        app,
        "/connexion",
        &[
            ("csrf", &csrf),
            ("numero", numero),
            ("mot_de_passe", password),
        ],
    )
    .await
    .0
}
