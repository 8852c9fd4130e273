/**
 * Prometheus metrics. Counters and histograms count what this process did (its enqueues and its
 * worker's attempts); the outbox gauges are read from the database at each scrape, so every
 * instance reports the whole outbox.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import {
  type AttemptedEvent,
  type EnqueuedEvent,
  feedbackSummary,
  type FlowStatus,
  MAIL_STATES,
  type Outbox,
  type RelayStatus,
} from '../mail/index.ts'

export interface Metrics {
  readonly contentType: string
  /** The whole exposition, outbox gauges freshly read; never rejects (a database error shows as `ragtime_database_up 0`). */
  render(): Promise<string>
}

let processRegistry: Registry | undefined

/** Node's own metrics (CPU, memory, event loop, GC): one set per process, however many apps it builds. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry, prefix: 'ragtime_' })
  }
  return processRegistry
}

/**
 * `relays`: the state of this process's worker's relays (with a fallback relay configured);
 * `ragtime_mail_relay_up` and `ragtime_mail_relay_in_use` appear only while it lists some.
 */
export function createMetrics(
  outbox: Outbox,
  relays: () => readonly RelayStatus[] = () => [],
  flow: () => FlowStatus | undefined = () => undefined,
): Metrics {
  const registry = new Registry()
  const byTemplate = ['template'] as const
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames: byTemplate, registers: [registry] })

  const enqueued = counter('ragtime_mail_enqueued_total', 'Messages committed to the outbox (suppressed ones included).')
  const sent = counter('ragtime_mail_sent_total', 'Messages the SMTP server accepted.')
  const dead = counter('ragtime_mail_dead_total', 'Messages given up on: a permanent failure, or transient ones past the give-up age.')
  const expired = counter('ragtime_mail_expired_total', 'Messages not sent because their deadline passed first (a link that would arrive void).')
  const suppressed = counter('ragtime_mail_suppressed_total', 'Messages not sent because their address is on the suppression list.')
  const failed = new Counter({
    name: 'ragtime_mail_failed_total',
    help: 'Failed delivery attempts: transient (retried) or permanent (SMTP 5xx, not retried).',
    labelNames: ['template', 'kind'] as const,
    registers: [registry],
  })
  const enqueueToSent = new Histogram({
    name: 'ragtime_mail_enqueue_to_sent_seconds',
    help: 'From the enqueueing commit to the SMTP server accepting the message, retries included.',
    labelNames: byTemplate,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  })
  const smtpSend = new Histogram({
    name: 'ragtime_mail_smtp_send_seconds',
    help: 'One SMTP exchange (one attempt), from handing the message to the pool to the reply.',
    labelNames: byTemplate,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  })

  const gauge = (name: string, help: string, labelNames: readonly string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] })
  const databaseUp = gauge('ragtime_database_up', '1 when the last scrape could read the database, else 0.')
  const messages = gauge('ragtime_mail_messages', 'Messages in the outbox by state.', ['state'])
  const queueDepth = gauge('ragtime_mail_queue_depth', 'Messages still to be delivered: queued, sending and retrying.')
  const oldestAge = gauge('ragtime_mail_oldest_queued_age_seconds', 'How long the oldest undelivered message has waited (0 when none).')
  // Bounces and complaints come back later (DSN/ARF mail, provider webhooks), to any instance:
  // counted from the database, like the outbox gauges.
  const fromDatabase = (name: string, help: string) => new Counter({ name, help, registers: [registry] })
  const bounces = fromDatabase('ragtime_mail_bounces_total', 'Permanent bounces reported after the relay accepted a message (DSN or a provider webhook).')
  const complaints = fromDatabase('ragtime_mail_complaints_total', 'Spam complaints reported by recipients (ARF or a provider webhook).')
  const delays = fromDatabase('ragtime_mail_delays_total', 'Delivery delays (4.x.x) reported after the relay accepted a message.')
  const complaintRate = gauge(
    'ragtime_mail_complaint_rate',
    'Complaints over messages sent in the last 7 days (Gmail asks senders to stay below 0.003).',
  )

  const byRelay = ['relay'] as const
  new Gauge({
    name: 'ragtime_mail_relay_up',
    help: "1 while this process's worker counts the SMTP relay as up, 0 while it is down or being probed (with MAIL_FALLBACK_SERVER).",
    labelNames: byRelay,
    registers: [registry],
    collect() {
      this.reset()
      for (const relay of relays()) this.set({ relay: relay.name }, relay.state === 'up' ? 1 : 0)
    },
  })
  new Gauge({
    name: 'ragtime_mail_relay_in_use',
    help: "1 for the SMTP relay this process's worker sends new attempts to, else 0 (with MAIL_FALLBACK_SERVER).",
    labelNames: byRelay,
    registers: [registry],
    collect() {
      this.reset()
      for (const relay of relays()) this.set({ relay: relay.name }, relay.inUse ? 1 : 0)
    },
  })

  // Flow control of this process's worker (docs/outbox.md, "Flow control"); absent without one.
  const flowGauge = (name: string, help: string, read: (status: FlowStatus) => number | null) =>
    new Gauge({
      name,
      help,
      // Labelled, so that a reset gauge shows nothing rather than 0.
      labelNames: byRelay,
      registers: [registry],
      collect() {
        this.reset()
        const status = flow()
        const value = status && read(status)
        if (status && value !== undefined && value !== null) this.set({ relay: status.relay }, value)
      },
    })
  flowGauge('ragtime_mail_connections_limit', "Messages this process's worker may have in flight now (adaptive, within its share).", (f) => f.connections)
  flowGauge('ragtime_mail_connections_share', "This process's worker's share of RAGTIME_MAIL_MAX_CONNECTIONS.", (f) => f.connectionShare)
  flowGauge('ragtime_mail_learned_rate', "The relay's send rate (messages/s) learned from its throttling answers; absent until it throttles.", (f) => f.learnedRate)
  flowGauge('ragtime_mail_paused_domains', 'Recipient domains paused now because they defer our mail.', (f) => f.pausedDomains.length)

  outbox.signals.on('enqueued', ({ template, state }: EnqueuedEvent) => {
    enqueued.inc({ template })
    if (state === 'suppressed') suppressed.inc({ template })
  })
  outbox.signals.on('attempted', ({ template, outcome, createdAt, sendMs, recordedAt }: AttemptedEvent) => {
    if (sendMs !== null) smtpSend.observe({ template }, sendMs / 1000)
    if (outcome.kind === 'sent') {
      sent.inc({ template })
      enqueueToSent.observe({ template }, Math.max(0, recordedAt - createdAt) / 1000)
      return
    }
    if (outcome.kind === 'expired') {
      expired.inc({ template })
      return
    }
    failed.inc({ template, kind: outcome.kind === 'retry' ? 'transient' : outcome.failure })
    if (outcome.kind === 'dead') dead.inc({ template })
  })

  async function readGauges(): Promise<void> {
    try {
      const status = await outbox.status()
      for (const state of MAIL_STATES) messages.set({ state }, status.counts[state])
      queueDepth.set(status.counts.queued + status.counts.sending + status.counts.retrying)
      oldestAge.set((status.oldestWaitingMs ?? 0) / 1000)
      const feedback = await feedbackSummary(outbox, outbox.clock.now())
      for (const [counter, value] of [[bounces, feedback.bounces], [complaints, feedback.complaints], [delays, feedback.delays]] as const) {
        counter.reset()
        counter.inc(value)
      }
      complaintRate.set(feedback.complaintRate ?? 0)
      databaseUp.set(1)
    } catch {
      // Stale outbox numbers would mislead: leave them out, and say why.
      messages.reset()
      queueDepth.reset()
      oldestAge.reset()
      for (const metric of [bounces, complaints, delays, complaintRate]) metric.reset()
      databaseUp.set(0)
    }
  }

  return {
    contentType: registry.contentType,
    async render() {
      await readGauges()
      return (await processMetrics().metrics()) + '\n' + (await registry.metrics())
    },
  }
}
