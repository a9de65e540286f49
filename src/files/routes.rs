//! The files of a page or story: their list with the upload form, each
//! file's download and history, and the admins' hide and largest-files
//! views. Every address exists under `/methods/{slug}` and under
//! `/methods/{slug}/stories/{id}`; both resolve to a [`Place`].

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::db::{self, File, Listed, Upload, Version};
use super::kind::{self, Clean, Kind, Refusal};
use super::serve::{self, Stored};
use super::{Owner, file_url, human_size};
use crate::error::{AppError, AppResult};
use crate::pages::db::Page;
use crate::pages::routes::load_page;
use crate::state::AppState;
use crate::stories::db::Story;
use crate::web::context::Ctx;
use crate::web::flash;
use crate::web::throttle::Bucket;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/methods/{slug}/files", get(list_page).post(upload_page))
        .route("/methods/{slug}/files/{name}", get(download_page))
        .route("/methods/{slug}/files/{name}/history", get(history_page))
        .route(
            "/methods/{slug}/files/{name}/thumbnail",
            get(thumbnail_page),
        )
        .route("/methods/{slug}/files/{name}/hide", post(hide_page))
        .route("/methods/{slug}/files/{name}/show", post(show_page))
        .route(
            "/methods/{slug}/stories/{id}/files",
            get(list_story).post(upload_story),
        )
        .route(
            "/methods/{slug}/stories/{id}/files/{name}",
            get(download_story),
        )
        .route(
            "/methods/{slug}/stories/{id}/files/{name}/history",
            get(history_story),
        )
        .route(
            "/methods/{slug}/stories/{id}/files/{name}/thumbnail",
            get(thumbnail_story),
        )
        .route(
            "/methods/{slug}/stories/{id}/files/{name}/hide",
            post(hide_story),
        )
        .route(
            "/methods/{slug}/stories/{id}/files/{name}/show",
            post(show_story),
        )
        .route("/admin/files", get(largest))
        // Bounded by the body limit of `server::limit_body` instead, which
        // lets an upload be as large as `--file-max-mib`.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// Where files are attached: a page, or one of its stories.
struct Place {
    page: Page,
    story: Option<Story>,
    owner: Owner,
    /// `/methods/{slug}` or `/methods/{slug}/stories/{id}`.
    base: String,
}

impl Place {
    async fn find(
        state: &AppState,
        ctx: &Ctx,
        slug: &str,
        story: Option<&str>,
    ) -> AppResult<Place> {
        let page = load_page(state, slug).await?;
        let story = match story {
            None => None,
            Some(id) => {
                let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
                let story = crate::stories::db::find(&state.pool, page.id, id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                if story.hidden && !ctx.is_admin() {
                    return Err(AppError::NotFound);
                }
                Some(story)
            }
        };
        let owner = match &story {
            Some(story) => Owner::story(page.id, story.id),
            None => Owner::page(page.id),
        };
        let base = owner.base(&page.slug);
        Ok(Place {
            page,
            story,
            owner,
            base,
        })
    }

    /// Whether `ctx` may upload here: members on a page unless it is
    /// protected; on a story, its author (and admins).
    fn may_upload(&self, ctx: &Ctx) -> bool {
        let Some(user) = &ctx.user else {
            return false;
        };
        if user.is_admin {
            return true;
        }
        match &self.story {
            Some(story) => story.author_id == user.id && !self.page.protected,
            None => !self.page.protected,
        }
    }

    /// The file `name` here, as `ctx` may see it (a hidden one: admins).
    async fn file(&self, state: &AppState, ctx: &Ctx, name: &str) -> AppResult<File> {
        let file = db::find(&state.pool, self.owner, name)
            .await?
            .ok_or(AppError::NotFound)?;
        if file.hidden && !ctx.is_admin() {
            return Err(AppError::NotFound);
        }
        Ok(file)
    }

    fn heading(&self) -> String {
        match &self.story {
            Some(story) => format!("Files of the story “{}”", story.title),
            None => format!("Files of {}", self.page.title),
        }
    }
}

/// A file as its list shows it.
struct FileView {
    name: String,
    url: String,
    history_url: String,
    thumbnail_url: Option<String>,
    label: &'static str,
    size: String,
    version: i64,
    description: String,
    uploaded_at: String,
    uploader: Option<(String, String)>,
    hidden: bool,
    width: Option<i64>,
    height: Option<i64>,
}

impl FileView {
    fn new(base: &str, file: File) -> FileView {
        let url = file_url(base, &file.name);
        FileView {
            history_url: format!("{url}/history"),
            thumbnail_url: file
                .thumb_hash
                .as_ref()
                .map(|_| format!("{url}/thumbnail?version={}", file.version)),
            label: Kind::from_media_type(&file.media_type).map_or("File", Kind::label),
            size: human_size(file.size),
            version: file.version,
            description: file.description,
            uploaded_at: file.uploaded_at,
            uploader: file.uploader_username.zip(file.uploader_name),
            hidden: file.hidden,
            width: file.width,
            height: file.height,
            name: file.name,
            url,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "files/list.html")]
struct ListPage {
    ctx: Ctx,
    page: Page,
    heading: String,
    base: String,
    files: Vec<FileView>,
    may_upload: bool,
    max_mib: u64,
    /// What was wrong with the last upload (re-shown with its status).
    error: Option<String>,
    description: String,
}

async fn list(
    state: &AppState,
    ctx: Ctx,
    place: Place,
    error: Option<String>,
) -> AppResult<ListPage> {
    let files = db::list(&state.pool, place.owner, ctx.is_admin()).await?;
    Ok(ListPage {
        heading: place.heading(),
        may_upload: place.may_upload(&ctx),
        files: files
            .into_iter()
            .map(|f| FileView::new(&place.base, f))
            .collect(),
        max_mib: state.config.file_max_mib,
        base: place.base,
        page: place.page,
        ctx,
        error,
        description: String::new(),
    })
}

async fn list_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
) -> AppResult<ListPage> {
    let place = Place::find(&state, &ctx, &slug, None).await?;
    list(&state, ctx, place, None).await
}

async fn list_story(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id)): Path<(String, String)>,
) -> AppResult<ListPage> {
    let place = Place::find(&state, &ctx, &slug, Some(&id)).await?;
    list(&state, ctx, place, None).await
}

/// Upload requests whose files are held in memory at once: with the body
/// limit, the memory uploads can take (2 × (`--file-max-mib` + 1 MiB),
/// plus an image's decoding, bounded by `kind::MAX_ALLOC`).
static UPLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// How long an upload waits for its turn before it is answered "busy".
const UPLOAD_WAIT: Duration = Duration::from_secs(30);

/// Why an upload was refused, with the status it is answered with.
struct Refused(StatusCode, String);

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Refused {
        Refused(StatusCode::UNPROCESSABLE_ENTITY, refusal.to_string())
    }
}

async fn upload_page(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(slug): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let place = Place::find(&state, &ctx, &slug, None).await?;
    upload(&state, ctx, &session, place, multipart).await
}

async fn upload_story(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path((slug, id)): Path<(String, String)>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let place = Place::find(&state, &ctx, &slug, Some(&id)).await?;
    upload(&state, ctx, &session, place, multipart).await
}

/// Reads, checks and stores the files of an upload, all or none; a
/// refusal re-shows the list with the reason (422, or 413 when too large).
async fn upload(
    state: &AppState,
    ctx: Ctx,
    session: &Session,
    place: Place,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let user = ctx.member()?.clone();
    if !place.may_upload(&ctx) {
        return Err(AppError::Forbidden(if place.story.is_some() {
            "Only the story's author and administrators can attach files to it."
        } else {
            "This page is protected: only administrators can attach files to it."
        }));
    }
    let Ok(mut multipart) = multipart else {
        return Err(AppError::BadRequest(
            "An upload must be sent as a multipart form (enctype=\"multipart/form-data\").",
        ));
    };
    let counted = state
        .throttle
        .reserve(
            Bucket::UploadsPerMember,
            &user.id.to_string(),
            state.config.uploads_per_hour,
            Duration::from_secs(3600),
        )
        .await
        .map_err(|retry_after| AppError::TooManyAttempts { retry_after })?;
    let Ok(Ok(_turn)) = tokio::time::timeout(UPLOAD_WAIT, UPLOADS.acquire()).await else {
        state.throttle.give_back(counted).await;
        return Err(AppError::Busy);
    };
    let form = match read_form(&ctx, &mut multipart, state.config.file_max_mib << 20).await {
        Ok(form) => form,
        Err(ReadError::Csrf) => {
            state.throttle.give_back(counted).await;
            return Err(AppError::Forbidden(
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ));
        }
        Err(ReadError::Refused(refused)) => return refuse(state, ctx, place, refused).await,
    };
    let cleaned = match check(form.files).await {
        Ok(cleaned) => cleaned,
        Err(refused) => return refuse(state, ctx, place, refused).await,
    };
    let now = crate::clock::now();
    let uploads: Vec<Upload> = cleaned
        .iter()
        .map(|(name, clean)| Upload {
            name,
            description: &form.description,
            clean,
            uploaded_by: Some(user.id),
            at: &now,
        })
        .collect();
    let page_limit = state.config.page_files_max_mib << 20;
    if db::add(&state.pool, place.owner, &uploads, page_limit)
        .await?
        .is_none()
    {
        let refused = Refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "These files would take the files of this page past {} MiB, the most a page may hold. Ask an administrator to make room.",
                state.config.page_files_max_mib
            ),
        );
        return refuse(state, ctx, place, refused).await;
    }
    let names: Vec<&str> = cleaned.iter().map(|(name, _)| name.as_str()).collect();
    flash::set(session, &format!("Uploaded {}.", names.join(", "))).await;
    Ok(Redirect::to(&format!("{}/files", place.base)).into_response())
}

/// The list again, with why the upload was refused.
async fn refuse(state: &AppState, ctx: Ctx, place: Place, refused: Refused) -> AppResult<Response> {
    let Refused(status, message) = refused;
    let mut page = list(state, ctx, place, Some(message)).await?;
    page.description.clear();
    Ok((status, page).into_response())
}

/// An upload's fields, as read.
struct UploadForm {
    files: Vec<(String, Vec<u8>)>,
    description: String,
}

enum ReadError {
    Csrf,
    Refused(Refused),
}

impl From<Refused> for ReadError {
    fn from(refused: Refused) -> ReadError {
        ReadError::Refused(refused)
    }
}

/// The most characters of a description.
const DESCRIPTION_MAX: usize = 500;

/// Reads the multipart form: the CSRF token first (nothing else is read
/// without it), then the files, each cut off at `max` bytes (413), and
/// the description.
async fn read_form(
    ctx: &Ctx,
    multipart: &mut Multipart,
    max: u64,
) -> Result<UploadForm, ReadError> {
    let broken = |err: axum::extract::multipart::MultipartError| {
        let status = err.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max)
        } else {
            "The upload did not arrive whole; please try again.".to_owned()
        };
        ReadError::Refused(Refused(status, message))
    };
    let first = multipart.next_field().await.map_err(broken)?;
    let token = match first {
        Some(field) if field.name() == Some("csrf_token") => field.text().await.map_err(broken)?,
        _ => return Err(ReadError::Csrf),
    };
    if !crate::auth::tokens_match(&ctx.csrf, &token) {
        return Err(ReadError::Csrf);
    }
    let mut form = UploadForm {
        files: Vec::new(),
        description: String::new(),
    };
    let mut held: u64 = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(broken)? {
                    held += chunk.len() as u64;
                    if bytes.len() as u64 + chunk.len() as u64 > max || held > max {
                        return Err(Refused(StatusCode::PAYLOAD_TOO_LARGE, too_large(max)).into());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                // A file input left empty sends a part with no name and no bytes.
                if !(name.is_empty() && bytes.is_empty()) {
                    form.files.push((name, bytes));
                }
            }
            Some("description") => {
                let text = field.text().await.map_err(broken)?;
                form.description =
                    crate::markup::text::one_line("The description", &text, DESCRIPTION_MAX)
                        .map_err(|message| Refused(StatusCode::UNPROCESSABLE_ENTITY, message))?;
            }
            _ => {}
        }
    }
    if form.files.is_empty() {
        return Err(Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a file to upload.".to_owned(),
        )
        .into());
    }
    Ok(form)
}

fn too_large(max: u64) -> String {
    format!(
        "The upload is too large: files may be at most {} MiB together. Nothing was stored.",
        max >> 20
    )
}

/// Names, types and images checked and cleaned, on the blocking pool.
async fn check(files: Vec<(String, Vec<u8>)>) -> Result<Vec<(String, Clean)>, Refused> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(files.len());
    for (raw, bytes) in files {
        let name = kind::clean_name(&raw)?;
        if !seen.insert(name.clone()) {
            return Err(Refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Two of the files are named {name}: upload them one at a time."),
            ));
        }
        let found = kind::decide(&name, &bytes)?;
        let clean = tokio::task::spawn_blocking(move || kind::clean(found, bytes))
            .await
            .map_err(|_| {
                Refused(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{name} could not be read as an image."),
                )
            })??;
        out.push((name, clean));
    }
    Ok(out)
}

/// `?version=N`.
#[derive(Debug, Default, Deserialize)]
struct VersionQuery {
    #[serde(default)]
    version: Option<String>,
}

impl VersionQuery {
    /// The version asked for: `None` for the current one; a malformed
    /// number is no version (404).
    fn number(&self) -> AppResult<Option<i64>> {
        match &self.version {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| AppError::NotFound),
        }
    }
}

/// The version of `file` asked for (the current one by default).
async fn chosen(state: &AppState, file: &File, query: &VersionQuery) -> AppResult<Version> {
    let number = query.number()?.unwrap_or(file.version);
    db::version(&state.pool, file.id, number)
        .await?
        .ok_or(AppError::NotFound)
}

async fn download(
    state: &AppState,
    ctx: &Ctx,
    place: &Place,
    name: &str,
    query: &VersionQuery,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let file = place.file(state, ctx, name).await?;
    let version = chosen(state, &file, query).await?;
    let stored = Stored {
        name: &file.name,
        hash: &version.hash,
        size: version.size,
        media_type: &version.media_type,
        immutable: query.version.is_some(),
    };
    Ok(serve::respond(&state.pool, headers, stored).await)
}

async fn download_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, name)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let place = Place::find(&state, &ctx, &slug, None).await?;
    download(&state, &ctx, &place, &name, &query, &headers).await
}

async fn download_story(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id, name)): Path<(String, String, String)>,
    Query(query): Query<VersionQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let place = Place::find(&state, &ctx, &slug, Some(&id)).await?;
    download(&state, &ctx, &place, &name, &query, &headers).await
}

async fn thumbnail(
    state: &AppState,
    ctx: &Ctx,
    place: &Place,
    name: &str,
    query: &VersionQuery,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let file = place.file(state, ctx, name).await?;
    let version = chosen(state, &file, query).await?;
    let (Some(hash), Some(media_type)) = (&version.thumb_hash, &version.thumb_type) else {
        return Err(AppError::NotFound);
    };
    let size = db::blob_size(&state.pool, hash).await?;
    let stored = Stored {
        name: &file.name,
        hash,
        size,
        media_type,
        immutable: query.version.is_some(),
    };
    Ok(serve::respond(&state.pool, headers, stored).await)
}

async fn thumbnail_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, name)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let place = Place::find(&state, &ctx, &slug, None).await?;
    thumbnail(&state, &ctx, &place, &name, &query, &headers).await
}

async fn thumbnail_story(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id, name)): Path<(String, String, String)>,
    Query(query): Query<VersionQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let place = Place::find(&state, &ctx, &slug, Some(&id)).await?;
    thumbnail(&state, &ctx, &place, &name, &query, &headers).await
}

/// A version as the history shows it.
struct VersionView {
    number: i64,
    url: String,
    label: &'static str,
    size: String,
    description: String,
    created_at: String,
    uploader: Option<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "files/history.html")]
struct HistoryPage {
    ctx: Ctx,
    page: Page,
    heading: String,
    base: String,
    file: FileView,
    versions: Vec<VersionView>,
}

async fn history(state: &AppState, ctx: Ctx, place: Place, name: &str) -> AppResult<HistoryPage> {
    let file = place.file(state, &ctx, name).await?;
    let url = file_url(&place.base, &file.name);
    let versions = db::versions(&state.pool, file.id)
        .await?
        .into_iter()
        .map(|v| VersionView {
            url: format!("{url}?version={}", v.number),
            label: Kind::from_media_type(&v.media_type).map_or("File", Kind::label),
            size: human_size(v.size),
            number: v.number,
            description: v.description,
            created_at: v.created_at,
            uploader: v.uploader_username.zip(v.uploader_name),
        })
        .collect();
    Ok(HistoryPage {
        heading: place.heading(),
        file: FileView::new(&place.base, file),
        base: place.base,
        page: place.page,
        ctx,
        versions,
    })
}

async fn history_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, name)): Path<(String, String)>,
) -> AppResult<HistoryPage> {
    let place = Place::find(&state, &ctx, &slug, None).await?;
    history(&state, ctx, place, &name).await
}

async fn history_story(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id, name)): Path<(String, String, String)>,
) -> AppResult<HistoryPage> {
    let place = Place::find(&state, &ctx, &slug, Some(&id)).await?;
    history(&state, ctx, place, &name).await
}

/// The hide and show buttons post only their token.
#[derive(Debug, Deserialize)]
struct TokenOnly {}

async fn set_hidden(
    state: &AppState,
    ctx: Ctx,
    session: &Session,
    place: Place,
    name: &str,
    hidden: bool,
) -> AppResult<Redirect> {
    let admin = ctx.admin()?.id;
    let file = place.file(state, &ctx, name).await?;
    db::set_hidden(
        &state.pool,
        place.page.id,
        file.id,
        hidden,
        admin,
        &file.name,
    )
    .await?;
    let message = if hidden {
        format!("{} is hidden: only administrators see it now.", file.name)
    } else {
        format!("{} is shown again.", file.name)
    };
    flash::set(session, &message).await;
    Ok(Redirect::to(&format!("{}/files", place.base)))
}

async fn hide_page(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path((slug, name)): Path<(String, String)>,
    Form(_): Form<TokenOnly>,
) -> AppResult<Redirect> {
    let place = Place::find(&state, &ctx, &slug, None).await?;
    set_hidden(&state, ctx, &session, place, &name, true).await
}

async fn show_page(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path((slug, name)): Path<(String, String)>,
    Form(_): Form<TokenOnly>,
) -> AppResult<Redirect> {
    let place = Place::find(&state, &ctx, &slug, None).await?;
    set_hidden(&state, ctx, &session, place, &name, false).await
}

async fn hide_story(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path((slug, id, name)): Path<(String, String, String)>,
    Form(_): Form<TokenOnly>,
) -> AppResult<Redirect> {
    let place = Place::find(&state, &ctx, &slug, Some(&id)).await?;
    set_hidden(&state, ctx, &session, place, &name, true).await
}

async fn show_story(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path((slug, id, name)): Path<(String, String, String)>,
    Form(_): Form<TokenOnly>,
) -> AppResult<Redirect> {
    let place = Place::find(&state, &ctx, &slug, Some(&id)).await?;
    set_hidden(&state, ctx, &session, place, &name, false).await
}

/// A file in a list outside its page.
pub struct ListedView {
    pub name: String,
    pub url: String,
    pub page_url: String,
    pub page_title: String,
    pub version: i64,
    pub size: String,
    pub label: &'static str,
    pub description: String,
    pub hidden: bool,
    pub created_at: String,
}

impl From<Listed> for ListedView {
    fn from(listed: Listed) -> ListedView {
        let page_url = format!("/methods/{}", listed.slug);
        let base = match listed.story_id {
            Some(id) => format!("{page_url}/stories/{id}"),
            None => page_url.clone(),
        };
        ListedView {
            url: format!(
                "{}?version={}",
                file_url(&base, &listed.name),
                listed.version
            ),
            page_url,
            page_title: listed.page_title,
            version: listed.version,
            size: human_size(listed.size),
            label: Kind::from_media_type(&listed.media_type).map_or("File", Kind::label),
            description: listed.description,
            hidden: listed.hidden,
            created_at: listed.created_at,
            name: listed.name,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "files/largest.html")]
struct LargestPage {
    ctx: Ctx,
    files: Vec<ListedView>,
    stored: String,
    contents: i64,
}

/// Admins: the largest file versions on the site and what all files take.
async fn largest(State(state): State<AppState>, ctx: Ctx) -> AppResult<LargestPage> {
    ctx.admin()?;
    let files = db::largest(&state.pool, 50).await?;
    let (bytes, contents) = db::stored(&state.pool).await?;
    Ok(LargestPage {
        ctx,
        files: files.into_iter().map(ListedView::from).collect(),
        stored: human_size(bytes),
        contents,
    })
}
