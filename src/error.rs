//! The one error type of the service layer and how it reaches GraphQL clients.
//!
//! Every variant maps to an `extensions.code` of the public contract. Internal errors are
//! logged with their detail here and answered with a generic message.

use async_graphql::ErrorExtensions;

/// What went wrong, in terms a client can act on.
///
/// It deliberately has no `Display`: async-graphql converts any displayable error into a
/// GraphQL error without `extensions.code`, and this type must always go through
/// [`ErrorExtensions`].
#[derive(Debug)]
pub enum AppError {
    /// No valid access token, a bad sign-in, or a revoked refresh token.
    Unauthenticated(&'static str),
    /// Signed in, but not allowed (for example not a member of the room).
    Forbidden(&'static str),
    /// The named thing does not exist (or is not visible to the viewer).
    NotFound(&'static str),
    /// An argument is out of bounds or malformed.
    BadInput {
        /// The argument at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A unique value is already taken (a username).
    Conflict {
        /// The argument at fault.
        field: &'static str,
        /// What is taken.
        message: String,
    },
    /// The caller must slow down.
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// Anything else: a database fault, a bug. The detail is logged, never sent.
    Internal(anyhow::Error),
}

/// The service layer's result type.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A `BAD_USER_INPUT` error about one argument.
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadInput {
            field,
            message: message.into(),
        }
    }

    /// The message sent to clients.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(m) | Self::Forbidden(m) => (*m).to_owned(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::BadInput { message, .. } | Self::Conflict { message, .. } => message.clone(),
            Self::TooManyRequests { retry_after_secs } => {
                format!("too many requests, retry in {retry_after_secs} s")
            }
            Self::Internal(_) => "internal server error".to_owned(),
        }
    }

    /// The `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadInput { .. } => "BAD_USER_INPUT",
            Self::Conflict { .. } => "CONFLICT",
            Self::TooManyRequests { .. } => "TOO_MANY_REQUESTS",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Internal(err.into())
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Internal(inner) = self {
            tracing::error!(error = ?inner, "internal error");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, ext| {
            ext.set("code", self.code());
            match self {
                Self::BadInput { field, .. } | Self::Conflict { field, .. } => {
                    ext.set("field", *field)
                }
                Self::TooManyRequests { retry_after_secs } => {
                    ext.set("retryAfter", *retry_after_secs)
                }
                _ => {}
            }
        })
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.extend()
    }
}
