// Money by hand (an admin's deposit or debit) and a wallet's history. A deposit or debit runs
// in the transaction its Idempotency-Key's claim opens (routes/wallet.ts), so that the movement
// and the stored answer commit together: these take that transaction.
import type { Transaction } from '@tms/db'
import type { Static } from 'typebox'
import { ledgerEntries, post } from '../db/ledger.ts'
import { findProfile } from '../db/profiles.ts'
import type { WalletDatabase } from '../db/schema.ts'
import { NoSuchUserError, WrongCurrencyError } from '../domain/errors.ts'
import { debit, deposit, type Movement } from '../domain/ledger.ts'
import type {
  DebitBody,
  DepositBody,
  LedgerPage,
  ListQuery,
  MovementAnswer,
} from '../routes/schemas/wallet.ts'
import { callerIsAdmin } from './access.ts'
import type { Caller, WalletDeps } from './deps.ts'

type Trx = Transaction<WalletDatabase>
type Answer = Static<typeof MovementAnswer>

/** Whose wallet, and the admin who moves the money. */
export interface Mover {
  userId: string
  actorId: string
}

/** Posts the movement for the acting admin; throws InsufficientFundsError, NoSuchUserError… */
async function moveMoney(
  trx: Trx,
  deps: WalletDeps,
  userId: string,
  movement: () => Movement,
  meta: { actorId: string; reason?: string; reference?: string },
): Promise<Answer> {
  if (!(await findProfile(trx, 'user_id', userId))) throw new NoSuchUserError()
  const posted = await post(trx, movement(), {
    now: deps.clock.now(),
    actorId: meta.actorId,
    reason: meta.reason ?? null,
    reference: meta.reference ?? null,
  })
  // The balances after the movement come with it: no read after the posting.
  return { ...posted.wallet(userId), transaction_id: posted.transactionId }
}

export function depositMoney(
  trx: Trx,
  deps: WalletDeps,
  to: Mover,
  body: Static<typeof DepositBody>,
): Promise<Answer> {
  if (body.currency !== undefined && body.currency.toLowerCase() !== deps.currency) {
    throw new WrongCurrencyError(deps.currency)
  }
  return moveMoney(trx, deps, to.userId, () => deposit(to.userId, body.amount), {
    actorId: to.actorId,
    reason: body.reason,
    reference: body.reference,
  })
}

export function debitMoney(
  trx: Trx,
  deps: WalletDeps,
  from: Mover,
  body: Static<typeof DebitBody>,
): Promise<Answer> {
  return moveMoney(trx, deps, from.userId, () => debit(from.userId, body.amount), {
    actorId: from.actorId,
    reason: body.reason,
    reference: body.reference,
  })
}

/** A page of the wallet's entries, newest first; which admin moved money only for admins. */
export async function walletHistory(
  deps: WalletDeps,
  caller: Caller,
  userId: string,
  query: Static<typeof ListQuery>,
): Promise<Static<typeof LedgerPage>> {
  const admin = await callerIsAdmin(deps, caller)
  if (caller.id !== userId && !admin) throw new NoSuchUserError()
  if (!(await findProfile(deps.db, 'user_id', userId))) throw new NoSuchUserError()
  // One more than asked for: whether there is a next page.
  const rows = await ledgerEntries(deps.db, userId, { ...query, limit: query.limit + 1 })
  const page = rows.slice(0, query.limit)
  return {
    items: page.map(({ actor_id, ...entry }) => ({
      ...entry,
      ...(admin ? { actor_id } : {}),
      amount: Number(entry.amount),
      created_at: entry.created_at.toISOString(),
    })),
    next_cursor: rows.length > query.limit ? (page.at(-1)?.id ?? null) : null,
  }
}
