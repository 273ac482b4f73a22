/**
 * Notification state shared by the pages of one app: the unread badge and the queue of urgent
 * DING prompts. Fed by the realtime socket; refetched from REST on (re)connection and on
 * `realtime.reload`. Installed once per app (`installNotify()` in the router module).
 *
 * - `notify.notification.created` → badge + 1; `notify.notification.read` → badge = unread_count;
 * - `notify.ding.received` → badge + 1 (the DING's inbox entry is not pushed separately) and a
 *   full-screen prompt; `notify.ding.reminded` → the prompt again;
 * - after a reload, the unconfirmed DINGs sent while the socket was down are prompted.
 */
import { reactive, readonly, watch } from 'vue'
import { auth } from '../auth/store'
import { realtime, type RealtimeEvent } from '../realtime'
import { notifyApi, type DingReceivedEvent, type DingRemindedEvent } from './api'

export interface DingPrompt {
  ding_id: string
  sender_name: string
  content: string
  created_at: string
  /** a reminder from the sender (again) */
  reminded: boolean
  confirming: boolean
}

const state = reactive({
  unreadCount: 0,
  /** from REST at least once for this user */
  loaded: false,
  prompts: [] as DingPrompt[],
})

let installed = false
let disconnectedAt: number | null = null
let countRequest = 0

async function refreshCount(): Promise<void> {
  if (!auth.state.me) return
  const ticket = ++countRequest
  try {
    const answer = await notifyApi.unreadCount()
    if (ticket === countRequest) {
      state.unreadCount = answer.unread_count
      state.loaded = true
    }
  } catch {
    // keep the last known count; the next event or reload corrects it
  }
}

function setCount(value: unknown): void {
  if (typeof value === 'number' && value >= 0) {
    countRequest++ // an answer in flight is older than this event
    state.unreadCount = value
  }
}

function prompt(p: Omit<DingPrompt, 'confirming'>): void {
  const existing = state.prompts.find((x) => x.ding_id === p.ding_id)
  if (existing) {
    existing.reminded = existing.reminded || p.reminded
    return
  }
  state.prompts.push({ ...p, confirming: false })
}

/** DINGs received while the socket was down and still unconfirmed. */
async function promptMissed(since: number): Promise<void> {
  try {
    const unread = await notifyApi.receivedDings({ unread: true, limit: 20 })
    for (const d of unread.reverse()) {
      const at = Date.parse(d.created_at) || 0
      const reminded = d.last_reminded_at ? Date.parse(d.last_reminded_at) >= since : false
      if (at >= since || reminded) {
        prompt({ ding_id: d.id, sender_name: d.sender_name, content: d.content, created_at: d.created_at, reminded })
      }
    }
  } catch {
    /* the inbox still lists them */
  }
}

/** Prompts confirmed elsewhere (another device) are dropped. */
async function dropConfirmedPrompts(): Promise<void> {
  if (!state.prompts.length) return
  try {
    const unread = new Set((await notifyApi.receivedDings({ unread: true, limit: 100 })).map((d) => d.id))
    state.prompts = state.prompts.filter((p) => p.confirming || unread.has(p.ding_id))
  } catch {
    /* keep them */
  }
}

function reset(): void {
  state.unreadCount = 0
  state.loaded = false
  state.prompts = []
  disconnectedAt = null
}

export function installNotify(): void {
  if (installed) return
  installed = true
  const on = (type: string, handler: (e: RealtimeEvent) => void) => realtime.bus.on(type, handler)
  on('realtime.hello', () => void refreshCount())
  on('realtime.disconnected', () => {
    disconnectedAt = disconnectedAt ?? Date.now()
  })
  on('realtime.reload', () => {
    void refreshCount()
    if (disconnectedAt !== null) void promptMissed(disconnectedAt - 5000)
  })
  on('realtime.connected', () => {
    // replayed events (if any) follow the hello; a later disconnect starts a new gap
    window.setTimeout(() => {
      disconnectedAt = null
    }, 3000)
  })
  on('notify.notification.created', () => {
    state.unreadCount += 1
  })
  on('notify.notification.read', (e) => {
    const data = (e.data ?? {}) as { unread_count?: number }
    setCount(data.unread_count)
    void dropConfirmedPrompts()
  })
  on('notify.ding.received', (e) => {
    const d = e.data as DingReceivedEvent | undefined
    if (!d?.ding_id) return
    state.unreadCount += 1
    prompt({ ding_id: d.ding_id, sender_name: d.sender_name, content: d.content, created_at: d.created_at, reminded: false })
  })
  on('notify.ding.reminded', (e) => {
    const d = e.data as DingRemindedEvent | undefined
    if (!d?.ding_id) return
    prompt({ ding_id: d.ding_id, sender_name: d.sender_name, content: d.content, created_at: d.reminded_at, reminded: true })
  })
  // another user signs in on this tab: nothing of the previous one is kept
  watch(
    () => auth.state.me?.id ?? null,
    (id, old) => {
      if (id !== old) reset()
      if (id) void refreshCount()
    },
  )
}

export const notifyState = readonly(state)

export const notifyStore = {
  state: notifyState,
  refreshCount,
  setCount,
  /** "确认已读" on a prompt; throws the API error (the prompt stays). */
  async confirm(dingId: string): Promise<void> {
    const p = state.prompts.find((x) => x.ding_id === dingId)
    if (p) p.confirming = true
    try {
      await notifyApi.confirmDing(dingId)
      state.prompts = state.prompts.filter((x) => x.ding_id !== dingId)
    } finally {
      const still = state.prompts.find((x) => x.ding_id === dingId)
      if (still) still.confirming = false
    }
  },
  /** the DING was confirmed from its page */
  dismiss(dingId: string): void {
    state.prompts = state.prompts.filter((x) => x.ding_id !== dingId)
  },
}

/** Format a count for a badge: '' for none, 99+ above 99. */
export function badgeText(count: number): string {
  if (count <= 0) return ''
  return count > 99 ? '99+' : String(count)
}
