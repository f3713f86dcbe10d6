//! Indexes for the back-office queue at scale: `(created_at, id)` serves the
//! unfiltered queue (oldest first) without sorting the table, and
//! `updated_at` answers "has any request changed?" in one index lookup (the
//! key of the per-state counts cache).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_requests_created_id")
                .table("change_requests")
                .col("created_at")
                .col("id")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_requests_updated")
                .table("change_requests")
                .col("updated_at")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_requests_updated")
                .table("change_requests")
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_requests_created_id")
                .table("change_requests")
                .to_owned(),
        )
        .await
    }
}
