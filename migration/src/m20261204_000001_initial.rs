//! Users, rooms, memberships, messages, refresh tokens and the event outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    UsernameKey,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Rooms {
    Table,
    Id,
    Name,
    NameKey,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    RoomId,
    UserId,
    JoinedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    RoomId,
    AuthorId,
    Content,
    ClientId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    RoomId,
    Payload,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len(Users::Username, 32))
                    // Lower-cased username: uniqueness and login are case-insensitive.
                    .col(string_len_uniq(Users::UsernameKey, 32))
                    .col(string(Users::PasswordHash))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Rooms::Table)
                    .col(big_pk_auto(Rooms::Id))
                    .col(string_len(Rooms::Name, 80))
                    // Lower-cased name for case-insensitive search on every backend.
                    .col(string_len(Rooms::NameKey, 80))
                    .col(big_integer(Rooms::CreatedBy))
                    .col(timestamp_with_time_zone(Rooms::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Rooms::Table, Rooms::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(big_integer(Memberships::RoomId))
                    .col(big_integer(Memberships::UserId))
                    .col(timestamp_with_time_zone(Memberships::JoinedAt))
                    .primary_key(
                        Index::create()
                            .col(Memberships::RoomId)
                            .col(Memberships::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::RoomId)
                            .to(Rooms::Table, Rooms::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_user")
                    .table(Memberships::Table)
                    .col(Memberships::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(big_pk_auto(Messages::Id))
                    .col(big_integer(Messages::RoomId))
                    .col(big_integer(Messages::AuthorId))
                    .col(text(Messages::Content))
                    .col(string_len_null(Messages::ClientId, 64))
                    .col(timestamp_with_time_zone(Messages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::RoomId)
                            .to(Rooms::Table, Rooms::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::AuthorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // History pages, the last message and room activity all walk this index.
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_room_id")
                    .table(Messages::Table)
                    .col(Messages::RoomId)
                    .col(Messages::Id)
                    .to_owned(),
            )
            .await?;
        // Idempotent sends: one row per (author, clientId); NULL client ids never collide.
        manager
            .create_index(
                Index::create()
                    .name("uq_messages_author_client")
                    .table(Messages::Table)
                    .col(Messages::AuthorId)
                    .col(Messages::ClientId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(big_pk_auto(RefreshTokens::Id))
                    .col(big_integer(RefreshTokens::UserId))
                    .col(string_len(RefreshTokens::FamilyId, 64))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_family")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::FamilyId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(big_pk_auto(Outbox::Id))
                    .col(big_integer(Outbox::RoomId))
                    .col(text(Outbox::Payload))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_room_id")
                    .table(Outbox::Table)
                    .col(Outbox::RoomId)
                    .col(Outbox::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Outbox::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Messages::Table.into_iden(),
            Memberships::Table.into_iden(),
            Rooms::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
