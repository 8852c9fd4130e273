/**
 * Domains of the large mailbox providers. Their DMARC policy is `p=reject` (or soon will be), and
 * only their own servers may send as them: an app whose sender is `someone@gmail.com` sees its mail
 * rejected or filed as spam everywhere, whatever relay it uses. `ragtime mail doctor` fails on such
 * a sender, and start-up in production can warn about it.
 */
const PROVIDER_DOMAINS: ReadonlySet<string> = new Set([
  // Google
  'gmail.com',
  'googlemail.com',
  // Microsoft (hotmail.*, outlook.* and live.* are matched by FAMILY below)
  'msn.com',
  'passport.com',
  // Yahoo and AOL (yahoo.* below)
  'ymail.com',
  'rocketmail.com',
  'aol.com',
  'aim.com',
  // Apple
  'icloud.com',
  'me.com',
  'mac.com',
  // Proton
  'proton.me',
  'protonmail.com',
  'protonmail.ch',
  'pm.me',
  // United Internet (gmx.* below)
  'web.de',
  'mail.com',
  // Others with many personal mailboxes
  'zoho.com',
  'zohomail.com',
  'yandex.com',
  'yandex.ru',
  'mail.ru',
  'fastmail.com',
  'tutanota.com',
  'tuta.io',
  'hey.com',
  'qq.com',
  '163.com',
  'naver.com',
  'comcast.net',
  'orange.fr',
  'free.fr',
  'libero.it',
  't-online.de',
])

/**
 * Providers that hold the same name under many country domains: `gmx.de`, `yahoo.co.uk`,
 * `hotmail.fr`, `outlook.com.br`, `live.nl` … (the name, then a country or generic suffix of one or
 * two short labels).
 */
const FAMILY = /^(gmx|yahoo|hotmail|outlook|live)\.(?:[a-z]{2,3}|(?:co|com|net)\.[a-z]{2})$/

/**
 * Whether `domain` (any case, a trailing dot allowed) belongs to a well-known mailbox provider.
 *
 * ### Examples
 * ```ts
 * isMailboxProvider('gmail.com') // true
 * isMailboxProvider('GMX.de') // true
 * isMailboxProvider('mail.example.com') // false
 * ```
 */
export function isMailboxProvider(domain: string): boolean {
  const name = domain.trim().toLowerCase().replace(/\.$/, '')
  return PROVIDER_DOMAINS.has(name) || FAMILY.test(name)
}
