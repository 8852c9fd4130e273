// What the numbers were measured on: they mean little without it.
import os from 'node:os'

export interface Machine {
  readonly cores: number
  readonly cpu: string
  readonly memoryGb: number
  readonly node: string
  readonly platform: string
  /** The 1-minute load average when the bench started: other work on the machine skews numbers. */
  readonly loadAverage: number
}

export function describeMachine(): Machine {
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: Number(os.loadavg()[0]?.toFixed(1)),
  }
}
