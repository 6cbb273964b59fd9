// Schemas of /auth/update-role.
import { Role } from '@tms/contracts'
import Type from 'typebox'
import { strict } from './common.ts'

export const UpdateRoleBody = Type.Object(
  { user_id: Type.String({ minLength: 1, maxLength: 64 }), role: Role },
  strict,
)
export const RoleAnswer = Type.Object({ id: Type.String(), role: Role })
