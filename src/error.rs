//! `AppError`: everything a handler can fail with, and the status each means.
//! Internals are logged, never shown: the response only carries an
//! [`ErrorPage`] that the context middleware renders with the site layout.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 404: nothing here.
    #[error("not found")]
    NotFound,
    /// 404 for a method page that does not exist yet; members are offered to create it.
    #[error("no such method page")]
    NoSuchPage { title: String },
    /// 410 for a method page an admin deleted: who and when, and (for
    /// admins) the button that restores it.
    #[error("deleted method page")]
    Gone(DeletedPage),
    /// 400: the request itself is malformed.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// 403: signed in (or not) but not allowed to do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 303 to `/signin?next=…`.
    #[error("sign-in required")]
    SignInRequired { next: String },
    /// 429: too many attempts; try again after this many seconds.
    #[error("too many attempts")]
    TooManyAttempts { retry_after: u64 },
    /// 503: the database refuses writes (read-only or full disk).
    #[error("storage unavailable")]
    Unavailable,
    /// 503: the database cannot be reached (PostgreSQL stopped, restarting
    /// or cut off); neither reading nor saving works until it returns.
    #[error("database unreachable")]
    Unreachable,
    /// 503: the write lock could not be had in time (another long write,
    /// or another process such as a backup); nothing was written.
    #[error("database busy")]
    Busy,
    /// A sign-in at the organisation's provider that did not work: its own
    /// status (4xx) and sentence, on a page offering to start again.
    #[error("sign-in failed: {message}")]
    SignInFailed { status: StatusCode, message: String },
    /// 500: a bug or an unexpected failure; details go to the log only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if is_unreachable(&err) {
            tracing::error!(error = %err, "the database cannot be reached");
            return AppError::Unreachable;
        }
        if is_storage_unavailable(&err) {
            tracing::error!(error = %err, "the database refuses writes");
            return AppError::Unavailable;
        }
        if is_busy(&err) {
            tracing::warn!(error = %err, "a write could not get the database in time");
            return AppError::Busy;
        }
        AppError::Internal(err.into())
    }
}

/// PostgreSQL's SQLSTATE of a database error, if it came from PostgreSQL.
fn sqlstate(err: &sqlx::Error) -> Option<String> {
    let db = err.as_database_error()?;
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .map(|pg| pg.code().to_owned())
}

/// SQLite's primary result code of a database error, if it came from SQLite.
fn sqlite_code(err: &sqlx::Error) -> Option<i64> {
    let db = err.as_database_error()?;
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    Some(db.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0) & 0xff)
}

/// A database server that cannot be reached, which a person should see as
/// 503 "try again in a minute": a connection lost or refused, and
/// PostgreSQL's connection exceptions (class 08) and a server shutting down
/// or starting (57P01-57P03). (Another I/O error, such as the copy of a
/// full disk's error that a batch of saves hands each caller, is
/// [`is_storage_unavailable`].)
pub(crate) fn is_unreachable(err: &sqlx::Error) -> bool {
    use std::io::ErrorKind;
    if let sqlx::Error::Io(io) = err {
        return matches!(
            io.kind(),
            ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::NotConnected
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
                | ErrorKind::TimedOut
                | ErrorKind::HostUnreachable
                | ErrorKind::NetworkUnreachable
        );
    }
    sqlstate(err).is_some_and(|code| {
        code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03")
    })
}

/// A database that cannot take writes or cannot be reached, which a person
/// should see as 503 "try again later": SQLite's SQLITE_FULL (13),
/// SQLITE_READONLY (8), SQLITE_IOERR (10), SQLITE_CANTOPEN (14);
/// PostgreSQL's connection exceptions (class 08), insufficient resources
/// (53, a full disk among them), a server shutting down or starting
/// (57P01-57P03), a read-only server (25006); and a lost connection or a
/// closed pool on either.
pub(crate) fn is_storage_unavailable(err: &sqlx::Error) -> bool {
    if matches!(err, sqlx::Error::Io(_) | sqlx::Error::PoolClosed) {
        return true;
    }
    if let Some(code) = sqlstate(err) {
        return code.starts_with("08")
            || code.starts_with("53")
            || matches!(code.as_str(), "57P01" | "57P02" | "57P03" | "25006");
    }
    sqlite_code(err).is_some_and(|code| matches!(code, 8 | 10 | 13 | 14))
}

/// SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6), PostgreSQL's lock and
/// statement timeouts (55P03, 57014), and a pool with no connection free
/// in time: "database is locked" and its kin, which a person should see as
/// "busy, try again", never as a server error.
pub(crate) fn is_busy(err: &sqlx::Error) -> bool {
    if matches!(err, sqlx::Error::PoolTimedOut) {
        return true;
    }
    if let Some(code) = sqlstate(err) {
        return matches!(code.as_str(), "55P03" | "57014");
    }
    sqlite_code(err).is_some_and(|code| matches!(code, 5 | 6))
}

/// A transaction PostgreSQL gave up on so that another could go on (a
/// serialization failure, a deadlock): running it again is the cure.
pub(crate) fn is_retryable(err: &sqlx::Error) -> bool {
    sqlstate(err).is_some_and(|code| matches!(code.as_str(), "40001" | "40P01"))
}

/// What the error page shows; put in the response's extensions and turned
/// into a full page by [`crate::web::context::middleware`].
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: String,
    /// For a missing method page: the title to offer creating.
    pub create_title: Option<String>,
    /// For a deleted method page: what the 410 page says of it.
    pub deleted: Option<DeletedPage>,
    /// For a failed sign-in: offer the sign-in page again.
    pub sign_in_again: bool,
}

/// A deleted method page as its 410 page shows it.
#[derive(Debug, Clone)]
pub struct DeletedPage {
    pub slug: String,
    pub title: String,
    pub deleted_by: String,
    pub deleted_at: String,
}

impl ErrorPage {
    pub fn for_status(status: StatusCode) -> Self {
        let (title, message) = match status.as_u16() {
            400 => ("Bad request", "The request could not be understood."),
            403 => ("Not allowed", "You are not allowed to do that."),
            404 => ("Not found", "There is nothing at this address."),
            405 => (
                "Not allowed",
                "This address does not accept that kind of request.",
            ),
            409 => ("Conflict", "Someone else changed this at the same time."),
            413 => (
                "Too large",
                "What you sent is larger than 1 MiB. Shorten it and try again.",
            ),
            415 | 422 => (
                "Invalid form",
                "The form could not be read. Please try again.",
            ),
            429 => ("Too many attempts", "Please wait a little and try again."),
            503 => (
                "Temporarily unavailable",
                "Cafe cannot save right now. Reading still works; please try saving again later.",
            ),
            _ => (
                "Something went wrong",
                "Sorry, something went wrong on our side.",
            ),
        };
        ErrorPage {
            title,
            message: message.to_owned(),
            create_title: None,
            deleted: None,
            sign_in_again: false,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::NotFound | AppError::NoSuchPage { .. } => StatusCode::NOT_FOUND,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::SignInFailed { status, .. } => *status,
            AppError::Unavailable | AppError::Unreachable | AppError::Busy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Internal(err) => {
                tracing::error!(error = ?err, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            AppError::SignInRequired { next } => {
                let location = format!("/signin?next={}", crate::markup::text::url_encode(next));
                return (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
            }
        };
        let mut page = ErrorPage::for_status(status);
        match &self {
            AppError::BadRequest(why) | AppError::Forbidden(why) => {
                page.message = (*why).to_owned()
            }
            AppError::NoSuchPage { title } => {
                page.message = format!("There is no method page called “{title}” yet.");
                page.create_title = Some(title.clone());
            }
            AppError::Gone(deleted) => {
                page.title = "Deleted";
                page.message = format!(
                    "The method page “{}” was deleted by {}.",
                    deleted.title, deleted.deleted_by
                );
                page.deleted = Some(deleted.clone());
            }
            AppError::SignInFailed { message, .. } => {
                page.title = "Sign-in did not work";
                page.message = message.clone();
                page.sign_in_again = true;
            }
            AppError::Busy => {
                page.title = "Busy";
                page.message = "Cafe is busy saving other changes and could not save yours in time. Nothing was saved: go back (your browser keeps what you wrote) and send it again in a few seconds.".to_owned();
            }
            AppError::Unreachable => {
                page.message = "Cafe cannot reach its database just now, so it can neither show nor save pages. Nothing you sent was saved: please try again in a minute.".to_owned();
            }
            AppError::TooManyAttempts { retry_after } => {
                page.message = format!(
                    "Too many attempts. Please try again in {} minute(s).",
                    retry_after.div_ceil(60).max(1)
                );
            }
            _ => {}
        }
        let mut response = status.into_response();
        if let AppError::TooManyAttempts { retry_after } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if let AppError::Busy | AppError::Unreachable = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response.extensions_mut().insert(page);
        response
    }
}

/// Handlers return this.
pub type AppResult<T> = Result<T, AppError>;
