// How numbers are written in the console and the README: medians with their spread.
import type { Summary } from './stats.ts'

export const thousands = (n: number): string => Math.round(n).toLocaleString('en-US')

/** "2,040/s (1,980–2,100)": the median, then min–max when there was more than one run. */
export function withSpread(summary: Summary, unit = '', show: (n: number) => string = thousands): string {
  const value = `${show(summary.median)}${unit}`
  return summary.runs.length > 1 ? `${value} (${show(summary.min)}–${show(summary.max)})` : value
}

/** "median of 3 runs, min–max" or "1 run". */
export const runsLabel = (runs: number): string => (runs > 1 ? `median of ${runs} runs, min–max` : '1 run')

/** Milliseconds as seconds, to a tenth: "4.2". */
export const inSeconds = (ms: number): string => (ms / 1000).toFixed(1)

export const seconds = (ms: number): string => `${inSeconds(ms)} s`
