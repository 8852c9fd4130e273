import type { Transaction } from 'kysely'
import type { Database } from '../db/index.ts'
import { addressKey } from '../lib/email-address.ts'
import type { AccountsContext } from './context.ts'

/**
 * Deletes an account that never confirmed its address (an address taken over by someone who
 * can read it, or an account past its 7 days): its sessions and tokens go with it (foreign keys
 * cascade), and its mail still waiting to go out is withdrawn. Only if it is still unconfirmed,
 * and (with `email`) still holds that address, when the delete lands: an account that confirmed,
 * or moved to another address, in the meantime is left alone. True when it was deleted.
 */
export async function deleteUnconfirmed(ctx: AccountsContext, trx: Transaction<Database>, userId: number, email?: string): Promise<boolean> {
  const pending = await trx.selectFrom('account_tokens').select('outbox_id').where('user_id', '=', userId).where('outbox_id', 'is not', null).execute()
  let query = trx.deleteFrom('users').where('id', '=', userId).where('confirmed_at', 'is', null)
  if (email !== undefined) query = query.where('email_key', '=', addressKey(email))
  const deleted = await query.executeTakeFirst()
  if (Number(deleted.numDeletedRows) === 0) return false
  await ctx.outbox.withdraw(trx, pending.map((row) => Number(row.outbox_id)))
  return true
}
