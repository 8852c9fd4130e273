/** RAGTIME_HEAP's values; what each does is in src/cli/heap.ts. */
export const HEAP_SIZINGS = ['lean', 'node'] as const

export type HeapSizing = (typeof HEAP_SIZINGS)[number]

export const DEFAULT_HEAP_SIZING: HeapSizing = 'lean'

/**
 * What sizing the heap needs from the environment, read on its own and without loading the
 * configuration's parsers: the CLI sizes the heap before a long-running command loads its
 * modules, since loading modules is what first grows V8's young generation. A bad RAGTIME_HEAP
 * reads as the default here; loadConfig refuses it, with every other problem, a moment later.
 */
export function heapSettings(env: Record<string, string | undefined> = process.env): { sizing: HeapSizing; nodeOptions: string[] } {
  const value = env.RAGTIME_HEAP?.trim()
  return {
    sizing: HEAP_SIZINGS.find((sizing) => sizing === value) ?? DEFAULT_HEAP_SIZING,
    // Sizes the user gave Node there win over ours.
    nodeOptions: (env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean),
  }
}
