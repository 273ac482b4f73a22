/**
 * Realtime hook-up point: one WebSocket to `/ws?token=` per tab, with an event bus.
 *
 * The connection retries with a growing delay and gives up quietly after a few failed
 * attempts in a row (the app keeps working on REST; it tries again when the browser is back
 * online). Events are the server's envelopes `{seq, type, at, data}`; the last `seq` is kept
 * per user so a reconnect resumes with `since` (4408 too slow, 1012 restart, network loss).
 *
 * Events the pages listen to besides the server's:
 * - `realtime.reload`: events were missed (the server could not replay them, or a reconnect
 *   had no resume position): refetch the state from REST;
 * - `realtime.connected` / `realtime.disconnected`;
 * - `realtime.session_ended`: closed with 4401, the session is over (the app goes to login).
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
  /** last seq seen, per user: a reconnect resumes with `since`; another user never inherits it */
  private lastSeq = new Map<string, number>()
  private userId: string | null = null
  private wanted = false
  private everOpened = false

  constructor() {
    if (typeof window !== 'undefined') {
      // gave up after repeated failures: try again when the network comes back
      window.addEventListener('online', () => {
        if (this.wanted && !this.socket && this.status.value === 'unavailable') {
          window.clearTimeout(this.timer)
          this.failures = 0
          this.connect()
        }
      })
    }
  }

  /** `userId`: the signed-in user (the resume position is kept per user). */
  start(userId?: string): void {
    if (userId && userId !== this.userId) {
      if (this.socket || this.timer) this.stop()
      this.userId = userId
      this.everOpened = false
    }
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
    const since = this.userId ? this.lastSeq.get(this.userId) : undefined
    if (since !== undefined) params.set('since', String(since))
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
      const resumed = since !== undefined
      const reconnect = this.everOpened
      this.everOpened = true
      this.bus.emit({ type: 'realtime.connected' })
      // reconnected without a resume position: whatever happened meanwhile is unknown
      if (reconnect && !resumed) this.bus.emit({ type: 'realtime.reload', data: { local: true } })
    }
    socket.onmessage = (message) => {
      let event: RealtimeEvent
      try {
        event = JSON.parse(String(message.data))
      } catch {
        return
      }
      if (!event || typeof event.type !== 'string') return
      if (event.type === 'realtime.hello') {
        const hello = (event.data ?? {}) as { user_id?: string; seq?: number | null }
        if (hello.user_id && hello.user_id !== this.userId) this.userId = hello.user_id
        // nothing received yet: remember where the stream stands (0 = before any event)
        if (this.userId && !this.lastSeq.has(this.userId)) this.lastSeq.set(this.userId, hello.seq ?? 0)
      } else if (typeof event.seq === 'number' && this.userId) {
        this.lastSeq.set(this.userId, event.seq)
      }
      this.bus.emit(event)
    }
    socket.onerror = () => {
      /* followed by onclose */
    }
    socket.onclose = (e) => {
      if (this.socket !== socket) return
      this.socket = null
      if (opened) this.bus.emit({ type: 'realtime.disconnected' })
      // 4401: the session ended (revoked, expired, refused) — the app goes back to login
      if (!this.wanted || e.code === 4401 || e.code === 4403) {
        this.status.value = 'idle'
        if (this.wanted) {
          this.wanted = false
          this.bus.emit({ type: 'realtime.session_ended', data: { code: e.code } })
        }
        return
      }
      // 4408 (too slow) and 1012 (server restart) reconnect and resume with `since`
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
