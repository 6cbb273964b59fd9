// 'academic.users': the accounts the service needs to know (names for views, roles for who may
// be booked), kept from auth's events only; the service never asks another service. A role
// change of a user not registered here yet waits for the registration (RetryLater).
import { type Bus, type Handlers, RetryLater } from '@tms/bus'
import type { Clock } from '@tms/clock'
import type { ConsumerEventType } from '@tms/contracts'
import type { AcademicDatabase } from '../db/schema.ts'
import { changeRole, upsertUser } from '../db/users.ts'
import { profileAfterRoleChange } from '../use-cases/tutor-profiles.ts'

export interface UserEventDeps {
  clock: Clock
  /** The outbox: a tutor's profile rejected by a role change is published. */
  bus: Pick<Bus<AcademicDatabase>, 'enqueue'>
}

export function userHandlers(
  deps: UserEventDeps,
): Handlers<AcademicDatabase, ConsumerEventType<'academic.users'>> {
  return {
    async 'auth.user.registered'({ data: d }, trx) {
      await upsertUser(trx, {
        user_id: d.user_id,
        username: d.username,
        name: d.name,
        role: d.role,
        updated_at: deps.clock.now(),
      })
    },

    async 'auth.user.role-changed'({ data: d }, trx) {
      if (!(await changeRole(trx, d.user_id, d.role, deps.clock.now()))) {
        throw new RetryLater(`no user ${d.user_id} yet; retrying after its registration`)
      }
      // A tutor no longer a tutor: the profile is rejected, so nobody can book them.
      await profileAfterRoleChange(trx, deps.bus, d, deps.clock.now())
    },
  }
}

export function subscribeUsers(bus: Bus<AcademicDatabase>, deps: { clock: Clock }): void {
  bus.subscribe('academic.users', userHandlers({ ...deps, bus }))
}
