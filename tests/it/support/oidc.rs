//! A fake OpenID provider on a free local port, for the sign-in tests: the
//! authorization code flow with PKCE, ID tokens signed with a throwaway RSA
//! key, and switches that make it misbehave the ways a real provider (or an
//! attacker in the middle) can: spoiled ID tokens ([`Tamper`]), a person who
//! declines ([`FakeProvider::deny`]), a provider that is down
//! ([`FakeProvider::set_down`]).
//!
//! It is strict where a lax provider would hide a client's mistake: it wants
//! PKCE (S256), a nonce and a state on every authorization request, checks the
//! redirect URI and the verifier at the token endpoint, and lets each code be
//! exchanged once.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::url::Url;
use openidconnect::{JsonWebKeyId, PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey};
use rand::Rng;
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

/// The client id Cafe is registered under at the fake provider.
pub const CLIENT_ID: &str = "cafe-test";
/// The client secret that goes with [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "fake-provider-secret";

/// The key id of the key the JWKS publishes.
const KEY_ID: &str = "test-key-1";
/// The key id of the key [`Tamper::UnknownKey`] signs with (not published).
const UNKNOWN_KEY_ID: &str = "test-key-2";
/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME: Duration = Duration::from_secs(300);
/// Seconds an ID token is good for.
const TOKEN_LIFETIME: i64 = 300;

/// Who signs in at the provider: the claims its ID tokens carry.
#[derive(Clone, Debug)]
pub struct Person {
    pub sub: String,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
}

impl Person {
    /// A person with every profile claim set: `preferred_username` =
    /// `username`, name "Name of {username}", a verified address
    /// `{username}@example.org`. Clear fields to test a sparse provider.
    pub fn new(sub: &str, username: &str) -> Person {
        Person {
            sub: sub.to_owned(),
            preferred_username: Some(username.to_owned()),
            name: Some(format!("Name of {username}")),
            email: Some(format!("{username}@example.org")),
            email_verified: Some(true),
        }
    }
}

/// How the next ID tokens are spoiled: applies to the tokens issued after it
/// is set, until it is reset with `Tamper::None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Honest tokens.
    None,
    /// One byte of the signature changed.
    Signature,
    /// The claims changed after signing (`sub` swapped for another person's).
    Payload,
    /// `aud` is another client.
    Audience,
    /// `exp` 10 minutes in the past, `iat` 15.
    Expired,
    /// A nonce other than the one of the authorization request.
    Nonce,
    /// `iss` is another issuer.
    Issuer,
    /// `iat` 10 minutes ahead of now, `exp` 5 minutes after that. Note that
    /// openidconnect's `IdTokenVerifier` accepts any `iat` unless given
    /// `set_issue_time_verifier_fn`.
    IssuedInFuture,
    /// Signed with a second key whose kid is not in the JWKS.
    UnknownKey,
    /// The token answer has no `id_token` at all.
    NoIdToken,
}

/// A signing key and the public numbers the JWKS publishes.
struct Key {
    signing: CoreRsaPrivateSigningKey,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl Key {
    /// A fresh 2048-bit RSA key (slow in a debug build: made once a process).
    fn generate(kid: &str) -> Key {
        let private =
            rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("an RSA key");
        let pem = private.to_pkcs1_pem(LineEnding::LF).expect("a PEM key");
        let signing = CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.into())))
            .expect("openidconnect takes the key");
        Key {
            signing,
            n: private.n().to_bytes_be(),
            e: private.e().to_bytes_be(),
        }
    }

    /// `header.claims.signature`, RS256.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string()),
            b64url(claims.to_string())
        );
        let signature = self
            .signing
            .sign(
                &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                input.as_bytes(),
            )
            .expect("RS256 signature");
        format!("{input}.{}", b64url(&signature))
    }
}

/// The published key, shared by every provider of the test process.
static KEY: LazyLock<Key> = LazyLock::new(|| Key::generate(KEY_ID));
/// The key no JWKS knows, made only when [`Tamper::UnknownKey`] needs it.
static UNKNOWN_KEY: LazyLock<Key> = LazyLock::new(|| Key::generate(UNKNOWN_KEY_ID));

/// A code handed out by `/authorize`, waiting for its exchange.
struct Grant {
    person: Person,
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
    issued: Instant,
}

/// What the switches and the endpoints share.
struct Inner {
    person: Person,
    tamper: Tamper,
    deny: bool,
    down: bool,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, Person>,
    token_requests: usize,
    last_authorize: Option<HashMap<String, String>>,
    last_logout: Option<HashMap<String, String>>,
}

struct Shared {
    issuer: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock has failed already.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The fake provider; dropping it stops its server.
pub struct FakeProvider {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeProvider {
    /// Serves a provider on `127.0.0.1` at a free port; its issuer is
    /// `http://127.0.0.1:{port}` (no trailing slash). Signs in
    /// `Person::new("sub-ada", "ada")` until told otherwise.
    pub async fn start() -> FakeProvider {
        // Make the key before anyone waits on an endpoint for it.
        tokio::task::spawn_blocking(|| LazyLock::force(&KEY).n.len())
            .await
            .expect("RSA key generation");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port for the fake provider");
        let port = listener.local_addr().expect("its address").port();
        let shared = Arc::new(Shared {
            issuer: format!("http://127.0.0.1:{port}"),
            inner: Mutex::new(Inner {
                person: Person::new("sub-ada", "ada"),
                tamper: Tamper::None,
                deny: false,
                down: false,
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                token_requests: 0,
                last_authorize: None,
                last_logout: None,
            }),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/logout", get(logout))
            .layer(middleware::from_fn_with_state(shared.clone(), down))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the fake provider serves");
        });
        FakeProvider { shared, server }
    }

    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// Whom `/authorize` signs in from now on.
    pub fn sign_in_as(&self, person: Person) {
        self.shared.lock().person = person;
    }

    /// Spoils the ID tokens issued from now on (see [`Tamper`]).
    pub fn tamper(&self, how: Tamper) {
        self.shared.lock().tamper = how;
    }

    /// While set, `/authorize` sends the browser back with
    /// `error=access_denied`, as when a person declines.
    pub fn deny(&self, yes: bool) {
        self.shared.lock().deny = yes;
    }

    /// While set, every endpoint (discovery too) answers 503.
    pub fn set_down(&self, yes: bool) {
        self.shared.lock().down = yes;
    }

    /// `{issuer}/logout`, as discovery gives it.
    pub fn end_session_endpoint(&self) -> String {
        format!("{}/logout", self.shared.issuer)
    }

    /// Requests to `/token` so far, refused ones (and those while down)
    /// included.
    pub fn token_requests(&self) -> usize {
        self.shared.lock().token_requests
    }

    /// The query of the last request to `/authorize`, refused ones included.
    pub fn last_authorize(&self) -> Option<HashMap<String, String>> {
        self.shared.lock().last_authorize.clone()
    }

    /// The query of the last request to `/logout` (`id_token_hint`,
    /// `post_logout_redirect_uri`, `client_id`, `state` as a client sent them).
    pub fn last_logout(&self) -> Option<HashMap<String, String>> {
        self.shared.lock().last_logout.clone()
    }

    /// GETs an authorization URL (as Cafe redirected a browser to it) without
    /// following redirects, and returns where the provider sends the browser:
    /// the client's callback with `code` and `state` (or `error`). Panics with
    /// the body when the answer is not a redirect.
    pub async fn authorize(&self, url: &str) -> String {
        assert!(
            url.starts_with(&format!("{}/authorize?", self.shared.issuer)),
            "not an authorization URL of this provider ({}): {url}",
            self.shared.issuer
        );
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let response = client
            .get(url)
            .send()
            .await
            .expect("the fake provider answers");
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(location) if status.is_redirection() => location,
            _ => panic!(
                "/authorize answered {status}, not a redirect: {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
}

/// 503 for everything while the provider is down.
async fn down(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let is_down = {
        let mut inner = shared.lock();
        if request.uri().path() == "/token" {
            inner.token_requests += 1;
        }
        inner.down
    };
    if is_down {
        return (StatusCode::SERVICE_UNAVAILABLE, "the fake provider is down").into_response();
    }
    next.run(request).await
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let issuer = &shared.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
            "preferred_username", "name", "email", "email_verified"
        ],
    }))
}

async fn jwks() -> Json<Value> {
    Json(json!({
        "keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": KEY_ID,
            "n": b64url(&KEY.n),
            "e": b64url(&KEY.e),
        }]
    }))
}

/// Checks an authorization request, then sends the browser back with a code.
async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = shared.lock();
    inner.last_authorize = Some(query.clone());
    let param = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let problem = if param("response_type") != Some("code") {
        Some("response_type must be code")
    } else if param("client_id") != Some(CLIENT_ID) {
        Some("unknown client_id")
    } else if param("redirect_uri")
        .and_then(|uri| Url::parse(uri).ok())
        .is_none()
    {
        Some("redirect_uri is missing or not an absolute URL")
    } else if !param("scope").is_some_and(|scope| scope.split(' ').any(|s| s == "openid")) {
        Some("scope must contain openid")
    } else if param("state").is_none() {
        Some("state is missing")
    } else if param("nonce").is_none() {
        Some("nonce is missing")
    } else if param("code_challenge").is_none() {
        Some("code_challenge is missing (PKCE is required)")
    } else if param("code_challenge_method") != Some("S256") {
        Some("code_challenge_method must be S256")
    } else {
        None
    };
    if let Some(problem) = problem {
        return (
            StatusCode::BAD_REQUEST,
            format!("bad authorization request: {problem}"),
        )
            .into_response();
    }
    let redirect_uri = query["redirect_uri"].clone();
    let mut back = Url::parse(&redirect_uri).expect("checked above");
    if inner.deny {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "The person declined to sign in")
            .append_pair("state", &query["state"]);
    } else {
        let code = random_token();
        let grant = Grant {
            person: inner.person.clone(),
            nonce: query["nonce"].clone(),
            code_challenge: query["code_challenge"].clone(),
            redirect_uri,
            issued: Instant::now(),
        };
        inner
            .codes
            .retain(|_, old| old.issued.elapsed() <= CODE_LIFETIME);
        inner.codes.insert(code.clone(), grant);
        back.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &query["state"]);
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

/// An OAuth error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = Json(json!({"error": error, "error_description": description}));
    if status == StatusCode::UNAUTHORIZED {
        let challenge = [(header::WWW_AUTHENTICATE, "Basic realm=\"fake-provider\"")];
        return (status, challenge, body).into_response();
    }
    (status, body).into_response()
}

/// The client's id and secret, from HTTP Basic (each form-urlencoded, as RFC
/// 6749 section 2.3.1 says) or from the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(String, String), &'static str> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    match basic {
        Some(encoded) => {
            if form.contains_key("client_secret") {
                return Err("more than one client authentication method");
            }
            let decoded = b64_decode(encoded.trim()).ok_or("Basic credentials are not base64")?;
            let decoded =
                String::from_utf8(decoded).map_err(|_| "Basic credentials are not UTF-8")?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or("Basic credentials without a colon")?;
            Ok((form_decode(id), form_decode(secret)))
        }
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
            _ => Err("no client authentication"),
        },
    }
}

/// Exchanges a code for an access token and an ID token.
async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (tamper, grant) = {
        let mut inner = shared.lock();
        match client_credentials(&headers, &form) {
            Ok((id, secret)) if id == CLIENT_ID && secret == CLIENT_SECRET => {}
            Ok(_) => {
                return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "wrong client");
            }
            Err(why) => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", why),
        }
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code",
            );
        }
        // A code is spent by any attempt to use it, good or bad.
        let Some(grant) = form.get("code").and_then(|code| inner.codes.remove(code)) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "unknown or used code",
            );
        };
        if grant.issued.elapsed() > CODE_LIFETIME {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the code expired");
        }
        if form.get("redirect_uri") != Some(&grant.redirect_uri) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "redirect_uri differs from the authorization request's",
            );
        }
        let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
        if !pkce_matches(verifier, &grant.code_challenge) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "PKCE verifier mismatch",
            );
        }
        (inner.tamper, grant)
    };
    let access_token = random_token();
    shared
        .lock()
        .access_tokens
        .insert(access_token.clone(), grant.person.clone());
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
    });
    if tamper != Tamper::NoIdToken {
        let issuer = shared.issuer.clone();
        let id_token = tokio::task::spawn_blocking(move || sign_id_token(&issuer, &grant, tamper))
            .await
            .expect("signing an ID token");
        answer["id_token"] = id_token.into();
    }
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(answer),
    )
        .into_response()
}

/// Whether BASE64URL-NOPAD(SHA256(verifier)) is the challenge (RFC 7636).
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed
        && PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.into()))
            .as_str()
            == challenge
}

/// The person's profile claims that are set.
fn profile_claims(person: &Person) -> serde_json::Map<String, Value> {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), person.sub.clone().into());
    if let Some(v) = &person.preferred_username {
        claims.insert("preferred_username".into(), v.clone().into());
    }
    if let Some(v) = &person.name {
        claims.insert("name".into(), v.clone().into());
    }
    if let Some(v) = &person.email {
        claims.insert("email".into(), v.clone().into());
    }
    if let Some(v) = person.email_verified {
        claims.insert("email_verified".into(), v.into());
    }
    claims
}

/// A signed ID token for `grant`, spoiled as `tamper` says.
fn sign_id_token(issuer: &str, grant: &Grant, tamper: Tamper) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64;
    let (iat, exp) = match tamper {
        Tamper::Expired => (now - 900, now - 600),
        Tamper::IssuedInFuture => (now + 600, now + 600 + TOKEN_LIFETIME),
        _ => (now, now + TOKEN_LIFETIME),
    };
    let mut claims = profile_claims(&grant.person);
    claims.insert("iss".into(), issuer.into());
    claims.insert("aud".into(), json!([CLIENT_ID]));
    claims.insert("exp".into(), exp.into());
    claims.insert("iat".into(), iat.into());
    claims.insert("auth_time".into(), iat.into());
    claims.insert("nonce".into(), grant.nonce.clone().into());
    match tamper {
        Tamper::Audience => {
            claims.insert("aud".into(), json!(["another-client"]));
        }
        Tamper::Nonce => {
            claims.insert("nonce".into(), "a-different-nonce".into());
        }
        Tamper::Issuer => {
            claims.insert("iss".into(), "https://another-issuer.example".into());
        }
        _ => {}
    }
    let claims = Value::Object(claims);
    let key: &Key = if tamper == Tamper::UnknownKey {
        &UNKNOWN_KEY
    } else {
        &KEY
    };
    let kid = if tamper == Tamper::UnknownKey {
        UNKNOWN_KEY_ID
    } else {
        KEY_ID
    };
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let jwt = key.sign(&header, &claims);
    match tamper {
        Tamper::Signature => {
            let (signed, signature) = jwt.rsplit_once('.').expect("three parts");
            let mut bytes = b64url_decode(signature).expect("our own base64");
            bytes[10] ^= 0x01;
            format!("{signed}.{}", b64url(&bytes))
        }
        Tamper::Payload => {
            let parts: Vec<&str> = jwt.split('.').collect();
            let mut swapped = claims;
            swapped["sub"] = "sub-mallory".into();
            format!("{}.{}.{}", parts[0], b64url(swapped.to_string()), parts[2])
        }
        _ => jwt,
    }
}

/// The person an access token was issued for, as JSON.
async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let person = token.and_then(|token| shared.lock().access_tokens.get(token).cloned());
    match person {
        Some(person) => Json(Value::Object(profile_claims(&person))).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response(),
    }
}

/// Notes the sign-out request and says it is done.
async fn logout(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<&'static str> {
    shared.lock().last_logout = Some(query);
    Html("<!doctype html><title>Signed out</title><p>You are signed out of the fake provider.")
}

/// 32 random letters and digits: codes and access tokens.
fn random_token() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// A form-urlencoded component, decoded (`+` is a space).
fn form_decode(s: &str) -> String {
    form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| {
            if v.is_empty() {
                k.into_owned()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

const B64_STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// BASE64URL without padding (JWTs and JWKs use it).
fn b64url(data: impl AsRef<[u8]>) -> String {
    let mut out = String::new();
    for chunk in data.as_ref().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(B64_URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Base64 in `alphabet`, padding optional; `None` when not well formed.
fn b64_decode_with(s: &str, alphabet: &[u8; 64]) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = alphabet.iter().position(|a| a == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// Standard base64, as HTTP Basic credentials come.
fn b64_decode(s: &str) -> Option<Vec<u8>> {
    b64_decode_with(s, B64_STANDARD)
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    b64_decode_with(s, B64_URL)
}
