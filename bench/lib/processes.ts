// Every process the bench starts goes through here, so that all of them are ended when the bench
// ends, whether it finished, failed or was interrupted.
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process'
import path from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { withTimeout } from './time.ts'

const running = new Set<ChildProcess>()

/** Kills every child still running (SIGKILL: the bench is over, nothing needs to be graceful). */
export function killAllChildren(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  running.clear()
}

export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, options)
  running.add(child)
  child.once('exit', () => running.delete(child))
  return child
}

const PROCESSES_DIR = path.join(import.meta.dirname, '../processes')

/** Starts `bench/processes/<script>` under tsx. */
export function spawnBenchProcess(script: string, args: readonly string[]): ChildProcess {
  return spawnTracked(process.execPath, ['--import', 'tsx', path.join(PROCESSES_DIR, script), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
}

/** Resolves with the child's exit code, or kills it with SIGKILL after `timeoutMs`. */
export async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  try {
    return await withTimeout(`process ${child.pid} to exit`, exited, timeoutMs)
  } catch {
    child.kill('SIGKILL')
    return exited
  }
}

/** Asks a child to stop (SIGTERM) and waits for it, killing it if it does not within `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  await waitForExit(child, graceMs)
}

/** The lines a child writes on stdout, one at a time. */
export function stdoutLines(child: ChildProcess): Interface {
  if (!child.stdout) throw new Error('the child has no stdout pipe')
  return createInterface({ input: child.stdout })
}

/**
 * Runs a bench process to completion and parses the one JSON line it prints on stdout; rejects
 * if it fails or runs longer than `timeoutMs`.
 */
export async function runBenchProcess<T>(
  script: string,
  args: readonly string[],
  { timeoutMs }: { timeoutMs: number },
): Promise<T> {
  const child = spawnBenchProcess(script, args)
  child.stdin?.end()
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const code = await waitForExit(child, timeoutMs)
  if (code !== 0) throw new Error(`${script} ${args.join(' ')} exited with ${code ?? child.signalCode}`)
  return JSON.parse(out) as T
}
