import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BodyPrefetch } from '../../src/mail/body-prefetch.ts'

/** A store stand-in that records which ids each load asked for (a pure data structure test). */
function recordingStore(fail = false) {
  const loads: number[][] = []
  return {
    loads,
    bodies: async (ids: readonly number[]) => {
      loads.push([...ids])
      if (fail) throw new Error('database is locked')
      return new Map(ids.map((id) => [id, `body ${id}`]))
    },
  }
}

describe('BodyPrefetch', () => {
  test('loads bodies one chunk ahead of the senders, never the whole batch at once', async () => {
    const store = recordingStore()
    const prefetch = new BodyPrefetch(store, [1, 2, 3, 4, 5, 6, 7], 2)
    assert.equal(await prefetch.take(1), 'body 1')
    assert.deepEqual(store.loads, [[1, 2], [3, 4]])
    assert.equal(await prefetch.take(2), 'body 2')
    assert.equal(await prefetch.take(3), 'body 3')
    assert.deepEqual(store.loads, [[1, 2], [3, 4], [5, 6]])
    for (const id of [4, 5, 6, 7]) assert.equal(await prefetch.take(id), `body ${id}`)
    assert.deepEqual(store.loads, [[1, 2], [3, 4], [5, 6], [7]])
  })

  test('a failed load rejects the take, and untaken bodies do not crash the process', async () => {
    const prefetch = new BodyPrefetch(recordingStore(true), [1, 2, 3, 4], 2)
    await assert.rejects(prefetch.take(1), /database is locked/)
  })
})
