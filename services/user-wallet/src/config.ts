import { type ConfigOf, env, serviceConfigSpec } from '@tms/config'

export const configSpec = {
  ...serviceConfigSpec({ port: 8002, database: 'wallet' }),
  /** Where the auth service publishes its public signing keys. */
  jwksUrl: env.url('JWKS_URL', {
    protocols: ['http:', 'https:'],
    default: 'http://127.0.0.1:8001/auth/.well-known/jwks.json',
  }),
  /** The deployment's one currency, a lowercase ISO 4217 code. */
  currency: env.currency('CURRENCY', { default: 'usd' }),
}

export type WalletConfig = ConfigOf<typeof configSpec>
