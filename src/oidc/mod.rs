//! Signing in with the organisation's own accounts: OpenID Connect's
//! authorization code flow with PKCE, `state` and `nonce`.
//!
//! [`Provider`] holds what `--oidc-*` configured and what the provider's
//! discovery document said (read when first needed, kept for an hour, read
//! again at once when an ID token names a key Cafe has not seen: the
//! provider rotated its keys). [`flow`] starts a sign-in and checks what
//! comes back, [`accounts`] finds or makes the member, [`db`] holds the SQL
//! and [`routes`] the pages. Nothing of a sign-in in progress is kept in a
//! process's memory ([`db::Pending`]), so the provider may send the browser
//! back to any instance.

pub mod accounts;
pub mod db;
pub mod flow;
pub mod routes;

use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::http::StatusCode;
use openidconnect::core::CoreClient;
use openidconnect::{
    AsyncHttpClient, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IssuerUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
};

use crate::config::{LocalSignIn, ServeArgs};

/// The path the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/signin/oidc/callback";

/// How long a discovery document (and its keys) is trusted before it is
/// read again.
const METADATA_TTL: Duration = Duration::from_secs(3600);

/// A client as `from_provider_metadata` makes it: authorization endpoint
/// set, token and user-info endpoints as the document gave them.
pub type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What `--oidc-*` configured, checked at start.
pub struct Settings {
    pub issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    /// The sign-in button's text.
    pub label: String,
    username_claim: String,
    scopes: Vec<Scope>,
    /// Lower-case e-mail domains; empty lets anyone in.
    allowed_domains: Vec<String>,
    redirect: RedirectUrl,
    /// Where the provider sends a browser after signing it out there too.
    after_logout: String,
}

impl Settings {
    /// `None` without `--oidc-issuer`. Refuses a half configuration, an
    /// unreadable secret file, and `--local-sign-in admins|off` without a
    /// provider (nobody but the command line could sign in).
    pub fn from_config(config: &ServeArgs) -> anyhow::Result<Option<Settings>> {
        let Some(issuer) = config.oidc_issuer.as_deref() else {
            if config.local_sign_in != LocalSignIn::All {
                bail!("--local-sign-in admins or off needs a provider: give --oidc-issuer too");
            }
            return Ok(None);
        };
        // As given: discovery requires the document's issuer to be the
        // same string, trailing slash and all.
        let issuer = IssuerUrl::new(issuer.trim().to_owned())
            .with_context(|| format!("--oidc-issuer {issuer:?} is not a URL"))?;
        let client_id = config
            .oidc_client_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .context("--oidc-issuer needs --oidc-client-id")?;
        let secret = match (&config.oidc_client_secret, &config.oidc_client_secret_file) {
            (Some(secret), _) => secret.expose().to_owned(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| {
                    format!("cannot read --oidc-client-secret-file {}", file.display())
                })?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            (None, None) => bail!(
                "--oidc-issuer needs a client secret: CAFE_OIDC_CLIENT_SECRET or --oidc-client-secret-file"
            ),
        };
        if secret.is_empty() {
            bail!("the OpenID Connect client secret is empty");
        }
        let mut scopes: Vec<Scope> = vec![Scope::new("openid".to_owned())];
        for scope in &config.oidc_scopes {
            let scope = scope.trim();
            if !scope.is_empty() && scope != "openid" {
                scopes.push(Scope::new(scope.to_owned()));
            }
        }
        let base = config.base_url();
        Ok(Some(Settings {
            issuer,
            client_id: ClientId::new(client_id.trim().to_owned()),
            client_secret: ClientSecret::new(secret),
            label: config.oidc_label.clone(),
            username_claim: config.oidc_username_claim.trim().to_owned(),
            scopes,
            allowed_domains: config
                .oidc_allowed_domains
                .iter()
                .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
            redirect: RedirectUrl::new(base.join(CALLBACK_PATH))
                .context("the public URL does not make a redirect URI")?,
            after_logout: base.join("/"),
        }))
    }
}

/// The discovery document and keys as last read.
struct Discovered {
    metadata: ProviderMetadataWithLogout,
    read_at: Instant,
}

/// The provider's HTTP client: reqwest, never following redirects (a
/// redirect from the token endpoint must not carry the code and secret
/// elsewhere), with a 5xx or 429 answer made an error of the request, so
/// that it reads as "the provider is down" rather than as a bad answer.
pub struct Http(openidconnect::reqwest::Client);

/// Why the provider could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum HttpFailure {
    #[error("{0}")]
    Transport(String),
    #[error("the provider answered HTTP {0}")]
    Status(u16),
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpFailure;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpFailure>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self
                .0
                .call(request)
                .await
                .map_err(|err| HttpFailure::Transport(chain(&err)))?;
            let status = response.status();
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(HttpFailure::Status(status.as_u16()));
            }
            Ok(response)
        })
    }
}

/// One configured provider: its settings, its HTTP client and its
/// discovery document.
pub struct Provider {
    pub settings: Settings,
    http: Http,
    discovered: RwLock<Option<Discovered>>,
}

impl Provider {
    pub fn new(settings: Settings) -> anyhow::Result<Provider> {
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .context("cannot build the OpenID Connect HTTP client")?;
        Ok(Provider {
            settings,
            http: Http(http),
            discovered: RwLock::new(None),
        })
    }

    /// The discovery document, read again when older than an hour or when
    /// `fresh` asks for it.
    async fn metadata(&self, fresh: bool) -> Result<ProviderMetadataWithLogout, SignInError> {
        if !fresh {
            let kept = self.discovered.read().unwrap_or_else(|e| e.into_inner());
            if let Some(kept) = kept.as_ref()
                && kept.read_at.elapsed() < METADATA_TTL
            {
                return Ok(kept.metadata.clone());
            }
        }
        let metadata =
            ProviderMetadataWithLogout::discover_async(self.settings.issuer.clone(), &self.http)
                .await
                .map_err(|err| {
                    SignInError::provider_down(format!("discovery failed: {}", chain(&err)))
                })?;
        *self.discovered.write().unwrap_or_else(|e| e.into_inner()) = Some(Discovered {
            metadata: metadata.clone(),
            read_at: Instant::now(),
        });
        Ok(metadata)
    }

    /// A client over the discovery document.
    fn client(&self, metadata: ProviderMetadataWithLogout) -> Client {
        CoreClient::from_provider_metadata(
            metadata,
            self.settings.client_id.clone(),
            Some(self.settings.client_secret.clone()),
        )
        .set_redirect_uri(self.settings.redirect.clone())
    }

    /// The provider's RP-initiated logout address for a browser Cafe has
    /// signed out, if the provider offers one (`None` too when it cannot be
    /// asked just now: signing out of Cafe does not depend on it).
    pub async fn logout_url(&self) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut url = endpoint.url().clone();
        url.query_pairs_mut()
            .append_pair("client_id", self.settings.client_id.as_str())
            .append_pair("post_logout_redirect_uri", &self.settings.after_logout);
        Some(url.to_string())
    }
}

/// An error's message with its causes, for the log (never for the page).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A sign-in that did not work: the status and sentence the person sees
/// (never a 5xx: each is something they or an administrator can act on),
/// and the reason for the log.
#[derive(Debug)]
pub struct SignInError {
    pub status: StatusCode,
    pub message: String,
    pub reason: String,
}

impl SignInError {
    pub fn new(status: StatusCode, message: impl Into<String>, reason: impl Into<String>) -> Self {
        SignInError {
            status,
            message: message.into(),
            reason: reason.into(),
        }
    }

    /// The provider could not be reached or answered with an error of its
    /// own: 424 (Failed Dependency), not a 5xx, since Cafe itself is well.
    pub fn provider_down(reason: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FAILED_DEPENDENCY,
            "Your organisation's sign-in service could not be reached just now, so you could \
             not be signed in. Please try again in a few minutes; if it goes on, tell an \
             administrator.",
            reason,
        )
    }

    /// Cafe's own database could not be read or written: 503, as anywhere
    /// in Cafe (not the provider's fault).
    pub fn database(err: &sqlx::Error) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Cafe cannot reach its database just now. Please try again in a minute.",
            format!("database: {err}"),
        )
    }

    /// The provider's answer could not be trusted: 401.
    pub fn untrusted(reason: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "The answer from your organisation's sign-in service could not be verified, so \
             you were not signed in. Please try again; if it goes on, tell an administrator.",
            reason,
        )
    }
}
