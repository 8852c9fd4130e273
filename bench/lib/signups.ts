// Sign-ups the way a client makes them: JSON `POST /auth/register`, one new user each.

/** The address of bench user `i`; every scenario's sink counts mail by it. */
export const benchAddress = (i: number): string => `user${i}@example.test`

/** Signs up user `i`; throws unless the app answers 202 (accepted, pending confirmation). */
export async function signUp(baseUrl: string, i: number): Promise<void> {
  const response = await fetch(`${baseUrl}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email: benchAddress(i), username: `user${i}`, password: 'bench password' }),
  })
  const body = await response.text()
  if (response.status !== 202) throw new Error(`sign-up ${i} answered ${response.status}: ${body.slice(0, 200)}`)
}
