import type { Db } from '../db/index.ts'

export interface InboxSummary {
  readonly id: number
  readonly to: string[]
  readonly from: string
  readonly subject: string
  readonly date: string
  readonly text: string
}

export interface InboxMessage extends InboxSummary {
  readonly html: string | null
  readonly headers: string
  readonly raw: string
}

export interface CaughtMail {
  readonly from: string
  readonly to: readonly string[]
  readonly subject: string
  readonly date: number | null
  readonly text: string
  readonly html: string | null
  readonly headers: string
  readonly raw: string
  readonly receivedAt: number
}

/** The dev inbox's rows: in the database, so every instance shows the same inbox. */
export function devInboxStore(db: Db) {
  const k = db.kysely
  const summary = (row: {
    id: number
    rcpt_to: string
    mail_from: string
    subject: string
    message_date: number | null
    received_at: number
    text_body: string
  }): InboxSummary => ({
    id: Number(row.id),
    to: JSON.parse(row.rcpt_to) as string[],
    from: row.mail_from,
    subject: row.subject,
    date: new Date(Number(row.message_date ?? row.received_at)).toISOString(),
    text: row.text_body,
  })
  const columns = ['id', 'rcpt_to', 'mail_from', 'subject', 'message_date', 'received_at', 'text_body'] as const

  return {
    async add(mail: CaughtMail): Promise<number> {
      const row = await k
        .insertInto('dev_inbox')
        .values({
          received_at: mail.receivedAt,
          mail_from: mail.from,
          rcpt_to: JSON.stringify(mail.to),
          subject: mail.subject,
          message_date: mail.date,
          text_body: mail.text,
          html_body: mail.html,
          headers: mail.headers,
          raw: mail.raw,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
      return Number(row.id)
    },

    /** Newest first. */
    async list(limit = 200): Promise<InboxSummary[]> {
      const rows = await k.selectFrom('dev_inbox').select(columns).orderBy('id', 'desc').limit(limit).execute()
      return rows.map(summary)
    },

    async get(id: number): Promise<InboxMessage | undefined> {
      const row = await k
        .selectFrom('dev_inbox')
        .select([...columns, 'html_body', 'headers', 'raw'])
        .where('id', '=', id)
        .executeTakeFirst()
      return row && { ...summary(row), html: row.html_body, headers: row.headers, raw: row.raw }
    },

    /** The newest id (0 when empty): what the live view watches for changes. */
    async latestId(): Promise<number> {
      const row = await k.selectFrom('dev_inbox').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst()
      return Number(row?.id ?? 0)
    },

    async clear(): Promise<void> {
      await k.deleteFrom('dev_inbox').execute()
    },
  }
}

export type DevInboxStore = ReturnType<typeof devInboxStore>
