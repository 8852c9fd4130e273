import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BodyPrefetch } from '../../packages/outbox/src/body-prefetch.ts'

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

const queue = (...ids: number[]) => ids.map((id) => ({ id }))

describe('BodyPrefetch', () => {
  test('loads bodies one chunk ahead of the senders, never the whole queue at once', async () => {
    const store = recordingStore()
    const prefetch = new BodyPrefetch(store, 2)
    assert.equal(await prefetch.take(1, queue(2, 3, 4, 5, 6, 7)), 'body 1')
    assert.deepEqual(store.loads, [[1, 2], [3, 4]])
    assert.equal(await prefetch.take(2, queue(3, 4, 5, 6, 7)), 'body 2')
    assert.equal(await prefetch.take(3, queue(4, 5, 6, 7)), 'body 3')
    assert.deepEqual(store.loads, [[1, 2], [3, 4], [5, 6]])
    for (const [id, ...rest] of [[4, 5, 6, 7], [5, 6, 7], [6, 7], [7]]) {
      assert.equal(await prefetch.take(id!, queue(...rest)), `body ${id}`)
    }
    assert.deepEqual(store.loads, [[1, 2], [3, 4], [5, 6], [7]])
  })

  test('forgotten bodies are loaded again if they come back', async () => {
    const store = recordingStore()
    const prefetch = new BodyPrefetch(store, 2)
    await prefetch.take(1, queue(2))
    prefetch.forget([2])
    assert.equal(await prefetch.take(2, queue()), 'body 2')
    assert.deepEqual(store.loads, [[1, 2], [2]])
  })

  test('a failed load rejects the take, and untaken bodies do not crash the process', async () => {
    const prefetch = new BodyPrefetch(recordingStore(true), 2)
    await assert.rejects(prefetch.take(1, queue(2, 3, 4)), /database is locked/)
  })
})
