export {
  type AccessTokenPluginOptions,
  accessTokens,
  authenticate,
  authenticateOptional,
  currentUser,
  requireAuthentication,
  requireRole,
} from './plugin.ts'
export {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_TYPE,
  type AccessTokenUser,
  type AccessTokenVerifier,
  createAccessTokenVerifier,
  InvalidTokenError,
  type KeySource,
  KeysUnavailableError,
  type VerifierOptions,
} from './verifier.ts'
