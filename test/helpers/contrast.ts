/**
 * WCAG colour arithmetic, as source to run inside a page (page.evaluate takes strings here: tsx
 * names functions with a helper the page does not have, and the project has no DOM types).
 * Defines parse (a computed CSS colour), over (alpha compositing), luminance, ratio and css.
 */
export const COLOUR_MATH = `
  const parse = (value) => {
    const n = (String(value).match(/[\\d.]+/g) || []).map(Number)
    return { r: n[0] ?? 0, g: n[1] ?? 0, b: n[2] ?? 0, a: n.length > 3 ? n[3] : 1 }
  }
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  })
  const channel = (c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4) }
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)
  const ratio = (x, y) => { const [a, b] = [luminance(x), luminance(y)].sort((p, q) => q - p); return (a + 0.05) / (b + 0.05) }
  const css = (c) => 'rgb(' + [c.r, c.g, c.b].map(Math.round).join(', ') + ')'
`
