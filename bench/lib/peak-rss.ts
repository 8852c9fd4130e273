// A process's peak resident set size, as the kernel keeps it (VmHWM): read it before the process
// ends, and no sampling can miss the peak.
import { readFileSync } from 'node:fs'

/** VmHWM of process `pid` in MB (10^6 bytes), or null where /proc does not say (not Linux, gone). */
export function peakRssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return kb === undefined ? null : Math.round((Number(kb) * 1024) / 1e6)
  } catch {
    return null
  }
}
