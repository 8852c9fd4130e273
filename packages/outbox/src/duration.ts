/** A duration for people: `850 ms`, `42 s`, `12 min`, `5.5 h`, `30 d`. */
export function formatDuration(ms: number): string {
  const oneDecimal = (n: number) => String(Number(n.toFixed(1)))
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`
  if (ms < 172_800_000) return `${oneDecimal(ms / 3_600_000)} h`
  return `${oneDecimal(ms / 86_400_000)} d`
}
