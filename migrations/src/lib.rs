//! Database schema of bareme-mel, as sea-orm migrations.
//!
//! One module per migration, named `mYYYYMMDD_NNNNNN_verb_noun`. The schema is
//! written with sea-query so that the same migrations run on SQLite (the
//! embedded default) and on PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_schema;
mod m20261125_000002_add_staff_totp_step;
mod m20261125_000003_create_request_time_indexes;
mod m20261201_000010_create_scan_readings;
mod m20261201_000011_add_intake_attempts_and_mail_view;
mod m20261201_000012_add_audit_keyed_from;
mod m20261201_000013_add_subscriber_email_key;
mod m20261201_000014_store_mail_uncompressed;

pub use m20261125_000001_create_schema::GENESIS_HASH;
pub use m20261201_000013_add_subscriber_email_key::email_key;

/// The ordered list of migrations applied by `bareme-mel migrate` and `serve`.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_schema::Migration),
            Box::new(m20261125_000002_add_staff_totp_step::Migration),
            Box::new(m20261125_000003_create_request_time_indexes::Migration),
            Box::new(m20261201_000010_create_scan_readings::Migration),
            Box::new(m20261201_000011_add_intake_attempts_and_mail_view::Migration),
            Box::new(m20261201_000012_add_audit_keyed_from::Migration),
            Box::new(m20261201_000013_add_subscriber_email_key::Migration),
            Box::new(m20261201_000014_store_mail_uncompressed::Migration),
        ]
    }
}
