// Deposits per second through the wallet's posting code on the real database: all on one
// wallet (every posting waits for the row lock of the one available account) and spread over
// many wallets (postings only share the unlocked external account).
//   TEST_MYSQL_URL=mysql://root@127.0.0.1:3306 node bench/wallet.bench.ts [deposits] [concurrency]
import { createDb, dropDatabase, ensureDatabase, migrateToLatest, transaction } from '@tms/db'
import { ensureWallet, post } from '../services/user-wallet/src/db/ledger.ts'
import { migrations } from '../services/user-wallet/src/db/migrations.ts'
import type { WalletDatabase } from '../services/user-wallet/src/db/schema.ts'
import { deposit } from '../services/user-wallet/src/domain/ledger.ts'

const total = Number(process.argv[2] ?? 2000)
const concurrency = Number(process.argv[3] ?? 16)
const server = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
const url = `${server.replace(/\/$/, '')}/bench_wallet_${process.pid}`

await ensureDatabase(url)
const db = createDb<WalletDatabase>(url, { poolSize: concurrency })
try {
  await migrateToLatest(db, migrations)
  const wallets = Array.from({ length: 100 }, (_, i) => `w${i}`)
  for (const w of wallets) await transaction(db, (trx) => ensureWallet(trx, w))

  async function run(label: string, walletOf: (i: number) => string) {
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < total; i = next++) {
          const w = walletOf(i)
          await transaction(db, (trx) => post(trx, deposit(w, 1), { now: new Date() }))
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    console.log(
      `${label.padEnd(28)} ${total} deposits in ${seconds.toFixed(2)} s: ${(total / seconds).toFixed(0)}/s (concurrency ${concurrency})`,
    )
  }
  await run('one wallet', () => 'w0')
  await run(`${wallets.length} wallets`, (i) => wallets[i % wallets.length] as string)
} finally {
  await db.destroy()
  await dropDatabase(url)
}
