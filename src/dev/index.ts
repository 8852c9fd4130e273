/**
 * The development inbox: an SMTP server on RAGTIME_DEV_SMTP_PORT that catches what the worker
 * sends when no MAIL_SERVER is set, kept in `dev_inbox` and shown at /dev/mail. An app feature,
 * not part of the outbox.
 */
export { type CaptureServer, startCaptureServer } from './capture-server.ts'
export { type DevInboxStore, devInboxStore, type InboxMessage, type InboxSummary } from './inbox-store.ts'
