import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RecordGroups } from '../../packages/outbox/src/record-groups.ts'

/** Counts `perSecond` outcomes a second, evenly, for `seconds`, from `start`; returns when it stopped. */
function deliver(groups: RecordGroups, perSecond: number, seconds: number, start: number): number {
  const n = Math.round(perSecond * seconds)
  for (let i = 0; i < n; i++) groups.count(start + (i * 1_000) / perSecond)
  return start + seconds * 1_000
}

test('a group is what 10 ms of delivery brings at the last tenth of a second’s rate, between its minimum and maximum', () => {
  const groups = new RecordGroups()
  assert.equal(groups.afterMs, 10)
  assert.equal(groups.size, 10, 'before any rate is known: the minimum')
  let now = deliver(groups, 5_000, 2.5, 0)
  assert.ok(groups.size >= 48 && groups.size <= 52, `5,000/s: ${groups.size} (about 50 per 10 ms)`)
  now = deliver(groups, 250, 2.5, now)
  assert.equal(groups.size, 10, '250/s: 2.5 per 10 ms, so the minimum: a busy event loop cannot let more pile up')
  now = deliver(groups, 50_000, 2.5, now)
  assert.equal(groups.size, 100, 'never more than the maximum')
  // A quiet minute, then one outcome: the rate over the quiet spell is low, so groups are small again.
  groups.count(now + 60_000)
  assert.equal(groups.size, 10)
})

test('the minimum and the wait are the worker’s (two outcomes per connection, at least ten)', () => {
  const groups = new RecordGroups({ min: 60, afterMs: 20 })
  assert.equal(groups.size, 60)
  deliver(groups, 5_000, 2.5, 0)
  assert.equal(groups.size, 100, '5,000/s over 20 ms')
  deliver(groups, 1_000, 2.5, 10_000)
  assert.equal(groups.size, 60, '1,000/s over 20 ms is 20: the minimum holds')
})
