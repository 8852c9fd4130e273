import pino, { type Logger } from 'pino'

export type { Logger } from 'pino'

/** Structured logs on stderr, so a command's own output on stdout stays clean. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination(2))
}
