/**
 * The inbox page's logic, shared by both apps (each app draws the list): tabs 全部 / 未读 / DING,
 * paging, opening an entry (read, then its linked object), 标为已读 and 全部已读, live updates.
 *
 * The unread count shown on the page is the store's, the same the badge shows (one source).
 * Urgent kinds (DING, 警报) are styled apart by the apps through `isUrgent`.
 */
import { computed, onBeforeUnmount, ref, watch } from 'vue'
import { useRouter, type Router } from 'vue-router'
import { errorMessage } from '../api/http'
import { useRealtime } from '../realtime'
import { KIND_LABELS, type Notification } from './api'
import { notifyStore } from './store'

export type InboxTab = 'all' | 'unread' | 'ding'

export const DING_KIND = 'ding'
/** Kinds that must catch the eye: a DING waits for its confirmation, an alert (NAT positive) for action. */
export const URGENT_KINDS: readonly string[] = [DING_KIND, 'alert']

export function isUrgent(kind: string): boolean {
  return URGENT_KINDS.includes(kind)
}

/** 'supervision.overdue' is labelled as its domain, 督办. */
export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? KIND_LABELS[kind.split('.')[0]] ?? '通知'
}

/** Where an entry without a link points, by its object. */
const OBJECT_PATHS: Record<string, (id: string) => string> = {
  ding: (id) => `/ding/${id}`,
  returnee: (id) => `/returnees/${id}`,
  verification_task: (id) => `/verification/tasks/${id}`,
  supervision_item: (id) => `/supervision/${id}`,
}

function routable(router: Router, path: string): boolean {
  const resolved = router.resolve(path)
  return resolved.matched.length > 0 && resolved.name !== 'not-found'
}

/**
 * The in-app path of the entry's linked object: its link (written for either app, `/m/#/…`,
 * `/console/#/…` or `/…`), or the page of its object. Where this app has no page for that very
 * object, the nearest page above it (the console's /supervision for /supervision/ID).
 */
export function notificationTarget(n: Notification, router: Router): string | null {
  if (n.object_type === DING_KIND && n.object_id) return `/ding/${n.object_id}`
  let path = (n.link ?? '').replace(/^\/(console|m)\/#/, '').replace(/^#/, '')
  if (!path && n.object_type && n.object_id && OBJECT_PATHS[n.object_type]) path = OBJECT_PATHS[n.object_type](n.object_id)
  if (!path.startsWith('/') || path.startsWith('//')) return null
  if (routable(router, path)) return path
  let parent = path.split(/[?#]/)[0]
  while ((parent = parent.replace(/\/[^/]*\/?$/, ''))) {
    if (routable(router, parent)) return parent
  }
  return null
}

export interface InboxOptions {
  pageSize: number
  /** how the app shows a failed action (toast / message); a failed page load is `loadError` */
  onError: (e: unknown, fallback?: string) => void
}

export function useInbox(options: InboxOptions) {
  const router = useRouter()
  const tab = ref<InboxTab>('all')
  const items = ref<Notification[]>([])
  const nextBefore = ref<string | null>(null)
  const loading = ref(false)
  const finished = ref(false)
  const loadError = ref('')
  const unreadCount = computed(() => notifyStore.state.unreadCount)
  const emptyText = computed(() =>
    tab.value === 'unread' ? '没有未读消息' : tab.value === 'ding' ? '还没有收到 DING' : '暂无消息',
  )
  let generation = 0

  async function fetchPage(first: boolean): Promise<void> {
    const gen = first ? ++generation : generation
    loading.value = true
    try {
      const page = await notifyStore.list({
        unread: tab.value === 'unread',
        kind: tab.value === 'ding' ? DING_KIND : undefined,
        before: first ? null : nextBefore.value,
        limit: options.pageSize,
      })
      if (gen !== generation) return
      if (first) {
        items.value = page.items
      } else {
        const seen = new Set(items.value.map((n) => n.id))
        items.value.push(...page.items.filter((n) => !seen.has(n.id)))
      }
      nextBefore.value = page.next_before
      finished.value = !page.next_before
      loadError.value = ''
    } catch (e) {
      if (gen === generation) {
        loadError.value = errorMessage(e, '消息加载失败')
        finished.value = true
      }
    } finally {
      if (gen === generation) loading.value = false
    }
  }

  /** The first page again (tab change, pull to refresh, a new entry arrived). */
  const reload = () => fetchPage(true)
  /** The next page. */
  const loadMore = () => fetchPage(!items.value.length)

  function markRead(match: (n: Notification) => boolean): void {
    const at = new Date().toISOString()
    for (const n of items.value) {
      if (!n.read && match(n)) {
        n.read = true
        n.read_at = at
      }
    }
    if (tab.value === 'unread') items.value = items.value.filter((n) => !n.read)
  }
  /** what 全部已读 (of one kind or all) reads: never a DING's entry */
  const readByAll = (kind?: string | null) => (n: Notification) => n.kind !== DING_KIND && (!kind || kind === n.kind)

  /** Read the entry (not a DING's: that is read by confirming the DING), then open its object. */
  async function open(n: Notification): Promise<void> {
    if (!n.read && n.kind !== DING_KIND) {
      try {
        await notifyStore.readOne(n.id)
        n.read = true
        n.read_at = new Date().toISOString()
      } catch (e) {
        options.onError(e)
      }
    }
    const to = notificationTarget(n, router)
    if (to) void router.push(to)
  }

  async function readSelected(selected: Notification[]): Promise<boolean> {
    const ids = selected.filter((n) => !n.read && n.kind !== DING_KIND).map((n) => n.id)
    if (!ids.length) return false
    try {
      await notifyStore.readMany(ids)
      const done = new Set(ids)
      markRead((n) => done.has(n.id))
      return true
    } catch (e) {
      options.onError(e)
      return false
    }
  }

  /** 全部已读; the message to show, which says how many DINGs still wait for their confirmation. */
  async function readAll(): Promise<string | null> {
    try {
      const answer = await notifyStore.readAll()
      markRead(readByAll())
      void reload()
      const done = answer.updated ? `已将 ${answer.updated} 条消息标为已读` : '没有可标为已读的消息'
      return answer.unread_count ? `${done}，${answer.unread_count} 条 DING 需逐条确认已读` : done
    } catch (e) {
      options.onError(e)
      return null
    }
  }

  watch(tab, () => {
    items.value = []
    nextBefore.value = null
    finished.value = false
    void reload()
  })

  // live: a new entry carries no id in its event, so the first page is fetched again
  let timer: number | undefined
  function refreshSoon() {
    window.clearTimeout(timer)
    timer = window.setTimeout(() => void reload(), 300)
  }
  onBeforeUnmount(() => window.clearTimeout(timer))
  useRealtime('notify.notification.created', refreshSoon)
  useRealtime('notify.ding.received', refreshSoon)
  useRealtime('realtime.reload', refreshSoon)
  useRealtime('notify.notification.read', (e) => {
    const data = (e.data ?? {}) as { ids?: string[]; all?: boolean; kind?: string | null }
    // named ids: read by this user here or elsewhere, or a DING's entry read by its confirmation
    const ids = new Set(data.ids ?? [])
    markRead(data.all ? readByAll(data.kind) : (n) => ids.has(n.id))
  })

  return { tab, items, nextBefore, loading, finished, loadError, unreadCount, emptyText, reload, loadMore, open, readSelected, readAll }
}
