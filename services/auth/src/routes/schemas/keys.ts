// Schema of the published key set.
import Type from 'typebox'
import { PublicJwk } from '../../domain/tokens.ts'

export const Jwks = Type.Object({ keys: Type.Array(PublicJwk) })
