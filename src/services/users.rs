//! Registration, sign-in and refresh-token rotation.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    SqlErr, sea_query::Expr,
};

use crate::{
    auth::{Auth, password, refresh},
    db::{Db, WriteTx},
    domain::{Password, Username},
    entities::{refresh_token, user},
    error::{AppError, AppResult},
};

/// A fresh token pair for a user.
#[derive(Debug)]
pub struct Session {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque token for `refreshToken`, single use.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The signed-in user.
    pub user: user::Model,
}

const BAD_LOGIN: &str = "invalid username or password";
const BAD_REFRESH: &str = "invalid or expired refresh token";

/// Creates an account and signs it in.
#[tracing::instrument(skip_all, fields(username = %username))]
pub async fn register(db: &Db, auth: &Auth, username: &str, password: &str) -> AppResult<Session> {
    let username = Username::parse(username)?;
    let password = Password::parse(password)?;
    if find_by_key(&db.conn, &username.key()).await?.is_some() {
        return Err(taken());
    }
    let hash = password::hash(&password).await?;
    let tx = db.begin_write().await?;
    let inserted = user::ActiveModel {
        username: Set(username.as_str().to_owned()),
        username_key: Set(username.key()),
        password_hash: Set(hash),
        created_at: Set(super::now()),
        ..Default::default()
    }
    .insert(&*tx)
    .await;
    let user = match inserted {
        Ok(user) => user,
        // Two registrations raced past the check: the unique index decides.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(taken());
        }
        Err(e) => return Err(e.into()),
    };
    let session = new_session(&tx, auth, user, refresh::new_family()).await?;
    tx.commit().await?;
    tracing::info!(user_id = session.user.id, "registered");
    Ok(session)
}

fn taken() -> AppError {
    AppError::Conflict {
        field: "username",
        message: "username is already taken".into(),
    }
}

/// Signs in; the same error for an unknown user and a wrong password.
#[tracing::instrument(skip_all, fields(username = %username))]
pub async fn login(db: &Db, auth: &Auth, username: &str, password: &str) -> AppResult<Session> {
    let key = username.to_ascii_lowercase();
    if let Err(retry_after_secs) = auth.login_throttle.check(&key) {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let user = if key.len() <= 32 {
        find_by_key(&db.conn, &key).await?
    } else {
        None
    };
    let ok = password::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| ok) else {
        auth.login_throttle.failed(&key);
        return Err(AppError::Unauthenticated(BAD_LOGIN));
    };
    auth.login_throttle.succeeded(&key);
    let tx = db.begin_write().await?;
    let session = new_session(&tx, auth, user, refresh::new_family()).await?;
    tx.commit().await?;
    Ok(session)
}

/// Exchanges a refresh token for a new pair. A token used twice revokes its whole family.
#[tracing::instrument(skip_all)]
pub async fn refresh(db: &Db, auth: &Auth, token: &str) -> AppResult<Session> {
    let tx = db.begin_write().await?;
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(refresh::hash(token)))
        .one(&*tx)
        .await?
    else {
        return Err(AppError::Unauthenticated(BAD_REFRESH));
    };
    let now = super::now();
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(AppError::Unauthenticated(BAD_REFRESH));
    }
    // Claim the token: only one exchange can flip `used_at`, even under concurrency.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&*tx)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .filter(refresh_token::Column::FamilyId.eq(row.family_id.clone()))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&*tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(
            user_id = row.user_id,
            "refresh token reused: family revoked"
        );
        return Err(AppError::Unauthenticated(BAD_REFRESH));
    }
    let user = user::Entity::find_by_id(row.user_id)
        .one(&*tx)
        .await?
        .ok_or(AppError::Unauthenticated(BAD_REFRESH))?;
    let session = new_session(&tx, auth, user, row.family_id).await?;
    tx.commit().await?;
    Ok(session)
}

async fn new_session(
    tx: &WriteTx,
    auth: &Auth,
    user: user::Model,
    family_id: String,
) -> AppResult<Session> {
    let refresh_token = refresh::generate();
    let now = super::now();
    refresh_token::ActiveModel {
        user_id: Set(user.id),
        family_id: Set(family_id),
        token_hash: Set(refresh::hash(&refresh_token)),
        created_at: Set(now),
        expires_at: Set(now + auth.refresh_ttl),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    Ok(Session {
        access_token: auth.access.issue(user.id)?,
        refresh_token,
        expires_in: auth.access.ttl().as_secs() as i64,
        user,
    })
}

async fn find_by_key(conn: &impl ConnectionTrait, key: &str) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::UsernameKey.eq(key))
        .one(conn)
        .await?)
}

/// The users with these ids (missing ids are skipped).
pub async fn by_ids(db: &Db, ids: &[i64]) -> AppResult<Vec<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(&db.conn)
        .await?)
}

/// One user by id.
pub async fn by_id(db: &Db, id: i64) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(&db.conn).await?)
}
