/**
 * Notification state shared by the pages of one app: the unread count (header / tab badge and
 * the inbox page alike) and the queue of urgent DING prompts. Installed once per app
 * (`installNotify()` in App.vue).
 *
 * The unread count has one source: the server's count, read only here. Every call that answers
 * with `unread_count` goes through this store (`list`, `readOne`, `readMany`, `readAll`), and
 * the answer of a request counts only while no later request or event has been seen since it
 * was sent, so an older answer never overwrites a newer state. Live events move the count at
 * once (`notify.notification.created` / `notify.ding.received` + 1, `notify.notification.read`
 * = its unread_count) and then the count is fetched again: an event and a REST answer may
 * cross in flight, and the fetch that starts last settles it.
 *
 * - `notify.ding.received` also queues a full-screen prompt (the DING's inbox entry is not
 *   pushed separately); `notify.ding.reminded` → the prompt again;
 * - after a reload, the unconfirmed DINGs sent while the socket was down are prompted;
 * - a DING's entry is read only by confirming the DING: read / read-all leave it unread.
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
/** bumped by every count request sent and every count event received */
let countEpoch = 0
let refetchTimer: number | undefined

/** Send a request that answers with `unread_count`; its count is taken only if it is still the latest. */
async function counted<T extends { unread_count: number }>(call: () => Promise<T>): Promise<T> {
  const ticket = ++countEpoch
  const answer = await call()
  if (ticket === countEpoch && typeof answer?.unread_count === 'number' && answer.unread_count >= 0) {
    state.unreadCount = answer.unread_count
    state.loaded = true
  }
  return answer
}

async function refreshCount(): Promise<void> {
  window.clearTimeout(refetchTimer)
  if (!auth.state.me) return
  try {
    await counted(notifyApi.unreadCount)
  } catch {
    // keep the last known count; the next event or reload corrects it
  }
}

/** An event changed the count: show it now, then ask the server (the event may have crossed a request). */
function countChanged(next: number): void {
  countEpoch++
  state.unreadCount = Math.max(0, next)
  window.clearTimeout(refetchTimer)
  refetchTimer = window.setTimeout(() => void refreshCount(), 400)
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
  countEpoch++
  window.clearTimeout(refetchTimer)
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
  on('notify.notification.created', () => countChanged(state.unreadCount + 1))
  on('notify.notification.read', (e) => {
    const data = (e.data ?? {}) as { unread_count?: number }
    countChanged(typeof data.unread_count === 'number' ? data.unread_count : state.unreadCount)
    void dropConfirmedPrompts()
  })
  on('notify.ding.received', (e) => {
    const d = e.data as DingReceivedEvent | undefined
    if (!d?.ding_id) return
    countChanged(state.unreadCount + 1)
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
  /** A page of the inbox; its unread_count is the badge's. */
  list: (query: Parameters<typeof notifyApi.list>[0] = {}) => counted(() => notifyApi.list(query)),
  /** Read one entry (a DING's entry stays unread: it is read by confirming the DING). */
  readOne: (id: string) => counted(() => notifyApi.readOne(id)),
  readMany: (ids: string[]) => counted(() => notifyApi.readMany(ids)),
  /** 全部已读: every entry but the DINGs still waiting for their confirmation. */
  readAll: (kind?: string) => counted(() => notifyApi.readAll(kind)),
  /** "确认已读" on a prompt or a DING page; throws the API error (the prompt stays). */
  async confirm(dingId: string): Promise<void> {
    const p = state.prompts.find((x) => x.ding_id === dingId)
    if (p) p.confirming = true
    try {
      await notifyApi.confirmDing(dingId)
      state.prompts = state.prompts.filter((x) => x.ding_id !== dingId)
      // the read event lowers the count; without a socket this fetch does
      countChanged(state.unreadCount)
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
