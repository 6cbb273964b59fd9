// Access tokens as the auth service issues them (SPEC "Conventions": an ES256 JWT with header
// `typ: at+jwt` and a `kid`; claims sub, role, username, iss, aud, exp), minted with a test key,
// and that key's JWKS served over HTTP, so a service's tests do not need the auth service.
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Role } from '@tms/contracts'
import { base64url, type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import type { TestContext } from './context.ts'

/** The claims of an access token about its user; other claims may ride along. */
export interface TokenClaims {
  sub: string
  role: Role
  username: string
  [claim: string]: unknown
}

export interface MintOptions {
  /** Seconds from now until `exp`; negative for a token that has already expired. Default 900. */
  expiresIn?: number
  /** The header's `typ`. Default `at+jwt`. */
  typ?: string
  /** Default: the issuer's audience. */
  audience?: string
  /** Default: the issuer's `iss`. */
  issuer?: string
  /** The header's `kid`. Default: the issuer's kid. */
  kid?: string
  /** Seconds from now until `nbf` (negative for the past); no `nbf` claim when left out. */
  notBefore?: number
  /** Seconds from now of `iat` (positive: issued in the future). Default 0. */
  issuedAt?: number
}

export interface TestIssuerOptions {
  /** The `iss` of the tokens, what a service under test gets as JWT_ISSUER. Default `tms-test`. */
  issuer?: string
  /** Default `tms-api`. */
  audience?: string
  /** Default: a random `test-…` id. */
  kid?: string
}

export interface TestIssuer {
  issuer: string
  audience: string
  kid: string
  /** The public key set: what `GET /auth/.well-known/jwks.json` answers. */
  jwks: { keys: JWK[] }
  publicKey: CryptoKey
  privateKey: CryptoKey
  /** A signed access token for the user. */
  mint(claims: TokenClaims, opts?: MintOptions): Promise<string>
  /** The same token with header `alg: none` and no signature, which a verifier must refuse. */
  mintUnsigned(claims: TokenClaims, opts?: Omit<MintOptions, 'kid'>): string
  /**
   * Serves the JWKS at `/auth/.well-known/jwks.json` on a port of its own on 127.0.0.1 until
   * the test ends; returns that URL.
   */
  serveJwks(t: TestContext): Promise<string>
}

export const jwksPath = '/auth/.well-known/jwks.json'

const now = () => Math.floor(Date.now() / 1000)

function payload(issuer: TestIssuer, claims: TokenClaims, opts: MintOptions) {
  const iat = now() + (opts.issuedAt ?? 0)
  return {
    ...claims,
    iss: opts.issuer ?? issuer.issuer,
    aud: opts.audience ?? issuer.audience,
    iat,
    exp: now() + (opts.expiresIn ?? 900),
    ...(opts.notBefore === undefined ? {} : { nbf: now() + opts.notBefore }),
    jti: randomBytes(8).toString('hex'),
  }
}

/**
 * A token issuer with an ES256 key pair of its own. Tokens it mints verify against its `jwks`
 * (serve them with `serveJwks`); to get tokens signed by some other key, which a service must
 * refuse, make a second issuer (see `createImpostorIssuer`).
 */
export async function createTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
  const kid = options.kid ?? `test-${randomBytes(6).toString('hex')}`
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }
  const self: TestIssuer = {
    issuer: options.issuer ?? 'tms-test',
    audience: options.audience ?? 'tms-api',
    kid,
    jwks: { keys: [jwk] },
    publicKey,
    privateKey,
    mint(claims, opts = {}) {
      return new SignJWT(payload(self, claims, opts))
        .setProtectedHeader({ alg: 'ES256', typ: opts.typ ?? 'at+jwt', kid: opts.kid ?? kid })
        .sign(privateKey)
    },
    mintUnsigned(claims, opts = {}) {
      const encode = (part: object) => base64url.encode(JSON.stringify(part))
      const header = { alg: 'none', typ: opts.typ ?? 'at+jwt' }
      return `${encode(header)}.${encode(payload(self, claims, opts))}.`
    },
    async serveJwks(t) {
      const body = JSON.stringify(self.jwks)
      const server = http.createServer((req, res) => {
        if (req.method === 'GET' && req.url?.split('?')[0] === jwksPath) {
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          res.end(body)
        } else {
          res.writeHead(404, { 'content-type': 'application/problem+json' })
          res.end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404 }))
        }
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      t.teardown(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve())
            server.closeAllConnections()
          }),
      )
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}${jwksPath}`
    },
  }
  return self
}

/**
 * A second issuer that looks like `of` (same `iss`, `aud` and `kid`) but signs with a key of
 * its own: its tokens must fail verification against `of`'s JWKS. Just `createTestIssuer`
 * again with `of`'s names; call `createTestIssuer()` for an unrelated issuer instead.
 */
export function createImpostorIssuer(of: TestIssuer): Promise<TestIssuer> {
  return createTestIssuer({ issuer: of.issuer, audience: of.audience, kid: of.kid })
}
