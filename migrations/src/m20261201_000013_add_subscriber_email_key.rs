//! `subscribers.email_key`: the registered address as intake compares it
//! (local part lower-cased, domain in its lower-case ASCII/IDN form), stored
//! and indexed, so that matching a claim to subscribers is one indexed
//! look-up instead of a scan of `lower(email)`. Existing rows are filled in.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::ConnectionTrait};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The stored key of an address; the same as
/// `bareme_mel::domain::MailAddress::mailbox_key` (a test holds them equal).
pub fn email_key(email: &str) -> String {
    let (local, domain) = email.rsplit_once('@').unwrap_or(("", email));
    let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase());
    format!("{}@{}", local.to_lowercase(), domain.to_ascii_lowercase())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("subscribers")
                .add_column(string_null("email_key"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_subscribers_email_key")
                .table("subscribers")
                .col("email_key")
                .to_owned(),
        )
        .await?;
        // ASCII addresses (nearly all) in one statement; the others, whose
        // domain needs its IDN form, one by one.
        m.exec_stmt(
            Query::update()
                .table("subscribers")
                .value("email_key", Func::lower(Expr::col("email")))
                .and_where(Expr::col("email").is_not_null())
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let rows = db
            .query_all(
                &Query::select()
                    .columns(["id", "email"])
                    .from("subscribers")
                    .and_where(Expr::col("email").is_not_null())
                    .to_owned(),
            )
            .await?;
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let email: String = row.try_get("", "email")?;
            if email.is_ascii() {
                continue;
            }
            m.exec_stmt(
                Query::update()
                    .table("subscribers")
                    .value("email_key", email_key(&email))
                    .and_where(Expr::col("id").eq(id))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_subscribers_email_key")
                .table("subscribers")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("subscribers")
                .drop_column("email_key")
                .to_owned(),
        )
        .await
    }
}
