// What must hold of the whole system once it is at rest, whatever faults it went through,
// read from the services' own databases (for checking only; the tests drive it through the
// gateway): every event each service wrote was published, every published event reached every
// consumer queue bound to its type exactly once (the inbox's key makes a second application
// impossible, its absence would be a loss), and the wallet's books balance.
import { type ConsumerQueue, consumerQueues, type EventType } from '@tms/contracts'
import { type Kysely, sql } from '@tms/db'
import type { RunningSystem, ServiceName } from './system.ts'

/** Which service's database holds each consumer queue's inbox. */
const consumerService: Record<ConsumerQueue, ServiceName> = {
  'user-wallet.profiles': 'user-wallet',
  'user-wallet.booking': 'user-wallet',
  'academic.payments': 'academic',
  'academic.users': 'academic',
}

const producers: ServiceName[] = ['auth', 'user-wallet', 'academic']

export async function eventProblems(system: RunningSystem): Promise<string[]> {
  const problems: string[] = []
  const inboxes = new Map<ConsumerQueue, Set<string>>()
  for (const [queue, service] of Object.entries(consumerService) as [
    ConsumerQueue,
    ServiceName,
  ][]) {
    const rows = await sql<{ event_id: string }>`SELECT event_id FROM bus_inbox
      WHERE consumer = ${queue}`.execute(system.db(service))
    inboxes.set(queue, new Set(rows.rows.map((r) => r.event_id)))
  }
  for (const producer of producers) {
    const rows = await sql<{ id: string; type: EventType; published_at: Date | null }>`
      SELECT id, type, published_at FROM bus_outbox`.execute(system.db(producer))
    for (const event of rows.rows) {
      if (event.published_at === null) {
        problems.push(`${producer}: ${event.type} ${event.id} never published`)
        continue
      }
      for (const [queue, types] of Object.entries(consumerQueues) as [
        ConsumerQueue,
        readonly EventType[],
      ][]) {
        if (types.includes(event.type) && !inboxes.get(queue)?.has(event.id)) {
          problems.push(`${queue} never handled ${event.type} ${event.id} from ${producer}`)
        }
      }
    }
  }
  return problems
}

/**
 * The wallet's books: every transaction's entries sum to zero, no account but `external` is
 * negative, every cached balance equals the sum of its entries.
 */
export async function ledgerProblems(db: Kysely<unknown>): Promise<string[]> {
  const problems: string[] = []
  const unbalanced = await sql<{ transaction_id: string; total: number }>`
    SELECT transaction_id, SUM(amount) AS total FROM entry GROUP BY transaction_id
    HAVING SUM(amount) <> 0`.execute(db)
  for (const r of unbalanced.rows) {
    problems.push(`transaction ${r.transaction_id} sums to ${r.total}`)
  }
  const accounts = await sql<{ id: string; kind: string; balance: number; total: number | null }>`
    SELECT a.id, a.kind, a.balance, (SELECT SUM(e.amount) FROM entry e WHERE e.account_id = a.id) AS total
    FROM account a`.execute(db)
  for (const a of accounts.rows) {
    const total = Number(a.total ?? 0)
    if (a.kind === 'external') continue
    if (total < 0) problems.push(`account ${a.id} (${a.kind}) is ${total}`)
    if (Number(a.balance) !== total) {
      problems.push(`account ${a.id} caches ${a.balance} but its entries sum to ${total}`)
    }
  }
  return problems
}

/** How often each kind of money movement happened for a session. */
export async function sessionMoves(
  system: RunningSystem,
  sessionId: string,
): Promise<Record<string, number>> {
  const rows = await sql<{ kind: string; n: number }>`SELECT kind, COUNT(*) AS n
    FROM ledger_transaction WHERE session_id = ${sessionId} GROUP BY kind`.execute(
    system.db('user-wallet'),
  )
  return Object.fromEntries(rows.rows.map((r) => [r.kind, Number(r.n)]))
}
