//! `staff.totp_last_step`: the last TOTP time step accepted for an account,
//! so that a code is accepted once only (RFC 6238 §5.2), across processes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("staff")
                .add_column(big_integer_null("totp_last_step"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("staff")
                .drop_column("totp_last_step")
                .to_owned(),
        )
        .await
    }
}
