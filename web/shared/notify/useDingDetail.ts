/**
 * One DING's page state, shared by both apps: loads `/ding/{id}`, keeps the sender's read /
 * unread lists live (`notify.ding.read`, `notify.ding.escalated`, `realtime.reload`) and
 * offers confirm (recipient) and remind (sender).
 */
import { computed, ref, watch, type Ref } from 'vue'
import { auth } from '../auth/store'
import { useRealtime } from '../realtime'
import { notifyApi, type DingDetail, type DingReadEvent, type DingRecipient } from './api'
import { notifyStore } from './store'

export function useDingDetail(id: Ref<string>) {
  const ding = ref<DingDetail | null>(null)
  const loading = ref(false)
  const error = ref<unknown>(null)
  const confirming = ref(false)
  const reminding = ref(false)
  /** user ids that just moved to 已读 (highlighted briefly) */
  const fresh = ref(new Set<string>())

  const isSender = computed(() => !!ding.value && ding.value.sender_id === auth.state.me?.id)
  const isRecipient = computed(() => !!ding.value && ding.value.my_read_at !== undefined)
  const readList = computed<DingRecipient[]>(() => ding.value?.read ?? [])
  const unreadList = computed<DingRecipient[]>(() => ding.value?.unread ?? [])

  let ticket = 0
  async function load(quiet = false) {
    const mine = ++ticket
    if (!quiet) loading.value = true
    try {
      const answer = await notifyApi.ding(id.value)
      if (mine === ticket) {
        ding.value = answer
        error.value = null
      }
    } catch (e) {
      if (mine === ticket && !quiet) {
        ding.value = null
        error.value = e
      }
    } finally {
      if (mine === ticket) loading.value = false
    }
  }

  watch(id, () => void load(), { immediate: true })

  useRealtime('notify.ding.read', (e) => {
    const d = e.data as DingReadEvent | undefined
    const current = ding.value
    if (!d || !current || d.ding_id !== current.id || !current.unread || !current.read) return
    const i = current.unread.findIndex((r) => r.user_id === d.user_id)
    if (i >= 0) {
      const [person] = current.unread.splice(i, 1)
      person.read_at = d.read_at
      current.read.push(person)
    } else if (!current.read.some((r) => r.user_id === d.user_id)) {
      current.read.push({ user_id: d.user_id, name: d.name, unit_name: null, read_at: d.read_at, sms_at: null,
        remind_count: 0, last_reminded_at: null })
    }
    current.read.sort((a, b) => String(a.read_at).localeCompare(String(b.read_at)))
    current.read_count = d.read_count
    current.unread_count = d.unread_count
    fresh.value = new Set([...fresh.value, d.user_id])
    window.setTimeout(() => {
      const next = new Set(fresh.value)
      next.delete(d.user_id)
      fresh.value = next
    }, 4000)
  })
  useRealtime('notify.ding.escalated', (e) => {
    if ((e.data as { ding_id?: string } | undefined)?.ding_id === ding.value?.id) void load(true)
  })
  useRealtime('realtime.reload', () => void load(true))

  async function confirm() {
    if (!ding.value || confirming.value) return
    confirming.value = true
    try {
      await notifyStore.confirm(ding.value.id)
      await load(true)
    } finally {
      confirming.value = false
    }
  }

  /** Throws the API error (429 within a minute of the last reminder). */
  async function remind(sms = false) {
    if (!ding.value || reminding.value) return null
    reminding.value = true
    try {
      const answer = await notifyApi.remindDing(ding.value.id, sms)
      await load(true)
      return answer
    } finally {
      reminding.value = false
    }
  }

  return { ding, loading, error, isSender, isRecipient, readList, unreadList, fresh, confirming, reminding, load, confirm, remind }
}
