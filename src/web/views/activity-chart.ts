import type { MinuteActivity } from '../../mail/index.ts'

const WIDTH = 600
const HEIGHT = 160
const TOP = 10
const BOTTOM = 20
const LEFT = 34

/**
 * Deliveries and failures per minute as a server-rendered SVG bar chart (no script, no external
 * library). Only numbers go into it; each bar has a <title> for a tooltip and screen readers.
 */
export function activityChart(minutes: readonly MinuteActivity[]): string {
  const peak = Math.max(1, ...minutes.map((m) => m.sent + m.failed))
  const plotHeight = HEIGHT - TOP - BOTTOM
  const slot = (WIDTH - LEFT) / Math.max(1, minutes.length)
  const y = (n: number) => TOP + plotHeight - (n / peak) * plotHeight
  const bars = minutes.map((m, i) => {
    const x = (LEFT + i * slot + 1).toFixed(1)
    const w = Math.max(1, slot - 2).toFixed(1)
    const time = new Date(m.at).toISOString().slice(11, 16)
    const sentTop = y(m.sent)
    const failedTop = y(m.sent + m.failed)
    return (
      `<g><title>${time} UTC: ${m.sent} sent, ${m.failed} failed</title>` +
      (m.sent ? `<rect class="sent" x="${x}" y="${sentTop.toFixed(1)}" width="${w}" height="${(TOP + plotHeight - sentTop).toFixed(1)}"/>` : '') +
      (m.failed ? `<rect class="failed" x="${x}" y="${failedTop.toFixed(1)}" width="${w}" height="${(sentTop - failedTop).toFixed(1)}"/>` : '') +
      '</g>'
    )
  })
  const first = minutes[0]
  const last = minutes.at(-1)
  const label = (m: MinuteActivity | undefined) => (m ? new Date(m.at).toISOString().slice(11, 16) : '')
  const sent = minutes.reduce((n, m) => n + m.sent, 0)
  const failed = minutes.reduce((n, m) => n + m.failed, 0)
  return [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">Last hour, per minute: ${sent} sent, ${failed} failed</title>`,
    `<line class="axis" x1="${LEFT}" y1="${TOP + plotHeight}" x2="${WIDTH}" y2="${TOP + plotHeight}"/>`,
    `<text class="tick" x="${LEFT - 4}" y="${TOP + 8}" text-anchor="end">${peak}</text>`,
    `<text class="tick" x="${LEFT - 4}" y="${TOP + plotHeight}" text-anchor="end">0</text>`,
    `<text class="tick" x="${LEFT}" y="${HEIGHT - 4}">${label(first)}</text>`,
    `<text class="tick" x="${WIDTH}" y="${HEIGHT - 4}" text-anchor="end">${label(last)} UTC</text>`,
    ...bars,
    '</svg>',
  ].join('')
}
