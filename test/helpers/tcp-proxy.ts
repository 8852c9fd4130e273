import { createServer, type Server, type Socket, connect } from 'node:net'
import { after } from 'node:test'

/** A TCP relay on 127.0.0.1 in front of a real server, whose link a test can cut and restore. */
export interface TcpProxy {
  readonly port: number
  /** Drops every relayed connection and refuses new ones. */
  cut(): Promise<void>
  /** Accepts and relays again, on the same port. */
  restore(): Promise<void>
}

export async function startTcpProxy(upstreamHost: string, upstreamPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let server: Server | undefined
  let port = 0

  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(upstreamPort, upstreamHost)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve))
    const address = server.address()
    port = typeof address === 'object' && address ? address.port : 0
  }
  const cut = async () => {
    const closing = server && new Promise((resolve) => server!.close(resolve))
    for (const socket of sockets) socket.destroy()
    await closing
    server = undefined
  }

  await listen()
  after(cut)
  return { port, cut, restore: listen }
}
