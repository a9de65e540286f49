// A real OpenID provider (panva/oidc-provider) for Cafe's end-to-end
// sign-in test (tests/it/browser_oidc.rs, started by
// tests/it/support/node_oidc.rs). Test only: it accepts any login with any
// password and keeps everything in memory.
//
// Environment:
//   PORT                      the port to listen on (127.0.0.1 only)
//   ISSUER                    default http://127.0.0.1:PORT; the test uses
//                             http://localhost:PORT (another site than Cafe's)
//   CLIENT_ID, CLIENT_SECRET  the one confidential client (Cafe)
//   REDIRECT_URI              Cafe's {public-url}/signin/oidc/callback
//   POST_LOGOUT_REDIRECT_URI  where RP-initiated logout may return (optional)
//
// Prints `oidc-provider listening on ISSUER` once it accepts connections.

import { createServer } from 'node:http';
import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: set ${name}`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('PORT'));
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
const postLogout = process.env.POST_LOGOUT_REDIRECT_URI;

const client = {
  client_id: required('CLIENT_ID'),
  client_secret: required('CLIENT_SECRET'),
  client_name: 'Cafe',
  redirect_uris: [required('REDIRECT_URI')],
  post_logout_redirect_uris: postLogout ? [postLogout] : [],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
};

// Any login id is an account: sub and preferred_username are the id.
async function findAccount(_ctx, id) {
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        preferred_username: id,
        name: `Name of ${id}`,
        email: `${id}@example.org`,
        email_verified: true,
      };
    },
  };
}

const provider = new Provider(issuer, {
  clients: [client],
  findAccount,
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'profile', 'email'],
  // The profile and email claims go in the ID token as well as the
  // userinfo answer, as Entra ID, Google and Keycloak do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  // Fixed keys: a test provider has no secrets worth keeping.
  cookies: { keys: ['cafe-test-oidc-provider-cookie-key'] },
});

// Plain http on 127.0.0.1: nothing to proxy, nothing to trust.
provider.proxy = false;

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
