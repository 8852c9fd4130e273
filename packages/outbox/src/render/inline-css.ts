import { channel } from 'node:diagnostics_channel'
import type Juice from 'juice'

/**
 * CSS inlining with juice, once per shape of a template's output instead of once per message.
 *
 * The renderer renders the HTML with each escaped value (`<%= … %>`) replaced by a placeholder,
 * so the text juice sees depends on the template and on the branches the data took, not on the
 * values. Juice runs on such a skeleton the first time it appears; each message then puts its own
 * escaped values back into the inlined skeleton. Juice's result cannot depend on a value that sits
 * in text or in an attribute it neither matches nor writes (a link's href). Where a value could
 * matter — in a class, id or style attribute, in a <style> block, or under a stylesheet with
 * attribute selectors or :contains — the document is inlined whole, as before, every time.
 * Values never pass through juice, so markup-like text in them ("{{", "<%") cannot change how the
 * rest of the message is inlined.
 */
export interface CssInliner {
  /** The inlined HTML of `skeleton` with `values` put back; `plain()` renders the document itself. */
  inline(skeleton: string, values: readonly string[], plain: () => string): Promise<string>
}

/** A placeholder for the escaped value at `index`: private-use characters around its number. */
export const placeholder = (index: number): string => `\uE000${index}\uE001`
const PLACEHOLDER = /\uE000(\d+)\uE001/g

/**
 * `{ cached }` for each message inlined: true when its skeleton's inlined form was reused
 * (node:diagnostics_channel, free while nobody subscribes).
 */
export const INLINE_CHANNEL = 'outbox:inline'
const inlines = channel(INLINE_CHANNEL)

/** Attributes that juice neither matches (absent attribute selectors) nor writes. */
const OPAQUE_ATTRIBUTE = /^(href|src|alt|title|aria-[\w-]+)$/i
/** Skeletons remembered per renderer: a template has a handful of shapes (its branches). */
const MAX_SKELETONS = 100

let juice: Promise<typeof Juice> | undefined

/**
 * juice, loaded with the first message: it brings cheerio, parse5 and undici (~300 ms of start-up),
 * which processes that only deliver or inspect the queue (workers, CLI commands) never need.
 */
async function inlineWhole(html: string): Promise<string> {
  juice ??= import('juice').then((module) => module.default)
  // Resolving CSS custom properties is half of juice's work per message; without a var() in the
  // document it has nothing to resolve, and the output is the same.
  return (await juice)(html, { resolveCSSVariables: html.includes('var(') })
}

export function createCssInliner(): CssInliner {
  /** Skeleton → its inlined form, or null when values could change juice's result. */
  const inlined = new Map<string, string | null>()
  return {
    async inline(skeleton, values, plain) {
      if (!holdsExactly(skeleton, values.length)) return whole(plain())
      let done = inlined.get(skeleton)
      const cached = done !== undefined
      if (done === undefined) {
        done = valuesAreOpaque(skeleton) ? await inlineWhole(skeleton) : null
        if (done !== null && !holdsExactly(done, values.length)) done = null
        if (inlined.size >= MAX_SKELETONS) inlined.delete(inlined.keys().next().value as string)
        inlined.set(skeleton, done)
      }
      if (done === null) return whole(plain())
      if (inlines.hasSubscribers) inlines.publish({ cached })
      return done.replace(PLACEHOLDER, (_, index: string) => values[Number(index)] as string)
    },
  }
}

function whole(html: string): Promise<string> {
  if (inlines.hasSubscribers) inlines.publish({ cached: false })
  return inlineWhole(html)
}

/**
 * Whether `html` holds the placeholders 0…count−1, each once, and no other marker (a layout's
 * values come after its body's, so the order is the document's, not the recording's).
 */
function holdsExactly(html: string, count: number): boolean {
  const seen = new Array<boolean>(count).fill(false)
  for (const match of html.matchAll(PLACEHOLDER)) {
    const index = Number(match[1])
    if (!(index < count) || seen[index]) return false
    seen[index] = true
  }
  return seen.every(Boolean) && countOf(html, '\uE000') === count && countOf(html, '\uE001') === count
}

function countOf(text: string, char: string): number {
  let n = 0
  for (let at = text.indexOf(char); at >= 0; at = text.indexOf(char, at + 1)) n++
  return n
}

/** Whether no placeholder of `skeleton` is somewhere juice could read it (see the top). */
function valuesAreOpaque(skeleton: string): boolean {
  for (const [, css = ''] of skeleton.matchAll(/<style\b[^>]*>([^]*?)<\/style>/gi)) {
    if (css.includes('\uE000') || css.includes('[') || /:i?contains\b/i.test(css)) return false
  }
  if (/<style\b[^>]*\uE000/i.test(skeleton)) return false
  for (const match of skeleton.matchAll(PLACEHOLDER)) {
    const before = skeleton.slice(0, match.index)
    const tagStart = before.lastIndexOf('<')
    if (tagStart < before.lastIndexOf('>') || tagStart < 0) continue // in text
    // Inside a tag: only as (part of) the value of an attribute juice leaves alone.
    const attribute = /\s([^\s"'>/=]+)\s*=\s*(?:"[^"]*|'[^']*|[^\s"'>]*)$/.exec(before.slice(tagStart))?.[1]
    if (!attribute || !OPAQUE_ATTRIBUTE.test(attribute)) return false
  }
  return true
}
