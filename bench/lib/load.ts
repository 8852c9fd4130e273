// Load generation: a fixed number of tasks run by a fixed number of concurrent clients.
import { sleep } from './time.ts'

/**
 * Runs `task(0) … task(count - 1)` with `clients` of them in flight at a time and returns each
 * one's duration in ms, in completion order. The first failure stops the load and is thrown.
 */
export async function runClients(count: number, clients: number, task: (i: number) => Promise<void>): Promise<number[]> {
  const durations: number[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(clients, count) }, async () => {
      while (next < count) {
        const i = next++
        const started = performance.now()
        await task(i)
        durations.push(performance.now() - started)
      }
    }),
  )
  return durations
}

/** At most one task in flight, a task started every `intervalMs` (or as soon as the last ends). */
export async function runSteadily(count: number, intervalMs: number, task: (i: number) => Promise<void>): Promise<void> {
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    await task(i)
    const due = started + (i + 1) * intervalMs
    await sleep(Math.max(0, due - performance.now()))
  }
}
