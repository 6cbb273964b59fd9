// Token policy: short-lived signed access tokens, long-lived opaque refresh tokens stored only
// as a SHA-256 hash (a stolen database yields no usable token), rotated on every use.
import { createHash, randomBytes } from 'node:crypto'
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYPE } from '@tms/jwt'
import { type CryptoKey, SignJWT } from 'jose'
import Type, { type Static } from 'typebox'
import type { UsersTable } from '../db/schema.ts'

/** A public key as published in the JWKS (and its schema in GET /.well-known/jwks.json). */
export const PublicJwk = Type.Object({
  kty: Type.String(),
  crv: Type.String(),
  x: Type.String(),
  y: Type.String(),
  kid: Type.String(),
  alg: Type.Literal('ES256'),
  use: Type.Literal('sig'),
})
export type PublicJwk = Static<typeof PublicJwk>

/** The key access tokens are signed with, and the public keys that verify them (keys.ts). */
export interface SigningKeys {
  kid: string
  privateKey: CryptoKey
  jwks: { keys: PublicJwk[] }
  /** True when the key was generated for development rather than configured. */
  generated: boolean
}

export interface TokenSettings {
  jwtIssuer: string
  accessTokenTtlSeconds: number
  refreshTokenTtlDays: number
}

/** The SPEC's access token: ES256, `typ: at+jwt`, the key's kid; sub, role, username, iss, aud. */
export function signAccessToken(
  keys: SigningKeys,
  settings: TokenSettings,
  user: Pick<UsersTable, 'id' | 'role' | 'username'>,
  now: Date,
): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000)
  return new SignJWT({ role: user.role, username: user.username })
    .setProtectedHeader({ alg: 'ES256', typ: ACCESS_TOKEN_TYPE, kid: keys.kid })
    .setSubject(user.id)
    .setIssuer(settings.jwtIssuer)
    .setAudience(ACCESS_TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + settings.accessTokenTtlSeconds)
    .setJti(randomBytes(12).toString('base64url'))
    .sign(keys.privateKey)
}

export function refreshTokenExpiry(settings: TokenSettings, now: Date): Date {
  return new Date(now.getTime() + settings.refreshTokenTtlDays * 24 * 60 * 60 * 1000)
}

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url')
}

/** A fast hash is enough: the token has 256 bits of entropy, nothing to brute-force. */
export function refreshTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export interface StoredRefreshToken {
  expires_at: Date
  spent_at: Date | null
  revoked_at: Date | null
}

/**
 * What presenting a refresh token means: `rotate` it; `reuse` of a spent one means it was
 * stolen or replayed, so its whole family goes; anything else is simply refused.
 */
export function refreshDecision(
  token: StoredRefreshToken | undefined,
  now: Date,
): 'rotate' | 'reuse' | 'refuse' {
  if (!token || token.revoked_at) return 'refuse'
  if (token.spent_at) return 'reuse'
  if (token.expires_at.getTime() <= now.getTime()) return 'refuse'
  return 'rotate'
}
