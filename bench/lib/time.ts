// Time helpers shared by every scenario. Wall-clock milliseconds with sub-millisecond precision,
// so that times taken in different processes on this machine (the bench, the sink) compare.

/** Milliseconds since the epoch, with the precision of `performance.now()`. */
export const epochMs = (): number => performance.timeOrigin + performance.now()

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Resolves once `condition` holds, checking every `everyMs`; rejects after `timeoutMs` with a
 * message saying what was awaited. Every wait in the bench is bounded by one of these.
 */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  { timeoutMs, everyMs = 20 }: { timeoutMs: number; everyMs?: number },
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** Rejects with a named timeout if `promise` takes longer than `timeoutMs`. */
export async function withTimeout<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Times a delivery from now: `stop(messages)` gives messages per second and the process's CPU time
 * (every thread, user and system) per message.
 */
export function startTimer(): { stop(messages: number): { rate: number; cpuUsPerMessage: number } } {
  const started = performance.now()
  const cpu = process.cpuUsage()
  return {
    stop(messages) {
      const { user, system } = process.cpuUsage(cpu)
      return { rate: messages / ((performance.now() - started) / 1000), cpuUsPerMessage: (user + system) / messages }
    },
  }
}
