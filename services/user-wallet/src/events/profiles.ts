// 'user-wallet.profiles': the profile copy follows the auth service's account events. An event
// about a profile that has not arrived yet waits for it (RetryLater).
import { type Bus, type Handlers, RetryLater } from '@tms/bus'
import type { Clock } from '@tms/clock'
import { type ConsumerEventType, normalizeEmail } from '@tms/contracts'
import { ensureWallet } from '../db/ledger.ts'
import { changeProfile, upsertRegistered } from '../db/profiles.ts'
import type { WalletDatabase } from '../db/schema.ts'

function notYet(userId: string): RetryLater {
  return new RetryLater(`no profile for ${userId} yet; retrying after its registration`)
}

export function profileHandlers(deps: {
  clock: Clock
}): Handlers<WalletDatabase, ConsumerEventType<'user-wallet.profiles'>> {
  return {
    async 'auth.user.registered'({ data: d }, trx) {
      // By user_id: a profile an admin made with POST /user/create is brought in line.
      await upsertRegistered(
        trx,
        {
          user_id: d.user_id,
          username: d.username,
          email: normalizeEmail(d.email),
          name: d.name,
          phone: d.phone,
          role: d.role,
        },
        deps.clock.now(),
      )
      await ensureWallet(trx, d.user_id)
    },

    async 'auth.user.role-changed'({ data: d }, trx) {
      if (!(await changeProfile(trx, d.user_id, { role: d.role }, deps.clock.now()))) {
        throw notYet(d.user_id)
      }
    },

    async 'auth.user.email-changed'({ data: d }, trx) {
      const email = normalizeEmail(d.email)
      if (!(await changeProfile(trx, d.user_id, { email }, deps.clock.now()))) {
        throw notYet(d.user_id)
      }
    },
  }
}

export function subscribeProfiles(bus: Bus<WalletDatabase>, deps: { clock: Clock }): void {
  bus.subscribe('user-wallet.profiles', profileHandlers(deps))
}
