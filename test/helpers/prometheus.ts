/** A strict reader of the Prometheus text format (0.0.4): every line must be a comment or a sample. */
export interface Exposition {
  /** `name{a="x",b="y"}` (labels sorted) → value. */
  readonly samples: Map<string, number>
  /** Metric family → its declared type. */
  readonly types: Map<string, string>
  /** The value of `name` with these labels, 0 when absent (a counter not yet touched). */
  value(name: string, labels?: Record<string, string>): number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|[Nn]a[Nn]|\+Inf|-Inf))(?: -?\d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y

export function sampleKey(name: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))
  return pairs.length ? `${name}{${pairs.map(([k, v]) => `${k}="${v}"`).join(',')}}` : name
}

export function parseExposition(text: string): Exposition {
  const samples = new Map<string, number>()
  const types = new Map<string, string>()
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
      if (type) types.set(type[1]!, type[2]!)
      else if (!/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line)) throw new Error(`line ${i + 1} is not a valid comment: ${line}`)
      continue
    }
    const match = SAMPLE.exec(line)
    if (!match) throw new Error(`line ${i + 1} is not a valid sample: ${line}`)
    const labels: Record<string, string> = {}
    const body = match[2] ?? ''
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body)
      if (!label) throw new Error(`line ${i + 1} has malformed labels: ${line}`)
      labels[label[1]!] = label[2]!
    }
    samples.set(sampleKey(match[1]!, labels), Number(match[3]))
  }
  return { samples, types, value: (name, labels) => samples.get(sampleKey(name, labels)) ?? 0 }
}
