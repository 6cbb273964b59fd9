// The ES256 signing key and the public keys published at /auth/.well-known/jwks.json. The
// `kid` is the key's JWK thumbprint (RFC 7638), so it is stable without configuration. During a
// rotation the previous public key stays in the JWKS until the last token it signed expires.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ConfigProblem } from '@tms/config'
import type { Logger } from '@tms/logging'
import { calculateJwkThumbprint, importPKCS8 } from 'jose'
import type { AuthConfig } from './config.ts'
import type { PublicJwk, SigningKeys } from './domain/tokens.ts'

export interface KeyOptions {
  privateKeyPem?: string
  privateKeyFile?: string
  previousPublicKeyPem?: string
  previousPublicKeyFile?: string
  dataDir: string
  production: boolean
}

function assertP256(key: KeyObject, what: string) {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`${what} must be an EC P-256 key (ES256)`)
  }
}

async function publicJwk(key: KeyObject): Promise<PublicJwk> {
  const jwk = key.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string }
  const kid = await calculateJwkThumbprint(jwk)
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' }
}

/** The development key under the data directory, made on first use; never in production. */
async function developmentKey(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'keys', 'jwt-private.pem')
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
  await writeFile(file, pem, { mode: 0o600, flag: 'wx' }).catch(async (err) => {
    // Another process made it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  })
  await chmod(file, 0o600)
  return readFile(file, 'utf8')
}

export async function loadSigningKeys(options: KeyOptions): Promise<SigningKeys> {
  let pem = options.privateKeyPem
  if (!pem && options.privateKeyFile) pem = await readFile(options.privateKeyFile, 'utf8')
  const generated = !pem
  if (generated && options.production) {
    throw new Error(
      'JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE is required in production: a generated signing key is refused',
    )
  }
  pem ??= await developmentKey(options.dataDir)
  return signingKeysFromPem(pem, await previousPem(options), generated)
}

async function previousPem(options: KeyOptions): Promise<string | undefined> {
  if (options.previousPublicKeyPem) return options.previousPublicKeyPem
  if (options.previousPublicKeyFile) return readFile(options.previousPublicKeyFile, 'utf8')
  return undefined
}

export async function signingKeysFromPem(
  privatePem: string,
  previousPublicPem?: string,
  generated = false,
): Promise<SigningKeys> {
  const privateKeyObject = createPrivateKey(privatePem)
  assertP256(privateKeyObject, 'the JWT signing key')
  const current = await publicJwk(createPublicKey(privateKeyObject))
  const keys = [current]
  if (previousPublicPem) {
    const previous = createPublicKey(previousPublicPem)
    assertP256(previous, 'the previous JWT public key')
    const jwk = await publicJwk(previous)
    if (jwk.kid !== current.kid) keys.push(jwk)
  }
  const pkcs8 = privateKeyObject.export({ format: 'pem', type: 'pkcs8' }) as string
  return {
    kid: current.kid,
    privateKey: await importPKCS8(pkcs8, 'ES256'),
    jwks: { keys },
    generated,
  }
}

/**
 * The service's keys as its configuration says; a key that cannot be used stops the start as a
 * configuration problem (status 78), and a generated development key is logged as such.
 */
export async function signingKeysFromConfig(
  config: AuthConfig,
  logger: Logger,
): Promise<SigningKeys> {
  let keys: SigningKeys
  try {
    keys = await loadSigningKeys({
      privateKeyPem: config.jwtPrivateKey,
      privateKeyFile: config.jwtPrivateKeyFile,
      previousPublicKeyPem: config.jwtPreviousPublicKey,
      previousPublicKeyFile: config.jwtPreviousPublicKeyFile,
      dataDir: config.dataDir,
      production: config.nodeEnv === 'production',
    })
  } catch (err) {
    throw new ConfigProblem((err as Error).message, { cause: err })
  }
  if (keys.generated) {
    logger.warn(
      { file: path.join(config.dataDir, 'keys', 'jwt-private.pem') },
      'using a generated development signing key; set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE in production',
    )
  }
  return keys
}
