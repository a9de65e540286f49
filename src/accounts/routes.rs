//! Join, sign in, sign out, profiles.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::db::{self, CreateUserError};
use super::{ProfileText, Username, check_new_password, parse_display_name};
use crate::auth;
use crate::config::LocalSignIn;
use crate::error::{AppError, AppResult};
use crate::markup::text;
use crate::state::AppState;
use crate::web::context::Ctx;
use crate::web::field_errors::FieldError;
use crate::web::throttle::{Bucket, ClientAddr};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/join", get(join_form).post(join))
        .route("/signin", get(signin_form).post(signin))
        .route("/signout", post(signout))
        .route("/signed-out", get(signed_out))
        .route(
            "/account/password",
            get(password_form).post(change_password),
        )
        .route("/account/profile", get(profile_form).post(save_profile))
        .route("/users/{username}", get(profile))
        .route("/users/{username}/block", post(block))
}

/// Only local paths are followed after sign-in: `/…` but not `//…` or `/\…`,
/// which browsers treat as another host.
pub fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    if local && !next.chars().any(char::is_control) {
        next
    } else {
        "/"
    }
}

#[derive(Deserialize, Default)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/join.html")]
struct JoinPage {
    ctx: Ctx,
    /// Accounts come from the organisation's provider: the form is
    /// replaced by its button.
    sign_in_with: Option<SignInWith>,
    username: String,
    display_name: String,
    next: String,
    errors: Vec<String>,
}

/// The join form. A visitor gets a token bound to their CSRF cookie, and
/// no session: one is made only when they join ([`Ctx::anonymous_form`]).
async fn join_form(
    State(state): State<AppState>,
    mut ctx: Ctx,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let set_cookie = ctx.anonymous_form(&state, &headers);
    let sign_in_with = (state.config.local_sign_in != LocalSignIn::All)
        .then(|| SignInWith::of(&state, &q.next))
        .flatten();
    let page = JoinPage {
        ctx,
        sign_in_with,
        username: String::new(),
        display_name: String::new(),
        next: q.next,
        errors: Vec::new(),
    };
    with_cookie(page, set_cookie)
}

/// A form's page with the `Set-Cookie` of its CSRF cookie, if new.
fn with_cookie(page: impl IntoResponse, set_cookie: Option<HeaderValue>) -> Response {
    let mut response = page.into_response();
    if let Some(set_cookie) = set_cookie {
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie);
    }
    response
}

/// No `Debug`: holds passwords.
#[derive(Deserialize)]
struct JoinForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    #[serde(default)]
    next: String,
}

async fn join(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<JoinForm>,
) -> AppResult<Response> {
    if state.config.local_sign_in != LocalSignIn::All {
        return Err(AppError::Forbidden(
            "Accounts here come from your organisation: sign in with its button on the sign-in page.",
        ));
    }
    // Reserved now, so joins sent together cannot all pass the check; a
    // join refused by the form rules gives its reservation back.
    let limit = state.config.joins_per_addr;
    let reservation = state
        .throttle
        .reserve(
            Bucket::JoinsPerAddr,
            &addr,
            limit,
            Duration::from_secs(3600),
        )
        .await
        .map_err(|retry_after| AppError::TooManyAttempts { retry_after })?;

    let mut errors = Vec::new();
    let username = Username::parse(&form.username)
        .map_err(|e| errors.push(e))
        .ok();
    let display_name = parse_display_name(&form.display_name)
        .map_err(|e| errors.push(e))
        .ok();
    if let Err(e) = check_new_password(&form.password, &form.username, &form.display_name) {
        errors.push(e);
    } else if form.password != form.password_confirm {
        errors.push("The two passwords differ.".to_owned());
    }
    if let Some(name) = &username
        && db::is_taken(&state.pool, name).await?
    {
        errors.push("That username (or one that looks just like it) is taken.".to_owned());
    }
    let (Some(username), Some(display_name), true) = (username, display_name, errors.is_empty())
    else {
        state.throttle.give_back(reservation).await;
        return Ok(rejoin(ctx, form, errors));
    };
    let hash = auth::hash_password(form.password.clone()).await?;
    let id = match db::create(&state.pool, &username, &display_name, &hash, false).await {
        Ok(id) => id,
        Err(CreateUserError::Taken) => {
            state.throttle.give_back(reservation).await;
            let errors =
                vec!["That username (or one that looks just like it) is taken.".to_owned()];
            return Ok(rejoin(ctx, form, errors));
        }
        Err(CreateUserError::Db(err)) => return Err(err.into()),
    };
    tracing::info!(username = username.as_str(), "account created");
    auth::start_session(&session, id, 0)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let welcome = format!(
        "Welcome to {}, {}: you have joined and are signed in.",
        state.site.name,
        display_name.as_str()
    );
    crate::web::flash::set(&session, welcome).await;
    Ok(Redirect::to(safe_next(&form.next)).into_response())
}

fn rejoin(ctx: Ctx, form: JoinForm, errors: Vec<String>) -> Response {
    let page = JoinPage {
        ctx,
        sign_in_with: None,
        username: form.username,
        display_name: form.display_name,
        next: form.next,
        errors,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/signin.html")]
struct SigninPage {
    ctx: Ctx,
    sign_in_with: Option<SignInWith>,
    /// Who may use the password form (`--local-sign-in`).
    local: LocalSignIn,
    username: String,
    next: String,
    error: Option<String>,
}

/// The organisation's sign-in button: its text and where it starts.
pub struct SignInWith {
    pub label: String,
    pub url: String,
}

impl SignInWith {
    /// The button, when a provider is configured.
    fn of(state: &AppState, next: &str) -> Option<SignInWith> {
        let provider = state.oidc.as_ref()?;
        let next = safe_next(next);
        let url = if next == "/" {
            "/signin/oidc".to_owned()
        } else {
            format!("/signin/oidc?next={}", text::url_encode(next))
        };
        Some(SignInWith {
            label: provider.settings.label.clone(),
            url,
        })
    }
}

impl SigninPage {
    fn new(state: &AppState, ctx: Ctx, username: String, next: String) -> SigninPage {
        SigninPage {
            sign_in_with: SignInWith::of(state, &next),
            local: state.config.local_sign_in,
            ctx,
            username,
            next,
            error: None,
        }
    }

    fn password_form(&self) -> bool {
        self.local != LocalSignIn::Off
    }

    fn admins_only(&self) -> bool {
        self.local == LocalSignIn::Admins
    }
}

/// The sign-in form, with a token as in [`join_form`].
async fn signin_form(
    State(state): State<AppState>,
    mut ctx: Ctx,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let set_cookie = ctx.anonymous_form(&state, &headers);
    let page = SigninPage::new(&state, ctx, String::new(), q.next);
    with_cookie(page, set_cookie)
}

/// No `Debug`: holds a password.
#[derive(Deserialize)]
struct SigninForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

async fn signin(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<SigninForm>,
) -> AppResult<Response> {
    let config = &state.config;
    if config.local_sign_in == LocalSignIn::Off {
        return Err(AppError::Forbidden(
            "Signing in with a password is turned off here: use your organisation's sign-in button.",
        ));
    }
    let throttle = &state.throttle;
    // The throttle's key is the normalised username, or the name as typed
    // when it breaks the rules (the throttle keeps a long one as a hash).
    let key = Username::parse(&form.username).map_or_else(
        |_| form.username.trim().to_owned(),
        |u| u.as_str().to_owned(),
    );
    // Both attempts are reserved before the password is checked, so
    // sign-ins sent together cannot all be checked; a right password gives
    // them back.
    let per_user = throttle
        .reserve(
            Bucket::FailuresPerUser,
            &key,
            config.signin_failures_per_user,
            FAILURE_WINDOW,
        )
        .await
        .map_err(|retry_after| AppError::TooManyAttempts { retry_after })?;
    let per_addr = match throttle
        .reserve(
            Bucket::FailuresPerAddr,
            &addr,
            config.signin_failures_per_addr,
            Duration::from_secs(60),
        )
        .await
    {
        Ok(reservation) => reservation,
        Err(retry_after) => {
            throttle.give_back(per_user).await;
            return Err(AppError::TooManyAttempts { retry_after });
        }
    };

    let found = match Username::parse(&form.username) {
        Ok(username) => db::credentials(&state.pool, &username).await?,
        Err(_) => None,
    };
    // With `--local-sign-in admins`, a member's password is as good as none.
    let admins_only = config.local_sign_in == LocalSignIn::Admins;
    let (hash, account) = match found {
        Some(c) if !c.blocked && (c.is_admin || !admins_only) => {
            (Some(c.password_hash.clone()), Some(c))
        }
        _ => (None, None),
    };
    let verified = auth::verify_password(form.password.clone(), hash).await;
    match account {
        Some(account) if verified => {
            throttle.give_back(per_user).await;
            throttle.give_back(per_addr).await;
            throttle.clear(Bucket::FailuresPerUser, &key).await;
            auth::start_session(&session, account.id, account.auth_epoch)
                .await
                .map_err(|e| AppError::Internal(e.into()))?;
            crate::web::flash::set(&session, "You are signed in.").await;
            Ok(Redirect::to(safe_next(&form.next)).into_response())
        }
        _ => {
            let mut page = SigninPage::new(&state, ctx, form.username, form.next);
            page.error = Some(if admins_only {
                "That username and password do not match an administrator's account. Members \
                 sign in with their organisation's account (the button above)."
                    .to_owned()
            } else {
                "That username and password do not match an account.".to_owned()
            });
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
    }
}

/// Ends the session. A member who signed in with the organisation's
/// account goes on to `/signed-out?provider=1`, which offers to sign out
/// there too; Cafe never sends them to the provider unasked.
async fn signout(session: Session) -> AppResult<Redirect> {
    let with_provider = session
        .get::<String>(auth::SIGNED_IN_WITH)
        .await
        .ok()
        .flatten()
        .is_some();
    session
        .flush()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Redirect::to(if with_provider {
        "/signed-out?provider=1"
    } else {
        "/"
    }))
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/signed_out.html")]
struct SignedOutPage {
    ctx: Ctx,
    /// The provider's own sign-out address (RP-initiated logout), when it
    /// has one.
    provider_logout: Option<String>,
}

#[derive(Deserialize, Default)]
struct SignedOutQuery {
    #[serde(default)]
    provider: Option<String>,
}

async fn signed_out(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<SignedOutQuery>,
) -> SignedOutPage {
    let provider_logout = match (&state.oidc, q.provider) {
        (Some(provider), Some(_)) if ctx.user.is_none() => provider.logout_url().await,
        _ => None,
    };
    SignedOutPage {
        ctx,
        provider_logout,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/password.html")]
struct PasswordPage {
    ctx: Ctx,
    errors: Vec<String>,
}

async fn password_form(ctx: Ctx) -> AppResult<PasswordPage> {
    ctx.member()?;
    Ok(PasswordPage {
        ctx,
        errors: Vec::new(),
    })
}

/// No `Debug`: holds passwords.
#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// Changes the signed-in user's password. The epoch bump in
/// [`db::set_password`] signs out every other session of the user; this
/// session is signed in again with the new epoch (and a new id).
async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let user = ctx.member()?.clone();
    let mut errors = Vec::new();
    let username = Username::parse(&user.username).map_err(|_| AppError::NotFound)?;
    // Guessing the current password from a stolen session counts as failed sign-ins.
    let limit = state.config.signin_failures_per_user;
    // Reserved before the check, given back when the current password is right.
    let reservation = state
        .throttle
        .reserve(
            Bucket::FailuresPerUser,
            username.as_str(),
            limit,
            FAILURE_WINDOW,
        )
        .await
        .map_err(|retry_after| AppError::TooManyAttempts { retry_after })?;
    let hash = db::credentials(&state.pool, &username)
        .await?
        .map(|c| c.password_hash);
    if auth::verify_password(form.current_password.clone(), hash).await {
        state.throttle.give_back(reservation).await;
    } else {
        errors.push("Your current password is not right.".to_owned());
    }
    if let Err(e) = check_new_password(&form.password, &user.username, &user.display_name) {
        errors.push(e);
    } else if form.password != form.password_confirm {
        errors.push("The two new passwords differ.".to_owned());
    }
    if !errors.is_empty() {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            PasswordPage { ctx, errors },
        )
            .into_response());
    }
    let hash = auth::hash_password(form.password.clone()).await?;
    let epoch = db::set_password(&state.pool, user.id, &hash).await?;
    tracing::info!(username = user.username.as_str(), "password changed");
    auth::start_session(&session, user.id, epoch)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Redirect::to(&format!("/users/{}", user.username)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/profile.html")]
struct ProfilePage {
    ctx: Ctx,
    profile: db::Profile,
    edits: Vec<crate::pages::db::UserEdit>,
    methods: Vec<crate::roster::db::MethodUsed>,
    stories: Vec<crate::stories::db::UserStory>,
    uploads: Vec<crate::files::routes::ListedView>,
    /// For administrators: the member's link to the provider.
    org: Option<OrgAccount>,
}

async fn profile(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
) -> AppResult<ProfilePage> {
    let username = Username::parse(&username).map_err(|_| AppError::NotFound)?;
    let profile = db::profile(&state.pool, username.as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    let edits = crate::pages::db::edits_by_user(&state.pool, profile.id, 50).await?;
    let methods = crate::roster::db::for_user(&state.pool, profile.id).await?;
    let stories = crate::stories::db::by_user(&state.pool, profile.id).await?;
    let uploads = crate::files::db::by_uploader(&state.pool, profile.id).await?;
    let org = if ctx.is_admin() {
        OrgAccount::of(&state, profile.id).await?
    } else {
        None
    };
    Ok(ProfilePage {
        ctx,
        profile,
        edits,
        methods,
        stories,
        uploads: uploads.into_iter().map(Into::into).collect(),
        org,
    })
}

/// The profile form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    office: String,
    #[serde(default)]
    helps_with: String,
    #[serde(default)]
    contact: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/profile_edit.html")]
struct ProfileEditPage {
    ctx: Ctx,
    username: String,
    form: ProfileForm,
    errors: Vec<FieldError>,
    org: Option<OrgAccount>,
}

/// A member's link to the organisation's provider, as their profile shows
/// it (only when a provider is configured).
struct OrgAccount {
    label: String,
    linked: bool,
}

impl OrgAccount {
    async fn of(state: &AppState, user_id: i64) -> AppResult<Option<OrgAccount>> {
        let Some(provider) = state.oidc.as_ref() else {
            return Ok(None);
        };
        let issuer = provider.settings.issuer.as_str();
        let linked = crate::oidc::db::identities_of(&state.pool, user_id)
            .await?
            .iter()
            .any(|identity| identity.issuer == issuer);
        Ok(Some(OrgAccount {
            label: provider.settings.label.clone(),
            linked,
        }))
    }
}

impl ProfileEditPage {
    /// Whether the field with this id is in error (for `aria-invalid`).
    fn has_error(&self, id: &str) -> bool {
        self.errors.iter().any(|e| e.field == id)
    }
}

/// The signed-in member's own profile, to edit.
async fn profile_form(State(state): State<AppState>, ctx: Ctx) -> AppResult<ProfileEditPage> {
    let username = ctx.member()?.username.clone();
    let profile = db::profile(&state.pool, &username)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = ProfileForm {
        display_name: profile.display_name,
        role: profile.role,
        office: profile.office,
        helps_with: profile.helps_with,
        contact: profile.contact,
    };
    let org = OrgAccount::of(&state, profile.id).await?;
    Ok(ProfileEditPage {
        ctx,
        username,
        form,
        errors: Vec::new(),
        org,
    })
}

/// Saves the member's profile; a field too long (or empty display name)
/// re-shows the form with what was typed (422).
async fn save_profile(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Form(form): Form<ProfileForm>,
) -> AppResult<Response> {
    let user = ctx.member()?.clone();
    let about = ProfileText::parse(
        &form.display_name,
        &form.role,
        &form.office,
        &form.helps_with,
        &form.contact,
    );
    let about = match about {
        Ok(about) => about,
        Err(errors) => {
            let org = OrgAccount::of(&state, user.id).await?;
            let page = ProfileEditPage {
                ctx,
                username: user.username,
                form,
                errors,
                org,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    db::set_profile(&state.pool, user.id, &about).await?;
    crate::web::flash::set(&session, "Your profile is saved.").await;
    Ok(Redirect::to(&format!("/users/{}", user.username)).into_response())
}

#[derive(Deserialize)]
struct BlockForm {
    #[serde(default)]
    blocked: String,
}

/// Admins block a user (their sessions end, they cannot sign in, their
/// content stays) or unblock them.
async fn block(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
    Form(form): Form<BlockForm>,
) -> AppResult<Redirect> {
    let admin = ctx.admin()?;
    let username = Username::parse(&username).map_err(|_| AppError::NotFound)?;
    let profile = db::profile(&state.pool, username.as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    if profile.id == admin.id {
        return Err(AppError::Forbidden("You cannot block yourself."));
    }
    db::set_blocked(
        &state.pool,
        profile.id,
        form.blocked == "1",
        admin.id,
        &profile.username,
    )
    .await?;
    Ok(Redirect::to(&format!("/users/{}", profile.username)))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/methods/x?a=b"), "/methods/x?a=b");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
