//! `audit_head.keyed_from`: the first audit event whose hash is keyed with the
//! application key (HMAC-SHA-256); NULL while the chain is plain SHA-256, as
//! written before the key existed (re-chained with the key at start-up).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("audit_head")
                .add_column(big_integer_null("keyed_from"))
                .to_owned(),
        )
        .await?;
        // A chain with no event yet is keyed from its first event.
        m.exec_stmt(
            Query::update()
                .table("audit_head")
                .value("keyed_from", 1i64)
                .and_where(Expr::col("seq").eq(0))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("audit_head")
                .drop_column("keyed_from")
                .to_owned(),
        )
        .await
    }
}
