// Schemas of login, refresh and logout.
import { EMAIL_MAX_LENGTH } from '@tms/contracts'
import Type from 'typebox'
import { strict } from './common.ts'
import { GivenPassword } from './passwords.ts'

export const LoginBody = Type.Object(
  {
    username: Type.String({
      minLength: 1,
      maxLength: EMAIL_MAX_LENGTH,
      description: 'the username or the email',
    }),
    password: GivenPassword,
    grant_type: Type.Optional(Type.String({ description: 'OAuth2 form field, ignored' })),
    scope: Type.Optional(Type.String({ description: 'OAuth2 form field, ignored' })),
    client_id: Type.Optional(Type.String({ description: 'OAuth2 form field, ignored' })),
    client_secret: Type.Optional(Type.String({ description: 'OAuth2 form field, ignored' })),
  },
  strict,
)

export const TokenPair = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'seconds' }),
  refresh_token: Type.String(),
})

export const RefreshBody = Type.Object(
  { refresh_token: Type.String({ minLength: 1, maxLength: 200 }) },
  strict,
)
