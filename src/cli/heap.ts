import { setFlagsFromString } from 'node:v8'
import { type HeapSizing, heapSettings } from '../config/heap.ts'

/**
 * RAGTIME_HEAP: how the long-running processes (`serve`, `worker`, `bounces`) size V8's heap.
 *
 * - `lean` (the default): the young generation keeps its starting size, and after each full
 *   collection the old generation may grow to 1.25× what is live before the next one. Under a
 *   burst of sign-ups most of what a request allocates outlives two young collections (it waits
 *   on hashing, the database, the other requests), so it lands in the old generation as garbage;
 *   with Node's own sizing V8 lets that generation grow to about 4× the live data before
 *   collecting it, and grows the young generation to 32 MB. Measured in `npm run bench -- --only
 *   slow-provider` (2,000 sign-ups from 50 clients): peak RSS 229–296 MB with Node's sizing,
 *   139–143 MB lean, for about 8 % more CPU while the burst saturates the machine.
 * - `node`: Node's and V8's own sizing, for a process that has the memory and wants that CPU.
 *
 * Both flags are read by V8 whenever it sizes a space, so setting them after start-up takes
 * effect from the next collection (Node accepts neither in NODE_OPTIONS). Sizes the user gave
 * Node win: with `--max-semi-space-size` (command line or NODE_OPTIONS), `--min-semi-space-size`
 * or `--semi-space-growth-factor` the young generation is left alone, and with
 * `--heap-growing-percent` (command line) the old one.
 *
 * Each flag comes with the Node options that mean the user chose that size already.
 */
const LEAN: readonly { flag: string; unlessGiven: RegExp }[] = [
  { flag: '--semi-space-growth-factor=1', unlessGiven: /^--((max|min)[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)\b/ },
  { flag: '--heap-growing-percent=25', unlessGiven: /^--heap[-_]growing[-_]percent\b/ },
]

export const LEAN_HEAP_FLAGS: readonly string[] = LEAN.map(({ flag }) => flag)

/** The V8 flags `sizing` asks for, less those whose size the user gave Node (`given`: its options). */
export function heapFlags(sizing: HeapSizing, given: readonly string[]): string[] {
  if (sizing !== 'lean') return []
  return LEAN.filter(({ unlessGiven }) => !given.some((arg) => unlessGiven.test(arg))).map(({ flag }) => flag)
}

/**
 * Called before a long-running command loads its modules: loading them is what first grows the
 * young generation (from 2 to 16 MB in the first 80 ms of `serve`), and V8 shrinks a grown one
 * only once allocation slows down.
 */
export function sizeHeap({ sizing, nodeOptions } = heapSettings()): void {
  for (const flag of heapFlags(sizing, [...process.execArgv, ...nodeOptions])) setFlagsFromString(flag)
}
