/**
 * Realtime hook-up point: one WebSocket to `/ws?token=` per tab, with an event bus.
 *
 * The server side of the socket comes later; until then the endpoint may be absent. The
 * connection therefore retries with a growing delay and gives up quietly after a few
 * failed attempts in a row (the app keeps working on REST). Events are the server's
 * envelopes `{type, seq?, data?}`; `seq` is remembered so a reconnect can resume.
 */
import { onBeforeUnmount, ref, type Ref } from 'vue'
import { getToken } from '../api/http'

export interface RealtimeEvent<T = unknown> {
  type: string
  seq?: number
  data?: T
  [key: string]: unknown
}

type Handler = (event: RealtimeEvent) => void

class EventBus {
  private handlers = new Map<string, Set<Handler>>()

  on(type: string, handler: Handler): () => void {
    let set = this.handlers.get(type)
    if (!set) this.handlers.set(type, (set = new Set()))
    set.add(handler)
    return () => set!.delete(handler)
  }

  emit(event: RealtimeEvent): void {
    for (const key of [event.type, '*']) {
      this.handlers.get(key)?.forEach((h) => {
        try {
          h(event)
        } catch (e) {
          console.error('realtime handler failed', e)
        }
      })
    }
  }
}

export type RealtimeStatus = 'idle' | 'connecting' | 'open' | 'unavailable'

const MAX_FAILURES = 5

class RealtimeConnection {
  readonly bus = new EventBus()
  readonly status: Ref<RealtimeStatus> = ref('idle')
  private socket: WebSocket | null = null
  private failures = 0
  private timer: number | undefined
  private lastSeq: number | null = null
  private wanted = false

  start(): void {
    this.wanted = true
    if (this.socket || this.timer) return
    this.failures = 0
    this.connect()
  }

  stop(): void {
    this.wanted = false
    window.clearTimeout(this.timer)
    this.timer = undefined
    const socket = this.socket
    this.socket = null
    if (socket) socket.close(1000)
    this.status.value = 'idle'
  }

  send(message: unknown): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false
    this.socket.send(JSON.stringify(message))
    return true
  }

  private connect(): void {
    this.timer = undefined
    const token = getToken()
    if (!this.wanted || !token) return
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const params = new URLSearchParams({ token })
    if (this.lastSeq !== null) params.set('since', String(this.lastSeq))
    let socket: WebSocket
    try {
      socket = new WebSocket(`${proto}//${location.host}/ws?${params}`)
    } catch {
      this.retry()
      return
    }
    this.socket = socket
    this.status.value = 'connecting'
    let opened = false
    socket.onopen = () => {
      opened = true
      this.failures = 0
      this.status.value = 'open'
      this.bus.emit({ type: 'realtime.connected' })
    }
    socket.onmessage = (message) => {
      let event: RealtimeEvent
      try {
        event = JSON.parse(String(message.data))
      } catch {
        return
      }
      if (!event || typeof event.type !== 'string') return
      if (typeof event.seq === 'number') this.lastSeq = event.seq
      this.bus.emit(event)
    }
    socket.onerror = () => {
      /* followed by onclose */
    }
    socket.onclose = (e) => {
      if (this.socket !== socket) return
      this.socket = null
      if (opened) this.bus.emit({ type: 'realtime.disconnected' })
      // 4401: the server refused the token — the API client will notice on the next call
      if (!this.wanted || e.code === 4401 || e.code === 4403) {
        this.status.value = 'idle'
        return
      }
      if (!opened) this.failures += 1
      this.retry()
    }
  }

  private retry(): void {
    if (this.failures >= MAX_FAILURES) {
      this.status.value = 'unavailable'
      return
    }
    const delay = Math.min(30_000, 1000 * 2 ** this.failures) + Math.random() * 500
    this.timer = window.setTimeout(() => this.connect(), delay)
  }
}

export const realtime = new RealtimeConnection()

/**
 * Subscribe to realtime events for the lifetime of the calling component.
 * `useRealtime('returnees.registration.dispatched', (e) => reload())`
 */
export function useRealtime(type?: string, handler?: Handler) {
  if (type && handler) {
    const off = realtime.bus.on(type, handler)
    onBeforeUnmount(off)
  }
  return { status: realtime.status, on: realtime.bus.on.bind(realtime.bus), send: realtime.send.bind(realtime) }
}
