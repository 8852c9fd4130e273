import { Resolver } from 'node:dns/promises'

/**
 * The answer to one DNS question: the records (an empty list when the name or the record type
 * does not exist), or why no answer came (timeout, refused, SERVFAIL…). "No such record" and
 * "could not ask" are kept apart: only the first is a finding about the domain.
 */
export type Answer<T> = { ok: true; records: T[] } | { ok: false; error: string }

export interface MxRecord {
  readonly exchange: string
  readonly priority: number
}

/** The look-ups the doctor makes, each asked at most once per run. */
export interface DoctorDns {
  /** TXT records, each one string (its character-strings joined, as RFC 7208 and 6376 say). */
  txt(name: string): Promise<Answer<string>>
  mx(name: string): Promise<Answer<MxRecord>>
  /** A and AAAA records together. */
  addresses(name: string): Promise<Answer<string>>
  /** The servers asked, as given, for the report. */
  readonly servers: readonly string[]
}

/** Errors that mean "this name or record type does not exist", not "no answer". */
const ABSENT = new Set(['ENODATA', 'ENOTFOUND'])

/**
 * A resolver on `servers` (`1.1.1.1`, `127.0.0.1:5353`, `[::1]:53`; empty: the system's), with
 * short timeouts so that an unreachable server gives up within seconds.
 *
 * Throws when a server is not an IP address (with an optional port).
 */
export function doctorDns(servers: readonly string[] = []): DoctorDns {
  const resolver = new Resolver({ timeout: 2_500, tries: 2 })
  if (servers.length > 0) resolver.setServers([...servers])
  const cache = new Map<string, Promise<Answer<unknown>>>()

  async function ask<T>(records: () => Promise<T[]>): Promise<Answer<T>> {
    try {
      return { ok: true, records: await records() }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? ''
      if (ABSENT.has(code)) return { ok: true, records: [] }
      return { ok: false, error: code || (err instanceof Error ? err.message : String(err)) }
    }
  }
  function once<T>(key: string, records: () => Promise<T[]>): Promise<Answer<T>> {
    let answer = cache.get(key)
    if (!answer) {
      answer = ask(records)
      cache.set(key, answer)
    }
    return answer as Promise<Answer<T>>
  }

  return {
    servers: servers.length > 0 ? [...servers] : resolver.getServers(),
    txt: (name) => once(`TXT ${name}`, async () => (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''))),
    mx: (name) => once(`MX ${name}`, () => resolver.resolveMx(name)),
    addresses: (name) =>
      once(`A+AAAA ${name}`, async () => {
        const [v4, v6] = await Promise.all([ask(() => resolver.resolve4(name)), ask(() => resolver.resolve6(name))])
        if (!v4.ok && !v6.ok) throw Object.assign(new Error(v4.error), { code: v4.error })
        return [...(v4.ok ? v4.records : []), ...(v6.ok ? v6.records : [])]
      }),
  }
}

/** Says in words why a look-up got no answer. */
export function cannotResolve(name: string, type: string, error: string): string {
  return `cannot resolve ${type} ${name} (${error}): the DNS server did not answer, so this was not checked`
}
