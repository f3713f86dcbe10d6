//! Hostile mail (issue 12).
//!
//! `intake_attempts`: attempts per incoming message (SPEC §4, poison
//! messages). A message is counted *before* it is processed, in its own
//! committed write, so that a message that kills the process is known the
//! next time it is seen and, after `intake.max_attempts`, recorded as
//! quarantined without being read again. The key is the source position
//! (IMAP, Maildir) or the content hash (MTA pipe, HTTP); the row goes once
//! the message is recorded.
//!
//! `inbound_messages.body_view` and `has_html`: what staff see of a mail,
//! made once at intake (off the async threads) so that a page never parses
//! the raw mail again. Purged with the raw bytes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("intake_attempts")
                .col(string("key").primary_key())
                .col(integer("attempts"))
                .col(timestamp_with_time_zone("first_at"))
                .col(timestamp_with_time_zone("last_at"))
                .to_owned(),
        )
        .await?;
        // One column per statement: SQLite alters one thing at a time.
        m.alter_table(
            Table::alter()
                .table("inbound_messages")
                .add_column(text_null("body_view"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("inbound_messages")
                .add_column(boolean_null("has_html"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in ["has_html", "body_view"] {
            m.alter_table(
                Table::alter()
                    .table("inbound_messages")
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table("intake_attempts").to_owned())
            .await
    }
}
