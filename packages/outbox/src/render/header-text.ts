// Line breaks (including Unicode's), NUL and other C0/C1 controls: none may reach a header.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g

/** A value made safe for one header line: every control run becomes one space. */
export function headerText(value: string): string {
  return value.replace(UNSAFE, ' ').replace(/ {2,}/g, ' ').trim()
}
