import { escapeRegExp } from '../regexp.ts'

/**
 * Just enough MIME to read delivery reports: headers (unfolded), and the parts of a multipart
 * body, nested, with base64 and quoted-printable decoded. Reports are small, structured and
 * ASCII; general mail parsers fold `message/delivery-status` into the text, which loses it.
 */
export interface MimePart {
  /** Lower-cased names; a repeated header keeps its first value. */
  readonly headers: ReadonlyMap<string, string>
  /** `type/subtype`, lower case; `text/plain` when absent. */
  readonly contentType: string
  /** Decoded (transfer encoding undone); for a multipart, its preamble. */
  readonly body: string
  readonly parts: readonly MimePart[]
}

const MAX_DEPTH = 4
const MAX_HEADER = 998
const MAX_PARTS = 64

export function parseMime(raw: string, depth = 0, budget = { parts: MAX_PARTS }): MimePart {
  const split = /\r?\n\r?\n/.exec(raw)
  const head = split ? raw.slice(0, split.index) : raw
  const rest = split ? raw.slice(split.index + split[0].length) : ''
  const headers = parseHeaders(head)
  const typeHeader = headers.get('content-type') ?? 'text/plain'
  const contentType = (typeHeader.split(';')[0] ?? '').trim().toLowerCase() || 'text/plain'
  const boundary = parameter(typeHeader, 'boundary')
  if (contentType.startsWith('multipart/') && boundary && depth < MAX_DEPTH) {
    const parts: MimePart[] = []
    // A boundary counts only at the start of a line (the body's first line included).
    const chunks = `\n${rest}`.split(new RegExp(`\\r?\\n--${escapeRegExp(boundary)}(?:--)?[ \\t]*(?=\\r?\\n|$)`))
    for (const chunk of chunks.slice(1)) {
      if (budget.parts-- <= 0) break
      if (chunk.trim() === '') continue
      parts.push(parseMime(chunk.replace(/^\r?\n/, ''), depth + 1, budget))
    }
    return { headers, contentType, body: (chunks[0] ?? '').slice(1), parts }
  }
  return { headers, contentType, body: decode(rest, headers.get('content-transfer-encoding')), parts: [] }
}

/** Header fields, unfolded; names lower-cased; the first of a repeated name wins. */
export function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>()
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    // A header line is at most 998 characters (RFC 5322); longer ones are cut, not trusted.
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1, colon + 1 + MAX_HEADER).trim())
  }
  return headers
}

/** Every part, depth first, the root included. */
export function* walk(part: MimePart): Generator<MimePart> {
  yield part
  for (const child of part.parts) yield* walk(child)
}

function parameter(header: string, name: string): string | undefined {
  const match = new RegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(header)
  return match ? (match[1] ?? match[2]) : undefined
}

function decode(body: string, encoding: string | undefined): string {
  switch (encoding?.trim().toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('utf8')
    case 'quoted-printable':
      return Buffer.from(
        body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      ).toString('utf8')
    default:
      return body
  }
}
