//! The fake OpenID provider of `support::oidc`, checked against the
//! openidconnect client Cafe uses: an honest sign-in verifies, and every way
//! it can be told to misbehave is caught where a relying party should catch
//! it. If these fail, the sign-in tests built on the fake prove nothing.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreProviderMetadata,
    CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::reqwest;
use openidconnect::url::Url;
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};

use crate::support::oidc::{CLIENT_ID, CLIENT_SECRET, FakeProvider, Person, Tamper};

/// Where the provider sends the browser back; nothing listens there.
const CALLBACK: &str = "http://127.0.0.1:9/auth/oidc/callback";

/// A client made from discovery, with the endpoints it has then.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// An HTTP client that does not follow redirects, as openidconnect asks.
fn http() -> reqwest::Client {
    reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

fn issuer_url(provider: &FakeProvider) -> IssuerUrl {
    IssuerUrl::new(provider.issuer()).expect("an issuer URL")
}

/// A client of `provider` authenticating with `secret`.
async fn client(provider: &FakeProvider, secret: &str) -> Client {
    let metadata = CoreProviderMetadata::discover_async(issuer_url(provider), &http())
        .await
        .expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(CLIENT_ID.into()),
        Some(ClientSecret::new(secret.into())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).expect("a redirect URL"))
}

/// The query of a URL.
fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .into_owned()
        .collect()
}

/// What the client holds after the browser came back with a code.
struct Authorized {
    code: AuthorizationCode,
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

/// The browser's half: the authorization request, and the code it brings back.
async fn authorize(provider: &FakeProvider, client: &Client) -> Authorized {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let location = provider.authorize(url.as_str()).await;
    assert!(location.starts_with(CALLBACK), "sent back to {location}");
    let back = query(&location);
    assert_eq!(back.get("state"), Some(state.secret()), "{location}");
    Authorized {
        code: AuthorizationCode::new(back.get("code").expect("a code").clone()),
        verifier,
        nonce,
    }
}

/// The server's half: the code exchanged at the token endpoint.
async fn exchange(
    client: &Client,
    code: AuthorizationCode,
    verifier: PkceCodeVerifier,
) -> Result<CoreTokenResponse, CoreErrorResponseType> {
    client
        .exchange_code(code)
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .map_err(|err| match err {
            RequestTokenError::ServerResponse(answer) => answer.error().clone(),
            other => panic!("the token request failed: {other:?}"),
        })
}

/// A whole sign-in up to the token answer, and the nonce it must carry.
async fn sign_in(provider: &FakeProvider, client: &Client) -> (CoreTokenResponse, Nonce) {
    let authorized = authorize(provider, client).await;
    let token = exchange(client, authorized.code, authorized.verifier)
        .await
        .expect("a token answer");
    (token, authorized.nonce)
}

#[tokio::test]
async fn discovery_parses_and_names_the_provider_endpoints() {
    let provider = FakeProvider::start().await;
    let issuer = provider.issuer();
    assert!(!issuer.ends_with('/'), "{issuer}");
    let metadata = CoreProviderMetadata::discover_async(issuer_url(&provider), &http())
        .await
        .expect("discovery parses as CoreProviderMetadata");
    assert_eq!(metadata.issuer().as_str(), issuer);
    assert_eq!(
        metadata.authorization_endpoint().as_str(),
        format!("{issuer}/authorize")
    );
    assert_eq!(
        metadata.token_endpoint().map(|url| url.as_str().to_owned()),
        Some(format!("{issuer}/token"))
    );
    assert_eq!(metadata.jwks().keys().len(), 1, "one published key");

    let with_logout = ProviderMetadataWithLogout::discover_async(issuer_url(&provider), &http())
        .await
        .expect("discovery parses with the logout metadata");
    let end_session = with_logout
        .additional_metadata()
        .end_session_endpoint
        .as_ref()
        .map(|url| url.as_str().to_owned());
    assert_eq!(end_session, Some(provider.end_session_endpoint()));
}

#[tokio::test]
async fn a_code_flow_with_pkce_gives_a_verified_id_token_for_the_person_signed_in() {
    let provider = FakeProvider::start().await;
    provider.sign_in_as(Person::new("sub-grace", "grace"));
    let client = client(&provider, CLIENT_SECRET).await;
    let (token, nonce) = sign_in(&provider, &client).await;

    let asked = provider.last_authorize().expect("an authorization request");
    assert_eq!(asked.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(
        asked.get("redirect_uri").map(String::as_str),
        Some(CALLBACK)
    );
    assert_eq!(
        asked.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert!(
        asked["scope"].split(' ').any(|s| s == "openid"),
        "{asked:?}"
    );
    assert_eq!(provider.token_requests(), 1);

    let id_token = token.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("an honest ID token verifies");
    assert_eq!(claims.subject().as_str(), "sub-grace");
    assert_eq!(
        claims.preferred_username().map(|name| name.as_str()),
        Some("grace")
    );
    assert_eq!(
        claims.email().map(|email| email.as_str()),
        Some("grace@example.org")
    );
    assert_eq!(claims.email_verified(), Some(true));

    let userinfo: CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), Some(claims.subject().clone()))
        .expect("a userinfo endpoint")
        .request_async(&http())
        .await
        .expect("userinfo answers for the access token");
    assert_eq!(
        userinfo.preferred_username().map(|name| name.as_str()),
        Some("grace")
    );

    let logout = format!(
        "{}?id_token_hint={id_token}",
        provider.end_session_endpoint()
    );
    let page = http().get(&logout).send().await.expect("logout answers");
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let hint = provider
        .last_logout()
        .and_then(|q| q.get("id_token_hint").cloned());
    assert_eq!(hint, Some(id_token.to_string()));
}

#[tokio::test]
async fn every_spoiled_id_token_fails_the_claims_check_for_its_own_reason() {
    type Reason = fn(&ClaimsVerificationError) -> bool;
    let bad_signature: Reason = |err| {
        matches!(
            err,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::CryptoError(_)
            )
        )
    };
    let cases: [(Tamper, Reason); 7] = [
        (Tamper::Signature, bad_signature),
        (Tamper::Payload, bad_signature),
        (Tamper::Audience, |err| {
            matches!(err, ClaimsVerificationError::InvalidAudience(_))
        }),
        (Tamper::Expired, |err| {
            matches!(err, ClaimsVerificationError::Expired(_))
        }),
        (Tamper::Nonce, |err| {
            matches!(err, ClaimsVerificationError::InvalidNonce(_))
        }),
        (Tamper::Issuer, |err| {
            matches!(err, ClaimsVerificationError::InvalidIssuer(_))
        }),
        (Tamper::UnknownKey, |err| {
            matches!(
                err,
                ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey
                )
            )
        }),
    ];
    let provider = FakeProvider::start().await;
    let client = client(&provider, CLIENT_SECRET).await;
    for (tamper, expected) in cases {
        provider.tamper(tamper);
        let (token, nonce) = sign_in(&provider, &client).await;
        let id_token = token.id_token().expect("a (spoiled) ID token");
        match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => panic!("{tamper:?} passed the check: {claims:?}"),
            Err(err) => assert!(expected(&err), "{tamper:?} failed otherwise: {err:?}"),
        }
    }

    provider.tamper(Tamper::None);
    let (token, nonce) = sign_in(&provider, &client).await;
    let claims = token
        .id_token()
        .expect("an ID token")
        .claims(&client.id_token_verifier(), &nonce)
        .expect("honest again after Tamper::None");
    assert_eq!(claims.subject().as_str(), "sub-ada");
}

#[tokio::test]
async fn an_id_token_issued_in_the_future_is_caught_only_by_an_iat_check() {
    let provider = FakeProvider::start().await;
    let client = client(&provider, CLIENT_SECRET).await;
    provider.tamper(Tamper::IssuedInFuture);
    let (token, nonce) = sign_in(&provider, &client).await;
    let id_token = token.id_token().expect("an ID token");

    // openidconnect accepts any iat unless told otherwise: Cafe must tell it.
    assert!(
        id_token.claims(&client.id_token_verifier(), &nonce).is_ok(),
        "openidconnect's default verifier now checks iat; this test can go"
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64;
    let checks_iat = client
        .id_token_verifier()
        .set_issue_time_verifier_fn(|iat| {
            if iat.timestamp() > now + 60 {
                Err(format!("issued in the future: {iat}"))
            } else {
                Ok(())
            }
        });
    let err = id_token
        .claims(&checks_iat, &nonce)
        .expect_err("an iat ten minutes ahead is refused");
    assert!(
        matches!(err, ClaimsVerificationError::Expired(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn no_id_token_tamper_answers_without_an_id_token() {
    let provider = FakeProvider::start().await;
    let client = client(&provider, CLIENT_SECRET).await;
    provider.tamper(Tamper::NoIdToken);
    let (token, _) = sign_in(&provider, &client).await;
    assert!(token.id_token().is_none());
    assert!(!token.access_token().secret().is_empty());
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_an_invalid_grant() {
    let provider = FakeProvider::start().await;
    let client = client(&provider, CLIENT_SECRET).await;
    let authorized = authorize(&provider, &client).await;
    let wrong = PkceCodeVerifier::new("a".repeat(43));
    let answer = exchange(&client, authorized.code, wrong).await;
    assert_eq!(answer.err(), Some(CoreErrorResponseType::InvalidGrant));
}

#[tokio::test]
async fn a_code_is_good_for_one_exchange_only() {
    let provider = FakeProvider::start().await;
    let client = client(&provider, CLIENT_SECRET).await;
    let authorized = authorize(&provider, &client).await;
    let again = (
        authorized.code.clone(),
        PkceCodeVerifier::new(authorized.verifier.secret().clone()),
    );
    exchange(&client, authorized.code, authorized.verifier)
        .await
        .expect("the first exchange");
    let answer = exchange(&client, again.0, again.1).await;
    assert_eq!(answer.err(), Some(CoreErrorResponseType::InvalidGrant));
    assert_eq!(provider.token_requests(), 2);
}

#[tokio::test]
async fn the_client_signs_in_by_basic_or_by_form_and_a_wrong_secret_is_an_invalid_client() {
    let provider = FakeProvider::start().await;
    let by_basic = client(&provider, CLIENT_SECRET).await;
    assert!(matches!(by_basic.auth_type(), AuthType::BasicAuth));
    sign_in(&provider, &by_basic).await;

    let by_form = client(&provider, CLIENT_SECRET)
        .await
        .set_auth_type(AuthType::RequestBody);
    sign_in(&provider, &by_form).await;

    for auth_type in [AuthType::BasicAuth, AuthType::RequestBody] {
        let wrong = client(&provider, "not-the-secret")
            .await
            .set_auth_type(auth_type);
        let authorized = authorize(&provider, &wrong).await;
        let answer = exchange(&wrong, authorized.code, authorized.verifier).await;
        assert_eq!(answer.err(), Some(CoreErrorResponseType::InvalidClient));
    }
}

#[tokio::test]
async fn an_authorization_request_without_pkce_is_refused_with_a_reason() {
    let provider = FakeProvider::start().await;
    let url = format!(
        "{}/authorize?response_type=code&client_id={CLIENT_ID}&scope=openid\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=s&nonce=n",
        provider.issuer()
    );
    let answer = http().get(&url).send().await.expect("an answer");
    assert_eq!(answer.status(), reqwest::StatusCode::BAD_REQUEST);
    let body = answer.text().await.expect("a body");
    assert!(body.contains("code_challenge"), "{body}");
    let asked = provider
        .last_authorize()
        .expect("recorded even when refused");
    assert_eq!(asked.get("state").map(String::as_str), Some("s"));
}

#[tokio::test]
async fn a_denied_sign_in_comes_back_with_access_denied_and_the_state() {
    let provider = FakeProvider::start().await;
    let client = client(&provider, CLIENT_SECRET).await;
    provider.deny(true);
    let (url, state, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(PkceCodeChallenge::new_random_sha256().0)
        .url();
    let back = query(&provider.authorize(url.as_str()).await);
    assert_eq!(back.get("error").map(String::as_str), Some("access_denied"));
    assert!(back.contains_key("error_description"), "{back:?}");
    assert_eq!(back.get("state"), Some(state.secret()));
    assert!(!back.contains_key("code"), "{back:?}");
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn a_provider_that_is_down_fails_discovery_until_it_is_back() {
    let provider = FakeProvider::start().await;
    provider.set_down(true);
    let answer = CoreProviderMetadata::discover_async(issuer_url(&provider), &http()).await;
    assert!(answer.is_err(), "discovery of a provider that is down");
    provider.set_down(false);
    CoreProviderMetadata::discover_async(issuer_url(&provider), &http())
        .await
        .expect("discovery once it is back");
}
