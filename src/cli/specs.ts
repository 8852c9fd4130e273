// What each command accepts and what its --help says, apart from what it does: main.ts parses
// the arguments (and answers --help) with these before it loads a command's module, so help and
// usage errors cost a few milliseconds, not the loading of the whole app.
import { defineCommand } from './args.ts'
// The states alone: `--help` loads nothing else (no kysely, no SMTP).
import { MAIL_STATES } from '@ragtime/outbox/states'

/** Where `ragtime bounces` listens when RAGTIME_BOUNCE_SMTP_PORT is unset (25 needs root: forward it). */
export const DEFAULT_BOUNCE_PORT = 2525

export const USAGE = `usage: ragtime <command> [options]
       ragtime <command> --help

Commands:
  serve [--no-worker]            migrate, then run the web app and deliver mail in this process
  worker [--metrics-port N]      deliver mail only (scale-out)
  bounces [--port N]             receive bounces and complaints by SMTP (RAGTIME_BOUNCE_ADDRESS)
  migrate                        apply database migrations
  mail status [--json]           counts by state, queue depth, oldest waiting, last hour
  mail list [--state S] [--limit N] [--json]
  mail retry <id> | --dead       queue failed mail again
  mail cancel <id>               withdraw mail not sent yet
  mail unsuppress <address>      take an address off the suppression list
  mail purge [--older-than 30d]  drop the stored message of old sent mail
  mail send-test <address>       queue a test email
  mail doctor [--json]           check SPF, DKIM, DMARC, the relay's TLS and bounce MX

Every command and subcommand answers -h and --help with its options and an example.
Configuration comes from environment variables (README.md, "Configuration").

Example:
  ragtime serve`

export const MAIL_USAGE = `usage: ragtime mail <subcommand> [options]

Looks at the outbox and acts on it. Works without an SMTP server, in production too; every
action is recorded in the audit log with who ran it.

Subcommands:
  status [--json]                        counts by state, queue depth, oldest waiting, last hour
  list [--state S] [--limit N] [--json]  one line per message
  retry <id> | --dead                    queue failed mail again
  cancel <id>                            withdraw mail not sent yet
  unsuppress <address>                   take an address off the suppression list
  purge [--older-than 30d]               drop the stored message of old sent mail
  send-test <address>                    queue a test email
  doctor [--json]                        check SPF, DKIM, DMARC, the relay's TLS and bounce MX

Each answers -h and --help with its options and an example.

Example:
  ragtime mail list --state dead`

export const SERVE = defineCommand({
  name: 'serve',
  usage: `usage: ragtime serve [--no-worker]

Applies database migrations, then runs the web app on HOST:PORT and a mail worker in the same
process. In development without MAIL_SERVER, mail is caught by the dev inbox (BASE_URL/dev/mail,
SMTP on 127.0.0.1:RAGTIME_DEV_SMTP_PORT). With RAGTIME_BOUNCE_SMTP_PORT, it also receives
bounces. Stops gracefully on SIGTERM or Ctrl-C (a second one exits at once).

Options:
  --no-worker  run the web app only; separate ragtime worker processes deliver the mail
  -h, --help   show this help

Environment: PORT [3000], HOST [localhost], BASE_URL, DATABASE_URL, SECRET_KEY, MAIL_SERVER, …
(README.md, "Configuration"). With NODE_ENV=production, SECRET_KEY, BASE_URL and (unless
--no-worker) MAIL_SERVER are required.

Examples:
  ragtime serve
  PORT=8080 ragtime serve
  NODE_ENV=production BASE_URL=https://ragtime.example.com SECRET_KEY=… MAIL_SERVER=smtp.example.com ragtime serve`,
  options: { 'no-worker': { type: 'boolean' } },
})

export const WORKER = defineCommand({
  name: 'worker',
  usage: `usage: ragtime worker [--metrics-port N]

Delivers mail only, for scale-out: claims queued mail from the database (DATABASE_URL), sends it
through MAIL_SERVER, retries and dead-letters it. Run any number of them beside
ragtime serve --no-worker. Stops gracefully on SIGTERM or Ctrl-C (in-flight sends finish).

Options:
  --metrics-port N  also serve GET /metrics on HOST:N, counting this worker's deliveries
                    (with RAGTIME_METRICS_TOKEN, it needs Authorization: Bearer <token>)
  -h, --help        show this help

Environment: DATABASE_URL, MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD,
RAGTIME_MAIL_CONCURRENCY, … (README.md, "Configuration"). With NODE_ENV=production,
SECRET_KEY and MAIL_SERVER are required.

Example:
  DATABASE_URL=postgres://ragtime@db/ragtime MAIL_SERVER=smtp.example.com ragtime worker --metrics-port 9100`,
  options: { 'metrics-port': { type: 'string' } },
})

export const BOUNCES = defineCommand({
  name: 'bounces',
  usage: `usage: ragtime bounces [--port N]

  Receives bounces (DSNs) and complaints (ARF) by SMTP for RAGTIME_BOUNCE_ADDRESS and its
  per-message VERP addresses, and records them (the message ends bounced, the address is
  suppressed). Listens on HOST, port --port, RAGTIME_BOUNCE_SMTP_PORT or ${DEFAULT_BOUNCE_PORT}.
  Point the bounce domain's MX at this machine (port 25, forwarded here).

Options:
  --port N    listen on port N (0-65535; 0: any free one)
  -h, --help  show this help

Example:
  RAGTIME_BOUNCE_ADDRESS=bounces@mail.example.com ragtime bounces --port 2525`,
  options: { port: { type: 'string' } },
})

export const MIGRATE = defineCommand({
  name: 'migrate',
  usage: `usage: ragtime migrate

Applies the database migrations that DATABASE_URL's database has not had yet, and says which
(serve and worker also do it as they start). Safe to run again: "already up to date".

Options:
  -h, --help  show this help

Example:
  DATABASE_URL=postgres://ragtime@db/ragtime ragtime migrate`,
  options: {},
})

export const MAIL_STATUS = defineCommand({
  name: 'mail status',
  usage: `usage: ragtime mail status [--json]

Counts of messages in each state, the queue depth (queued, sending, retrying), how long the
oldest waiting message has waited, the last hour's sends and failed attempts, and the number of
suppressed addresses.

Options:
  --json      one JSON object: { counts, queueDepth, oldestWaitingMs, lastHour, suppressed }
  -h, --help  show this help

Example:
  ragtime mail status --json`,
  options: { json: { type: 'boolean' } },
})

export const MAIL_LIST = defineCommand({
  name: 'mail list',
  usage: `usage: ragtime mail list [--state S] [--limit N] [--json]

One line per message, newest first: id, state, recipient, subject, attempts and the last error.

Options:
  --state S   only messages in state S: ${MAIL_STATES.join(', ')}
  --limit N   at most N messages (default 100)
  --json      a JSON array of the messages
  -h, --help  show this help

Example:
  ragtime mail list --state dead --limit 20`,
  options: { state: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
})

export const MAIL_RETRY = defineCommand({
  name: 'mail retry',
  usage: `usage: ragtime mail retry <id>
       ragtime mail retry --dead

Queues failed mail again, to be sent at once: message <id> (dead, retrying, cancelled or
suppressed), or with --dead every dead message. Not mail to a suppressed address (see
ragtime mail unsuppress), nor mail whose stored message was purged.

Options:
  --dead      every dead message
  -h, --help  show this help

Examples:
  ragtime mail retry 42
  ragtime mail retry --dead`,
  options: { dead: { type: 'boolean' } },
  positionals: 1,
})

export const MAIL_CANCEL = defineCommand({
  name: 'mail cancel',
  usage: `usage: ragtime mail cancel <id>

Withdraws message <id> while it is queued or retrying: it will not be sent (state cancelled;
ragtime mail retry <id> queues it again).

Options:
  -h, --help  show this help

Example:
  ragtime mail cancel 42`,
  options: {},
  positionals: 1,
})

export const MAIL_UNSUPPRESS = defineCommand({
  name: 'mail unsuppress',
  usage: `usage: ragtime mail unsuppress <address>

Takes <address> off the suppression list (where hard bounces and complaints put it), so that
mail to it is sent again. Its earlier mail stays as it is (ragtime mail retry <id> sends one).

Options:
  -h, --help  show this help

Example:
  ragtime mail unsuppress ann@example.com`,
  options: {},
  positionals: 1,
})

export const MAIL_PURGE = defineCommand({
  name: 'mail purge',
  usage: `usage: ragtime mail purge [--older-than 30d]

Drops the stored message (the bytes) of sent mail older than a duration, and of finished mail
past its expiry (as every worker does every few minutes); the rows, their states and the audit
log stay.

Options:
  --older-than D  sent longer ago than D: 30d, 12h, 90m… (default RAGTIME_MAIL_RETENTION, 30d)
  -h, --help      show this help

Example:
  ragtime mail purge --older-than 7d`,
  options: { 'older-than': { type: 'string' } },
})

export const MAIL_SEND_TEST = defineCommand({
  name: 'mail send-test',
  usage: `usage: ragtime mail send-test <address>

Queues a test email to <address> and exits: a running ragtime serve or ragtime worker delivers
it (see it with ragtime mail list). From RAGTIME_MAIL_SENDER; in production BASE_URL is required.

Options:
  -h, --help  show this help

Example:
  ragtime mail send-test ann@example.com`,
  options: {},
  positionals: 1,
})

export const MAIL_DOCTOR = defineCommand({
  name: 'mail doctor',
  usage: `usage: ragtime mail doctor [--json]

Checks the configured sender and relay the way receiving mail servers will judge them, and says
what to fix: the sender's domain (not a mailbox provider's), SPF of the envelope-sender domain,
DKIM (the published key against RAGTIME_DKIM_PRIVATE_KEY), DMARC and alignment, the relay's TLS
(STARTTLS or MAIL_USE_SSL, a certificate valid for MAIL_SERVER), and MX records for bounces.
Nothing is sent and no login is tried.

Each check is OK, WARN (mail goes out, but something hurts delivery), FAIL (mail is refused,
lost or exposed) or UNKNOWN (DNS or the relay did not answer: not checked).

Options:
  --json      print { "ok": boolean, "checks": [{ "name", "status", "message", "details"? }] }
  -h, --help  show this help

Environment: RAGTIME_DNS_SERVERS (e.g. "1.1.1.1" or "10.0.0.2,127.0.0.1:5353") asks these DNS
servers instead of the system's, to see the public view from behind split DNS.

Exit status: 0 when no check failed or was unknown (warnings allowed), 1 otherwise, 2 on a usage error.

Example:
  MAIL_SERVER=smtp.example.com RAGTIME_MAIL_SENDER='Ragtime <noreply@example.com>' ragtime mail doctor`,
  options: { json: { type: 'boolean' } },
})
