// Roles.
//
//   method  path               who                            what
//   PATCH   /auth/update-role  an admin in auth's records now  set an account's role;
//                                                             auth.user.role-changed
import { type App, problems } from '@tms/http'
import { currentUser, requireAuthentication } from '@tms/jwt'
import type { AuthDeps } from '../use-cases/deps.ts'
import { updateRole } from '../use-cases/roles.ts'
import { RoleAnswer, UpdateRoleBody } from './schemas/roles.ts'

export async function roleRoutes(app: App, { deps }: { deps: AuthDeps }) {
  // Any valid token gets as far as the use-case, which asks auth's records, not the token's
  // role claim, whether the caller is an admin.
  requireAuthentication(app)
  app.patch(
    '/update-role',
    {
      schema: {
        summary: "Change an account's role (admin)",
        description:
          "The caller must be an admin now, in this service's records: an access token issued before a demotion does not do.",
        tags: ['auth'],
        body: UpdateRoleBody,
        response: { 200: RoleAnswer, ...problems(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request) => updateRole(deps, currentUser(request).id, request.body),
  )
}
