/**
 * Every email's HTML part, rendered by the real renderer from its sample data, opened in Chromium
 * on a phone (375 px) and on a desktop (1280 px), in light mode and with dark mode emulated:
 * nothing scrolls sideways, the card is at most 600 px wide, and every piece of visible text has
 * a WCAG AA contrast (at least 4.5:1) against the background actually behind it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { createRenderer, MAIL_TEMPLATES_DIR } from '../../src/mail/index.ts'
import { MAIL_SAMPLES } from '../../templates/mail/samples.ts'
import { browserMissing, launchChromium } from '../helpers/browser.ts'
import { COLOUR_MATH } from '../helpers/contrast.ts'

const missing = browserMissing()
if (missing) console.log(`# skipping browser tests: ${missing}`)

const renderer = createRenderer({ templatesDir: MAIL_TEMPLATES_DIR, subjectPrefix: 'Ragtime — ', sender: 'Ragtime <noreply@ragtime.test>' })

const AA = 4.5
const VIEWPORTS = [375, 1280] as const
const SCHEMES = ['light', 'dark'] as const

interface Measured {
  scrollWidth: number
  innerWidth: number
  /** The width of the table (or, failing that, the box) holding the brand line. */
  cardWidth: number
  /** The relative luminance of the background behind the brand line. */
  cardLuminance: number
  texts: { element: string; text: string; color: string; background: string; ratio: number }[]
}

/**
 * Runs in the page (as source text: the tests compile without the DOM library). WCAG 2.x
 * relative luminance and contrast ratio; a translucent colour is composited over what is
 * behind it; the background of an element is the first opaque one among it and its ancestors,
 * with the translucent ones on the way laid over it, and the canvas behind everything.
 */
const MEASURE = `(() => {
  ${COLOUR_MATH}
  const scheme = document.querySelector('meta[name="color-scheme"]')?.getAttribute('content') || ''
  const darkCanvas = matchMedia('(prefers-color-scheme: dark)').matches && /\\bdark\\b/.test(scheme)
  const canvas = darkCanvas ? { r: 18, g: 18, b: 18, a: 1 } : { r: 255, g: 255, b: 255, a: 1 }
  const backgroundOf = (element) => {
    const layers = []
    for (let e = element; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor)
      if (c.a > 0) layers.push(c)
      if (c.a >= 1) break
    }
    return layers.reduceRight((below, layer) => over(layer, below), canvas)
  }
  const texts = []
  for (const element of document.body.querySelectorAll('*')) {
    const own = [...element.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('').trim()
    if (!own) continue
    if (!element.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue
    const box = element.getBoundingClientRect()
    if (box.width < 1 || box.height < 1) continue
    const background = backgroundOf(element)
    const color = over(parse(getComputedStyle(element).color), background)
    texts.push({
      element: element.tagName.toLowerCase() + (element.className ? '.' + String(element.className).split(/\\s+/).join('.') : ''),
      text: own.slice(0, 60),
      color: css(color),
      background: css(background),
      ratio: ratio(color, background),
    })
  }
  const brand = document.querySelector('.brand')
  const card = brand ? brand.closest('table') || brand.parentElement : null
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    cardWidth: card ? Math.round(card.getBoundingClientRect().width) : -1,
    cardLuminance: brand ? luminance(backgroundOf(brand)) : -1,
    texts,
  }
})()`

describe('every email reads well on a phone and a desktop, light and dark', { skip: missing }, () => {
  // One browser for the file (starting Chromium costs seconds); every page is a fresh one.
  let browser: Browser
  before(async () => {
    browser = await launchChromium()
  })
  after(() => browser?.close())
  for (const [name, sample] of Object.entries(MAIL_SAMPLES)) {
    test(name, async () => {
      const { html } = await renderer.render(sample, new Date('2026-11-28T12:00:00Z'))
      const problems: string[] = []
      let lowest = Infinity
      for (const width of VIEWPORTS) {
        for (const colorScheme of SCHEMES) {
          const page = await browser.newPage({ viewport: { width, height: 800 } })
          // Nothing leaves this machine: an email that loads anything is wrong anyway.
          await page.route('**/*', (route) => route.abort())
          await page.emulateMedia({ colorScheme })
          await page.setContent(html)
          const m = (await page.evaluate(MEASURE)) as Measured
          await page.close()
          const where = `${width} px, ${colorScheme}`
          if (m.scrollWidth > m.innerWidth) problems.push(`${where}: scrolls sideways (${m.scrollWidth} px of content in ${m.innerWidth} px)`)
          if (m.cardWidth < 0 || m.cardWidth > 600) problems.push(`${where}: the card is ${m.cardWidth} px wide (at most 600)`)
          if (colorScheme === 'dark' && !(m.cardLuminance >= 0 && m.cardLuminance < 0.1)) {
            problems.push(`${where}: no dark palette (the card's background has luminance ${m.cardLuminance.toFixed(2)})`)
          }
          assert.ok(m.texts.length > 3, `${where}: found the text (${m.texts.length} elements)`)
          for (const t of m.texts) {
            lowest = Math.min(lowest, t.ratio)
            if (t.ratio < AA) problems.push(`${where}: ${t.ratio.toFixed(2)}:1 for ${t.element} "${t.text}" (${t.color} on ${t.background})`)
          }
        }
      }
      console.log(`# ${name}: lowest contrast ${lowest.toFixed(2)}:1`)
      assert.deepEqual(problems, [])
    })
  }
})
