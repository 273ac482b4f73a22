/**
 * The full-screen DING prompt's logic, shared by both apps (each app draws it): the first DING
 * waiting for this user's confirmation, how many more wait, "确认已读" and "查看详情".
 * The frame (full screen, above everything but the watermark) is styles/ding-prompt.css.
 */
import { computed } from 'vue'
import { useRouter } from 'vue-router'
import { auth } from '../auth/store'
import '../styles/ding-prompt.css'
import { formatDateTime } from '../utils/date'
import { notifyStore } from './store'

export function useDingPrompt(options: { onError: (e: unknown, fallback?: string) => void }) {
  const router = useRouter()
  const current = computed(() => (auth.state.me ? notifyStore.state.prompts[0] ?? null : null))
  const more = computed(() => Math.max(0, notifyStore.state.prompts.length - 1))
  const heading = computed(() => {
    const p = current.value
    return p ? `${p.sender_name}${p.reminded ? ' 再次提醒您' : ' 发来紧急消息'}` : ''
  })
  const sentAt = computed(() => (current.value ? formatDateTime(current.value.created_at) : ''))

  async function confirm(): Promise<boolean> {
    const p = current.value
    if (!p || p.confirming) return false
    try {
      await notifyStore.confirm(p.ding_id)
      return true
    } catch (e) {
      options.onError(e, '确认失败，请重试')
      return false
    }
  }

  /** Opening the DING reads it: confirmed first, then its page (which offers confirming again on failure). */
  async function view(): Promise<void> {
    const p = current.value
    if (!p) return
    await confirm()
    void router.push({ name: 'ding-detail', params: { id: p.ding_id } })
  }

  return { current, more, heading, sentAt, confirm, view }
}
