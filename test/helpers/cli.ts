import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { after } from 'node:test'
import { promisify } from 'node:util'
import { ROOT } from './root.ts'

const BIN = path.join(ROOT, 'bin/ragtime.js')

export interface Spawned {
  readonly child: ChildProcess
  /** Everything the process wrote to stderr so far (its logs). */
  readonly stderr: () => string
  /** Resolves with the exit code (or signal) once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `ragtime <args>` with exactly `env` (plus PATH); killed after the test if still running. */
export function spawnRagtime(args: string[], env: Record<string, string>, cwd?: string): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdout?.resume()
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }))
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, stderr: () => stderr, exited }
}

/**
 * Waits for `work`, but fails at once, with its log, if one of `processes` ends first: a worker
 * that died at start-up should not look like a slow one.
 */
export async function whileRunning<T>(processes: readonly Spawned[], work: Promise<T>): Promise<T> {
  const died = processes.map(async (p) => {
    const exit = await p.exited
    throw new Error(`ragtime exited early (${exit.code ?? exit.signal}):\n${p.stderr()}`)
  })
  for (const death of died) death.catch(() => {})
  return Promise.race([work, ...died])
}

/** Runs `ragtime <args>` to completion. */
export async function runRagtime(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}
