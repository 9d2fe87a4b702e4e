// The OpenID Connect provider the email OAuth 2.0 and console sign-in tests run on loopback
// (tests/integration/oidc.py starts it).
// Usage: node provider.js CONFIG.json  — {"port", "access_ttl", "clients": [...]} written by the tests.
// Device flow, client credentials, introspection (Dovecot's oauth2 passdb) and revocation enabled; refresh
// tokens rotate on every use, so the tests see the connector persist the rotated one.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  extraClientMetadata: { properties: ['mailbox'] },
  scopes: ['openid', 'offline_access', 'imap', 'email', 'profile'],
  // The console's single sign-on: the account a tester signs in as (its login) is her email, verified.
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false, // the ID token carries them (the console reads no userinfo)
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id, email: id, email_verified: true, name: id }; } };
  },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  ttl: {
    AccessToken: config.access_ttl,
    ClientCredentials: config.access_ttl,
    DeviceCode: 600,
    RefreshToken: 86400,
    Grant: 86400,
    Interaction: 600,
    Session: 86400,
  },
  // Dovecot's username_attribute: the mailbox a token opens (the signed-in account, or the app's mailbox).
  async extraTokenClaims(ctx, token) {
    if (token.accountId) return { username: token.accountId };
    const client = await ctx.oidc.provider.Client.find(token.clientId);
    return client && client.mailbox ? { username: client.mailbox } : undefined;
  },
  issueRefreshToken: async (ctx, client, source) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
// A test hook: end one access token before its time while its grant lives on (as Microsoft's continuous
// access evaluation can). RFC 7009 revocation would not do: oidc-provider revokes the grant's tokens with it.
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/test/end-access-token') {
    const body = new URLSearchParams(await new Promise((resolve) => {
      let data = '';
      ctx.req.on('data', (chunk) => { data += chunk; });
      ctx.req.on('end', () => resolve(data));
    }));
    const token = await provider.AccessToken.find(body.get('token'));
    if (token) await token.destroy();
    ctx.status = token ? 204 : 404;
    return;
  }
  await next();
});
provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
